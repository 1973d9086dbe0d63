import { describe, expect, it } from 'vitest';
import { compressionRatio } from '../../../src/whisper/compression.js';
import { seededRandom } from '../../../src/whisper/random.js';

describe('compressionRatio', () => {
  it('matches the value of Python zlib.compress on a repetitive text', () => {
    // len(b) / len(zlib.compress(b)) for b = ('merci ' * 30).encode(): 180 / 17.
    expect(compressionRatio('merci '.repeat(30))).toBeCloseTo(180 / 17, 10);
  });

  it('stays within 0.04 of Python on ordinary text and flags loops above 2.4', () => {
    // Python: len(b) / len(zlib.compress(b)) = 18 / 25 for 'allume la lumière'.
    expect(Math.abs(compressionRatio('allume la lumière') - 0.72)).toBeLessThan(0.04);
    expect(compressionRatio('éteins toutes les lumières dans le salon')).toBeLessThan(2.4);
    expect(compressionRatio('Sous-titrage ST 501 '.repeat(8))).toBeGreaterThan(2.4);
    expect(compressionRatio('')).toBe(0);
  });
});

describe('seededRandom', () => {
  it('replays a seed and stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(seededRandom(43)()).not.toBe(seededRandom(42)());
  });
});
