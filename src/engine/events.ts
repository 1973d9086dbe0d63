/**
 * What the engine tells its users. Positions in the audio are ms since the stream began (16 kHz
 * sample positions / 16); wall-clock durations are ms measured on the main thread.
 */
import type { SerializedError } from '../errors.js';
import type { Correction, RejectReason } from '../actors/postprocess/postprocess.protocol.js';
import type { DropReason } from '../state/decode-queue.js';
import type { TraceRecord } from './trace.js';

export interface FinalTimings {
  /** Time the decode worker spent on the job (mel + encode + decode). */
  readonly decodeMs: number;
  /** Time the job waited in the supervisor's queue before it was sent to the decode worker. */
  readonly queueMs: number;
  readonly postProcessMs: number;
  /** Wall time from when the last speech sample entered the engine to this event; null if unknown. */
  readonly endOfSpeechToFinalMs: number | null;
}

export interface FinalEvent {
  readonly utteranceId: number;
  readonly text: string;
  readonly language: string;
  readonly startMs: number;
  readonly endMs: number;
  /** True when the speculative decode started in the endpoint pause became the final (no second decode). */
  readonly speculative: boolean;
  /**
   * Its beam search ran past EngineOptions.finalBeamNarrowAfterMs and finished with one hypothesis
   * (greedy) to come sooner; false when the configured beam decoded it all.
   */
  readonly beamNarrowed: boolean;
  readonly timings: FinalTimings;
  readonly corrections: readonly Correction[];
}

export interface PartialEvent {
  readonly utteranceId: number;
  /** The newest hypothesis of the utterance so far, post-processed. */
  readonly text: string;
  /** LocalAgreement-2: words two successive partials agree on (never retracted)… */
  readonly stable: string;
  /** …and the rest, which may still change. */
  readonly unstable: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** Engine-level reasons add what happens before or instead of post-processing. */
export type EngineRejectReason = RejectReason | 'decode-failed';

export interface RejectedEvent {
  readonly utteranceId: number;
  readonly reason: EngineRejectReason;
  readonly startMs: number;
  readonly endMs: number;
  /** The decoded text that was rejected ('' for a misfire or a failed decode). */
  readonly text: string;
}

export interface SpeechStartEvent {
  readonly utteranceId: number;
  readonly startMs: number;
}

export interface SpeechEndEvent {
  readonly utteranceId: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly reason: 'silence' | 'max-length' | 'flush';
}

/**
 * Partials and stale jobs that were not decoded: counted by reason, never silent. 'fast-input':
 * the audio arrived faster than real time, so the final would come before the partial could help.
 * 'preempted': a partial being decoded was cancelled because a final (or a speculative final) was
 * queued behind it; the final starts without waiting for it.
 */
export type EngineDropReason = DropReason | 'stale' | 'fast-input' | 'preempted';

export interface DecodeMsSummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly maxMs: number;
}

/**
 * Decode times since the engine started, in Prometheus' cumulative form: `cumulative[i]` decodes
 * took ≤ `boundsMs[i]`; `count` is all of them (the +Inf bucket). Unlike DecodeMsSummary (a recent
 * window), nothing is forgotten, so a scraper can take rates of it.
 */
export interface DecodeLatencyHistogram {
  readonly boundsMs: readonly number[];
  readonly cumulative: readonly number[];
  readonly count: number;
  readonly sumMs: number;
}

/**
 * Real-time factor of the decodes of one kind since the engine started: decode time (the worker's
 * totalMs) ÷ the duration of the audio decoded. null until a decode with a known duration is done.
 */
export interface RealTimeFactor {
  readonly decodeMs: number;
  readonly audioMs: number;
  readonly rtf: number | null;
}

/**
 * Main-thread event-loop lag (perf_hooks.monitorEventLoopDelay, timer interval removed), over the
 * life of the process: every engine of a process shares its one event loop.
 */
export interface EventLoopLag {
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export type RestartCounts = Readonly<Record<'decode' | 'postprocess', number>> &
  Readonly<Partial<Record<'capture' | 'vad', number>>>;

export interface EngineMetrics {
  readonly utterances: number;
  readonly misfires: number;
  readonly partials: number;
  readonly finals: number;
  readonly rejected: number;
  readonly partialDrops: Readonly<Record<EngineDropReason, number>>;
  /** Speculative finals voided because speech resumed (decoded or not). */
  readonly speculativeDiscarded: number;
  /** Speculative finals that became the final with no second decode. */
  readonly speculativeReused: number;
  /** Finals whose beam search was narrowed at its deadline (FinalEvent.beamNarrowed). */
  readonly beamNarrowedFinals: number;
  /**
   * Decodes (partials and finals, voided ones included) that checked their utterance's latest decode
   * as a draft (EngineOptions.drafts), the multi-token passes they ran, the tokens those guessed and
   * the guesses sampled: each accepted token is a decoder pass saved.
   */
  readonly drafts: { readonly decodes: number; readonly passes: number; readonly guessed: number; readonly accepted: number };
  /** Jobs re-sent to a restarted decode worker. */
  readonly replayedJobs: number;
  /**
   * Decodes cancelled while in the worker: preempted or stale partials, voided speculative finals;
   * `ranMs` is the decode time they had used before they stopped.
   */
  readonly cancelledDecodes: { readonly partial: number; readonly final: number; readonly ranMs: number };
  /** Worker restarts by actor (a Pipeline alone knows decode and post-process; the engine adds capture and VAD). */
  readonly restarts: RestartCounts;
  readonly ringOverrunSamples: number;
  readonly queueDepth: { readonly finals: number; readonly partials: number };
  readonly decodeMs: { readonly partial: DecodeMsSummary; readonly final: DecodeMsSummary };
  readonly decodeLatency: { readonly partial: DecodeLatencyHistogram; readonly final: DecodeLatencyHistogram };
  readonly rtf: { readonly partial: RealTimeFactor; readonly final: RealTimeFactor };
  /** null from a Pipeline alone; the engine fills it in. */
  readonly eventLoopLagMs: EventLoopLag | null;
}

export interface EngineErrorEvent {
  readonly error: Error & { readonly code?: string };
  /** The utterance the error cost, if any; null when no utterance was lost (e.g. a rejected chunk). */
  readonly utteranceId: number | null;
  readonly source: 'capture' | 'vad' | 'decode' | 'postprocess' | 'engine' | 'input';
}

export interface EngineEventMap {
  final: [FinalEvent];
  partial: [PartialEvent];
  speechStart: [SpeechStartEvent];
  speechEnd: [SpeechEndEvent];
  rejected: [RejectedEvent];
  error: [EngineErrorEvent];
  /** The supervisor's state value, e.g. "running" or {"draining":"decodes"}. */
  state: [unknown];
  metrics: [EngineMetrics];
  warning: [{ readonly code: string; readonly message: string }];
  /** Everything the supervisor saw and did, for the inspector, --trace and replay (src/engine/trace.ts). */
  trace: [TraceRecord];
}

export type SerializedEngineError = SerializedError;
