/**
 * exp(x) for x ≤ 0, the only exponent the logit passes take (every logit minus its row's maximum).
 * A beam step normalises each of its 5 rows over the whole vocabulary (51 865 exps a row), and V8's
 * Math.exp (a call into fdlibm) took 0.54–0.85 ms a row on the 2-core dev machine, 3–4 ms of a
 * ~15 ms beam-5 step; this loop takes 0.20–0.31 ms.
 *
 * How: exp(x) = 2^n · e^t with n = round(x / ln 2) and |t| ≤ ln 2 / 2, e^t by its degree-7 Taylor
 * polynomial in Estrin's form (independent multiplies the CPU overlaps), 2^n from a table. Relative
 * error ≤ 1e-8 everywhere (the Taylor remainder at |t| = ln 2 / 2); a log-sum-exp of a row is off
 * by less than 1e-8 nats, far below what moves a beam ranking or a fallback gate.
 */

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

/**
 * Σ exp(row[i] - max) over [from, to), for max ≥ every entry (a row's maximum): the exp pass of a
 * log-sum-exp. -Infinity entries (suppressed tokens) add an exact 0, as with Math.exp; a NaN entry
 * makes the sum NaN, as with Math.exp. The loop is exp's body inlined: this is the hot one.
 */
export function sumExpBelow(row: Float32Array, from: number, to: number, max: number): number {
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
