/**
 * MelExtractor skips the DFT of frames that see only zeros; the output must stay bit-identical to the
 * full path (every frame through the DFT), including at the reflect-padded edges and in the tail pad.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RealPairDft } from '../../../src/whisper/fft.js';
import { MelExtractor, type MelOptions, type MelSpectrogram } from '../../../src/whisper/mel.js';

const WHISPER: MelOptions = { nMels: 80, nFft: 400, hopLength: 160, sampleRate: 16000 };
const fast = new MelExtractor(WHISPER);
const full = new MelExtractor(WHISPER, { skipSilentFrames: false });

/** Seeded generator in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Noise in [-0.5, 0.5) with the given [start, end) stretches set to exactly zero. */
function noiseWithGaps(length: number, seed: number, gaps: readonly (readonly [number, number])[]): Float32Array {
  const random = lcg(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = random() - 0.5;
  for (const [start, end] of gaps) out.fill(0, start, end);
  return out;
}

/** Index of the first float whose bits differ (so −0 vs 0 or NaN payloads count), or −1. */
function firstBitDifference(a: MelSpectrogram, b: MelSpectrogram): number {
  expect([a.nMels, a.nFrames]).toEqual([b.nMels, b.nFrames]);
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

function expectSameAsFullPath(samples: Float32Array, pad: number): MelSpectrogram {
  const got = fast.compute(samples, pad);
  expect(firstBitDifference(got, full.compute(samples, pad))).toBe(-1);
  return got;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('MelExtractor silent-frame skipping', () => {
  // Gap lengths around one hop (160) and one window (400), so frames fall just inside, just outside
  // and exactly on the edges of each stretch.
  const gapLengths = [1, 159, 160, 199, 200, 201, 399, 400, 401, 559, 560, 561, 800, 1000, 3217];

  it.each(gapLengths)('is bit-identical with %i-sample zero stretches at the start, inside and at the end', (gap) => {
    const length = 12_000 + gap;
    const gaps = [
      [0, gap],
      [3000 + (gap % 7), 3000 + (gap % 7) + gap],
      [7001, 7001 + gap],
      [length - gap, length],
    ] as const;
    const x = noiseWithGaps(length, gap, gaps);
    for (const pad of [0, 1, 159, 160, 399, 4800]) expectSameAsFullPath(x, pad);
  });

  it('is bit-identical around a lone impulse at every position (edge reflection included)', () => {
    // 1 250 samples → 7 or 8 frames: every frame's window touches a reflected edge or the impulse.
    // Loud, so that even at the window's tapered ends (Hann ≈ 6e-5) the frame rises above the log
    // floor and a wrongly skipped frame shows.
    for (const length of [1250, 1290]) {
      for (let p = 0; p < length; p++) {
        const x = new Float32Array(length);
        x[p] = 100;
        expectSameAsFullPath(x, 0);
        expectSameAsFullPath(x, 320);
      }
    }
  });

  it('is bit-identical on clips shorter than half a window (repeated reflection)', () => {
    for (const length of [1, 2, 50, 170, 199, 201]) {
      for (let p = 0; p < length; p += Math.max(1, Math.floor(length / 7))) {
        const x = new Float32Array(length);
        x[p] = -0.3;
        for (const pad of [0, 160, 1000]) if (length + pad >= 160) expectSameAsFullPath(x, pad);
      }
      if (length >= 160) expectSameAsFullPath(new Float32Array(length), 0);
    }
  });

  it('gives an all-zero input the clamp floor everywhere, as the full path does', () => {
    const mel = expectSameAsFullPath(new Float32Array(16_000), 480_000);
    // log10(1e-10) = −10 is both the max and the floor: (−10 + 4) / 4.
    expect(mel.data.every((v) => v === -1.5)).toBe(true);
  });

  it('keeps the global max, hence the (max − 8) clamp, when the loudest frame sits next to skipped ones', () => {
    const x = new Float32Array(48_000);
    x.set(noiseWithGaps(400, 9, []), 20_000);
    const mel = expectSameAsFullPath(x, 480_000);
    const max = mel.data.reduce((m, v) => Math.max(m, v), -Infinity);
    const min = mel.data.reduce((m, v) => Math.min(m, v), Infinity);
    expect(max).toBeGreaterThan(min);
    expect(min).toBeCloseTo(max - 2, 5);
  });

  it('runs the DFT only on pairs that contain sound: a 2 s clip + 30 s pad costs ~2 s of frames', () => {
    const powerPair = vi.spyOn(RealPairDft.prototype, 'powerPair');
    const x = noiseWithGaps(32_000, 11, []);
    const mel = expectSameAsFullPath(x, 480_000);
    expect(mel.nFrames).toBe(3200);
    const calls = powerPair.mock.calls.length;
    // Full path: 1 600 pairs. Fast path: frames 0–201 see the clip (window reaches 200 samples past
    // the centre), i.e. 101 pairs.
    expect(calls - 1600).toBe(101);
  });

  it('skips silent pairs inside the audio as well as in the tail', () => {
    const powerPair = vi.spyOn(RealPairDft.prototype, 'powerPair');
    // Frames 50–149 (centres 8 000 – 23 840) see only the 8 000 – 24 040 zero stretch.
    const x = noiseWithGaps(32_000, 12, [[7_800, 24_040]]);
    fast.compute(x, 0);
    expect(powerPair.mock.calls.length).toBe(100 - 50);
    powerPair.mockClear();
    full.compute(x, 0);
    expect(powerPair.mock.calls.length).toBe(100);
  });
});
