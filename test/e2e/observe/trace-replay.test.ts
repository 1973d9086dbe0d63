/**
 * --trace, replay and /metrics on the real engine: a French command session read from a WAV file by
 * the real workers and whisper-base, traced with its audio; `replay` re-runs it to the same finals,
 * and `--redecode` decodes the recorded audio again to the same texts; a tampered copy is reported.
 * Skipped when the shared models are absent.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../dist/index.js';
import { main } from '../../../dist/main.js';
import { createEngineMetrics } from '../../../dist/observe/metrics.js';
import { corpusPath, hasShared, REPO_ROOT, WHISPER_BASE_DIR } from '../../helpers/paths.js';

function memoryIO() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: REPO_ROOT, stderrIsTTY: false },
    out: () => out,
    err: () => err,
  };
}

const MODEL = ['--model-dir', WHISPER_BASE_DIR];

describe.skipIf(!hasShared())('trace and replay (real workers, real model)', () => {
  it('a traced live session replays to the same finals, and re-decodes its recorded audio to the same texts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stt-e2e-trace-'));
    const file = path.join(dir, 'session.jsonl');
    const live = memoryIO();
    const clip = corpusPath('fr/fr_cmd_eteins_la_lumiere_dans_le_salon.wav');
    expect(await main(['--input', clip, ...MODEL, '--beam', '1', '--threads', '2', '--jsonl', '--trace', file, '--trace-audio', '--metrics-port', '0'], live.io)).toBe(0);
    expect(live.err()).toMatch(/^metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/mu);
    const finals = live
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; text?: string })
      .filter((e) => e.type === 'final');
    expect(finals.length).toBeGreaterThanOrEqual(1);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ kind: 'header', version: 1, sampleRate: 16_000 });
    expect(lines.some((l) => l.startsWith('{"kind":"audio"'))).toBe(true);
    // The trace ends with the engine closed: the CLOSE and the last state are in it.
    const records = lines.slice(1).map((l) => JSON.parse(l) as { kind: string; type?: string; value?: unknown });
    expect(records.some((r) => r.kind === 'control' && r.type === 'CLOSE')).toBe(true);
    expect(records.filter((r) => r.kind === 'state').at(-1)).toMatchObject({ value: 'closed' });

    const replay = memoryIO();
    expect(await main(['replay', file, '--redecode', ...MODEL, '--threads', '2'], replay.io), replay.out() + replay.err()).toBe(0);
    expect(replay.out()).toContain(`finals: ${finals.length} recorded, ${finals.length} replayed: ${finals.length} identical, 0 different`);
    expect(replay.out()).toMatch(/redecode: (\d+) final decodes, \1 decoded again: \1 identical, 0 different/u);
    expect(replay.out()).toContain('result: identical');

    // The first decode result edited: replay shows the changed final (and so does --redecode).
    const tampered = path.join(dir, 'tampered.jsonl');
    const resultLine = lines.findIndex((l) => l.includes('"event":"message"') && l.includes('"type":"result"') && l.includes('"kind":"final"'));
    expect(resultLine).toBeGreaterThan(0);
    const edited = JSON.parse(lines[resultLine]!) as { data: { text: string } };
    edited.data.text = 'Bonjour le monde.';
    writeFileSync(tampered, [...lines.slice(0, resultLine), JSON.stringify(edited), ...lines.slice(resultLine + 1)].join('\n'));
    const diff = memoryIO();
    expect(await main(['replay', tampered], diff.io)).toBe(1);
    expect(diff.out()).toMatch(/~ utterance \d+ \(text\): ".*" \[\d+–\d+ ms\] → "Bonjour le monde\." /u);
    expect(diff.out()).toContain('result: different');
  }, 300_000);

  it('/metrics text of a real engine agrees with its metrics() snapshot', async () => {
    const engine = await createEngine({
      modelDir: WHISPER_BASE_DIR,
      beamSize: 1,
      threads: 2,
      metricsIntervalMs: 0,
      input: { kind: 'file', path: corpusPath('fr/fr_cmd_allume_la_lumiere.wav') },
    });
    const exporter = createEngineMetrics(engine);
    try {
      await engine.done();
      const m = engine.metrics();
      const text = await exporter.render();
      const families = parsePrometheusTextFormat(text);
      const value = (name: string): number => Number(families.find((f) => f.name === name)?.metrics[0]?.value);
      expect(m.finals).toBeGreaterThanOrEqual(1);
      expect(value('stt_finals_total')).toBe(m.finals);
      expect(value('stt_utterances_total')).toBe(m.utterances);
      expect(m.decodeLatency.final.count).toBeGreaterThanOrEqual(1);
      expect(text).toContain(`stt_decode_latency_seconds_count{kind="final"} ${m.decodeLatency.final.count}`);
      expect(m.eventLoopLagMs).not.toBeNull();
      expect(families.find((f) => f.name === 'stt_event_loop_lag_seconds')?.metrics.map((s) => s.labels?.['stat'])).toEqual(['mean', 'p50', 'p99', 'max']);
      expect(families.find((f) => f.name === 'stt_worker_restarts_total')?.metrics.map((s) => s.labels?.['actor'])).toEqual(['capture', 'vad', 'decode', 'postprocess']);
    } finally {
      exporter.close();
      await engine.close();
    }
  }, 120_000);
});
