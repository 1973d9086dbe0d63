/**
 * /metrics text from a real Pipeline driven through the real supervisor (scripted actors), parsed by
 * a Prometheus exposition parser: every family present with its type, exact values, and the same
 * figures as the `metrics` snapshot. Then the HTTP endpoint on a loopback port.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import type { EngineMetrics } from '../../../src/engine/events.js';
import { eventLoopLag } from '../../../src/observe/event-loop.js';
import { createEngineMetrics } from '../../../src/observe/metrics.js';
import { startMetricsServer } from '../../../src/observe/metrics-server.js';
import { DECODE_LATENCY_BOUNDS_MS, emptyCounters, recordDecodeMs, snapshotMetrics } from '../../../src/state/pipeline-metrics.js';
import { recordScriptedSession } from './scripted-session.js';

function family(families: readonly ParsedFamily[], name: string): ParsedFamily {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} in ${families.map((x) => x.name).join(', ')}`);
  return f;
}

/** label=value → the sample's value as a number. */
function values(f: ParsedFamily, label?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of f.metrics) out[label ? (m.labels?.[label] ?? '') : ''] = Number(m.value);
  return out;
}

describe('Prometheus exposition of the engine metrics', () => {
  it('renders the pipeline counters, gauges and decode-latency histogram with exact values', async () => {
    const session = await recordScriptedSession();
    const lag = { meanMs: 0.5, p50Ms: 0.25, p99Ms: 3, maxMs: 12 };
    const cancelledDecodes = { partial: 3, final: 1, ranMs: 1250 };
    const snapshot = (): EngineMetrics => ({
      ...session.metrics(),
      restarts: { decode: 2, postprocess: 1, capture: 0, vad: 0 },
      ringOverrunSamples: 480,
      eventLoopLagMs: lag,
      cancelledDecodes,
      beamNarrowedFinals: 1,
      drafts: { decodes: 4, passes: 6, guessed: 70, accepted: 41 },
    });
    const exporter = createEngineMetrics({ metrics: snapshot });
    expect(exporter.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusTextFormat(await exporter.render());

    const counter = (name: string): number => {
      const f = family(families, name);
      expect(f.type).toBe('COUNTER');
      return Number(f.metrics[0]?.value);
    };
    expect(counter('stt_utterances_total')).toBe(3);
    expect(counter('stt_misfires_total')).toBe(1);
    expect(counter('stt_partials_total')).toBe(1);
    expect(counter('stt_finals_total')).toBe(2);
    expect(counter('stt_rejected_total')).toBe(1);
    expect(counter('stt_replayed_jobs_total')).toBe(0);
    expect(counter('stt_beam_narrowed_finals_total')).toBe(1);
    expect(values(family(families, 'stt_draft_tokens_total'), 'outcome')).toEqual({ guessed: 70, accepted: 41 });
    expect(counter('stt_draft_passes_total')).toBe(6);
    expect(values(family(families, 'stt_cancelled_decodes_total'), 'kind')).toEqual({ partial: 3, final: 1 });
    expect(counter('stt_cancelled_decode_seconds_total')).toBe(1.25);
    expect(counter('stt_ring_overrun_samples_total')).toBe(480);
    expect(values(family(families, 'stt_partial_drops_total'), 'reason')).toEqual({ superseded: 0, 'final-pending': 0, 'queue-full': 0, stale: 0, 'fast-input': 0, preempted: 0 });
    expect(values(family(families, 'stt_speculative_finals_total'), 'outcome')).toEqual({ reused: 1, discarded: 0 });
    expect(values(family(families, 'stt_worker_restarts_total'), 'actor')).toEqual({ capture: 0, vad: 0, decode: 2, postprocess: 1 });
    const queue = family(families, 'stt_queue_depth');
    expect(queue.type).toBe('GAUGE');
    expect(values(queue, 'kind')).toEqual({ final: 0, partial: 0 });
    expect(values(family(families, 'stt_event_loop_lag_seconds'), 'stat')).toEqual({ mean: 0.0005, p50: 0.00025, p99: 0.003, max: 0.012 });

    // Decodes: one partial of 40 ms, finals of 300 ms and 1200 ms (the scripted worker's totalMs).
    // parse-prometheus-text-format folds a labelled histogram into one sample (it was written for
    // unlabelled ones), so it checks the family and its type; the samples are read line by line.
    const latency = family(families, 'stt_decode_latency_seconds');
    expect(latency.type).toBe('HISTOGRAM');
    const text = await exporter.render();
    const sample = (line: string): number => {
      const found = text.split('\n').find((l) => l.startsWith(`${line} `));
      if (found === undefined) throw new Error(`no sample ${line}`);
      return Number(found.slice(line.length + 1));
    };
    const bucket = (kind: string, le: string): number => sample(`stt_decode_latency_seconds_bucket{kind="${kind}",le="${le}"}`);
    expect([bucket('final', '0.25'), bucket('final', '0.5'), bucket('final', '1'), bucket('final', '1.5'), bucket('final', '+Inf')]).toEqual([0, 1, 1, 2, 2]);
    expect(sample('stt_decode_latency_seconds_count{kind="final"}')).toBe(2);
    expect(sample('stt_decode_latency_seconds_sum{kind="final"}')).toBeCloseTo(1.5, 9);
    expect([bucket('partial', '0.025'), bucket('partial', '0.05'), bucket('partial', '30'), bucket('partial', '+Inf')]).toEqual([0, 1, 1, 1]);
    expect(sample('stt_decode_latency_seconds_sum{kind="partial"}')).toBeCloseTo(0.04, 9);
    expect(text.match(/^stt_decode_latency_seconds_bucket\{kind="partial"/gmu)).toHaveLength(DECODE_LATENCY_BOUNDS_MS.length + 1);

    // The same figures as the snapshot the `metrics` event carries.
    const m = snapshot();
    expect(m.decodeLatency.final).toMatchObject({ count: 2, sumMs: 1500 });
    expect(m.decodeLatency.final.cumulative[DECODE_LATENCY_BOUNDS_MS.indexOf(1500)]).toBe(2);
  });

  it('computes the real-time factor from decode time and audio duration, per kind', async () => {
    const c = emptyCounters();
    recordDecodeMs(c, 'final', 300, 1500);
    recordDecodeMs(c, 'final', 900, 4500);
    recordDecodeMs(c, 'partial', 50); // duration unknown: latency only
    const m = snapshotMetrics(c, { decode: 0, postprocess: 0 }, 0, { finals: 3, partials: 1 });
    expect(m.rtf.final).toEqual({ decodeMs: 1200, audioMs: 6000, rtf: 0.2 });
    expect(m.rtf.partial).toEqual({ decodeMs: 0, audioMs: 0, rtf: null });
    expect(m.decodeLatency.partial.count).toBe(1);
    const families = parsePrometheusTextFormat(await createEngineMetrics({ metrics: () => m }, { prefix: 'x_' }).render());
    expect(values(family(families, 'x_decode_rtf'), 'kind')).toEqual({ final: 0.2 });
    expect(values(family(families, 'x_decode_seconds_total'), 'kind')).toEqual({ partial: 0, final: 1.2 });
    expect(values(family(families, 'x_decoded_audio_seconds_total'), 'kind')).toEqual({ partial: 0, final: 6 });
    expect(values(family(families, 'x_queue_depth'), 'kind')).toEqual({ final: 3, partial: 1 });
    // No lag measured (a Pipeline alone): the family has no samples rather than made-up zeros.
    expect(families.find((f) => f.name === 'x_event_loop_lag_seconds')?.metrics ?? []).toHaveLength(0);
  });

  it('follows the source on every render, and close() empties the registry', async () => {
    const c = emptyCounters();
    const exporter = createEngineMetrics({ metrics: () => snapshotMetrics(c, { decode: 0, postprocess: 0 }, 0, { finals: 0, partials: 0 }) });
    const finals = async (): Promise<number> => values(family(parsePrometheusTextFormat(await exporter.render()), 'stt_finals_total'))[''] ?? NaN;
    expect(await finals()).toBe(0);
    c.finals = 7;
    expect(await finals()).toBe(7);
    exporter.close();
    expect(parsePrometheusTextFormat(await exporter.render()).every((f) => f.metrics.length === 0)).toBe(true);
  });

  it('measures the event-loop lag of this thread (a blocked loop shows in max)', async () => {
    eventLoopLag(); // starts the monitor
    await new Promise((r) => setTimeout(r, 20));
    const until = Date.now() + 60;
    while (Date.now() < until); // block the loop for 60 ms
    await new Promise((r) => setTimeout(r, 20));
    const lag = eventLoopLag();
    expect(lag.maxMs).toBeGreaterThanOrEqual(40);
    expect(lag.p50Ms).toBeLessThanOrEqual(lag.p99Ms);
    expect(lag.p99Ms).toBeLessThanOrEqual(lag.maxMs);
  });
});

describe('metrics server', () => {
  it('serves /metrics on 127.0.0.1 with the exposition content type, 404 elsewhere', async () => {
    const c = emptyCounters();
    c.utterances = 4;
    const exporter = createEngineMetrics({ metrics: () => snapshotMetrics(c, { decode: 0, postprocess: 0 }, 0, { finals: 0, partials: 0 }) });
    const server = await startMetricsServer(exporter, { port: 0 });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(exporter.contentType);
      expect(values(family(parsePrometheusTextFormat(await res.text()), 'stt_utterances_total'))['']).toBe(4);
      expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('a port in use is a coded error, not a crash', async () => {
    const exporter = createEngineMetrics({ metrics: () => snapshotMetrics(emptyCounters(), { decode: 0, postprocess: 0 }, 0, { finals: 0, partials: 0 }) });
    const first = await startMetricsServer(exporter, { port: 0 });
    try {
      await expect(startMetricsServer(exporter, { port: first.port })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
      await expect(startMetricsServer(exporter, { port: 70_000 })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    } finally {
      await first.close();
    }
  });
});
