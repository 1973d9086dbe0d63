import { describe, expect, it } from 'vitest';
import { transcribe } from '../../../src/whisper/transcribe.js';
import type { TranscribeOptions } from '../../../src/whisper/types.js';
import { indexMel, ScriptedBackend, seconds, type Plan } from './transcribe-scripted.js';

async function run(plans: readonly Plan[], audio: Float32Array, options: TranscribeOptions = {}, shortWindows = true) {
  const backend = new ScriptedBackend(plans, 448, shortWindows);
  const result = await transcribe(backend, audio, { language: 'fr', ...options }, { mel: indexMel });
  return { backend, result };
}

/** 10 ms frames: a window's length in frames. */
const frames = (s: number): number => s * 100;

describe('transcribe: short windows', () => {
  it('encodes a short input as a 20 s window by default', async () => {
    const { backend, result } = await run([{ text: 'allume la lumière' }], seconds(3));
    expect(backend.windows).toEqual([{ first: 0, contentFrames: frames(3), row1First: expect.any(Number), frames: frames(20) }]);
    // Row 1 starts right after row 0's 20 s: the window is laid out at its own length.
    expect(backend.windows[0]?.row1First).toBe(-1);
    expect(backend.decodeCalls.map((c) => c.temperature)).toEqual([0]);
    expect(result.text).toBe('allume la lumière');
  });

  it('encodes the audio plus the margin, rounded up to 2 s, above the minimum and never past a full window', async () => {
    const longer = await run([{ text: 'a' }], seconds(17));
    expect(longer.backend.windows[0]?.frames).toBe(frames(22)); // 17 + 4 → 22
    const noMinimum = await run([{ text: 'a' }], seconds(3), { shortWindowMinMs: 0 });
    expect(noMinimum.backend.windows[0]?.frames).toBe(frames(8)); // 3 + 4 → 8
    const noMargin = await run([{ text: 'a' }], seconds(3), { shortWindowMarginMs: 0, shortWindowMinMs: 0 });
    expect(noMargin.backend.windows[0]?.frames).toBe(frames(4));
    const nearlyFull = await run([{ text: 'a' }], seconds(25), { shortWindowMarginMs: 8000 });
    expect(nearlyFull.backend.windows[0]?.frames).toBe(frames(30));
  });

  it('encodes full windows when asked (null) or when the backend cannot take short ones', async () => {
    const off = await run([{ text: 'a' }], seconds(3), { shortWindowMarginMs: null });
    expect(off.backend.windows[0]?.frames).toBe(frames(30));
    const unable = await run([{ text: 'a' }], seconds(3), {}, false);
    expect(unable.backend.windows[0]?.frames).toBe(frames(30));
  });

  it('decodes the window again the reference way when the short one would fall back', async () => {
    const { backend, result } = await run(
      [
        { text: 'x y', avgLogprob: -1.6 },
        { text: 'z', avgLogprob: -1.4 },
        { text: 'ferme les volets', avgLogprob: -0.4 },
      ],
      seconds(3),
    );
    // Short window at T=0 fails the log-prob gate: full window, temperatures from the start.
    expect(backend.windows.map((w) => w.frames)).toEqual([frames(20), frames(30)]);
    expect(backend.decodeCalls.map((c) => c.temperature)).toEqual([0, 0, 0.2]);
    expect(backend.released).toBe(2);
    expect(result.text).toBe('ferme les volets');
  });

  it('decodes the window again when the model doubts there is speech but the log-prob would keep the text', async () => {
    // A fluent phantom sentence on noise: it passes the log-prob gate, but no-speech is 0.88.
    const { backend, result } = await run(
      [
        { text: 'je vous invite à faire une partie', avgLogprob: -0.77, noSpeechProb: 0.88 },
        { text: 'merci', avgLogprob: -1.3, noSpeechProb: 0.9 },
      ],
      seconds(9),
      { shortWindowMinMs: 0 },
    );
    expect(backend.windows.map((w) => w.frames)).toEqual([frames(14), frames(30)]);
    expect(result.text).toBe('');
    expect(result.segments).toEqual([]);
  });

  it('drops a short window the no-speech gate drops anyway, without a second decode', async () => {
    const { backend, result } = await run([{ text: 'merci', avgLogprob: -1.3, noSpeechProb: 0.9 }], seconds(9));
    expect(backend.windows.map((w) => w.frames)).toEqual([frames(20)]);
    expect(result.text).toBe('');
  });

  it('keeps a single-temperature decode (interim results) on the short window, whatever its gates say', async () => {
    const { backend, result } = await run([{ text: 'x y', avgLogprob: -1.6 }], seconds(3), {
      temperatures: [0],
      noSpeechThreshold: null,
      withoutTimestamps: true,
    });
    expect(backend.windows.map((w) => w.frames)).toEqual([frames(20)]);
    expect(result.text).toBe('x y');
  });

  it('encodes only the last, shorter window of a long input short', async () => {
    const { backend } = await run([{ text: 'a' }, { text: 'b' }], seconds(40), { withoutTimestamps: true });
    expect(backend.windows.map((w) => [w.first, w.contentFrames, w.frames])).toEqual([
      [0, frames(30), frames(30)],
      [frames(30), frames(10), frames(20)],
    ]);
  });

  it('decodes the short window without timestamps when asked, and its retry the reference way, with them', async () => {
    const passed = await run([{ text: 'allume la lumière' }], seconds(3), { shortWindowWithoutTimestamps: true });
    expect(passed.backend.decodeCalls.map((c) => c.withoutTimestamps)).toEqual([true]);
    expect(passed.result.text).toBe('allume la lumière');
    const retried = await run(
      [
        { text: 'x y', avgLogprob: -1.6 },
        { text: 'ferme les volets', avgLogprob: -0.4 },
      ],
      seconds(3),
      { shortWindowWithoutTimestamps: true },
    );
    expect(retried.backend.windows.map((w) => w.frames)).toEqual([frames(20), frames(30)]);
    expect(retried.backend.decodeCalls.map((c) => c.withoutTimestamps)).toEqual([true, false]);
    expect(retried.result.text).toBe('ferme les volets');
  });

  it('keeps a first decode that fails only the log-prob gate while sure of speech, when asked', async () => {
    const options: TranscribeOptions = { shortWindowRetryMinNoSpeech: 0.3, shortWindowWithoutTimestamps: true };
    // "annuler": an unsure word (log-prob −1.13), no-speech 0.09: kept, one encoder pass, one decode.
    const unsure = await run([{ text: 'annuli', avgLogprob: -1.13, noSpeechProb: 0.09 }], seconds(2), options);
    expect(unsure.backend.windows.map((w) => w.frames)).toEqual([frames(20)]);
    expect(unsure.backend.decodeCalls.map((c) => c.temperature)).toEqual([0]);
    expect(unsure.result.text).toBe('annuli');
    expect(unsure.result.segments[0]).toMatchObject({ temperature: 0, avgLogprob: -1.13, noSpeechProb: 0.09 });
    // Noise: the same failure with no-speech 0.599 (under the gate's 0.6) still gets the retry,
    // whose full window the no-speech gate drops.
    const noise = await run(
      [
        { text: "c'est bon", avgLogprob: -1.64, noSpeechProb: 0.599 },
        { text: "c'est parti", avgLogprob: -1.35, noSpeechProb: 0.65 },
      ],
      seconds(12),
      options,
    );
    expect(noise.backend.windows.map((w) => w.frames)).toEqual([frames(20), frames(30)]);
    expect(noise.result.text).toBe('');
    // A loop (compression gate) is retried however sure of speech the model is.
    const loop = await run(
      [
        { text: 'merci '.repeat(40), avgLogprob: -0.2, noSpeechProb: 0.01 },
        { text: 'merci', avgLogprob: -0.3, noSpeechProb: 0.01 },
      ],
      seconds(5),
      options,
    );
    expect(loop.backend.windows.map((w) => w.frames)).toEqual([frames(20), frames(30)]);
    expect(loop.result.text).toBe('merci');
    // Without the option (transcribe's default), the same unsure word is retried the reference way.
    const reference = await run(
      [
        { text: 'annuli', avgLogprob: -1.13, noSpeechProb: 0.09 },
        { text: 'annuler', avgLogprob: -0.9, noSpeechProb: 0.09 },
      ],
      seconds(2),
      { shortWindowWithoutTimestamps: true },
    );
    expect(reference.backend.windows.map((w) => w.frames)).toEqual([frames(20), frames(30)]);
    expect(reference.result.text).toBe('annuler');
  });

  it('refuses a shortWindowRetryMinNoSpeech outside [0, 1] with a coded error', async () => {
    for (const bad of [-0.1, 1.5, Number.NaN, '0.3'] as unknown[]) {
      const options = { shortWindowRetryMinNoSpeech: bad } as unknown as TranscribeOptions;
      await expect(run([], seconds(1), options)).rejects.toMatchObject({ code: 'STT_INVALID_OPTION', details: { option: 'shortWindowRetryMinNoSpeech' } });
    }
  });

  it('keeps timestamps on a full window even with shortWindowWithoutTimestamps, and off everywhere with withoutTimestamps', async () => {
    const full = await run([{ text: 'a' }], seconds(3), { shortWindowMarginMs: null, shortWindowWithoutTimestamps: true });
    expect(full.backend.decodeCalls.map((c) => c.withoutTimestamps)).toEqual([false]);
    const off = await run([{ text: 'x', avgLogprob: -1.6 }, { text: 'a' }], seconds(3), { withoutTimestamps: true });
    expect(off.backend.decodeCalls.map((c) => c.withoutTimestamps)).toEqual([true, true]);
    const byDefault = await run([{ text: 'a' }], seconds(3));
    expect(byDefault.backend.decodeCalls.map((c) => c.withoutTimestamps)).toEqual([false]);
  });

  it('refuses a shortWindowWithoutTimestamps that is not a boolean with a coded error', async () => {
    const options = { shortWindowWithoutTimestamps: 'yes' } as unknown as TranscribeOptions;
    await expect(run([], seconds(1), options)).rejects.toMatchObject({ code: 'STT_INVALID_OPTION', details: { option: 'shortWindowWithoutTimestamps' } });
  });

  it('refuses a negative margin with a coded error', async () => {
    await expect(run([], seconds(1), { shortWindowMarginMs: -1 })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
  });
});
