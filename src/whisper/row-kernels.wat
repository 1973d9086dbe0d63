;; The passes over a vocabulary row that every decoding step makes, in 128-bit WebAssembly SIMD.
;; Assembled by scripts/build-wasm.mjs into row-kernels.wasm.ts; test/unit/whisper/row-kernels.test.ts
;; checks that the two agree, and that each kernel matches its scalar loop in TypeScript.
;; The caller (row-kernels.ts) copies the row to address 0 first: a 51 865-entry row is 4 µs.
;;
;; sum_exp(n, max): Σ exp(x[i] - max) over the n float32 values at address 0, for max ≥ every
;; x[i], n a multiple of 16. Each exp is computed in float32, the precision of the float32
;; log_softmax the reference implementations rank beams with: relative error ≤ 4e-7 for terms
;; within 4 of the maximum, growing to 4e-6 far below it (the rounding of y). Terms are summed in
;; float64. -Infinity terms and terms below 2^-126 add 0; a NaN anywhere gives NaN.
;;
;; exp(d) = 2^k · e^t with y = max(d · log2(e), -127), k = ceil(y - 0.5), t = (y - k) · ln 2 ∈
;; [-ln2/2, ln2/2], e^t by its degree-6 Taylor polynomial (remainder ≤ 1.2e-7), 2^k from its
;; float32 bits: (k + 127) << 23, which is +0.0 at k = -127 (the clamp, where -Infinity lands). NaN
;; passes pmax, so it reaches the sum. Sixteen lanes an iteration: four independent polynomial
;; chains keep the CPU's vector units busy (62 µs a row against 100 µs four lanes at a time).
;;
;; max(n): the largest of the n float32 at address 0 (n a multiple of 8), NaN entries ignored
;; (pmax keeps its first operand unless the second is larger); -Infinity when there is none.
;;
;; top_k(n, k, out): the k largest of the n float32 at address 0, best first, ties to the lower
;; index, NaN entries skipped; values (float32) at out, indices (i32) at out + 4k; returns how many
;; were found (< k only when fewer than k entries are not NaN). The insertion is the TypeScript
;; topK's; most groups of sixteen are all at or below the current k-th best (a vector compare
;; each), so the scan runs at memory speed (~9 µs a row against ~80 µs).
(module
  (memory (export "memory") 4)

  (func (export "sum_exp") (param $n i32) (param $max f64) (result f64)
    (local $p i32) (local $end i32) (local $maxv v128) (local $acc v128)
    (local $ya v128) (local $ka v128) (local $ta v128) (local $ua v128) (local $ea v128)
    (local $yb v128) (local $kb v128) (local $tb v128) (local $ub v128) (local $eb v128)
    (local $yc v128) (local $kc v128) (local $tc v128) (local $uc v128) (local $ec v128)
    (local $yd v128) (local $kd v128) (local $td v128) (local $ud v128) (local $ed v128)
    (local.set $maxv (f32x4.splat (f32.demote_f64 (local.get $max))))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; lanes 0..3
        (local.set $ya (f32x4.pmax
          (f32x4.mul (f32x4.sub (v128.load offset=0 (local.get $p)) (local.get $maxv)) (v128.const f32x4 1.442695 1.442695 1.442695 1.442695))
          (v128.const f32x4 -127 -127 -127 -127)))
        (local.set $ka (f32x4.ceil (f32x4.sub (local.get $ya) (v128.const f32x4 0.5 0.5 0.5 0.5))))
        (local.set $ta (f32x4.mul (f32x4.sub (local.get $ya) (local.get $ka)) (v128.const f32x4 0.6931472 0.6931472 0.6931472 0.6931472)))
        (local.set $ua (f32x4.mul (local.get $ta) (local.get $ta)))
        (local.set $ea
          (f32x4.mul
            (f32x4.add
              (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $ta))
              (f32x4.mul (local.get $ua)
                (f32x4.add
                  (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (local.get $ta) (v128.const f32x4 0.16666667 0.16666667 0.16666667 0.16666667)))
                  (f32x4.mul (local.get $ua)
                    (f32x4.add
                      (f32x4.add (v128.const f32x4 0.041666668 0.041666668 0.041666668 0.041666668) (f32x4.mul (local.get $ta) (v128.const f32x4 0.008333334 0.008333334 0.008333334 0.008333334)))
                      (f32x4.mul (local.get $ua) (v128.const f32x4 0.0013888889 0.0013888889 0.0013888889 0.0013888889)))))))
            (i32x4.shl (i32x4.add (f32x4.add (local.get $ka) (v128.const f32x4 12582912 12582912 12582912 12582912)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.add
          (f64x2.promote_low_f32x4 (local.get $ea))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ea) (local.get $ea))))))
        ;; lanes 4..7
        (local.set $yb (f32x4.pmax
          (f32x4.mul (f32x4.sub (v128.load offset=16 (local.get $p)) (local.get $maxv)) (v128.const f32x4 1.442695 1.442695 1.442695 1.442695))
          (v128.const f32x4 -127 -127 -127 -127)))
        (local.set $kb (f32x4.ceil (f32x4.sub (local.get $yb) (v128.const f32x4 0.5 0.5 0.5 0.5))))
        (local.set $tb (f32x4.mul (f32x4.sub (local.get $yb) (local.get $kb)) (v128.const f32x4 0.6931472 0.6931472 0.6931472 0.6931472)))
        (local.set $ub (f32x4.mul (local.get $tb) (local.get $tb)))
        (local.set $eb
          (f32x4.mul
            (f32x4.add
              (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $tb))
              (f32x4.mul (local.get $ub)
                (f32x4.add
                  (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (local.get $tb) (v128.const f32x4 0.16666667 0.16666667 0.16666667 0.16666667)))
                  (f32x4.mul (local.get $ub)
                    (f32x4.add
                      (f32x4.add (v128.const f32x4 0.041666668 0.041666668 0.041666668 0.041666668) (f32x4.mul (local.get $tb) (v128.const f32x4 0.008333334 0.008333334 0.008333334 0.008333334)))
                      (f32x4.mul (local.get $ub) (v128.const f32x4 0.0013888889 0.0013888889 0.0013888889 0.0013888889)))))))
            (i32x4.shl (i32x4.add (f32x4.add (local.get $kb) (v128.const f32x4 12582912 12582912 12582912 12582912)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.add
          (f64x2.promote_low_f32x4 (local.get $eb))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $eb) (local.get $eb))))))
        ;; lanes 8..11
        (local.set $yc (f32x4.pmax
          (f32x4.mul (f32x4.sub (v128.load offset=32 (local.get $p)) (local.get $maxv)) (v128.const f32x4 1.442695 1.442695 1.442695 1.442695))
          (v128.const f32x4 -127 -127 -127 -127)))
        (local.set $kc (f32x4.ceil (f32x4.sub (local.get $yc) (v128.const f32x4 0.5 0.5 0.5 0.5))))
        (local.set $tc (f32x4.mul (f32x4.sub (local.get $yc) (local.get $kc)) (v128.const f32x4 0.6931472 0.6931472 0.6931472 0.6931472)))
        (local.set $uc (f32x4.mul (local.get $tc) (local.get $tc)))
        (local.set $ec
          (f32x4.mul
            (f32x4.add
              (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $tc))
              (f32x4.mul (local.get $uc)
                (f32x4.add
                  (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (local.get $tc) (v128.const f32x4 0.16666667 0.16666667 0.16666667 0.16666667)))
                  (f32x4.mul (local.get $uc)
                    (f32x4.add
                      (f32x4.add (v128.const f32x4 0.041666668 0.041666668 0.041666668 0.041666668) (f32x4.mul (local.get $tc) (v128.const f32x4 0.008333334 0.008333334 0.008333334 0.008333334)))
                      (f32x4.mul (local.get $uc) (v128.const f32x4 0.0013888889 0.0013888889 0.0013888889 0.0013888889)))))))
            (i32x4.shl (i32x4.add (f32x4.add (local.get $kc) (v128.const f32x4 12582912 12582912 12582912 12582912)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.add
          (f64x2.promote_low_f32x4 (local.get $ec))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ec) (local.get $ec))))))
        ;; lanes 12..15
        (local.set $yd (f32x4.pmax
          (f32x4.mul (f32x4.sub (v128.load offset=48 (local.get $p)) (local.get $maxv)) (v128.const f32x4 1.442695 1.442695 1.442695 1.442695))
          (v128.const f32x4 -127 -127 -127 -127)))
        (local.set $kd (f32x4.ceil (f32x4.sub (local.get $yd) (v128.const f32x4 0.5 0.5 0.5 0.5))))
        (local.set $td (f32x4.mul (f32x4.sub (local.get $yd) (local.get $kd)) (v128.const f32x4 0.6931472 0.6931472 0.6931472 0.6931472)))
        (local.set $ud (f32x4.mul (local.get $td) (local.get $td)))
        (local.set $ed
          (f32x4.mul
            (f32x4.add
              (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $td))
              (f32x4.mul (local.get $ud)
                (f32x4.add
                  (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.mul (local.get $td) (v128.const f32x4 0.16666667 0.16666667 0.16666667 0.16666667)))
                  (f32x4.mul (local.get $ud)
                    (f32x4.add
                      (f32x4.add (v128.const f32x4 0.041666668 0.041666668 0.041666668 0.041666668) (f32x4.mul (local.get $td) (v128.const f32x4 0.008333334 0.008333334 0.008333334 0.008333334)))
                      (f32x4.mul (local.get $ud) (v128.const f32x4 0.0013888889 0.0013888889 0.0013888889 0.0013888889)))))))
            (i32x4.shl (i32x4.add (f32x4.add (local.get $kd) (v128.const f32x4 12582912 12582912 12582912 12582912)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.add
          (f64x2.promote_low_f32x4 (local.get $ed))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ed) (local.get $ed))))))

        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $next)))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))

  (func (export "max") (param $n i32) (result f64)
    (local $p i32) (local $end i32) (local $m v128) (local $m2 v128)
    (local.set $m (v128.const f32x4 -inf -inf -inf -inf))
    (local.set $m2 (local.get $m))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f32x4.pmax (local.get $m) (v128.load (local.get $p))))
        (local.set $m2 (f32x4.pmax (local.get $m2) (v128.load offset=16 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $next)))
    (local.set $m (f32x4.pmax (local.get $m) (local.get $m2)))
    (f64.promote_f32
      (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
        (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m))))))

  ;; Inserts x[i] = v into the sorted list at out (filled entries, at most k); returns the new count.
  (func $insert (param $v f32) (param $i i32) (param $k i32) (param $out i32) (param $filled i32) (result i32)
    (local $pos i32) (local $ids i32) (local $prev f32)
    (local.set $ids (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2))))
    ;; a full list loses its last entry
    (local.set $pos
      (select (local.get $filled) (i32.sub (local.get $k) (i32.const 1)) (i32.lt_s (local.get $filled) (local.get $k))))
    (block $placed
      (loop $shift
        (br_if $placed (i32.eqz (local.get $pos)))
        (local.set $prev (f32.load (i32.add (local.get $out) (i32.shl (i32.sub (local.get $pos) (i32.const 1)) (i32.const 2)))))
        ;; strictly better only: an equal value stays behind the lower index
        (br_if $placed (i32.eqz (f32.gt (local.get $v) (local.get $prev))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $pos) (i32.const 2))) (local.get $prev))
        (i32.store (i32.add (local.get $ids) (i32.shl (local.get $pos) (i32.const 2)))
          (i32.load (i32.add (local.get $ids) (i32.shl (i32.sub (local.get $pos) (i32.const 1)) (i32.const 2)))))
        (local.set $pos (i32.sub (local.get $pos) (i32.const 1)))
        (br $shift)))
    (f32.store (i32.add (local.get $out) (i32.shl (local.get $pos) (i32.const 2))) (local.get $v))
    (i32.store (i32.add (local.get $ids) (i32.shl (local.get $pos) (i32.const 2))) (local.get $i))
    (select (i32.add (local.get $filled) (i32.const 1)) (local.get $filled) (i32.lt_s (local.get $filled) (local.get $k))))

  (func (export "top_k") (param $n i32) (param $k i32) (param $out i32) (result i32)
    (local $i i32) (local $j i32) (local $stop i32) (local $filled i32)
    (local $v f32) (local $floor f32) (local $floorv v128)
    ;; The k-th best so far; NaN until the list is full, since nothing compares ≤ NaN.
    (local.set $floor (f32.const nan))
    (local.set $floorv (f32x4.splat (local.get $floor)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; Skip sixteen at a time while every lane is at or below the floor.
        (block $slow
          (loop $fast
            (br_if $slow (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $n)))
            (br_if $slow (i32.eqz (i32x4.all_true (v128.and
              (v128.and
                (f32x4.le (v128.load (i32.shl (local.get $i) (i32.const 2))) (local.get $floorv))
                (f32x4.le (v128.load offset=16 (i32.shl (local.get $i) (i32.const 2))) (local.get $floorv)))
              (v128.and
                (f32x4.le (v128.load offset=32 (i32.shl (local.get $i) (i32.const 2))) (local.get $floorv))
                (f32x4.le (v128.load offset=48 (i32.shl (local.get $i) (i32.const 2))) (local.get $floorv)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $fast)))
        ;; One entry at a time up to the next group of sixteen (or the end).
        (local.set $stop (i32.add (local.get $i) (i32.const 16)))
        (if (i32.gt_u (local.get $stop) (local.get $n)) (then (local.set $stop (local.get $n))))
        (block $group_done
          (loop $entry
            (br_if $group_done (i32.ge_u (local.get $i) (local.get $stop)))
            (local.set $v (f32.load (i32.shl (local.get $i) (i32.const 2))))
            (if (i32.and
                  (i32.eqz (f32.le (local.get $v) (local.get $floor)))
                  (f32.eq (local.get $v) (local.get $v)))
              (then
                (local.set $filled (call $insert (local.get $v) (local.get $i) (local.get $k) (local.get $out) (local.get $filled)))
                (if (i32.eq (local.get $filled) (local.get $k))
                  (then
                    (local.set $floor
                      (f32.load (i32.add (local.get $out) (i32.shl (i32.sub (local.get $k) (i32.const 1)) (i32.const 2)))))
                    (local.set $floorv (f32x4.splat (local.get $floor)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $entry)))
        (br $next)))
    (local.get $filled))
)
