/**
 * The pipeline's side of the one decode worker: DecodeQueue's backpressure in front of it, one job
 * in flight, and the jobs whose results stopped mattering.
 *
 * - One job in flight: the next is sent only when the worker has answered the last (result,
 *   jobFailed or jobCancelled), so the queue, not the worker, decides what runs next.
 * - Voided jobs (a speculative final speech resumed over): skipped when their turn comes, ignored
 *   when their result does; the one in flight is cancelled in the worker.
 * - Cancelling: the job in flight stays in flight until the worker answers, because a cancel may
 *   arrive after the job finished — then its result comes instead, and is taken as usual.
 * - Crash: the job in flight is re-sent to the restarted worker (its audio is still in the arena);
 *   the dead worker's answer can never arrive, so re-sending cannot duplicate it. A job that was
 *   being cancelled is not re-sent.
 * Every job not decoded is counted (drop reasons, cancelled decodes): nothing disappears silently.
 */
import type { DecodeJobSpec } from '../actors/decode/decode.protocol.js';
import { DecodeQueue, type DecodeJob } from './decode-queue.js';
import type { PipelineCounters } from './pipeline-metrics.js';

export interface QueuedJob extends DecodeJob {
  readonly spec: DecodeJobSpec;
  readonly enqueuedAtMs: number;
}

/** Why the job in flight was cancelled (its drop reason, for a partial). */
export type CancelReason = 'preempted' | 'stale' | 'voided';

/** A job the worker answered: how long it waited in the queue, and whether it had been voided. */
export interface AnsweredJob {
  readonly job: QueuedJob;
  readonly queueMs: number;
  readonly voided: boolean;
}

export interface DispatcherPorts {
  readonly send: (job: DecodeJobSpec) => void;
  /** Asks the worker to drop a job; absent: jobs always run to the end. */
  readonly cancel?: ((jobId: number) => void) | undefined;
  readonly now: () => number;
  /** Whether a partial still matters when its turn comes (its utterance still open and speaking). */
  readonly partialWanted: (utteranceId: number) => boolean;
}

interface InFlight {
  readonly job: QueuedJob;
  readonly queueMs: number;
  cancelled: CancelReason | null;
}

export class DecodeDispatcher {
  readonly #ports: DispatcherPorts;
  readonly #counters: PipelineCounters;
  readonly #queue: DecodeQueue<QueuedJob>;
  readonly #voided = new Set<number>();
  #inFlight: InFlight | null = null;
  #up = false;
  #nextJobId = 1;

  constructor(maxPendingPartials: number, ports: DispatcherPorts, counters: PipelineCounters) {
    this.#ports = ports;
    this.#counters = counters;
    this.#queue = new DecodeQueue<QueuedJob>(maxPendingPartials);
  }

  /** Nothing queued and nothing in flight. */
  get idle(): boolean {
    return this.#queue.pendingFinals + this.#queue.pendingPartials === 0 && this.#inFlight === null;
  }

  get queueDepth(): { readonly finals: number; readonly partials: number } {
    return { finals: this.#queue.pendingFinals, partials: this.#queue.pendingPartials };
  }

  nextJobId(): number {
    return this.#nextJobId++;
  }

  /** Queues a job (drops are counted). A final never waits for a partial: the one in flight is cancelled. */
  enqueue(spec: DecodeJobSpec): QueuedJob {
    const job: QueuedJob = { kind: spec.kind, utteranceId: spec.utteranceId, spec, enqueuedAtMs: this.#ports.now() };
    for (const d of this.#queue.enqueue(job)) this.#counters.partialDrops[d.reason]++;
    if (spec.kind === 'final' && this.#inFlight?.job.kind === 'partial') this.#cancelInFlight('preempted');
    return job;
  }

  /** The job's result no longer matters: skipped if queued, cancelled if in flight, ignored if it comes. */
  void(jobId: number): void {
    this.#voided.add(jobId);
    if (this.#inFlight?.job.spec.jobId === jobId) this.#cancelInFlight('voided');
  }

  /** Cancels the partial in flight if it is this utterance's (a misfire: its text is moot). */
  cancelPartialOf(utteranceId: number): void {
    const inFlight = this.#inFlight;
    if (inFlight?.job.kind === 'partial' && inFlight.job.utteranceId === utteranceId) this.#cancelInFlight('stale');
  }

  /**
   * The worker is (back) up. A job in flight when it died is re-sent, unless it was being
   * cancelled: then it is returned as cancelled, for the caller to settle, and nothing is re-sent.
   */
  ready(): { readonly job: QueuedJob; readonly reason: CancelReason } | null {
    this.#up = true;
    const inFlight = this.#inFlight;
    if (inFlight?.cancelled) {
      const reason = inFlight.cancelled;
      this.#settleCancelled(inFlight, 0);
      return { job: inFlight.job, reason };
    }
    if (inFlight) {
      this.#counters.replayedJobs++;
      this.#ports.send(inFlight.job.spec);
    }
    return null;
  }

  down(): void {
    this.#up = false;
  }

  /** The worker answered `jobId` with a result or a failure; null if it is not the job in flight. */
  answered(jobId: number): AnsweredJob | null {
    const inFlight = this.#inFlight;
    if (!inFlight || inFlight.job.spec.jobId !== jobId) return null;
    this.#inFlight = null;
    return { job: inFlight.job, queueMs: inFlight.queueMs, voided: this.#voided.delete(jobId) };
  }

  /** The worker dropped `jobId` on a cancel; the job and why, or null if it is not the job in flight. */
  cancelled(jobId: number, ranMs: number): { readonly job: QueuedJob; readonly reason: CancelReason } | null {
    const inFlight = this.#inFlight;
    if (!inFlight || inFlight.job.spec.jobId !== jobId) return null;
    const reason = inFlight.cancelled ?? 'voided';
    this.#settleCancelled(inFlight, ranMs);
    return { job: inFlight.job, reason };
  }

  /** Sends the next job if the worker is up and free; skips voided and stale jobs (counted). */
  dispatch(): void {
    while (this.#up && this.#inFlight === null) {
      const job = this.#queue.next();
      if (!job) return;
      if (this.#voided.delete(job.spec.jobId)) continue;
      if (job.kind === 'partial' && !this.#ports.partialWanted(job.utteranceId)) {
        this.#counters.partialDrops.stale++;
        continue;
      }
      this.#inFlight = { job, queueMs: this.#ports.now() - job.enqueuedAtMs, cancelled: null };
      this.#ports.send(job.spec);
    }
  }

  #cancelInFlight(reason: CancelReason): void {
    const inFlight = this.#inFlight;
    const cancel = this.#ports.cancel;
    if (!inFlight || inFlight.cancelled !== null || !cancel) return;
    inFlight.cancelled = reason;
    cancel(inFlight.job.spec.jobId);
  }

  #settleCancelled(inFlight: InFlight, ranMs: number): void {
    this.#inFlight = null;
    const { spec } = inFlight.job;
    const c = this.#counters.cancelledDecodes;
    c.ranMs += ranMs;
    this.#voided.delete(spec.jobId);
    if (spec.kind === 'partial') {
      c.partial++;
      this.#counters.partialDrops[inFlight.cancelled === 'stale' ? 'stale' : 'preempted']++;
    } else {
      c.final++;
    }
  }
}
