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
 * copy is discarded and ShmRangeUnavailableError says so (a seqlock).
 *
 * Eviction is also prevented where the source can wait: the main thread pins the oldest position
 * an unfinished utterance still needs (`UtteranceArenaPin`), and the writer asks `waitForRoom`
 * before appending, so a file read faster than it is decoded stalls the VAD (and, through the
 * rings, the file reader) instead of overwriting audio a queued decode will read. A live source
 * cannot wait: its capture ring overflows instead, and those drops are counted there.
 */
import { ShmRangeUnavailableError } from '../errors.js';
import { Doorbell, type WaitOutcome } from './doorbell.js';

export interface UtteranceArenaShared {
  readonly data: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

// Control block: three BigInt64 cells, then one Int32 cell for the doorbell the pin rings.
const HEAD = 0;
const RESERVED = 1;
const PINNED = 2;
const BIGINT_CELLS = 3;
const BELL_OFFSET_BYTES = BIGINT_CELLS * 8;
/** PINNED holds this when nothing is pinned. */
const NO_PIN = -1n;

export function createUtteranceArena(capacitySamples: number): UtteranceArenaShared {
  if (!Number.isInteger(capacitySamples) || capacitySamples < 1) {
    throw new RangeError(`arena capacity must be a positive integer of samples, got ${capacitySamples}`);
  }
  return {
    data: new SharedArrayBuffer(capacitySamples * Float32Array.BYTES_PER_ELEMENT),
    control: createControl(),
  };
}

function createControl(): SharedArrayBuffer {
  const control = new SharedArrayBuffer(BELL_OFFSET_BYTES + Int32Array.BYTES_PER_ELEMENT);
  new BigInt64Array(control, 0, BIGINT_CELLS)[PINNED] = NO_PIN;
  return control;
}

class ArenaEnd {
  protected readonly samples: Float32Array;
  protected readonly control: BigInt64Array;
  protected readonly pinBell: Doorbell;

  constructor(shared: UtteranceArenaShared) {
    this.samples = new Float32Array(shared.data);
    this.control = new BigInt64Array(shared.control, 0, BIGINT_CELLS);
    this.pinBell = new Doorbell(new Int32Array(shared.control, BELL_OFFSET_BYTES, 1), 0);
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
  /** Whether `lengthSamples` more samples can be appended without evicting the pinned position. */
  hasRoomFor(lengthSamples: number): boolean {
    const pinned = Atomics.load(this.control, PINNED);
    if (pinned === NO_PIN) return true;
    return this.headSamples + lengthSamples - this.samples.length <= Number(pinned);
  }

  /**
   * Waits (Atomics.waitAsync, never blocking) until appending `lengthSamples` evicts nothing pinned.
   * Resolves 'rang' when there is room, 'timed-out' otherwise.
   */
  async waitForRoom(lengthSamples: number, timeoutMs = Number.POSITIVE_INFINITY): Promise<WaitOutcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.pinBell.sequence();
      if (this.hasRoomFor(lengthSamples)) return 'rang';
      const left = deadline - Date.now();
      if (left <= 0) return 'timed-out';
      await this.pinBell.wait(seen, left);
    }
  }

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

/**
 * The main thread's handle on the arena: it pins the oldest position an unfinished utterance still
 * needs, so the writer waits rather than evicts it. `null` unpins.
 */
export class UtteranceArenaPin {
  readonly #control: BigInt64Array;
  readonly #bell: Doorbell;

  constructor(shared: UtteranceArenaShared) {
    this.#control = new BigInt64Array(shared.control, 0, BIGINT_CELLS);
    this.#bell = new Doorbell(new Int32Array(shared.control, BELL_OFFSET_BYTES, 1), 0);
  }

  pin(positionSamples: number | null): void {
    const value = positionSamples === null ? NO_PIN : BigInt(Math.max(0, Math.floor(positionSamples)));
    if (Atomics.exchange(this.#control, PINNED, value) !== value) this.#bell.ring();
  }

  get pinnedSamples(): number | null {
    const value = Atomics.load(this.#control, PINNED);
    return value === NO_PIN ? null : Number(value);
  }
}
