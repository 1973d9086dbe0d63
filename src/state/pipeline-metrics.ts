/** The pipeline's counters and the decode-time figures the `metrics` event carries. */
import type {
  DecodeLatencyHistogram,
  DecodeMsSummary,
  EngineDropReason,
  EngineMetrics,
  RealTimeFactor,
} from '../engine/events.js';
import type { DraftCounts } from '../actors/decode/decode.protocol.js';

/** Decode times kept per kind for the percentiles: a bounded window, so memory stays flat. */
const DECODE_MS_WINDOW = 512;

/**
 * Histogram bounds (ms): partials take tens to hundreds of ms, finals up to seconds on a CPU, and a
 * 30 s window on a slow machine tens of seconds; the top buckets show the pathological ones.
 */
export const DECODE_LATENCY_BOUNDS_MS: readonly number[] = [25, 50, 100, 250, 500, 750, 1000, 1500, 2500, 5000, 10_000, 30_000];

type DecodeKind = 'partial' | 'final';

interface LatencyCounts {
  /** Per bucket (not cumulative), one per bound; above the last bound only `count` grows. */
  readonly perBucket: number[];
  count: number;
  sumMs: number;
  /** For the RTF: decodes whose audio duration is known, and their totals. */
  rtfDecodeMs: number;
  rtfAudioMs: number;
}

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
  beamNarrowedFinals: number;
  readonly drafts: { decodes: number; passes: number; guessed: number; accepted: number };
  replayedJobs: number;
  readonly cancelledDecodes: { partial: number; final: number; ranMs: number };
  readonly partialDrops: Record<EngineDropReason, number>;
  readonly decodeMs: { readonly partial: number[]; readonly final: number[]; count: { partial: number; final: number } };
  readonly latency: Record<DecodeKind, LatencyCounts>;
}

function emptyLatency(): LatencyCounts {
  return { perBucket: DECODE_LATENCY_BOUNDS_MS.map(() => 0), count: 0, sumMs: 0, rtfDecodeMs: 0, rtfAudioMs: 0 };
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
    beamNarrowedFinals: 0,
    drafts: { decodes: 0, passes: 0, guessed: 0, accepted: 0 },
    replayedJobs: 0,
    cancelledDecodes: { partial: 0, final: 0, ranMs: 0 },
    partialDrops: { superseded: 0, 'final-pending': 0, 'queue-full': 0, stale: 0, 'fast-input': 0, preempted: 0 },
    decodeMs: { partial: [], final: [], count: { partial: 0, final: 0 } },
    latency: { partial: emptyLatency(), final: emptyLatency() },
  };
}

/** One decode answered that checked a draft (voided ones too): its passes and tokens. */
export function recordDraft(counters: PipelineCounters, draft: DraftCounts): void {
  const d = counters.drafts;
  d.decodes++;
  d.passes += draft.passes;
  d.guessed += draft.guessed;
  d.accepted += draft.accepted;
}

/**
 * One decode answered: `ms` is the worker's totalMs; `audioMs`, the duration of the audio it
 * decoded, feeds the real-time factor (omitted: the decode counts in the latency figures only).
 */
export function recordDecodeMs(counters: PipelineCounters, kind: DecodeKind, ms: number, audioMs?: number): void {
  const window = counters.decodeMs[kind];
  window.push(ms);
  if (window.length > DECODE_MS_WINDOW) window.shift();
  counters.decodeMs.count[kind]++;
  const latency = counters.latency[kind];
  const bucket = DECODE_LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  if (bucket >= 0) latency.perBucket[bucket] = (latency.perBucket[bucket] ?? 0) + 1;
  latency.count++;
  latency.sumMs += ms;
  if (audioMs !== undefined && audioMs > 0) {
    latency.rtfDecodeMs += ms;
    latency.rtfAudioMs += audioMs;
  }
}

function summarize(values: readonly number[], count: number): DecodeMsSummary {
  if (values.length === 0) return { count, meanMs: 0, p50Ms: 0, p90Ms: 0, maxMs: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { count, meanMs: Math.round(mean), p50Ms: Math.round(at(0.5)), p90Ms: Math.round(at(0.9)), maxMs: Math.round(sorted[sorted.length - 1] ?? 0) };
}

function histogram(l: LatencyCounts): DecodeLatencyHistogram {
  let running = 0;
  const cumulative = l.perBucket.map((n) => (running += n));
  return { boundsMs: DECODE_LATENCY_BOUNDS_MS, cumulative, count: l.count, sumMs: l.sumMs };
}

function realTimeFactor(l: LatencyCounts): RealTimeFactor {
  return { decodeMs: l.rtfDecodeMs, audioMs: l.rtfAudioMs, rtf: l.rtfAudioMs > 0 ? l.rtfDecodeMs / l.rtfAudioMs : null };
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
    beamNarrowedFinals: c.beamNarrowedFinals,
    drafts: { ...c.drafts },
    replayedJobs: c.replayedJobs,
    cancelledDecodes: { ...c.cancelledDecodes },
    restarts,
    ringOverrunSamples,
    queueDepth,
    decodeMs: {
      partial: summarize(c.decodeMs.partial, c.decodeMs.count.partial),
      final: summarize(c.decodeMs.final, c.decodeMs.count.final),
    },
    decodeLatency: { partial: histogram(c.latency.partial), final: histogram(c.latency.final) },
    rtf: { partial: realTimeFactor(c.latency.partial), final: realTimeFactor(c.latency.final) },
    eventLoopLagMs: null,
  };
}
