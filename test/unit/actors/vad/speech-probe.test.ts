import { describe, expect, it } from 'vitest';
import { createSileroSpeechProbe, type WindowedSpeechModel } from '../../../../src/actors/vad/speech-probe.js';

/** A stand-in for Silero: a window's probability is its first sample (the tests write it there). */
class FirstSampleModel implements WindowedSpeechModel {
  windows = 0;
  resets = 0;
  closed = false;
  /** Windows per call. */
  readonly runs: number[] = [];
  /** The samples of the last window of the last call. */
  lastWindow = new Float32Array(0);
  async probabilities(windows: Float32Array, count: number): Promise<Float32Array> {
    this.windows += count;
    this.runs.push(count);
    this.lastWindow = windows.slice((count - 1) * 512, count * 512);
    await Promise.resolve();
    return Float32Array.from({ length: count }, (_, i) => windows[i * 512] ?? 0);
  }
  reset(): void {
    this.resets++;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** `n` windows of 512 samples; the first sample of window i is probs[i]. */
function audio(probs: readonly number[]): Float32Array {
  const samples = new Float32Array(probs.length * 512);
  probs.forEach((p, i) => (samples[i * 512] = p));
  return samples;
}

describe('Silero speech probe', () => {
  it('needs 250 ms of speech windows (8 of 32 ms), not one', async () => {
    const model = new FirstSampleModel();
    const probe = createSileroSpeechProbe(async () => model);
    expect(await probe.hasSpeech(audio([0.9, 0, 0, 0.9, 0, 0]), 0, 6 * 512)).toBe(false);
    expect(await probe.hasSpeech(audio(new Array<number>(7).fill(0.9)), 0, 7 * 512)).toBe(false);
    expect(await probe.hasSpeech(audio([0.1, ...new Array<number>(8).fill(0.6)]), 0, 9 * 512)).toBe(true);
    // Each question starts from a fresh recurrent state; the answer stops at the 8th speech window.
    expect(model.resets).toBe(3);
    expect(model.windows).toBe(6 + 7 + 9);
    await probe.close();
    expect(model.closed).toBe(true);
  });

  it('looks only at [start, end) and pads a last partial window with silence', async () => {
    const model = new FirstSampleModel();
    const probe = createSileroSpeechProbe(async () => model);
    const samples = audio(new Array<number>(20).fill(0.9));
    expect(await probe.hasSpeech(samples, 512 * 15, 512 * 20)).toBe(false);
    expect(model.windows).toBe(5);
    expect(await probe.hasSpeech(samples, 512 * 10, 512 * 18 + 100)).toBe(true);
    // 8 whole windows and 100 samples: the 9th window holds those, then zeros (not the audio after `end`).
    expect(model.runs.at(-1)).toBe(9);
    expect(model.lastWindow.subarray(0, 100).every((x, i) => x === (i === 0 ? Math.fround(0.9) : 0))).toBe(true);
    expect(model.lastWindow.subarray(100).every((x) => x === 0)).toBe(true);
  });

  it('scores a long stretch in runs of 32 windows and stops after the run where speech adds up', async () => {
    const model = new FirstSampleModel();
    const probe = createSileroSpeechProbe(async () => model);
    const probs = new Array<number>(100).fill(0);
    for (let i = 40; i < 48; i++) probs[i] = 0.9;
    expect(await probe.hasSpeech(audio(probs), 0, 100 * 512)).toBe(true);
    expect(model.runs).toEqual([32, 32]);
    expect(await probe.hasSpeech(audio(new Array<number>(100).fill(0)), 0, 100 * 512)).toBe(false);
    expect(model.runs.slice(2)).toEqual([32, 32, 32, 4]);
  });

  it('loads the model once, on the first question, and answers questions in order', async () => {
    let loads = 0;
    const model = new FirstSampleModel();
    const probe = createSileroSpeechProbe(async () => {
      loads++;
      return model;
    });
    expect(loads).toBe(0);
    const answers = await Promise.all([
      probe.hasSpeech(audio(new Array<number>(8).fill(0.9)), 0, 8 * 512),
      probe.hasSpeech(audio(new Array<number>(8).fill(0.1)), 0, 8 * 512),
    ]);
    expect(answers).toEqual([true, false]);
    expect(loads).toBe(1);
    expect(model.resets).toBe(2);
  });

  it('fails every question with the load error of a model that cannot load, and still closes', async () => {
    let fail = true;
    const probe = createSileroSpeechProbe(async () => {
      if (fail) throw new Error('no model');
      return new FirstSampleModel();
    });
    await expect(probe.hasSpeech(audio([0.9]), 0, 512)).rejects.toThrow('no model');
    fail = false;
    await expect(probe.hasSpeech(audio([0.9]), 0, 512)).rejects.toThrow('no model');
    await probe.close();
  });
});
