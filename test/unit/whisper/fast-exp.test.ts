import { describe, expect, it } from 'vitest';
import { expNonPositive, sumExpBelow } from '../../../src/whisper/fast-exp.js';
import { seededRandom } from '../../../src/whisper/random.js';

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

  it('sums a logit row like Math.exp does: suppressed entries add 0, NaN poisons the sum', () => {
    const random = seededRandom(11);
    const row = new Float32Array(51_865);
    for (let i = 0; i < row.length; i++) row[i] = i % 97 === 0 ? -Infinity : random() * 30 - 20;
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let reference = 0;
    for (const v of row) reference += Math.exp(v - max);
    const sum = sumExpBelow(row, 0, row.length, max);
    expect(Math.abs(sum / reference - 1)).toBeLessThan(1e-8);
    expect(sumExpBelow(row, 5, 5, max)).toBe(0);
    // A range: the entries in it only.
    expect(sumExpBelow(row, 1, 3, max)).toBeCloseTo(Math.exp((row[1] as number) - max) + Math.exp((row[2] as number) - max), 12);
    row[100] = Number.NaN;
    expect(sumExpBelow(row, 0, row.length, max)).toBeNaN();
  });
});
