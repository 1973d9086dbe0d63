import { describe, expect, it } from 'vitest';
import {
  LogitFilters,
  applyTimestampRules,
  argmax,
  logSumExp,
  rangeMax,
  rankScore,
  sampleWithTemperature,
  topK,
} from '../../../src/whisper/logit-filters.js';

// A toy vocabulary: text 0..4, eot 5, notimestamps 6, timestamps 7..11 (<|0.00|> = 7).
const EOT = 5;
const NO_TS = 6;
const TS = 7;
const V = 12;
const rules = { timestampBegin: TS, noTimestamps: NO_TS, maxInitialTimestampIndex: 2 };

function row(values: number[]): Float32Array {
  return Float32Array.from(values);
}
const flat = (): Float32Array => new Float32Array(V);
const masked = (r: Float32Array): number[] => Array.from(r.keys()).filter((i) => r[i] === -Infinity);

describe('LogitFilters', () => {
  it('suppresses the blank tokens at the first sampled position only, and suppressTokens always', () => {
    const filters = new LogitFilters({ eot: EOT, suppressTokens: [1], blankTokens: [0, EOT], timestamps: null });
    const first = flat();
    filters.apply(first, [], 0);
    expect(masked(first)).toEqual([0, 1, EOT]);
    const later = flat();
    filters.apply(later, [3], 1);
    expect(masked(later)).toEqual([1]);
  });

  it('ignores suppressed ids outside the row', () => {
    const filters = new LogitFilters({ eot: EOT, suppressTokens: [-1, 99], blankTokens: [], timestamps: null });
    const r = flat();
    filters.apply(r, [], 2);
    expect(masked(r)).toEqual([]);
  });
});

