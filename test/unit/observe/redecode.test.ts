/**
 * `replay --redecode` against a scripted transcriber: each recorded final job is decoded again on its
 * recorded audio and compared, without the beam deadline (a job that ended before it must not narrow
 * on a slower machine), and a job whose recorded decode narrowed is listed, not compared.
 */
import { describe, expect, it } from 'vitest';
import type { DecodeTranscriber } from '../../../src/actors/decode/decode.js';
import type { DecodeJobSpec, DecodeResultMessage } from '../../../src/actors/decode/decode.protocol.js';
import type { TraceRecord } from '../../../src/engine/trace.js';
import { redecodeTrace } from '../../../src/observe/redecode.js';
import type { Trace } from '../../../src/observe/trace-reader.js';
import type { TranscribeOptions, TranscriptionResult, WhisperBackend } from '../../../src/whisper/types.js';

function job(jobId: number, startSamples: number, endSamples: number): DecodeJobSpec {
  return {
    jobId,
    kind: 'final',
    utteranceId: jobId,
    startSamples,
    endSamples,
    language: 'fr',
    beamSize: 5,
    beamNarrowAfterMs: 700,
    temperatures: [0],
    initialPrompt: null,
    hotwords: null,
    speculative: false,
  };
}

function result(jobId: number, text: string, beamNarrowed: boolean, draftPasses?: number): DecodeResultMessage {
  return {
    type: 'result',
    jobId,
    kind: 'final',
    utteranceId: jobId,
    text,
    language: 'fr',
    avgLogprob: -0.2,
    noSpeechProb: 0.01,
    compressionRatio: 1.1,
    temperature: 0,
    beamNarrowed,
    ...(draftPasses !== undefined ? { draft: { passes: draftPasses, guessed: 3 * draftPasses, accepted: draftPasses } } : {}),
    timings: { waitMs: 0, melMs: 1, encodeMs: 10, decodeMs: 700, totalMs: 720 },
  };
}

/** Answers by the first sample of its audio, and keeps the options of every call. */
class Scripted implements DecodeTranscriber {
  readonly backend = {} as WhisperBackend;
  readonly calls: (TranscribeOptions | undefined)[] = [];
  constructor(private readonly texts: ReadonlyMap<number, string>) {}
  async transcribe(samples: Float32Array, options?: TranscribeOptions): Promise<TranscriptionResult> {
    this.calls.push(options);
    const text = this.texts.get(samples[0] ?? Number.NaN) ?? '';
    const segment = { id: 0, startMs: 0, endMs: 1000, text, tokens: [], temperature: 0, avgLogprob: -0.2, compressionRatio: 1.1, noSpeechProb: 0.01 };
    return { text, language: 'fr', languageProbability: null, segments: [segment], durationMs: 1000, timings: { melMs: 1, encodeMs: 1, decodeMs: 1, totalMs: 3 } };
  }
}

describe('replay --redecode', () => {
  it('decodes the recorded finals again without the beam deadline, and leaves out those that narrowed or checked a draft', async () => {
    const jobs = [job(1, 0, 100), job(2, 100, 200), job(3, 200, 300), job(4, 300, 400)];
    const records: TraceRecord[] = [
      ...jobs.map((j, i): TraceRecord => ({ kind: 'command', seq: i, atMs: i, actor: 'decode', command: { type: 'job', job: j } })),
      // Job 1 had a draft but never checked it in a pass (no passes): its rounding was the plain one.
      { kind: 'event', seq: 4, atMs: 4, actor: 'decode', event: 'message', data: result(1, 'allume la lumière', false, 0) },
      { kind: 'event', seq: 5, atMs: 5, actor: 'decode', event: 'message', data: result(2, 'ferme les volets', true) },
      { kind: 'event', seq: 6, atMs: 6, actor: 'decode', event: 'message', data: result(3, 'quel temps fait-il', false) },
      { kind: 'event', seq: 7, atMs: 7, actor: 'decode', event: 'message', data: result(4, 'éteins tout', false, 2) },
    ];
    // Each job's audio starts with its id, so the script knows which one it decodes.
    const audio = new Map(jobs.map((j) => [j.jobId, { samples: new Float32Array(100).fill(j.jobId) }] as const));
    const trace: Trace = { header: { kind: 'header', version: 1, startedAtEpochMs: 0, sampleRate: 16_000, options: null }, records, audio, warnings: [] };
    const transcriber = new Scripted(new Map([[1, 'allume la lumière'], [2, 'ferme les volés'], [3, "qu'elle t'en fait-il"], [4, 'éteins tous']]));
    const report = await redecodeTrace(trace, transcriber);
    expect(report).toEqual({
      jobs: 4,
      decoded: 2,
      identical: 1,
      differences: [{ jobId: 3, utteranceId: 3, recorded: 'quel temps fait-il', redecoded: "qu'elle t'en fait-il" }],
      withoutAudio: [],
      narrowed: [2],
      drafted: [4],
    });
    expect(transcriber.calls).toHaveLength(2);
    expect(transcriber.calls.map((o) => o?.beamNarrowAfterMs)).toEqual([null, null]);
    expect(transcriber.calls.map((o) => o?.beamSize)).toEqual([5, 5]);
  });
});
