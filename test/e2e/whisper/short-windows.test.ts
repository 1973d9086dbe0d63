import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudioFile } from '../../../src/audio/load.js';
import { normalizeFrench } from '../../../src/eval/normalize.js';
import { errorRate, wordErrors } from '../../../src/eval/wer.js';
import { transcribe } from '../../../src/whisper/transcribe.js';
import { Whisper } from '../../../src/whisper/whisper.js';
import { corpusPath } from '../../helpers/paths.js';
import { FINAL_RETRY_MIN_NO_SPEECH, transcribeOptionsFor } from '../../../src/actors/decode/decode.js';
import type { DecodeJobSpec } from '../../../src/actors/decode/decode.protocol.js';
import { BASE_MODEL, recordingBackend } from './helpers.js';

describe('short windows on whisper-base (real model)', () => {
  let whisper: Whisper;
  beforeAll(async () => {
    whisper = await Whisper.load(BASE_MODEL);
  });
  afterAll(async () => {
    await whisper.close();
  });

  it('loads an encoder that takes short windows (per row), and the export as is takes full ones only', async () => {
    expect(whisper.shortWindows).toBe(true);
    const exported = await Whisper.load(BASE_MODEL, { activationQuant: 'per-tensor' });
    try {
      expect(exported.shortWindows).toBe(false);
      await expect(exported.encode(new Float32Array(80 * 800), 800)).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    } finally {
      await exported.close();
    }
    await expect(whisper.encode(new Float32Array(80 * 801), 801)).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    await expect(whisper.encode(new Float32Array(80 * 800), 1000)).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    const encoded = await whisper.encode(new Float32Array(80 * 800).fill(-0.5), 800);
    whisper.release(encoded);
  });

  it('transcribes a command from a 20 s window, as well as from a full window', async () => {
    const { samples } = await loadAudioFile(corpusPath('fr/fr_cmd_allume_la_lumiere.wav'));
    const short = recordingBackend(whisper);
    const result = await transcribe(short.backend, samples, { language: 'fr' });
    expect(short.frames).toEqual([2000]);
    const full = recordingBackend(whisper);
    const reference = await transcribe(full.backend, samples, { language: 'fr', shortWindowMarginMs: null });
    expect(full.frames).toEqual([3000]);
    const norm = (t: string): string => normalizeFrench(t);
    expect(errorRate(wordErrors(norm('allume la lumière'), norm(result.text)))).toBe(0);
    expect(norm(result.text)).toBe(norm(reference.text));
    expect(result.timings.encodeMs).toBeLessThan(reference.timings.encodeMs);
  });

  it('decodes noise again from a full window when the short one doubts there is speech, and outputs nothing', async () => {
    // From the default 20 s window, beam 5 reads a looping phantom into this 9.7 s of typing ("Je vous
    // invite à faire une autre vidéo." four times and more: the compression gate fails) with a
    // no-speech probability of 0.85; the full window's decode ends in the no-speech gate (log-prob
    // −1.43, no-speech 0.83). Which phantom a window reads moves with float rounding: before the
    // encoder's attention was fused, a 14 s window read a fluent sentence here; it now reads nothing.
    const { samples } = await loadAudioFile(corpusPath('noise/noise_keyboard_typing.wav'));
    const { backend, frames, decodes } = recordingBackend(whisper);
    const result = await transcribe(backend, samples, { language: 'fr' });
    expect(frames).toEqual([2000, 3000]);
    expect(decodes[0]?.result.noSpeechProb).toBeGreaterThan(0.6);
    expect(result.text).toBe('');
  });

  it("keeps a final's first decode when it fails only the log-prob gate sure of speech: one encoder pass", async () => {
    // "silence", decoded as the live engine decodes a final. Its first decode is unsure of the word
    // (log-prob under −1 on the CPUs measured) and sure it is speech (no-speech ~0.04), so the guard's
    // 30 s retry and temperature fallback, which read it no better, are skipped.
    const { samples } = await loadAudioFile(corpusPath('fr/fr_cmd_silence.wav'));
    const job: DecodeJobSpec = {
      jobId: 1,
      utteranceId: 1,
      kind: 'final',
      speculative: false,
      language: 'fr',
      beamSize: 5,
      temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1],
      startSamples: 0,
      endSamples: samples.length,
      initialPrompt: null,
      hotwords: null,
    };
    const engine = recordingBackend(whisper);
    const kept = await transcribe(engine.backend, samples, transcribeOptionsFor(job));
    expect(engine.frames).toEqual([2000]);
    expect(engine.decodes).toHaveLength(1);
    expect(engine.decodes[0]?.result.noSpeechProb).toBeLessThan(FINAL_RETRY_MIN_NO_SPEECH);
    expect(kept.text).not.toBe('');
    expect(kept.text).toBe(engine.decodes[0]?.result.text.trim());
  });

  it("narrows a final's beam at its deadline: from the start it is greedy search, never reached it is the plain beam", async () => {
    // A 6.7 s clip where beam 5 and greedy search read a word differently ("divisait" / "divise et").
    const { samples } = await loadAudioFile(corpusPath('fr/fr_sppas_nh_track_636.wav'));
    const job = (beamSize: number, beamNarrowAfterMs: number | null): DecodeJobSpec => ({
      jobId: 1,
      utteranceId: 1,
      kind: 'final',
      speculative: false,
      language: 'fr',
      beamSize,
      beamNarrowAfterMs,
      temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1],
      startSamples: 0,
      endSamples: samples.length,
      initialPrompt: null,
      hotwords: null,
    });
    const decodeOf = async (spec: DecodeJobSpec) => {
      const engine = recordingBackend(whisper);
      await transcribe(engine.backend, samples, transcribeOptionsFor(spec));
      // The first decode (short window, temperature 0): the one the deadline applies to.
      return engine.decodes[0]!.result;
    };
    const beam = await decodeOf(job(5, null));
    const greedy = await decodeOf(job(1, null));
    expect(beam.text).not.toBe(greedy.text);
    const narrowedAtOnce = await decodeOf(job(5, 0));
    expect(narrowedAtOnce.tokens).toEqual(greedy.tokens);
    expect(narrowedAtOnce.sumLogprob).toBe(greedy.sumLogprob);
    const neverNarrowed = await decodeOf(job(5, 60_000));
    expect(neverNarrowed.tokens).toEqual(beam.tokens);
    expect(neverNarrowed.sumLogprob).toBe(beam.sumLogprob);
  });
});
