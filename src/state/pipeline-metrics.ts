/** The pipeline's counters and the decode-time summary the `metrics` event carries. */
import type { DecodeMsSummary, EngineDropReason, EngineMetrics } from '../engine/events.js';

/** Decode times kept per kind for the percentiles: a bounded window, so memory stays flat. */
const DECODE_MS_WINDOW = 512;

export interface PipelineCounters {
  utterances: number;
  misfires: number;
  partials: number;
  finals: number;
  rejected: number;
  failedPartials: number;
  partialsNotShown: number;
  speculativeDiscarded: number;
  speculativeReused: number;
  replayedJobs: number;
  readonly partialDrops: Record<EngineDropReason, number>;
  readonly decodeMs: { readonly partial: number[]; readonly final: number[]; count: { partial: number; final: number } };
}

export function emptyCounters(): PipelineCounters {
  return {
    utterances: 0,
    misfires: 0,
    partials: 0,
    finals: 0,
    rejected: 0,
    failedPartials: 0,
    partialsNotShown: 0,
    speculativeDiscarded: 0,
    speculativeReused: 0,
    replayedJobs: 0,
    partialDrops: { superseded: 0, 'final-pending': 0, 'queue-full': 0, stale: 0, 'fast-input': 0 },
    decodeMs: { partial: [], final: [], count: { partial: 0, final: 0 } },
  };
}

export function recordDecodeMs(counters: PipelineCounters, kind: 'partial' | 'final', ms: number): void {
  const window = counters.decodeMs[kind];
  window.push(ms);
  if (window.length > DECODE_MS_WINDOW) window.shift();
  counters.decodeMs.count[kind]++;
}

function summarize(values: readonly number[], count: number): DecodeMsSummary {
  if (values.length === 0) return { count, meanMs: 0, p50Ms: 0, p90Ms: 0, maxMs: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { count, meanMs: Math.round(mean), p50Ms: Math.round(at(0.5)), p90Ms: Math.round(at(0.9)), maxMs: Math.round(sorted[sorted.length - 1] ?? 0) };
}

export function snapshotMetrics(
  c: PipelineCounters,
  restarts: EngineMetrics['restarts'],
  ringOverrunSamples: number,
  queueDepth: EngineMetrics['queueDepth'],
): EngineMetrics {
  return {
    utterances: c.utterances,
    misfires: c.misfires,
    partials: c.partials,
    finals: c.finals,
    rejected: c.rejected,
    partialDrops: { ...c.partialDrops },
    speculativeDiscarded: c.speculativeDiscarded,
    speculativeReused: c.speculativeReused,
    replayedJobs: c.replayedJobs,
    restarts,
    ringOverrunSamples,
    queueDepth,
    decodeMs: {
      partial: summarize(c.decodeMs.partial, c.decodeMs.count.partial),
      final: summarize(c.decodeMs.final, c.decodeMs.count.final),
    },
  };
}
