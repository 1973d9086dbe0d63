/**
 * exp(x) for x ≤ 0, the only exponent the logit passes take (every logit minus its row's maximum).
 * A beam step normalises each of its 5 rows over the whole vocabulary (51 865 exps a row), and V8's
 * Math.exp (a call into fdlibm) took 0.54–0.85 ms a row on the 2-core dev machine, 3–4 ms of a
 * ~15 ms beam-5 step.
 *
 * - expNonPositive, and the scalar loop sumExpBelowScalar (0.20–0.31 ms a row): exp(x) = 2^n · e^t
 *   with n = round(x / ln 2) and |t| ≤ ln 2 / 2, e^t by its degree-7 Taylor polynomial in Estrin's
 *   form (independent multiplies the CPU overlaps), 2^n from a table. Relative error ≤ 1e-8.
 * - sumExpBelow, the exp pass of every log-sum-exp over a vocabulary row, runs the same reduction
 *   in float32, sixteen lanes at a time, in WebAssembly SIMD (row-kernels.wat; ~0.06 ms a row, 4× the
 *   scalar loop). Float32 exps are the precision the reference implementations normalise with
 *   (PyTorch's and CTranslate2's float32 log_softmax): each term within 4e-6 relative (4e-7 near
 *   the maximum, where the sum's weight is), and a row's log-sum-exp within 2e-6 nats of the exact
 *   one (5e-8 measured on random rows). Where WebAssembly SIMD is missing it falls back to the
 *   scalar loop.
 */
import { SUM_EXP_LANES, rowKernels } from './row-kernels.js';

const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
/** Below 2^-1074 a double is 0: exp underflows, as Math.exp does. */
const MIN_EXPONENT = -1074;
/** POW2_NEG[i] = 2^-i, exact (powers of two, subnormals included). */
const POW2_NEG = new Float64Array(-MIN_EXPONENT + 2);
for (let i = 0; i < POW2_NEG.length; i++) POW2_NEG[i] = 2 ** -i;

const C2 = 1 / 2;
const C3 = 1 / 6;
const C4 = 1 / 24;
const C5 = 1 / 120;
const C6 = 1 / 720;
const C7 = 1 / 5040;

/**
 * exp(x) for x ≤ 0 (relative error ≤ 1e-8): 0 below the double range, NaN for NaN. An x above
 * ln 2 / 2 is outside the table (the caller's bug) and returns NaN rather than a wrong number.
 */
export function expNonPositive(x: number): number {
  const y = x * LOG2E;
  if (!(y > MIN_EXPONENT - 1)) return y !== y ? Number.NaN : 0;
  if (y > 0.5) return Number.NaN;
  // y - 0.5 truncated toward zero is round-half-down for y ≤ 0.5: n ∈ [-1075, 0], t ∈ (-ln2/2, ln2/2].
  const n = (y - 0.5) | 0;
  const t = (y - n) * LN2;
  const t2 = t * t;
  const p = 1 + t + t2 * (C2 + t * C3 + t2 * (C4 + t * C5 + t2 * (C6 + t * C7)));
  return p * (POW2_NEG[-n] as number);
}

/** Below this many entries the copy into WebAssembly memory is not worth it. */
export const SIMD_MIN_ENTRIES = 64;

/**
 * Σ exp(row[i] - max) over [from, to), for max ≥ every entry (a row's maximum): the exp pass of a
 * log-sum-exp. -Infinity entries (suppressed tokens) add an exact 0, as with Math.exp; a NaN entry
 * makes the sum NaN, as with Math.exp. Float32 exps in WebAssembly SIMD (see the header for the
 * precision); ranges under 64 entries and the last (to - from) mod 16 entries take the float64 loop.
 */
export function sumExpBelow(row: Float32Array, from: number, to: number, max: number): number {
  const simd = rowKernels();
  const lanes = Math.max(0, to - from) & -SUM_EXP_LANES;
  if (simd === null || lanes < SIMD_MIN_ENTRIES) return sumExpBelowScalar(row, from, to, max);
  return simd.sumExp(row, from, lanes, max) + sumExpBelowScalar(row, from + lanes, to, max);
}

/** sumExpBelow's scalar loop (float64, within 1e-8 of Math.exp's sum); exp's body inlined. */
export function sumExpBelowScalar(row: Float32Array, from: number, to: number, max: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) {
    const y = ((row[i] as number) - max) * LOG2E;
    if (!(y > MIN_EXPONENT - 1)) {
      if (y !== y) return Number.NaN;
      continue;
    }
    const n = (y - 0.5) | 0;
    const t = (y - n) * LN2;
    const t2 = t * t;
    sum += (1 + t + t2 * (C2 + t * C3 + t2 * (C4 + t * C5 + t2 * (C6 + t * C7)))) * (POW2_NEG[-n] as number);
  }
  return sum;
}
