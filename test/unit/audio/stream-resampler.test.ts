import { describe, expect, it } from 'vitest';
import { MonoResampler, StreamResampler, downmix } from '../../../src/audio/resample.js';
import { seededRandom } from '../../../src/whisper/random.js';

/** A signal with content across the band (tones + seeded noise), so a misaligned block shows. */
function signal(length: number, rate: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const t = i / rate;
    out[i] = 0.3 * Math.sin(2 * Math.PI * 440 * t) + 0.2 * Math.sin(2 * Math.PI * 3100 * t) + 0.2 * (rand() - 0.5);
  }
  return out;
}

async function oneShot(mono: Float32Array, rate: number): Promise<Float32Array> {
  const r = await MonoResampler.create(rate, 16_000);
  try {
    return r.resample(mono);
  } finally {
    r.close();
  }
}

async function streamed(
  chunks: readonly Float32Array[],
  rate: number,
  channels: number,
  blockInSamples?: number,
): Promise<Float32Array> {
  const s = await StreamResampler.create({ inputRate: rate, channels, ...(blockInSamples ? { blockInSamples } : {}) });
  const parts: Float32Array[] = [];
  try {
    for (const c of chunks) parts.push(s.push(c).slice());
    parts.push(s.flush().slice());
  } finally {
    s.close();
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function randomChunks(data: Float32Array, frameSize: number, seed: number, maxFrames: number): Float32Array[] {
  const rand = seededRandom(seed);
  const chunks: Float32Array[] = [];
  for (let at = 0; at < data.length; ) {
    const frames = Math.floor(rand() * maxFrames); // 0-frame chunks included on purpose
    const end = Math.min(data.length, at + frames * frameSize);
    chunks.push(data.subarray(at, end));
    at = end;
  }
  return chunks;
}

function maxAbsDiff(a: Float32Array, b: Float32Array, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe('StreamResampler', () => {
  for (const [rate, seed] of [
    [44_100, 1],
    [48_000, 2],
    [8_000, 3],
    [22_050, 4],
    [32_000, 5],
  ] as const) {
    it(`streams ${rate} Hz in seeded random chunks exactly as the one-shot conversion`, async () => {
      const mono = signal(Math.round(rate * 1.7) + 37, rate, seed);
      const expected = await oneShot(mono, rate);
      const got = await streamed(randomChunks(mono, 1, seed + 100, 2000), rate, 1);
      // Documented edge: the final sample count is rounded per call, so it may differ by one.
      expect(Math.abs(got.length - expected.length)).toBeLessThanOrEqual(1);
      const n = Math.min(got.length, expected.length) - 1;
      expect(maxAbsDiff(got, expected, n)).toBeLessThan(1e-6);
    });
  }

  it('does not depend on the block size', async () => {
    const mono = signal(30_000, 44_100, 9);
    const a = await streamed(randomChunks(mono, 1, 10, 500), 44_100, 1, 441);
    const b = await streamed([mono], 44_100, 1, 44_100);
    const n = Math.min(a.length, b.length) - 1;
    expect(maxAbsDiff(a, b, n)).toBeLessThan(1e-6);
  });

  it('downmixes interleaved and planar stereo the same way as downmix()', async () => {
    const left = signal(20_000, 48_000, 11);
    const right = signal(20_000, 48_000, 12);
    const interleaved = new Float32Array(40_000);
    for (let i = 0; i < 20_000; i++) {
      interleaved[2 * i] = left[i] as number;
      interleaved[2 * i + 1] = right[i] as number;
    }
    const expected = await oneShot(downmix([left, right]), 48_000);
    const viaInterleaved = await streamed(randomChunks(interleaved, 2, 13, 700), 48_000, 2);
    const s = await StreamResampler.create({ inputRate: 48_000, channels: 2 });
    const planarParts: number[] = [];
    for (let at = 0; at < 20_000; at += 1234) {
      const end = Math.min(20_000, at + 1234);
      planarParts.push(...s.push([left.subarray(at, end), right.subarray(at, end)], 'planar'));
    }
    planarParts.push(...s.flush());
    s.close();
    const n = Math.min(expected.length, viaInterleaved.length, planarParts.length) - 1;
    expect(maxAbsDiff(viaInterleaved, expected, n)).toBeLessThan(1e-6);
    expect(maxAbsDiff(Float32Array.from(planarParts), expected, n)).toBeLessThan(1e-6);
  });

  it('passes 16 kHz through with only the downmix, releasing each chunk at once', async () => {
    const s = await StreamResampler.create({ inputRate: 16_000, channels: 2 });
    expect(s.latencyInSamples).toBe(0);
    expect(Array.from(s.push(Float32Array.of(0.5, 0.25, -1, 1)))).toEqual([0.375, 0]);
    expect(s.flush().length).toBe(0);
    s.close();
  });

  it('releases audio with bounded latency', async () => {
    const s = await StreamResampler.create({ inputRate: 48_000, channels: 1 });
    let outSamples = 0;
    for (let i = 0; i < 100; i++) outSamples += s.push(new Float32Array(480)).length;
    // 1 s in: all but (block + context) input samples are out.
    expect(outSamples).toBeGreaterThanOrEqual(16_000 - Math.ceil(s.latencyInSamples / 3));
    s.close();
  });

  it('rejects NaN/Inf, bad rates, ragged chunks, and use after close', async () => {
    await expect(StreamResampler.create({ inputRate: 0, channels: 1 })).rejects.toMatchObject({
      code: 'STT_AUDIO_BAD_SAMPLE_RATE',
    });
    await expect(StreamResampler.create({ inputRate: 44_100.5, channels: 1 })).rejects.toMatchObject({
      code: 'STT_AUDIO_BAD_SAMPLE_RATE',
    });
    const s = await StreamResampler.create({ inputRate: 44_100, channels: 2 });
    expect(() => s.push(Float32Array.of(0, Number.NaN))).toThrow(expect.objectContaining({ code: 'STT_AUDIO_INVALID_SAMPLES' }));
    expect(() => s.push(Float32Array.of(Number.POSITIVE_INFINITY, 0))).toThrow(
      expect.objectContaining({ code: 'STT_AUDIO_INVALID_SAMPLES' }),
    );
    expect(() => s.push(Float32Array.of(0, 0, 0))).toThrow(expect.objectContaining({ code: 'STT_AUDIO_INVALID_SAMPLES' }));
    s.close();
    expect(() => s.push(Float32Array.of(0, 0))).toThrow(/after close/);
  });
});
