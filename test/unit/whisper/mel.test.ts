import { describe, expect, it } from 'vitest';
import { SttError } from '../../../src/errors.js';
import { RealPairDft } from '../../../src/whisper/fft.js';
import { logMelSpectrogram, MelExtractor, melFilterBank, melWindow, padOrTrimAudio, type MelOptions } from '../../../src/whisper/mel.js';

const WHISPER: MelOptions = { nMels: 80, nFft: 400, hopLength: 160, sampleRate: 16000 };

/** Seeded uniform noise in [-amplitude, amplitude). */
function noise(length: number, seed: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = amplitude * (2 * (s / 2147483648) - 1);
  }
  return out;
}

function naivePower(x: Float64Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(Math.floor(n / 2) + 1);
  for (let k = 0; k < out.length; k++) {
    let re = 0;
    let im = 0;
    for (let t = 0; t < n; t++) {
      re += (x[t] as number) * Math.cos((2 * Math.PI * k * t) / n);
      im -= (x[t] as number) * Math.sin((2 * Math.PI * k * t) / n);
    }
    out[k] = re * re + im * im;
  }
  return out;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SttError);
    return (err as SttError).code;
  }
  throw new Error('expected an error');
}

describe('RealPairDft (Bluestein)', () => {
  it.each([400, 7, 10, 2, 1000])('matches a direct DFT of size %i on two frames at once', (n) => {
    const a = Float64Array.from(noise(n, 1));
    const b = Float64Array.from(noise(n, 2));
    const pa = new Float64Array(Math.floor(n / 2) + 1);
    const pb = new Float64Array(pa.length);
    new RealPairDft(n).powerPair(a, b, pa, pb);
    for (const [got, want] of [[pa, naivePower(a)], [pb, naivePower(b)]] as const) {
      const scale = want.reduce((m, v) => Math.max(m, v), 0);
      for (let k = 0; k < want.length; k++) expect(Math.abs((got[k] as number) - (want[k] as number))).toBeLessThan(1e-10 * scale);
    }
  });
});

describe('melFilterBank', () => {
  const bank = melFilterBank(80, 400, 16000);

  it('stores each slaney triangle sparsely, with unit area', () => {
    expect(bank.nBins).toBe(201);
    expect(bank.weights.length).toBeLessThan(2 * 201);
    const binHz = 16000 / 400;
    for (let m = 40; m < 80; m++) {
      // Wide (high) filters cover enough bins for the Riemann sum to approach the area.
      let area = 0;
      for (let w = bank.offsets[m] as number; w < (bank.offsets[m + 1] as number); w++) area += (bank.weights[w] as number) * binHz;
      expect(area).toBeGreaterThan(0.9);
      expect(area).toBeLessThan(1.1);
    }
    // Filters advance through the spectrum.
    for (let m = 1; m < 80; m++) expect(bank.firstBin[m]).toBeGreaterThanOrEqual(bank.firstBin[m - 1] as number);
  });
});

describe('logMelSpectrogram', () => {
  it('gives floor((samples + pad) / hop) frames; 30 s → exactly 3000', () => {
    expect(logMelSpectrogram(new Float32Array(480_000), WHISPER).nFrames).toBe(3000);
    expect(logMelSpectrogram(noise(1000, 3), WHISPER).nFrames).toBe(6);
    expect(logMelSpectrogram(noise(1000, 3), WHISPER, 480_000).nFrames).toBe(3006);
    const none = logMelSpectrogram(noise(100, 3), WHISPER);
    expect(none.nFrames).toBe(0);
    expect(none.data.length).toBe(0);
  });

  it('treats padTailSamples exactly as appended zeros', () => {
    const x = noise(5000, 4);
    const padded = logMelSpectrogram(x, WHISPER, 3000);
    const explicit = logMelSpectrogram(padOrTrimAudio(x, 8000), WHISPER);
    expect(padded.nFrames).toBe(50);
    expect(padded.data).toEqual(explicit.data);
  });

  it('handles clips shorter than half a window (repeated reflection)', () => {
    const mel = logMelSpectrogram(noise(170, 5), WHISPER);
    expect(mel.nFrames).toBe(1);
    expect(mel.data.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('puts a 1 kHz tone in the mel band around 1 kHz and clamps everything to (max − 8) / 4', () => {
    const x = new Float32Array(32000);
    for (let i = 0; i < 16000; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000);
    const mel = logMelSpectrogram(x, WHISPER);
    const frame = 50;
    let best = 0;
    for (let m = 1; m < mel.nMels; m++) if ((mel.data[m * mel.nFrames + frame] as number) > (mel.data[best * mel.nFrames + frame] as number)) best = m;
    // Slaney mel: 1 kHz = 15 mel; 80 bands from 0 to ~45.2 mel put the centre of band m at (m + 1) × 0.5516 mel.
    expect(Math.abs((best + 1) * (45.245 / 81) - 15)).toBeLessThan(0.6);
    const max = mel.data.reduce((m, v) => Math.max(m, v), -Infinity);
    const min = mel.data.reduce((m, v) => Math.min(m, v), Infinity);
    // The silent second half sits exactly at the clamp floor.
    expect(min).toBeCloseTo(max - 2, 5);
    expect(mel.data[10 * mel.nFrames + 150]).toBeCloseTo(max - 2, 5);
  });

  it('supports 128 mel bands (large-v3)', () => {
    const mel = new MelExtractor({ ...WHISPER, nMels: 128 }).compute(noise(16000, 6));
    expect(mel.nMels).toBe(128);
    expect(mel.data.length).toBe(128 * 100);
    expect(mel.data.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('rejects bad options and non-finite samples with coded errors', () => {
    expect(codeOf(() => logMelSpectrogram(new Float32Array(10), { ...WHISPER, nFft: 401 }))).toBe('STT_INVALID_OPTION');
    expect(codeOf(() => logMelSpectrogram(new Float32Array(10), { ...WHISPER, hopLength: 0 }))).toBe('STT_INVALID_OPTION');
    expect(codeOf(() => logMelSpectrogram(new Float32Array(10), { ...WHISPER, nMels: 1.5 }))).toBe('STT_INVALID_OPTION');
    expect(codeOf(() => logMelSpectrogram(new Float32Array(10), WHISPER, -1))).toBe('STT_INVALID_OPTION');
    expect(codeOf(() => logMelSpectrogram(Float32Array.from([0, NaN, 0]), WHISPER, 400))).toBe('STT_AUDIO_INVALID_SAMPLES');
  });
});

describe('padOrTrimAudio and melWindow', () => {
  it('pads with zeros or cuts to the length', () => {
    const x = Float32Array.from([1, 2, 3]);
    expect(Array.from(padOrTrimAudio(x, 5))).toEqual([1, 2, 3, 0, 0]);
    expect(Array.from(padOrTrimAudio(x, 2))).toEqual([1, 2]);
    expect(padOrTrimAudio(x, 3)).toBe(x);
    expect(codeOf(() => padOrTrimAudio(x, -1))).toBe('STT_INVALID_OPTION');
  });

  it('cuts a row-major window and zero-pads past the end', () => {
    const mel = { nMels: 2, nFrames: 4, data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) };
    expect(Array.from(melWindow(mel, 1, 2))).toEqual([2, 3, 6, 7]);
    expect(Array.from(melWindow(mel, 3, 3))).toEqual([4, 0, 0, 8, 0, 0]);
    expect(Array.from(melWindow(mel, 9, 2))).toEqual([0, 0, 0, 0]);
    expect(codeOf(() => melWindow(mel, -1, 2))).toBe('STT_INVALID_OPTION');
  });
});
