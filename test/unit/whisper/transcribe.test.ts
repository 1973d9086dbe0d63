import { describe, expect, it } from 'vitest';
import { transcribe } from '../../../src/whisper/transcribe.js';
import type { TranscribeOptions } from '../../../src/whisper/types.js';
import { indexMel, ScriptedBackend, seconds, ts, type Plan } from './transcribe-scripted.js';

const REPEATED = Array.from({ length: 40 }, () => 'merci').join(' ');

async function run(plans: readonly Plan[], audio: Float32Array, options: TranscribeOptions = {}, maxTarget?: number) {
  const backend = new ScriptedBackend(plans, maxTarget);
  const result = await transcribe(backend, audio, { language: 'fr', ...options }, { mel: indexMel });
  return { backend, result };
}

describe('transcribe: temperature fallback', () => {
  it('stops at the first temperature whose result passes the gates', async () => {
    const { backend, result } = await run([{ text: 'allume la lumière', avgLogprob: -0.3 }], seconds(3));
    expect(backend.decodeCalls.map((c) => c.temperature)).toEqual([0]);
    expect(backend.decodeCalls[0]?.random).toBeUndefined();
    expect(backend.decodeCalls[0]?.beamSize).toBe(5);
    // The decode gets the gate's threshold so that a repetition loop can stop early.
    expect(backend.decodeCalls[0]?.compressionRatioThreshold).toBe(2.4);
    expect(result.text).toBe('allume la lumière');
    expect(result.segments[0]?.temperature).toBe(0);
  });

  it('falls back when the text is too repetitive (compression ratio > 2.4)', async () => {
    const { backend, result } = await run(
      [
        { text: REPEATED, avgLogprob: -0.1 },
        { text: 'merci beaucoup', avgLogprob: -0.4 },
      ],
      seconds(5),
    );
    expect(backend.decodeCalls.map((c) => c.temperature)).toEqual([0, 0.2]);
    expect(typeof backend.decodeCalls[1]?.random).toBe('function');
    expect(result.text).toBe('merci beaucoup');
    expect(result.segments[0]?.temperature).toBe(0.2);
    expect(result.segments[0]?.compressionRatio).toBeLessThan(2.4);
  });

  it('falls back when the average log-prob is below the threshold', async () => {
    const { backend, result } = await run(
      [
        { text: 'a b c', avgLogprob: -1.6 },
        { text: 'd e f', avgLogprob: -1.2 },
        { text: 'ouvre les volets', avgLogprob: -0.5 },
      ],
      seconds(4),
    );
    expect(backend.decodeCalls.map((c) => c.temperature)).toEqual([0, 0.2, 0.4]);
    expect(result.text).toBe('ouvre les volets');
  });

  it('keeps the best log-prob under the compression threshold when every temperature fails', async () => {
    const { backend, result } = await run(
      [
        { text: 'x y', avgLogprob: -2.0 },
        { text: REPEATED, avgLogprob: -1.05 },
        { text: 'p q', avgLogprob: -1.1 },
        { text: 'u v', avgLogprob: -1.3 },
      ],
      seconds(4),
      { temperatures: [0, 0.3, 0.6, 0.9] },
    );
    expect(backend.decodeCalls).toHaveLength(4);
    expect(result.text).toBe('p q');
    expect(result.segments[0]?.avgLogprob).toBe(-1.1);
    expect(result.segments[0]?.temperature).toBe(0.6);
  });

  it('a single temperature disables the fallback; null thresholds disable the gates', async () => {
    const single = await run([{ text: 'a b', avgLogprob: -3 }], seconds(2), { temperatures: [0] });
    expect(single.backend.decodeCalls).toHaveLength(1);
    expect(single.result.text).toBe('a b');
    const ungated = await run([{ text: REPEATED, avgLogprob: -3, noSpeechProb: 0.99 }], seconds(2), {
      compressionRatioThreshold: null,
      logProbThreshold: null,
      noSpeechThreshold: null,
    });
    expect(ungated.backend.decodeCalls).toHaveLength(1);
    expect(ungated.backend.decodeCalls[0]?.compressionRatioThreshold).toBeNull();
    expect(ungated.result.text).toBe(REPEATED);
  });

  it('samples with a generator replayed by the seed', async () => {
    const draws = async (seed: number) => {
      const { backend } = await run(
        [
          { text: 'a', avgLogprob: -2 },
          { text: 'b', avgLogprob: -0.1 },
        ],
        seconds(1),
        { seed },
      );
      const random = backend.decodeCalls[1]?.random;
      expect(random).toBeDefined();
      return [random!(), random!(), random!()];
    };
    const a = await draws(7);
    expect(await draws(7)).toEqual(a);
    expect(await draws(8)).not.toEqual(a);
    for (const x of a) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('transcribe: no-speech gate', () => {
  it('skips a silent window without falling back', async () => {
    const { backend, result } = await run([{ text: 'merci', avgLogprob: -1.5, noSpeechProb: 0.9 }], seconds(8));
    expect(backend.decodeCalls).toHaveLength(1);
    expect(result.text).toBe('');
    expect(result.segments).toEqual([]);
  });

  it('keeps a window with a high no-speech probability when the log-prob is confident', async () => {
    const { result } = await run([{ text: 'oui', avgLogprob: -0.3, noSpeechProb: 0.9 }], seconds(2));
    expect(result.text).toBe('oui');
  });

  it('skips only the silent window of a long input and moves on by its content', async () => {
    const { backend, result } = await run(
      [
        { tokens: [ts(0), 'bonjour', ts(2)], avgLogprob: -0.2 },
        { text: 'merci', avgLogprob: -1.5, noSpeechProb: 0.95 },
      ],
      seconds(40),
    );
    // Window 1 ends on a single timestamp: the whole 30 s are consumed; window 2 is silence.
    expect(backend.windows.map((w) => w.first)).toEqual([0, 3000]);
    expect(result.text).toBe('bonjour');
  });
});

describe('transcribe: long-form seeking by timestamp tokens', () => {
  it('cuts a 70 s input into windows at the last timestamps with correct segment times', async () => {
    const { backend, result } = await run(
      [
        // Window 1 (0 s): ends on a single timestamp → seek to 30 s.
        { tokens: [ts(0), 'un', ts(10), ts(10.4), 'deux', ts(27)] },
        // Window 2 (30 s): last piece unfinished → seek to its last complete timestamp, 30 + 12 s.
        { tokens: [ts(0), 'trois', ts(12), ts(12.2), 'quatre'] },
        // Window 3 (42 s, 28 s of content): the last end (42 + 29.5 s) lies past the audio's end.
        { tokens: [ts(0), 'quatre', ts(10), ts(10.4), 'cinq', ts(29.5)] },
      ],
      seconds(70),
    );
    expect(backend.windows.map((w) => w.first)).toEqual([0, 3000, 4200]);
    expect(backend.windows.map((w) => w.contentFrames)).toEqual([3000, 3000, 2800]);
    expect(backend.windows[2]?.row1First).toBe(-4201);
    expect(result.segments.map((s) => [s.text.trim(), s.startMs, s.endMs])).toEqual([
      ['un', 0, 10000],
      ['deux', 10400, 27000],
      ['trois', 30000, 42000],
      ['quatre', 42000, 52000],
      ['cinq', 52400, 70000],
    ]);
    expect(result.segments.map((s) => s.id)).toEqual([0, 1, 2, 3, 4]);
    expect(result.text).toBe('un deux trois quatre cinq');
    expect(result.durationMs).toBe(70000);
  });

  it('without timestamps gives one segment per window spanning its content', async () => {
    const { backend, result } = await run([{ text: 'a b' }, { text: 'c' }], seconds(45), { withoutTimestamps: true });
    expect(backend.decodeCalls.every((c) => c.withoutTimestamps)).toBe(true);
    expect(result.segments.map((s) => [s.startMs, s.endMs])).toEqual([
      [0, 30000],
      [30000, 45000],
    ]);
  });

  it('never stalls on a window that seeks by zero', async () => {
    const { backend } = await run(
      [{ tokens: [ts(0), ts(0)] }, { tokens: [ts(0), 'a', ts(1)] }, { tokens: [ts(0), 'b', ts(1)] }],
      seconds(31),
    );
    expect(backend.windows.map((w) => w.first)).toEqual([0, 1, 3001]);
  });

  it('drops blank and instantaneous pieces', async () => {
    // The second window (from the last timestamp, 2 s) decodes nothing.
    const { result } = await run([{ tokens: [ts(0), ts(1), ts(1), 'a', ts(2), ts(2), ts(2)] }, { tokens: [] }], seconds(5));
    expect(result.segments.map((s) => [s.text, s.startMs, s.endMs])).toEqual([[' a', 1000, 2000]]);
  });
});

describe('transcribe: prompts', () => {
  const threeWindows: Plan[] = [
    { tokens: [ts(0), 'un', ts(30)] },
    { tokens: [ts(0), 'deux', ts(30)] },
    { tokens: [ts(0), 'trois', ts(10)] },
  ];

  it('conditions each window on the text of the previous ones', async () => {
    const { backend } = await run(threeWindows, seconds(70));
    const words = (ids: readonly number[]) => backend.tokenizer.decode(ids).trim();
    expect(backend.decodeCalls.map((c) => words(c.promptTokens))).toEqual(['', 'un', 'un deux']);
    // Timestamp tokens travel with the previous text, as in OpenAI's transcribe().
    expect(backend.decodeCalls[1]?.promptTokens).toEqual([ts(0), backend.tokenizer.encode('un')[0], ts(30)]);
  });

  it('resets the prompt after a decode at a temperature above 0.5', async () => {
    const { backend } = await run(
      [
        { tokens: [ts(0), 'un', ts(30)] },
        ...[1, 2, 3].map(() => ({ tokens: [ts(0), 'x', ts(30)], avgLogprob: -2 })),
        { tokens: [ts(0), 'deux', ts(30)], avgLogprob: -0.5 },
        { tokens: [ts(0), 'trois', ts(10)] },
      ],
      seconds(70),
      { temperatures: [0, 0.4, 0.55, 0.7] },
    );
    const prompts = backend.decodeCalls.map((c) => backend.tokenizer.decode(c.promptTokens).trim());
    expect(backend.decodeCalls.map((c) => c.temperature)).toEqual([0, 0, 0.4, 0.55, 0.7, 0]);
    expect(prompts).toEqual(['', 'un', 'un', 'un', 'un', '']);
  });

  it('keeps the prompt after a fallback that stopped at 0.5 or below', async () => {
    const { backend } = await run(
      [
        { tokens: [ts(0), 'un', ts(30)] },
        { tokens: [ts(0), 'x', ts(30)], avgLogprob: -2 },
        { tokens: [ts(0), 'deux', ts(30)], avgLogprob: -0.5 },
        { tokens: [ts(0), 'trois', ts(10)] },
      ],
      seconds(70),
      { temperatures: [0, 0.5, 1] },
    );
    const prompts = backend.decodeCalls.map((c) => backend.tokenizer.decode(c.promptTokens).trim());
    expect(backend.decodeCalls.map((c) => c.temperature)).toEqual([0, 0, 0.5, 0]);
    expect(prompts).toEqual(['', 'un', 'un', 'un deux']);
  });

  it('without conditioning, only the initial prompt reaches the first window', async () => {
    const { backend } = await run(threeWindows, seconds(70), {
      conditionOnPreviousText: false,
      initialPrompt: '  Domotique maison ',
    });
    const prompts = backend.decodeCalls.map((c) => backend.tokenizer.decode(c.promptTokens).trim());
    expect(prompts).toEqual(['Domotique maison', '', '']);
  });

  it('places the initial prompt before the previous text', async () => {
    const { backend } = await run(threeWindows, seconds(70), { initialPrompt: 'Domotique' });
    const prompts = backend.decodeCalls.map((c) => backend.tokenizer.decode(c.promptTokens).trim());
    expect(prompts).toEqual(['Domotique', 'Domotique un', 'Domotique un deux']);
  });

  it('puts hotwords first in every prompt and trims the previous text to the budget', async () => {
    // maxTargetPositions 16 → prompt budget 16 / 2 − 1 = 7 tokens.
    const { backend } = await run(
      [{ tokens: [ts(0), 'a', 'b', 'c', 'd', 'e', ts(30)] }, { tokens: [ts(0), 'f', ts(5)] }],
      seconds(40),
      { hotwords: 'volets rideaux', initialPrompt: 'maison' },
      16,
    );
    const prompts = backend.decodeCalls.map((c) => backend.tokenizer.decode(c.promptTokens).trim());
    expect(prompts).toEqual(['volets rideaux maison', 'volets rideaux b c d e']);
    expect(backend.decodeCalls[1]?.promptTokens).toHaveLength(7);
  });
});

describe('transcribe: language, options, inputs', () => {
  it('detects the language once when asked for auto', async () => {
    const backend = new ScriptedBackend([{ tokens: [ts(0), 'a', ts(30)] }, { tokens: [ts(0), 'b', ts(1)] }]);
    const result = await transcribe(backend, seconds(40), {}, { mel: indexMel });
    expect(backend.detectCalls).toBe(1);
    expect(result.language).toBe('fr');
    expect(result.languageProbability).toBeCloseTo(0.93);
    expect(backend.decodeCalls.every((c) => c.language === 'fr')).toBe(true);
    expect(backend.released).toBe(2);
  });

  it('uses a given language without detection', async () => {
    const { backend, result } = await run([{ text: 'hello' }], seconds(1), { language: 'EN' });
    expect(backend.detectCalls).toBe(0);
    expect(result.language).toBe('en');
    expect(result.languageProbability).toBeNull();
    expect(backend.decodeCalls[0]?.language).toBe('en');
  });

  it('passes the decode settings through', async () => {
    const { backend } = await run([{ text: 'a' }], seconds(1), { beamSize: 1, task: 'translate', patience: 2 });
    const call = backend.decodeCalls[0];
    expect(call).toMatchObject({
      beamSize: 1,
      bestOf: 5,
      patience: 2,
      task: 'translate',
      suppressTokens: [1, 2],
      suppressBlank: true,
      maxNewTokens: 224,
      maxInitialTimestampInS: 1,
      withoutTimestamps: false,
      prefixTokens: [],
    });
  });

  it.each([
    [{ beamSize: 0 }],
    [{ bestOf: 1.5 }],
    [{ patience: 0 }],
    [{ temperatures: [] }],
    [{ temperatures: [-0.1] }],
    [{ language: 'xx' }],
    [{ task: 'summarise' }],
    [{ seed: -1 }],
    [{ logProbThreshold: Number.NaN }],
    [{ beamNarrowAfterMs: -1 }],
    [{ beamNarrowAfterMs: '500' }],
  ])('rejects %j with STT_INVALID_OPTION', async (options) => {
    const backend = new ScriptedBackend([{ text: 'a' }]);
    await expect(
      transcribe(backend, seconds(1), options as TranscribeOptions, { mel: indexMel }),
    ).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    expect(backend.decodeCalls).toHaveLength(0);
  });

  it('rejects empty and non-finite audio with coded errors', async () => {
    const backend = new ScriptedBackend([]);
    await expect(transcribe(backend, new Float32Array(0), {}, { mel: indexMel })).rejects.toMatchObject({
      code: 'STT_AUDIO_EMPTY',
    });
    const bad = seconds(1);
    bad[100] = Number.NaN;
    await expect(transcribe(backend, bad, {}, { mel: indexMel })).rejects.toMatchObject({
      code: 'STT_AUDIO_INVALID_SAMPLES',
    });
  });

  it('wraps a runtime failure in STT_DECODE_FAILED and releases the window', async () => {
    const backend = new ScriptedBackend([{ throws: new Error('ORT exploded') }]);
    await expect(transcribe(backend, seconds(1), { language: 'fr' }, { mel: indexMel })).rejects.toMatchObject({
      code: 'STT_DECODE_FAILED',
      message: expect.stringContaining('ORT exploded'),
    });
    expect(backend.released).toBe(1);
  });

  it('gives each decode a beam deadline beamNarrowAfterMs after the transcription began, on its own clock', async () => {
    let tick = 100;
    const now = (): number => tick++;
    const backend = new ScriptedBackend([{ text: 'x', avgLogprob: -1.6 }, { text: 'allume', avgLogprob: -0.3 }]);
    await transcribe(backend, seconds(1), { language: 'fr', beamNarrowAfterMs: 250, shortWindowMarginMs: null }, { mel: indexMel, now });
    // One deadline for the whole transcription (the fallback's decode included): started at 100.
    expect(backend.decodeCalls.map((c) => [c.temperature, c.narrowBeam?.atMs, c.narrowBeam?.beamSize])).toEqual([
      [0, 350, 1],
      [0.2, 350, 1],
    ]);
    expect(backend.decodeCalls[0]?.narrowBeam?.now).toBe(now);
    const plain = new ScriptedBackend([{ text: 'a' }]);
    await transcribe(plain, seconds(1), { language: 'fr' }, { mel: indexMel });
    expect(plain.decodeCalls[0]).not.toHaveProperty('narrowBeam');
  });

  it('reports timings from the injected clock', async () => {
    let tick = 0;
    const backend = new ScriptedBackend([{ text: 'a' }]);
    const result = await transcribe(backend, seconds(1), { language: 'fr' }, { mel: indexMel, now: () => tick++ });
    expect(result.timings).toEqual({ melMs: 1, encodeMs: 1, decodeMs: 1, totalMs: 7 });
  });
});

describe('transcribe: checking a skip with a VAD (deps.hasSpeech)', () => {
  /** `speech`: the VAD's answers in order; false once they run out. */
  async function runChecked(plans: readonly Plan[], audio: Float32Array, speech: readonly boolean[]) {
    const backend = new ScriptedBackend(plans);
    const asked: [number, number][] = [];
    const hasSpeech = async (samples: Float32Array, from: number, to: number): Promise<boolean> => {
      expect(samples).toBe(audio);
      asked.push([from, to]);
      return speech[asked.length - 1] ?? false;
    };
    const result = await transcribe(backend, audio, { language: 'fr' }, { mel: indexMel, hasSpeech });
    return { backend, result, asked };
  }

  const plans: Plan[] = [
    // Window 1 says "no speech after 2 s" with 28 s of the window left.
    { tokens: [ts(0), 'bonjour', ts(2)], avgLogprob: -0.2 },
    { tokens: [ts(0), 'encore', ts(3)], avgLogprob: -0.2 },
    { tokens: [ts(0), 'fin', ts(1)], avgLogprob: -0.2 },
  ];

  it('decodes from the last timestamp when the skipped part holds speech', async () => {
    const { backend, result, asked } = await runChecked(plans, seconds(35), [true, true]);
    expect(asked).toEqual([
      // The skip of [2 s, 30 s) is checked: speech, so window 2 starts at 2 s, not 30 s.
      [32_000, 480_000],
      // Window 2 (2–32 s) ends at 5 s: speech again, window 3 starts at 5 s.
      [80_000, 512_000],
      // Window 3 (5–35 s) ends at 6 s: no speech after it, so the rest of the window is skipped.
      [96_000, 560_000],
    ]);
    expect(backend.windows.map((w) => w.first)).toEqual([0, 200, 500]);
    expect(result.text).toBe('bonjour encore fin');
  });

  it('skips as the reference does when the VAD finds no speech', async () => {
    const { backend, asked } = await runChecked(plans, seconds(40), []);
    expect(asked).toEqual([
      [32_000, 480_000],
      // Window 2 (30–40 s) ends at 33 s: 7 s of it left, checked too.
      [528_000, 640_000],
    ]);
    expect(backend.windows.map((w) => w.first)).toEqual([0, 3000]);
  });

  it('does not ask about gaps under 2 s', async () => {
    const { asked, result } = await runChecked([{ tokens: [ts(0), 'bonjour', ts(2)] }], seconds(3.5), [true]);
    expect(asked).toEqual([]);
    expect(result.text).toBe('bonjour');
  });
});