describe('applyTimestampRules', () => {
  it('forces a timestamp no later than maxInitialTimestampIndex at the first step', () => {
    const r = flat();
    applyTimestampRules(r, [], 0, EOT, rules);
    expect(masked(r)).toEqual([0, 1, 2, 3, 4, 5, 6, 10, 11]);
  });

  it('allows any first timestamp when there is no initial limit', () => {
    const r = flat();
    applyTimestampRules(r, [], 0, EOT, { ...rules, maxInitialTimestampIndex: null });
    expect(masked(r)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('after text then a timestamp: text is forbidden, the closing timestamp may repeat the last one', () => {
    // eot is likelier than the timestamps together, so the mass rule keeps it.
    const r = row([5, 5, 5, 5, 5, 5, 0, 0, 0, 1, 1, 1]);
    applyTimestampRules(r, [TS, 2, TS + 2], 3, EOT, rules);
    // No text (0..4), no notimestamps, no timestamp before the last one (7, 8); eot and 9.. stay.
    expect(masked(r)).toEqual([0, 1, 2, 3, 4, 6, 7, 8]);
  });

  it('after two timestamps: the next token is not a timestamp', () => {
    const r = row([0, 0, 0, 0, 0, 0, 0, -9, -9, -9, -9, -9]);
    applyTimestampRules(r, [TS, 2, TS + 1, TS + 1], 4, EOT, rules);
    expect(masked(r)).toEqual([6, 7, 8, 9, 10, 11]);
  });

  it('after a text token, timestamps never go back nor repeat', () => {
    const r = row([3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    applyTimestampRules(r, [TS + 2, 1], 2, EOT, rules);
    expect(masked(r)).toEqual([6, 7, 8, 9]);
  });

  it('forces a timestamp when the timestamps together outweigh the best text token', () => {
    // Text max 1.0; three timestamps at 0.5 each: logsumexp = 0.5 + ln 3 ≈ 1.6 > 1.0.
    const r = row([1, 0, 0, 0, 0, 0, 0, -Infinity, 0.5, 0.5, 0.5, -Infinity]);
    applyTimestampRules(r, [TS, 2], 2, EOT, rules);
    expect(masked(r)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 11]);
    // With a strong text token nothing more is masked.
    const r2 = row([3, 0, 0, 0, 0, 0, 0, -Infinity, 0.5, 0.5, 0.5, -Infinity]);
    applyTimestampRules(r2, [TS, 2], 2, EOT, rules);
    expect(masked(r2)).toEqual([6, 7, 11]);
  });
});

describe('row statistics', () => {
  it('logSumExp matches the definition and handles all -Infinity', () => {
    const r = row([1, 2, 3]);
    // fast-exp.ts: short rows take the float64 loop, within 1e-8 of the Math.exp definition.
    expect(logSumExp(r)).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)), 8);
    expect(logSumExp(r, 1, 2)).toBeCloseTo(2, 10);
    expect(logSumExp(row([-Infinity, -Infinity]))).toBe(-Infinity);
  });

  it('logSumExp with the maximum given, or over suppressed entries, is within 2e-6 of the Math.exp sum and the same either way', () => {
    // A vocabulary-sized row with a suppressed block, as the filters leave it.
    let seed = 1;
    const values = Array.from({ length: 51865 }, (_, i) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return i >= 50000 && i < 51000 ? -Infinity : (seed / 2 ** 31) * 30 - 20;
    });
    const r = row(values);
    const max = rangeMax(r);
    let sum = 0;
    for (let i = 0; i < r.length; i++) sum += Math.exp((r[i] as number) - max);
    const reference = max + Math.log(sum);
    // fast-exp.ts: a vocabulary row's exps are float32 (SIMD), within 2e-6 nats of the definition.
    expect(Math.abs(logSumExp(r) - reference)).toBeLessThan(2e-6);
    expect(logSumExp(r, 0, r.length, r[argmax(r)] as number)).toBe(logSumExp(r));
    expect(rangeMax(row([-Infinity, -Infinity]))).toBe(-Infinity);
  });

  it('argmax takes the first maximum', () => {
    expect(argmax(row([1, 5, 5, 2]))).toBe(1);
  });

  it('topK returns the k best, best first, lower id first on ties', () => {
    const ids = new Int32Array(3);
    const values = new Float64Array(3);
    topK(row([0.5, 3, 1, 3, -2, 2]), 3, ids, values);
    expect(Array.from(ids)).toEqual([1, 3, 5]);
    expect(Array.from(values)).toEqual([3, 3, 2]);
  });

  it('topK pads with -1 when the row is shorter than k', () => {
    const ids = new Int32Array(3);
    const values = new Float64Array(3);
    topK(row([1, 2]), 3, ids, values);
    expect(Array.from(ids)).toEqual([1, 0, -1]);
  });

  it('sampleWithTemperature inverts the CDF of softmax(row / T) and never picks a masked id', () => {
    // softmax([0, ln 3] / 1) = [0.25, 0.75].
    const r = row([0, Math.log(3), -Infinity]);
    expect(sampleWithTemperature(r, 1, 0.2)).toBe(0);
    expect(sampleWithTemperature(r, 1, 0.3)).toBe(1);
    expect(sampleWithTemperature(r, 1, 0.999999)).toBe(1);
    // T = 0.5 sharpens to [0.1, 0.9].
    expect(sampleWithTemperature(r, 0.5, 0.09)).toBe(0);
    expect(sampleWithTemperature(r, 0.5, 0.11)).toBe(1);
    // A caller's scratch buffer and known maximum change nothing.
    const weights = new Float64Array(3);
    for (const u of [0.09, 0.11, 0.5, 0.999999]) {
      expect(sampleWithTemperature(r, 0.5, u, weights, Math.log(3))).toBe(sampleWithTemperature(r, 0.5, u));
    }
  });

  it('rankScore: average log-prob without penalty, Google NMT penalty with α', () => {
    expect(rankScore(-6, 3, null)).toBe(-2);
    expect(rankScore(-6, 7, 1)).toBeCloseTo(-6 / 2, 12);
    expect(rankScore(-6, 0, null)).toBe(-6);
  });
});
