import { describe, expect, it } from 'vitest';
import { downmix, MonoResampler, toMono16k, WHISPER_SAMPLE_RATE } from '../../../src/audio/resample.js';
import { SttError } from '../../../src/errors.js';

function sine(freqHz: number, rate: number, seconds: number, amplitude: number): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freqHz * i) / rate);
  return out;
}

/** Amplitude of the component at freqHz (least-squares fit of sin and cos), away from the edges. */
function toneAmplitude(x: Float32Array, freqHz: number, rate: number): number {
  const from = Math.floor(x.length / 4);
  const to = Math.floor((3 * x.length) / 4);
  let s = 0;
  let c = 0;
  for (let i = from; i < to; i++) {
    const phase = (2 * Math.PI * freqHz * i) / rate;
    s += (x[i] as number) * Math.sin(phase);
    c += (x[i] as number) * Math.cos(phase);
  }
  return (2 * Math.hypot(s, c)) / (to - from);
}

async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SttError);
    return (err as SttError).code;
  }
  throw new Error('expected an error');
}

describe('toMono16k', () => {
  it.each([8000, 11025, 22050, 44100, 48000, 96000, 192000, 384000])(
    'converts %i Hz to round(n × 16000 / rate) ± 1 samples, keeping a 1 kHz tone',
    async (rate) => {
      const input = sine(1000, rate, 0.5, 0.5);
      const out = await toMono16k([input], rate);
      expect(Math.abs(out.length - Math.round((input.length * WHISPER_SAMPLE_RATE) / rate))).toBeLessThanOrEqual(1);
      // The tone is at 1 kHz in the output and its amplitude survives.
      expect(toneAmplitude(out, 1000, WHISPER_SAMPLE_RATE)).toBeCloseTo(0.5, 2);
      // … and nothing is left at a neighbouring frequency.
      expect(toneAmplitude(out, 1100, WHISPER_SAMPLE_RATE)).toBeLessThan(0.01);
    },
  );

  it('keeps in-band tones near the top of the band and removes those above 8 kHz', async () => {
    const input = sine(6000, 48000, 0.5, 0.5);
    for (let i = 0; i < input.length; i++) input[i] = (input[i] as number) + 0.3 * Math.sin((2 * Math.PI * 12000 * i) / 48000);
    const out = await toMono16k([input], 48000);
    expect(toneAmplitude(out, 6000, WHISPER_SAMPLE_RATE)).toBeCloseTo(0.5, 2);
    // 12 kHz would alias to 4 kHz without the anti-aliasing filter.
    expect(toneAmplitude(out, 4000, WHISPER_SAMPLE_RATE)).toBeLessThan(1e-3);
  });

  it('returns 16 kHz mono input unchanged, as a copy', async () => {
    const input = sine(440, 16000, 0.1, 0.3);
    const out = await toMono16k([input], 16000);
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
  });

  it('downmixes by the mean of the channels', async () => {
    const mono = downmix([Float32Array.from([1, 0.5, -1]), Float32Array.from([0, 0.5, 0]), Float32Array.from([0.5, -1, -0.5])]);
    expect(Array.from(mono)).toEqual([0.5, 0, -0.5]);
    const out = await toMono16k([Float32Array.from([0.2, 0.4]), Float32Array.from([0.4, 0.2])], 16000);
    expect(Array.from(out).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0.3, 0.3]);
  });

  it('converts a long input (past the wasm buffer) in pieces with no seams', async () => {
    // 25 s at 48 kHz = 1.2 M samples, more than libsamplerate-js holds at once.
    const input = sine(440, 48000, 25, 0.5);
    const out = await toMono16k([input], 48000);
    expect(Math.abs(out.length - 400_000)).toBeLessThanOrEqual(1);
    const expected = sine(440, 16000, 25, 0.5);
    let worst = 0;
    for (let i = 1000; i < out.length - 1000; i++) worst = Math.max(worst, Math.abs((out[i] as number) - (expected[i] as number)));
    expect(worst).toBeLessThan(2e-3);
  });

  it('rejects bad rates, NaN samples, no channels, uneven channels and empty audio with coded errors', async () => {
    expect(await codeOf(() => toMono16k([new Float32Array(10)], 0))).toBe('STT_AUDIO_BAD_SAMPLE_RATE');
    expect(await codeOf(() => toMono16k([new Float32Array(10)], 44100.5))).toBe('STT_AUDIO_BAD_SAMPLE_RATE');
    expect(await codeOf(() => toMono16k([new Float32Array(10)], 1e7))).toBe('STT_AUDIO_BAD_SAMPLE_RATE');
    expect(await codeOf(() => toMono16k([Float32Array.from([0, NaN])], 48000))).toBe('STT_AUDIO_INVALID_SAMPLES');
    expect(await codeOf(() => toMono16k([new Float32Array(2), Float32Array.from([Infinity, 0])], 16000))).toBe('STT_AUDIO_INVALID_SAMPLES');
    expect(await codeOf(() => toMono16k([], 16000))).toBe('STT_AUDIO_UNSUPPORTED_FORMAT');
    expect(await codeOf(() => toMono16k([new Float32Array(3), new Float32Array(4)], 16000))).toBe('STT_AUDIO_INVALID_SAMPLES');
    expect(await codeOf(() => toMono16k([new Float32Array(0)], 48000))).toBe('STT_AUDIO_EMPTY');
  });
});

describe('MonoResampler', () => {
  it('gives the same samples whether the input is cut into pieces or not', async () => {
    // Seeded pseudo-random noise (LCG), the hardest signal for seams.
    let seed = 12345;
    const input = new Float32Array(50_000);
    for (let i = 0; i < input.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      input[i] = seed / 2147483648 - 0.5;
    }
    for (const rate of [44100, 48000, 8000]) {
      const whole = await MonoResampler.create(rate);
      const pieces = await MonoResampler.create(rate, WHISPER_SAMPLE_RATE, { maxPieceSamples: 12_000 });
      try {
        const a = whole.resample(input);
        const b = pieces.resample(input);
        expect(b.length).toBe(a.length);
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
        expect(worst).toBeLessThan(1e-6);
      } finally {
        whole.close();
        pieces.close();
      }
    }
  });

  it('refuses to run after close()', async () => {
    const r = await MonoResampler.create(48000);
    r.close();
    r.close(); // idempotent
    expect(() => r.resample(new Float32Array(10))).toThrow(/after close/);
  });
});
