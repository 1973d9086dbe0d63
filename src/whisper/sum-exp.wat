;; The exp pass of a log-sum-exp in 128-bit SIMD, four float32 lanes at a time.
;; Assembled by scripts/build-wasm.mjs into sum-exp.wasm.ts; test/unit/whisper/fast-exp.test.ts
;; checks that the two agree and measures the error.
;;
;; sum_exp(n, max): Σ exp(x[i] - max) over the n float32 values at address 0, for max ≥ every
;; x[i], n a multiple of 4. Each exp is computed in float32, the precision of the float32
;; log_softmax the reference implementations rank beams with: relative error ≤ 4e-7 for terms
;; within 4 of the maximum, growing to 4e-6 far below it (the rounding of y). Terms are summed in
;; float64. -Infinity terms and terms below 2^-126 add 0; a NaN anywhere gives NaN.
;;
;; exp(d) = 2^k · e^t with y = d · log2(e), k = ceil(y - 0.5), t = (y - k) · ln 2 ∈ [-ln2/2, ln2/2],
;; e^t by its degree-6 Taylor polynomial (remainder ≤ 1.2e-7), 2^k from its float32 bits.
(module
  (memory (export "memory") 4)
  (func (export "sum_exp") (param $n i32) (param $max f64) (result f64)
    (local $p i32) (local $end i32)
    (local $maxv v128) (local $y v128) (local $k v128) (local $t v128) (local $t2 v128) (local $e v128)
    (local $acc v128) (local $nan v128)
    (local.set $maxv (f32x4.splat (f32.demote_f64 (local.get $max))))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $y
          (f32x4.mul (f32x4.sub (v128.load (local.get $p)) (local.get $maxv)) (v128.const f32x4 1.442695 1.442695 1.442695 1.442695)))
        (local.set $nan (v128.or (local.get $nan) (f32x4.ne (local.get $y) (local.get $y))))
        (local.set $k (f32x4.ceil (f32x4.sub (local.get $y) (v128.const f32x4 0.5 0.5 0.5 0.5))))
        (local.set $t
          (f32x4.mul (f32x4.sub (local.get $y) (local.get $k)) (v128.const f32x4 0.6931472 0.6931472 0.6931472 0.6931472)))
        (local.set $t2 (f32x4.mul (local.get $t) (local.get $t)))
        ;; (1 + t) + t²·((1/2 + t/6) + t²·((1/24 + t/120) + t²/720))
        (local.set $e
          (f32x4.add
            (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $t))
            (f32x4.mul (local.get $t2)
              (f32x4.add
                (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5)
                  (f32x4.mul (local.get $t) (v128.const f32x4 0.16666667 0.16666667 0.16666667 0.16666667)))
                (f32x4.mul (local.get $t2)
                  (f32x4.add
                    (f32x4.add (v128.const f32x4 0.041666668 0.041666668 0.041666668 0.041666668)
                      (f32x4.mul (local.get $t) (v128.const f32x4 0.008333334 0.008333334 0.008333334 0.008333334)))
                    (f32x4.mul (local.get $t2) (v128.const f32x4 0.0013888889 0.0013888889 0.0013888889 0.0013888889))))))))
        ;; · 2^k, k ≥ -126 (bits (k + 127) << 23; k + 1.5·2^23 holds k in its low bits), and lanes with
        ;; y < -126, -Infinity or NaN zeroed (NaN is counted above).
        (local.set $e
          (v128.and
            (f32x4.mul (local.get $e)
              (i32x4.shl
                (i32x4.add (f32x4.add (local.get $k) (v128.const f32x4 12582912 12582912 12582912 12582912))
                  (v128.const i32x4 127 127 127 127))
                (i32.const 23)))
            (f32x4.ge (local.get $y) (v128.const f32x4 -126 -126 -126 -126))))
        (local.set $acc
          (f64x2.add (local.get $acc)
            (f64x2.add
              (f64x2.promote_low_f32x4 (local.get $e))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $e) (local.get $e))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $next)))
    (if (v128.any_true (local.get $nan)) (then (return (f64.const nan))))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc)))))
