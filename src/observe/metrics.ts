/**
 * Prometheus exposition of an engine's metrics: the only module that imports prom-client.
 *
 * Every figure comes from one `engine.metrics()` snapshot taken at each render, the very object the
 * `metrics` event carries, so /metrics and the API never disagree. Each engine gets its own
 * Registry (no global state: a process may run several engines, or several tests).
 *
 *   createEngineMetrics(engine, { prefix: 'stt_' }) → { render(), contentType, close() }
 *
 * render() resolves to the text exposition format (version 0.0.4), contentType is the header to
 * serve it with. The inspector's page server and `--metrics-port` both serve render().
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DecodeLatencyHistogram, EngineDropReason, EngineMetrics } from '../engine/events.js';

/** What is measured: an Engine, or anything with the same metrics() (a test's Pipeline). */
export interface MetricsSource {
  metrics(): EngineMetrics;
}

export interface EngineMetricsOptions {
  /** Prefix of every metric name (default 'stt_'). */
  readonly prefix?: string;
}

export interface EngineMetricsExporter {
  /** The metrics in Prometheus text format, from a fresh snapshot. */
  render(): Promise<string>;
  /** Content-Type to serve render() with. */
  readonly contentType: string;
  /** Forgets every metric; render() then yields an empty exposition. */
  close(): void;
}

/** The Content-Type of the text exposition format every exporter renders. */
export const PROMETHEUS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

const DROP_REASONS: readonly EngineDropReason[] = ['superseded', 'final-pending', 'queue-full', 'stale', 'fast-input', 'preempted'];
const ACTORS = ['capture', 'vad', 'decode', 'postprocess'] as const;
const KINDS = ['partial', 'final'] as const;

type HistogramValue = { labels: Record<string, string | number>; value: number; metricName: string };

/**
 * A histogram whose buckets come from the engine's snapshot rather than from observe(): the
 * pipeline already counts every decode (and the `metrics` event carries the same buckets), so
 * re-observing would double the bookkeeping. It reports through the same `getForPromString`
 * shape prom-client's own Histogram produces, which the registry formats.
 */
class SnapshotHistogram extends Histogram<'kind'> {
  snapshot: Readonly<Record<'partial' | 'final', DecodeLatencyHistogram>> | null = null;
  readonly #name: string;
  readonly #help: string;

  constructor(name: string, help: string, registry: Registry) {
    super({ name, help, labelNames: ['kind'], registers: [registry] });
    this.#name = name;
    this.#help = help;
  }

