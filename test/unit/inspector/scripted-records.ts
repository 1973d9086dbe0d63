/**
 * A scripted trace of one utterance (speech → endpointing → decoding → postprocessing → emitted),
 * shaped like the engine's records, for the inspector's unit tests. Numbers are chosen so the
 * latency breakdown is known exactly (see the expectations beside each use).
 */
import { EventEmitter } from 'node:events';
import type { TraceHeader, TraceRecord } from '../../../src/engine/trace.js';
import type { InspectorSource } from '../../../src/inspector/hub.js';

export const EPOCH = 1_800_000_000_000;

export const HEADER: TraceHeader = {
  kind: 'header',
  version: 1,
  startedAtEpochMs: EPOCH,
  sampleRate: 16_000,
  options: { engine: { language: 'fr' }, pipeline: { postRollMs: 96 } },
};

type Body = TraceRecord extends infer R ? (R extends TraceRecord ? Omit<R, 'seq'> : never) : never;

export function numbered(bodies: readonly Body[]): TraceRecord[] {
  return bodies.map((b, seq) => ({ ...b, seq }) as TraceRecord);
}

export function vadProgress(atMs: number, positionSamples: number, probability: number): Body {
  return { kind: 'event', atMs, actor: 'vad', event: 'message', data: { type: 'progress', positionSamples, probability, levelDbfs: -20, inUtterance: probability > 0.5 } };
}

/** Final: "allume la lumière"; latency vad 500, queue 4+1, encoder 10+100, decoder 50, post 2, total 900. */
export function oneUtterance(): TraceRecord[] {
  return numbered([
    { kind: 'state', atMs: 0, value: { starting: 'backends' } },
    { kind: 'state', atMs: 100, value: 'running' },
    { kind: 'event', atMs: 1000, actor: 'capture', event: 'message', data: { type: 'progress', writtenSamples: 16_000, atMs: EPOCH + 1000 } },
    { kind: 'event', atMs: 1100, actor: 'vad', event: 'message', data: { type: 'vad', event: { type: 'speechStart', utteranceId: 1, startSamples: 0 } } },
    { kind: 'utterance', atMs: 1100, utteranceId: 1, state: 'speech' },
    { kind: 'output', atMs: 1100, type: 'speechStart', payload: { utteranceId: 1, startMs: 0 } },
    vadProgress(1200, 8192, 0.9),
    { kind: 'output', atMs: 1300, type: 'partial', payload: { utteranceId: 1, text: 'allume la', stable: 'allume', unstable: 'la', startMs: 0, endMs: 500 } },
    { kind: 'event', atMs: 1900, actor: 'vad', event: 'message', data: { type: 'vad', event: { type: 'pauseStart', utteranceId: 1, endSamples: 18_464 } } },
    { kind: 'utterance', atMs: 1900, utteranceId: 1, state: 'endpointing' },
    {
      kind: 'command',
      atMs: 1900,
      actor: 'decode',
      command: { type: 'job', job: { jobId: 1, kind: 'final', utteranceId: 1, startSamples: 0, endSamples: 18_464, language: 'fr', beamSize: 1, temperatures: [0], initialPrompt: null, hotwords: null, speculative: true } },
    },
    { kind: 'event', atMs: 2000, actor: 'capture', event: 'message', data: { type: 'progress', writtenSamples: 32_000, atMs: EPOCH + 2000 } },
    { kind: 'event', atMs: 2500, actor: 'vad', event: 'message', data: { type: 'vad', event: { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 20_000, reason: 'silence' } } },
    { kind: 'output', atMs: 2500, type: 'speechEnd', payload: { utteranceId: 1, startMs: 0, endMs: 1250, reason: 'silence' } },
    { kind: 'utterance', atMs: 2500, utteranceId: 1, state: 'decoding' },
    {
      kind: 'event',
      atMs: 2600,
      actor: 'decode',
      event: 'message',
      data: {
        type: 'result',
        jobId: 1,
        kind: 'final',
        utteranceId: 1,
        text: ' allume la lumière',
        language: 'fr',
        avgLogprob: -0.2,
        noSpeechProb: 0.01,
        compressionRatio: 1,
        temperature: 0,
        timings: { waitMs: 1, melMs: 10, encodeMs: 100, decodeMs: 50, totalMs: 161 },
      },
    },
    { kind: 'utterance', atMs: 2600, utteranceId: 1, state: 'postprocessing' },
    { kind: 'command', atMs: 2600, actor: 'postprocess', command: { type: 'process', requestId: 1, input: { utteranceId: 1, kind: 'final', text: ' allume la lumière' } } },
    { kind: 'event', atMs: 2602, actor: 'postprocess', event: 'message', data: { type: 'processed', requestId: 1, output: { kind: 'final', text: 'Allume la lumière.', rejected: null, corrections: [] } } },
    { kind: 'utterance', atMs: 2602, utteranceId: 1, state: 'emitted' },
    {
      kind: 'output',
      atMs: 2602,
      type: 'final',
      payload: {
        utteranceId: 1,
        text: 'Allume la lumière.',
        language: 'fr',
        startMs: 0,
        endMs: 1250,
        speculative: true,
        beamNarrowed: true,
        timings: { decodeMs: 161, queueMs: 4, postProcessMs: 2, endOfSpeechToFinalMs: 900 },
        corrections: [],
      },
    },
  ]);
}

/** An engine as the inspector sees it: header, state, metrics and the `trace` event. */
export class ScriptedSource extends EventEmitter implements InspectorSource {
  state: unknown = 'running';
  traceHeader(): TraceHeader {
    return HEADER;
  }
  play(records: readonly TraceRecord[]): void {
    for (const r of records) this.emit('trace', r);
  }
}
