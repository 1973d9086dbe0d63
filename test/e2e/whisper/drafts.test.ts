import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transcribeOptionsFor } from '../../../src/actors/decode/decode.js';
import type { DecodeJobSpec } from '../../../src/actors/decode/decode.protocol.js';
import { loadAudioFile } from '../../../src/audio/load.js';
import { normalizeFor } from '../../../src/eval/normalize.js';
import { wordErrors, type ErrorCounts } from '../../../src/eval/wer.js';
import { transcribe } from '../../../src/whisper/transcribe.js';
import type { TranscriptionResult } from '../../../src/whisper/types.js';
import { Whisper } from '../../../src/whisper/whisper.js';
import { corpusPath } from '../../helpers/paths.js';
import { BASE_MODEL } from './helpers.js';

function job(kind: 'partial' | 'final', language: string, endSamples: number, over: Partial<DecodeJobSpec> = {}): DecodeJobSpec {
  return {
    jobId: 1,
    kind,
    utteranceId: 1,
    startSamples: 0,
    endSamples,
    language,
    beamSize: kind === 'final' ? 5 : 1,
    temperatures: kind === 'final' ? [0, 0.2, 0.4, 0.6, 0.8, 1] : [0],
    initialPrompt: null,
    hotwords: null,
    speculative: false,
    ...over,
  };
}

const tokensOf = (r: TranscriptionResult): number[] => r.segments.flatMap((s) => s.tokens);
const errors = (c: ErrorCounts): number => c.substitutions + c.deletions + c.insertions;

describe("drafts on whisper-base (real model): a decode checks an earlier decode's tokens several per pass", () => {
  let whisper: Whisper;
  beforeAll(async () => {
    whisper = await Whisper.load(BASE_MODEL);
  });
  afterAll(async () => {
    await whisper.close();
  });

  it.each([
    ['fr', 'fr/fr_fleurs_007.wav'],
    ['en', 'en/en_fleurs_000.wav'],
  ])("a greedy final (%s) with its partial as a draft: the same words, most tokens from the draft's passes", async (language, file) => {
    const { samples } = await loadAudioFile(corpusPath(file));
    // The engine's partial one second before the end of speech, then its final (greedy here).
    const cut = samples.length - 16_000;
    const partial = await transcribe(whisper, samples.subarray(0, cut), transcribeOptionsFor(job('partial', language, cut)));
    const draft = tokensOf(partial);
    expect(draft.length).toBeGreaterThan(15);
    const finalJob = job('final', language, samples.length, { beamSize: 1 });
    const plain = await transcribe(whisper, samples, transcribeOptionsFor(finalJob));
    const checked = await transcribe(whisper, samples, transcribeOptionsFor(finalJob, undefined, undefined, draft));
    expect(plain.draft).toBeUndefined();
    const stats = checked.draft;
    if (stats === undefined) throw new Error('no draft counts');
    const sampled = tokensOf(checked).length;
    // Greedy takes one decoder pass per token; each accepted guess is one pass saved.
    expect(stats.accepted).toBeGreaterThan(sampled / 2);
    expect(stats.passes).toBeLessThan(sampled / 4);
    // The rows of a pass may differ from one-token steps' in their last bits (int8 rounding across a
    // pass's rows), which can flip a near tie: at most one word here.
    const norm = normalizeFor(language);
    expect(errors(wordErrors(norm(plain.text), norm(checked.text)))).toBeLessThanOrEqual(1);
  });

  it("a wrong draft (another clip's words) costs passes, not words; a narrowed beam checks its draft too", async () => {
    const { samples } = await loadAudioFile(corpusPath('fr/fr_fleurs_005.wav'));
    const other = await loadAudioFile(corpusPath('en/en_fleurs_000.wav'));
    const wrong = tokensOf(await transcribe(whisper, other.samples, transcribeOptionsFor(job('partial', 'en', other.samples.length))));
    const finalJob = job('final', 'fr', samples.length, { beamSize: 1 });
    const plain = await transcribe(whisper, samples, transcribeOptionsFor(finalJob));
    const checked = await transcribe(whisper, samples, transcribeOptionsFor(finalJob, undefined, undefined, wrong));
    expect(checked.text).toBe(plain.text);
    expect(checked.draft?.accepted ?? NaN).toBeLessThan(5);

    // Beam 5 narrowed from its first step is greedy search; with the greedy text as its draft it
    // checks it in a few passes.
    const narrowed = job('final', 'fr', samples.length, { beamNarrowAfterMs: 0 });
    const beam = await transcribe(whisper, samples, transcribeOptionsFor(narrowed, undefined, undefined, tokensOf(plain)));
    expect(beam.segments.every((s) => s.beamNarrowed === true)).toBe(true);
    expect(beam.draft?.accepted ?? NaN).toBeGreaterThan(tokensOf(plain).length / 2);
    const fr = normalizeFor('fr');
    expect(errors(wordErrors(fr(plain.text), fr(beam.text)))).toBeLessThanOrEqual(1);
  });
});