  async getForPromString(): Promise<{ name: string; help: string; type: string; values: HistogramValue[]; aggregator: string }> {
    const values: HistogramValue[] = [];
    for (const kind of KINDS) {
      const h = this.snapshot?.[kind];
      if (!h) continue;
      h.boundsMs.forEach((bound, i) => {
        values.push({ labels: { kind, le: bound / 1000 }, value: h.cumulative[i] ?? 0, metricName: `${this.#name}_bucket` });
      });
      values.push({ labels: { kind, le: '+Inf' }, value: h.count, metricName: `${this.#name}_bucket` });
      values.push({ labels: { kind }, value: h.sumMs / 1000, metricName: `${this.#name}_sum` });
      values.push({ labels: { kind }, value: h.count, metricName: `${this.#name}_count` });
    }
    return { name: this.#name, help: this.#help, type: 'histogram', values, aggregator: 'sum' };
  }

  override async get(): Promise<Awaited<ReturnType<Histogram<'kind'>['get']>>> {
    return (await this.getForPromString()) as unknown as Awaited<ReturnType<Histogram<'kind'>['get']>>;
  }
}

export function createEngineMetrics(source: MetricsSource, options: EngineMetricsOptions = {}): EngineMetricsExporter {
  const p = options.prefix ?? 'stt_';
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
    new Counter<L>({ name: `${p}${name}`, help, labelNames, registers });
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> =>
    new Gauge<L>({ name: `${p}${name}`, help, labelNames, registers });

  const utterances = counter('utterances_total', 'Utterances the VAD opened.');
  const misfires = counter('misfires_total', 'Speech too short to be an utterance (reported as rejected, not decoded).');
  const partials = counter('partials_total', 'Partial results shown.');
  const finals = counter('finals_total', 'Final results emitted.');
  const rejected = counter('rejected_total', 'Utterances rejected (misfire, no speech, blocklisted, repetition, decode failed).');
  const drops = counter('partial_drops_total', 'Partial decodes not run, by reason.', ['reason']);
  const speculative = counter('speculative_finals_total', 'Speculative final decodes, by outcome.', ['outcome']);
  const narrowed = counter('beam_narrowed_finals_total', 'Finals whose beam search finished with one hypothesis past finalBeamNarrowAfterMs.');
  const draftTokens = counter('draft_tokens_total', "Tokens of an utterance's latest decode checked as a draft by the next decode, by outcome (guessed, accepted).", ['outcome']);
  const draftPasses = counter('draft_passes_total', 'Multi-token decoder passes that checked a draft.');
  const replayed = counter('replayed_jobs_total', 'Decode jobs re-sent to a restarted decode worker.');
  const cancelled = counter('cancelled_decodes_total', 'Decodes cancelled in the worker (preempted or stale partials, voided speculative finals), by kind.', ['kind']);
  const cancelledSeconds = counter('cancelled_decode_seconds_total', 'Decode time those cancelled decodes had used.');
  const restarts = counter('worker_restarts_total', 'Worker threads restarted after a crash, by actor.', ['actor']);
  const overrun = counter('ring_overrun_samples_total', 'Samples a live source lost because the capture ring was full.');
  const queue = gauge('queue_depth', 'Decode jobs waiting, by kind.', ['kind']);
  const decodeSeconds = counter('decode_seconds_total', 'Decode time (worker) of decodes with a known audio duration, by kind.', ['kind']);
  const audioSeconds = counter('decoded_audio_seconds_total', 'Audio duration of those decodes, by kind.', ['kind']);
  const rtf = gauge('decode_rtf', 'Real-time factor since start: decode time / audio duration, by kind (absent before the first decode).', ['kind']);
  const lag = gauge('event_loop_lag_seconds', 'Main-thread event-loop lag since the process started measuring, by statistic.', ['stat']);
  const latency = new SnapshotHistogram(`${p}decode_latency_seconds`, 'Decode latency (job arrival in the worker to its answer), by kind.', registry);

  const setCount = <L extends string>(c: Counter<L>, value: number, labels?: Partial<Record<L, string>>): void => {
    if (labels) c.inc(labels, value);
    else c.inc(value);
  };

  const apply = (m: EngineMetrics): void => {
    for (const c of [utterances, misfires, partials, finals, rejected, drops, speculative, narrowed, draftTokens, draftPasses, replayed, cancelled, cancelledSeconds, restarts, overrun, decodeSeconds, audioSeconds]) {
      (c as Counter<string>).reset();
    }
    for (const g of [queue, rtf, lag]) (g as Gauge<string>).reset();
    setCount(utterances, m.utterances);
    setCount(misfires, m.misfires);
    setCount(partials, m.partials);
    setCount(finals, m.finals);
    setCount(rejected, m.rejected);
    for (const reason of DROP_REASONS) setCount(drops, m.partialDrops[reason], { reason });
    setCount(speculative, m.speculativeReused, { outcome: 'reused' });
    setCount(speculative, m.speculativeDiscarded, { outcome: 'discarded' });
    setCount(narrowed, m.beamNarrowedFinals);
    setCount(draftTokens, m.drafts.guessed, { outcome: 'guessed' });
    setCount(draftTokens, m.drafts.accepted, { outcome: 'accepted' });
    setCount(draftPasses, m.drafts.passes);
    setCount(replayed, m.replayedJobs);
    setCount(cancelled, m.cancelledDecodes.partial, { kind: 'partial' });
    setCount(cancelled, m.cancelledDecodes.final, { kind: 'final' });
    setCount(cancelledSeconds, m.cancelledDecodes.ranMs / 1000);
    for (const actor of ACTORS) {
      const n = m.restarts[actor];
      if (n !== undefined) setCount(restarts, n, { actor });
    }
    setCount(overrun, m.ringOverrunSamples);
    queue.set({ kind: 'final' }, m.queueDepth.finals);
    queue.set({ kind: 'partial' }, m.queueDepth.partials);
    for (const kind of KINDS) {
      const r = m.rtf[kind];
      setCount(decodeSeconds, r.decodeMs / 1000, { kind });
      setCount(audioSeconds, r.audioMs / 1000, { kind });
      if (r.rtf !== null) rtf.set({ kind }, r.rtf);
    }
    const l = m.eventLoopLagMs;
    if (l) {
      lag.set({ stat: 'mean' }, l.meanMs / 1000);
      lag.set({ stat: 'p50' }, l.p50Ms / 1000);
      lag.set({ stat: 'p99' }, l.p99Ms / 1000);
      lag.set({ stat: 'max' }, l.maxMs / 1000);
    }
    latency.snapshot = m.decodeLatency;
  };

  let closed = false;
  return {
    contentType: registry.contentType,
    async render(): Promise<string> {
      if (!closed) apply(source.metrics());
      return registry.metrics();
    },
    close(): void {
      closed = true;
      registry.clear();
    },
  };
}
