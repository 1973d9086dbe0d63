/**
 * The utterance arena: the last `capacitySamples` samples of the stream, in a SharedArrayBuffer,
 * addressed by absolute sample position since the stream began. One writer (the VAD actor) appends
 * every sample it has seen; readers (the decode actor, a restarted decode worker replaying an
 * utterance) copy any range [start, end) that is still retained. Control messages then carry only
 * offsets ("utterance 17 is [48000, 91200)") — never audio.
 *
 * Eviction is detected, not prevented: the writer publishes how far it is *about to* write
 * (`reserved`) before it overwrites old samples and how far it *has* written (`head`) after.
 * A reader copies, then re-reads `reserved`: if the range may have been overwritten meanwhile, the
 * copy is discarded and ShmRangeUnavailableError says so (a seqlock). Size the arena for the
 * longest utterance plus the decode queue and this does not happen; when it does, it is loud.
 */
import { ShmRangeUnavailableError } from '../errors.js';

export interface UtteranceArenaShared {
  readonly data: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

const HEAD = 0;
const RESERVED = 1;

export function createUtteranceArena(capacitySamples: number): UtteranceArenaShared {
  if (!Number.isInteger(capacitySamples) || capacitySamples < 1) {
    throw new RangeError(`arena capacity must be a positive integer of samples, got ${capacitySamples}`);
  }
  return {
    data: new SharedArrayBuffer(capacitySamples * Float32Array.BYTES_PER_ELEMENT),
    control: new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT),
  };
}

class ArenaEnd {
  protected readonly samples: Float32Array;
  protected readonly control: BigInt64Array;

  constructor(shared: UtteranceArenaShared) {
    this.samples = new Float32Array(shared.data);
    this.control = new BigInt64Array(shared.control);
  }

  get capacitySamples(): number {
    return this.samples.length;
  }

  /** Samples written since the stream began (the position the next sample will get). */
  get headSamples(): number {
    return Number(Atomics.load(this.control, HEAD));
  }

  /** The oldest position still retained. */
  get oldestSamples(): number {
    return Math.max(0, this.headSamples - this.samples.length);
  }
}

export class UtteranceArenaWriter extends ArenaEnd {
  /** Appends `chunk` and returns the absolute position of its first sample. */
  append(chunk: Float32Array): number {
    const capacity = this.samples.length;
    const start = this.headSamples;
    // A chunk longer than the arena keeps only its tail; its head is evicted at once.
    const keep = chunk.length > capacity ? chunk.subarray(chunk.length - capacity) : chunk;
    const firstPosition = start + chunk.length - keep.length;
    Atomics.store(this.control, RESERVED, BigInt(start + chunk.length));
    const at = firstPosition % capacity;
    const firstPart = Math.min(keep.length, capacity - at);
    this.samples.set(keep.subarray(0, firstPart), at);
    if (firstPart < keep.length) this.samples.set(keep.subarray(firstPart), 0);
    Atomics.store(this.control, HEAD, BigInt(start + chunk.length));
    return start;
  }
}

export class UtteranceArenaReader extends ArenaEnd {
  /**
   * Copies [startSamples, endSamples) into `into` (allocated when absent) and returns the filled
   * view. Throws ShmRangeUnavailableError when part of the range is not written yet or was evicted.
   */
  read(startSamples: number, endSamples: number, into?: Float32Array): Float32Array {
    const length = endSamples - startSamples;
    if (!Number.isInteger(startSamples) || !Number.isInteger(endSamples) || startSamples < 0 || length < 0) {
      throw new RangeError(`bad arena range [${startSamples}, ${endSamples})`);
    }
    const out = into ? into.subarray(0, length) : new Float32Array(length);
    if (out.length < length) throw new RangeError(`buffer of ${into?.length} samples for a range of ${length}`);
    const head = this.headSamples;
    const capacity = this.samples.length;
    if (endSamples > head) {
      throw new ShmRangeUnavailableError(`arena range [${startSamples}, ${endSamples}) is not written yet (head ${head})`, {
        startSamples,
        endSamples,
        headSamples: head,
      });
    }
    this.#assertRetained(startSamples, endSamples, head, capacity);
    const at = startSamples % capacity;
    const firstPart = Math.min(length, capacity - at);
    out.set(this.samples.subarray(at, at + firstPart), 0);
    if (firstPart < length) out.set(this.samples.subarray(0, length - firstPart), firstPart);
    // The writer may have started overwriting the range while we copied: check what it reserved.
    this.#assertRetained(startSamples, endSamples, Number(Atomics.load(this.control, RESERVED)), capacity);
    return out;
  }

  #assertRetained(startSamples: number, endSamples: number, writtenUpTo: number, capacity: number): void {
    if (startSamples < writtenUpTo - capacity) {
      throw new ShmRangeUnavailableError(
        `arena range [${startSamples}, ${endSamples}) was evicted (arena keeps ${capacity} samples, writer at ${writtenUpTo})`,
        { startSamples, endSamples, headSamples: writtenUpTo, capacitySamples: capacity },
      );
    }
  }
}
