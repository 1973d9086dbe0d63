/**
 * The backpressure policy in front of the one decode worker. Finals are never dropped; partials
 * are a courtesy and go first when decoding falls behind:
 * - a newer partial of an utterance replaces its pending one (reason 'superseded');
 * - a final makes its utterance's pending partial pointless (reason 'final-pending');
 * - past `maxPendingPartials`, the oldest pending partial goes (reason 'queue-full').
 * Finals are served before partials, oldest first. Every drop is counted by reason and returned
 * to the caller, who emits it: nothing disappears silently.
 */

export type JobKind = 'partial' | 'final';
export type DropReason = 'superseded' | 'final-pending' | 'queue-full';

export interface DecodeJob {
  readonly kind: JobKind;
  readonly utteranceId: number;
}

export interface DroppedJob<J extends DecodeJob> {
  readonly job: J;
  readonly reason: DropReason;
}

export type DropCounts = Readonly<Record<DropReason, number>>;

export class DecodeQueue<J extends DecodeJob> {
  readonly #maxPendingPartials: number;
  readonly #finals: J[] = [];
  /** Pending partials in arrival order (at most one per utterance). */
  readonly #partials: J[] = [];
  readonly #drops: Record<DropReason, number> = { superseded: 0, 'final-pending': 0, 'queue-full': 0 };

  constructor(maxPendingPartials: number) {
    if (!Number.isInteger(maxPendingPartials) || maxPendingPartials < 0) {
      throw new RangeError(`maxPendingPartials must be an integer ≥ 0, got ${maxPendingPartials}`);
    }
    this.#maxPendingPartials = maxPendingPartials;
  }

  /** Queues a job; returns the jobs this displaced (possibly the new partial itself). */
  enqueue(job: J): DroppedJob<J>[] {
    const dropped: DroppedJob<J>[] = [];
    const pendingIndex = this.#partials.findIndex((p) => p.utteranceId === job.utteranceId);
    switch (job.kind) {
      case 'final':
        if (pendingIndex >= 0) dropped.push(this.#drop(pendingIndex, 'final-pending'));
        this.#finals.push(job);
        break;
      case 'partial':
        if (this.#finals.some((f) => f.utteranceId === job.utteranceId)) {
          this.#drops['final-pending']++;
          dropped.push({ job, reason: 'final-pending' });
          break;
        }
        if (pendingIndex >= 0) dropped.push(this.#drop(pendingIndex, 'superseded'));
        if (this.#maxPendingPartials === 0) {
          this.#drops['queue-full']++;
          dropped.push({ job, reason: 'queue-full' });
          break;
        }
        if (this.#partials.length >= this.#maxPendingPartials) dropped.push(this.#drop(0, 'queue-full'));
        this.#partials.push(job);
        break;
      default:
        throw new Error(`unknown job kind ${String((job as DecodeJob).kind)}`);
    }
    return dropped;
  }

  /** The next job to decode: finals first, then the oldest partial. */
  next(): J | undefined {
    return this.#finals.shift() ?? this.#partials.shift();
  }

  get pendingFinals(): number {
    return this.#finals.length;
  }

  get pendingPartials(): number {
    return this.#partials.length;
  }

  get drops(): DropCounts {
    return { ...this.#drops };
  }

  #drop(index: number, reason: DropReason): DroppedJob<J> {
    const [job] = this.#partials.splice(index, 1);
    if (job === undefined) throw new RangeError(`no pending partial at ${index}`);
    this.#drops[reason]++;
    return { job, reason };
  }
}
