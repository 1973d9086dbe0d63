/**
 * The engine's `trace` event on a real session: a French command read from a WAV file by the real
 * workers. The records must be a faithful, ordered account: every VAD message that opened an
 * utterance comes before the utterance's state change, every decode job before its result, every
 * final after the post-process result it came from; the header re-creates the options; readAudio
 * returns a final's audio while the arena holds it. Skipped when the shared models are absent.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, type FinalEvent, type TraceRecord } from '../../../dist/index.js';
import { corpusPath, hasShared, WHISPER_BASE_DIR } from '../../helpers/paths.js';

describe.skipIf(!hasShared())('engine trace (real workers, real model)', () => {
  it('records every supervisor event, command, state change and output in order', async () => {
    const records: TraceRecord[] = [];
    const engine = await createEngine({
      modelDir: WHISPER_BASE_DIR,
      beamSize: 1,
      threads: 2,
      metricsIntervalMs: 0,
      input: { kind: 'file', path: corpusPath('fr/fr_cmd_allume_la_lumiere.wav') },
      onTrace: (r) => records.push(r),
    });
    const finals: FinalEvent[] = [];
    const audio: number[] = [];
    engine.on('final', (f) => {
      finals.push(f);
      audio.push(engine.readAudio(Math.round((f.startMs * 16_000) / 1000), Math.round((f.endMs * 16_000) / 1000)).length);
    });
    await engine.done();
    await engine.close();
    // Nobody iterated results(): the engine kept no final for it (a long-lived engine holds none).
    expect(await engine.results().next()).toEqual({ value: undefined, done: true });

    const header = engine.traceHeader();
    expect(header).toMatchObject({ kind: 'header', version: 1, sampleRate: 16_000 });
    expect(JSON.parse(JSON.stringify(header.options))).toMatchObject({ engine: { language: 'fr', beamSize: 1 }, pipeline: { beamSize: 1 } });

    expect(finals).toHaveLength(1);
    expect(audio[0]).toBeGreaterThan(16_000 * 0.5);
    // seq is the order the main thread saw things in; atMs never goes back.
    records.forEach((r, i) => expect(r.seq).toBe(i));
    for (let i = 1; i < records.length; i++) expect(records[i]!.atMs).toBeGreaterThanOrEqual(records[i - 1]!.atMs);
    // JSON-safe: what a trace file holds is what was recorded.
    expect(JSON.parse(JSON.stringify(records))).toEqual(records);

    const index = (pred: (r: TraceRecord) => boolean): number => records.findIndex(pred);
    const speechStart = index((r) => r.kind === 'event' && r.actor === 'vad' && (r.data as { event?: { type?: string } }).event?.type === 'speechStart');
    const speech = index((r) => r.kind === 'utterance' && r.state === 'speech');
    const finalJob = index((r) => r.kind === 'command' && r.actor === 'decode' && (r.command as { job: { kind: string } }).job.kind === 'final');
    const finalJobId = (records[finalJob] as { command: { job: { jobId: number } } }).command.job.jobId;
    const result = index((r) => r.kind === 'event' && r.actor === 'decode' && (r.data as { type: string; jobId?: number }).type === 'result' && (r.data as { jobId: number }).jobId === finalJobId);
    const processed = index((r) => r.kind === 'event' && r.actor === 'postprocess' && (r.data as { type: string }).type === 'processed');
    const finalOut = index((r) => r.kind === 'output' && r.type === 'final');
    const emitted = index((r) => r.kind === 'utterance' && r.state === 'emitted');
    expect(speechStart).toBeGreaterThanOrEqual(0);
    expect(speech).toBeGreaterThan(speechStart);
    expect(finalJob).toBeGreaterThan(speech);
    expect(result).toBeGreaterThan(finalJob);
    expect(processed).toBeGreaterThan(result);
    expect(finalOut).toBeGreaterThan(processed);
    expect(emitted).toBeGreaterThan(processed);
    expect((records[finalOut] as { payload: FinalEvent }).payload.text).toBe(finals[0]!.text);
    // The supervisor's path through its states, from the moment the trace listener was attached.
    const states = records.filter((r) => r.kind === 'state').map((r) => JSON.stringify((r as { value: unknown }).value));
    expect(states[0]).toContain('starting');
    expect(states).toContain('"running"');
    expect(states).toContain('"drained"');
    expect(states.at(-1)).toBe('"closed"');
  });
});
