import { describe, expect, it } from 'vitest';
import { expNonPositive, sumExpBelow, sumExpBelowScalar } from '../../../src/whisper/fast-exp.js';
import { seededRandom } from '../../../src/whisper/random.js';

/** Σ exp(row[i] - max) with Math.exp, in float64: the reference for both loops. */
function exactSum(row: Float32Array, from: number, to: number, max: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += Math.exp((row[i] as number) - max);
  return sum;
}

function logitRow(seed: number, length: number, spread: number): { row: Float32Array; max: number } {
  const random = seededRandom(seed);
  const row = new Float32Array(length);
  for (let i = 0; i < length; i++) row[i] = i % 97 === 0 ? -Infinity : random() * spread - 20;
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  return { row, max };
}

describe('fast exp (x ≤ 0)', () => {
  it('is within 1e-8 of Math.exp, relative, over the normal range', () => {
    const random = seededRandom(7);
    let worst = 0;
    for (let k = 0; k < 200_000; k++) {
      // Half near 0 (where logits live), half across the whole normal range.
      const x = k % 2 === 0 ? -random() * 40 : -random() * 708;
      worst = Math.max(worst, Math.abs(expNonPositive(x) / Math.exp(x) - 1));
    }
    expect(worst).toBeLessThan(1e-8);
    expect(worst).toBeGreaterThan(0); // an approximation, measured as one
  });

  it('is exact at 0 and at powers of two, underflows to 0 like Math.exp, and keeps NaN', () => {
    expect(expNonPositive(0)).toBe(1);
    expect(expNonPositive(-0)).toBe(1);
    expect(expNonPositive(-10 * Math.LN2)).toBeCloseTo(2 ** -10, 15);
    expect(expNonPositive(-Infinity)).toBe(0);
    expect(expNonPositive(-800)).toBe(0);
    expect(Math.exp(-800)).toBe(0);
    // Subnormal results: within a few units of the smallest double.
    for (const x of [-709, -720, -740, -744]) {
      expect(Math.abs(expNonPositive(x) - Math.exp(x))).toBeLessThanOrEqual(1e-8 * Math.exp(x) + 4 * Number.MIN_VALUE);
    }
    expect(expNonPositive(Number.NaN)).toBeNaN();
    // A positive exponent is outside the contract: NaN, not a wrong number.
    expect(expNonPositive(1)).toBeNaN();
  });

  it('sums a logit row like Math.exp does: suppressed entries add 0, NaN poisons the sum (both loops)', () => {
    const { row, max } = logitRow(11, 51_865, 30);
    const reference = exactSum(row, 0, row.length, max);
    expect(Math.abs(sumExpBelowScalar(row, 0, row.length, max) / reference - 1)).toBeLessThan(1e-8);
    expect(Math.abs(sumExpBelow(row, 0, row.length, max) / reference - 1)).toBeLessThan(2e-6);
    for (const sum of [sumExpBelow, sumExpBelowScalar]) {
      expect(sum(row, 5, 5, max)).toBe(0);
      // A range: the entries in it only (short ranges take the scalar loop, long ones the SIMD one).
      expect(sum(row, 1, 3, max)).toBeCloseTo(exactSum(row, 1, 3, max), 12);
      expect(Math.abs(sum(row, 1001, 2502, max) / exactSum(row, 1001, 2502, max) - 1)).toBeLessThan(2e-6);
    }
    for (const at of [100, 51_864, 2]) {
      const poisoned = row.slice();
      poisoned[at] = Number.NaN; // in the SIMD lanes, in the scalar tail, in an odd lane
      expect(sumExpBelow(poisoned, 0, poisoned.length, max)).toBeNaN();
      expect(sumExpBelowScalar(poisoned, 0, poisoned.length, max)).toBeNaN();
    }
  });

  it('keeps the float32 SIMD log-sum-exp within 2e-6 nats on rows of every spread and length', () => {
    let worst = 0;
    for (let k = 0; k < 60; k++) {
      const spread = [4, 20, 40, 100, 200][k % 5] as number;
      const { row, max } = logitRow(100 + k, 51_865 - (k % 7), spread);
      // Entries that underflow float32 (more than 126 powers of two below the max) add 0.
      const exact = Math.log(exactSum(row, 0, row.length, max));
      worst = Math.max(worst, Math.abs(Math.log(sumExpBelow(row, 0, row.length, max)) - exact));
    }
    expect(worst).toBeLessThan(2e-6);
    expect(worst).toBeGreaterThan(0); // float32 exps, measured as such
    // A row longer than the module's initial memory (4 pages, 65 536 float32) grows it.
    const { row: long, max: longMax } = logitRow(99, 150_001, 30);
    expect(Math.abs(Math.log(sumExpBelow(long, 0, long.length, longMax) / exactSum(long, 0, long.length, longMax)))).toBeLessThan(2e-6);
    // Each term: within 4e-7 relative near the maximum, 4e-6 far below it.
    const random = seededRandom(5);
    for (const [low, bound] of [[4, 4e-7], [87, 4e-6]] as const) {
      let term = 0;
      for (let k = 0; k < 5000; k++) {
        const d = Math.fround(-random() * low);
        const row = new Float32Array(64).fill(-Infinity); // 64 entries: all in SIMD lanes
        row[k % 64] = d;
        term = Math.max(term, Math.abs(sumExpBelow(row, 0, row.length, 0) / Math.exp(d) - 1));
      }
      expect(term).toBeLessThan(bound);
    }
  });
});
