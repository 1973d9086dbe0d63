/**
 * Trace files and replay without threads: a session recorded from the real supervisor and pipeline
 * (scripted actors) is written by TraceWriter, read back, replayed to the same finals; tampering
 * with the decoder's text, the post-process options or the recorded finals is reported.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../../src/engine/trace.js';
import { replayTrace } from '../../../src/observe/replay.js';
import { parseTrace, readTraceFile } from '../../../src/observe/trace-reader.js';
import { TraceWriter, encodeAudio } from '../../../src/observe/trace-writer.js';
import { recordScriptedSession, type ScriptedSession } from './scripted-session.js';

const dir = mkdtempSync(path.join(tmpdir(), 'stt-trace-'));

async function writeTrace(session: ScriptedSession, file: string, audio: boolean): Promise<void> {
  const writer = new TraceWriter(file, { audio });
  // Records arriving before attach (while createEngine runs) are held, then written after the header.
  const [first, ...rest] = session.records;
  writer.onTrace(first as TraceRecord);
  writer.attach({
    traceHeader: () => session.header,
    readAudio: (start, end) => {
      const job = [...session.audio.entries()].find(([id]) => session.records.some((r) => r.kind === 'command' && (r.command as { job?: { jobId: number; startSamples: number; endSamples: number } }).job?.jobId === id && (r.command as { job: { startSamples: number } }).job.startSamples === start));
      if (!job) throw new Error(`no audio for [${start}, ${end})`);
      return job[1];
    },
  });
  for (const r of rest) writer.onTrace(r);
  await writer.close();
}

function tamper(lines: string[], pred: (o: Record<string, unknown>) => boolean, change: (o: Record<string, unknown>) => void): string[] {
  let hit = 0;
  const out = lines.map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    if (!pred(o)) return l;
    hit++;
    change(o);
    return JSON.stringify(o);
  });
  expect(hit).toBeGreaterThan(0);
  return out;
}

describe('trace files', () => {
  it('round-trips header, records in order and each final job’s audio (float32, bit-exact)', async () => {
    const session = await recordScriptedSession();
    const file = path.join(dir, 'round-trip.jsonl');
    await writeTrace(session, file, true);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual(session.header);
    const trace = await readTraceFile(file);
    expect(trace.header).toEqual(session.header);
    expect(trace.records).toEqual(JSON.parse(JSON.stringify(session.records)));
    expect(trace.records.map((r) => r.seq)).toEqual(session.records.map((_, i) => i));
    expect([...trace.audio.keys()]).toEqual([...session.audio.keys()]);
    for (const [jobId, samples] of session.audio) expect(trace.audio.get(jobId)).toEqual({ samples });
    // Each audio line follows its job's command line.
    const audioLine = lines.findIndex((l) => l.includes('"kind":"audio"'));
    expect(JSON.parse(lines[audioLine - 1]!)).toMatchObject({ kind: 'command', actor: 'decode', command: { job: { kind: 'final' } } });
    expect(trace.warnings).toEqual([]);
  });

  it('without audio, has no audio lines; a job whose audio cannot be read gets an error line', async () => {
    const session = await recordScriptedSession();
    const file = path.join(dir, 'no-audio.jsonl');
    await writeTrace(session, file, false);
    expect(readFileSync(file, 'utf8')).not.toContain('"kind":"audio"');
    const evicted = path.join(dir, 'evicted.jsonl');
    const writer = new TraceWriter(evicted, { audio: true });
    writer.attach({ traceHeader: () => session.header, readAudio: () => { throw new RangeError('evicted'); } });
    for (const r of session.records) writer.onTrace(r);
    await writer.close();
    const trace = await readTraceFile(evicted);
    expect([...trace.audio.values()].every((a) => 'error' in a && a.error.message === 'evicted')).toBe(true);
  });

  it('rejects what is not a trace with a coded error naming the line; tolerates a cut last line', () => {
    const header = JSON.stringify({ kind: 'header', version: 1, startedAtEpochMs: 1, sampleRate: 16_000, options: {} });
    const record = JSON.stringify({ kind: 'state', seq: 0, atMs: 0, value: 'running' });
    expect(() => parseTrace([record])).toThrow(expect.objectContaining({ code: 'STT_TRACE_INVALID', details: expect.objectContaining({ line: 1 }) }));
    expect(() => parseTrace([header, '{oops', record])).toThrow(/trace:2: not JSON/u);
    expect(() => parseTrace([header, JSON.stringify({ kind: 'nope', seq: 0, atMs: 0 })])).toThrow(/unknown record kind/u);
    expect(() => parseTrace([JSON.stringify({ kind: 'header', version: 2, startedAtEpochMs: 1, sampleRate: 16_000 })])).toThrow(/unsupported trace version/u);
    expect(() => parseTrace([])).toThrow(/empty trace/u);
    const cut = parseTrace([header, record, record.slice(0, 10)]);
    expect(cut.records).toHaveLength(1);
    expect(cut.warnings[0]).toMatch(/cut/u);
  });

  it('encodes audio as little-endian float32', () => {
    const bytes = Buffer.from(encodeAudio(Float32Array.of(1, -0.5)), 'base64');
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4)]).toEqual([1, -0.5]);
  });

  it('a path that cannot be written fails at once with a coded error', () => {
    expect(() => new TraceWriter(path.join(dir, 'no', 'such', 'dir', 't.jsonl'))).toThrow(expect.objectContaining({ code: 'STT_INVALID_OPTION' }));
  });
});

describe('replay', () => {
  it('re-drives the real supervisor and pipeline to the recorded finals and rejections', async () => {
    const session = await recordScriptedSession();
    const file = path.join(dir, 'replay.jsonl');
    await writeTrace(session, file, false);
    const report = await replayTrace(await readTraceFile(file));
    expect(report.recordedFinals.map((f) => [f.utteranceId, f.text, f.startMs, f.endMs])).toEqual([
      [1, 'allume la lumière', 63, 1250],
      [3, 'ferme 21 volets', 2500, 3750],
    ]);
    expect(report.replayedFinals).toEqual(report.recordedFinals);
    expect(report).toMatchObject({ identical: 2, differences: [], notes: [] });
    expect(report.replayedRejected).toEqual([{ utteranceId: 2, reason: 'misfire' }]);
    // Deterministic: a second replay gives the same report.
    expect(await replayTrace(await readTraceFile(file))).toEqual(report);
  });

  it('reports a final whose decoded text was changed in the trace', async () => {
    const session = await recordScriptedSession();
    const lines = tamper(
      [JSON.stringify(session.header), ...session.records.map((r) => JSON.stringify(r))],
      (o) => o['kind'] === 'event' && (o['data'] as { type?: string; text?: string }).text === 'ferme vingt et un volets',
      (o) => ((o['data'] as { text: string }).text = 'ouvre vingt-deux volets'),
    );
    const report = await replayTrace(parseTrace(lines));
    expect(report.identical).toBe(1);
    expect(report.differences).toEqual([
      {
        kind: 'changed',
        utteranceId: 3,
        fields: ['text'],
        recorded: { utteranceId: 3, text: 'ferme 21 volets', startMs: 2500, endMs: 3750 },
        replayed: { utteranceId: 3, text: 'ouvre 22 volets', startMs: 2500, endMs: 3750 },
      },
    ]);
  });

  it('reports what a different post-processor does to the same decodes (rerun), unlike the recorded outputs', async () => {
    const session = await recordScriptedSession();
    const trace = parseTrace([JSON.stringify(session.header), ...session.records.map((r) => JSON.stringify(r))]);
    const changed = await replayTrace(trace, { postProcessOptions: { frenchNumbers: false } });
    expect(changed.differences.map((d) => [d.utteranceId, d.replayed?.text])).toEqual([[3, 'ferme vingt et un volets']]);
    const recorded = await replayTrace(trace, { postProcess: 'recorded', postProcessOptions: { frenchNumbers: false } });
    expect(recorded.differences).toEqual([]);
  });

  it('reports missing and extra finals, and a tampered speech end as a range difference', async () => {
    const session = await recordScriptedSession();
    const base = [JSON.stringify(session.header), ...session.records.map((r) => JSON.stringify(r))];
    const relabelled = tamper(base, (o) => o['kind'] === 'output' && o['type'] === 'final' && (o['payload'] as { utteranceId: number }).utteranceId === 1, (o) => {
      (o['payload'] as { utteranceId: number }).utteranceId = 9;
    });
    const report = await replayTrace(parseTrace(relabelled));
    expect(report.differences.map((d) => [d.kind, d.utteranceId])).toEqual([
      ['missing', 9],
      ['extra', 1],
    ]);
    // The VAD said the utterance ended later: the replay sends a new final job the recording never answered.
    const moved = tamper(base, (o) => o['kind'] === 'event' && (o['data'] as { event?: { type?: string; utteranceId?: number } }).event?.type === 'speechEnd' && (o['data'] as { event: { utteranceId: number } }).event.utteranceId === 1, (o) => {
      (o['data'] as { event: { endSamples: number } }).event.endSamples = 28_000;
    });
    const diverged = await replayTrace(parseTrace(moved));
    // …and with one job in flight at a time, utterance 3's final waits behind it for ever.
    expect(diverged.differences.map((d) => [d.kind, d.utteranceId])).toEqual([
      ['missing', 1],
      ['missing', 3],
    ]);
    expect(diverged.notes.join('\n')).toMatch(/decode job \d+ \(final:1:1000-28000\) was sent in the replay but never answered/u);
  });

  it('a header without pipeline options cannot be replayed (coded error)', async () => {
    const header = JSON.stringify({ kind: 'header', version: 1, startedAtEpochMs: 1, sampleRate: 16_000, options: {} });
    await expect(replayTrace(parseTrace([header]))).rejects.toMatchObject({ code: 'STT_TRACE_INVALID' });
  });
});

describe('replay CLI (in process)', () => {
  function memoryIO() {
    let out = '';
    let err = '';
    return {
      io: { stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) }, env: {}, cwd: dir, stderrIsTTY: false },
      out: () => out,
      err: () => err,
    };
  }

  it('exit 0 and a summary when identical, 1 with the diff when different, 2 on bad usage', async () => {
    const { runReplayCommand } = await import('../../../src/cli/replay.js');
    const session = await recordScriptedSession();
    const file = path.join(dir, 'cli.jsonl');
    await writeTrace(session, file, false);
    const same = memoryIO();
    expect(await runReplayCommand([file], same.io)).toBe(0);
    expect(same.out()).toContain('finals: 2 recorded, 2 replayed: 2 identical, 0 different');
    expect(same.out()).toContain('result: identical');

    const tampered = path.join(dir, 'cli-tampered.jsonl');
    writeFileSync(tampered, readFileSync(file, 'utf8').replace('"text":"allume la lumière","language"', '"text":"allume la cuisine","language"'));
    const diff = memoryIO();
    expect(await runReplayCommand([tampered], diff.io)).toBe(1);
    expect(diff.out()).toContain('1 identical, 1 different');
    expect(diff.out()).toContain('~ utterance 1 (text): "allume la lumière" [63–1250 ms] → "allume la cuisine" [63–1250 ms]');
    expect(diff.out()).toContain('result: different');

    const json = memoryIO();
    expect(await runReplayCommand([file, '--json'], json.io)).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ identical: 2, differences: [] });

    const missing = memoryIO();
    expect(await runReplayCommand([path.join(dir, 'nope.jsonl')], missing.io)).toBe(1);
    expect(missing.err()).toMatch(/error \[STT_TRACE_INVALID\]: trace file not found/u);
    const usage = memoryIO();
    expect(await runReplayCommand([], usage.io)).toBe(2);
    expect(await runReplayCommand([file, '--post-process', 'maybe'], usage.io)).toBe(2);
    expect(await runReplayCommand([file, '--bogus'], usage.io)).toBe(2);
    const help = memoryIO();
    expect(await runReplayCommand(['--help'], help.io)).toBe(0);
    expect(help.out()).toContain('Usage: stt-engine replay');
  });
});
