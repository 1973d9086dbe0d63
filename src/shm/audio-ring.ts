/**
 * A single-producer / single-consumer ring of Float32 audio samples in SharedArrayBuffers, one per
 * edge between two actors (capture → VAD, VAD → decode). The only module that imports ringbuf.js.
 *
 * Roles are fixed: exactly one thread holds the AudioRingWriter, exactly one the AudioRingReader,
 * each built from the same `AudioRingShared` descriptor (two SharedArrayBuffers, which postMessage
 * shares rather than copies — audio never travels by structured clone).
 *
 * Nothing is lost silently: `write` returns how many samples fit, and counts the rest in
 * `droppedSamples` (a live source such as a microphone cannot wait); `writeAll` waits for space
 * instead (a file or stdin can wait: backpressure, no loss).
 */
import { RingBuffer } from 'ringbuf.js';
import { Doorbell } from './doorbell.js';

/** What crosses threads: the ring storage and the control block. */
export interface AudioRingShared {
  readonly storage: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

export interface AudioRingStats {
  readonly capacitySamples: number;
  readonly writtenSamples: number;
  readonly readSamples: number;
  readonly droppedSamples: number;
  readonly closed: boolean;
}

// Control block layout: four Int32 cells, then three BigInt64 counters (8-byte aligned at 16).
const DATA_BELL = 0; // rung by the writer after a push, and on close
const SPACE_BELL = 1; // rung by the reader after a pop, so a waiting writer retries
const CLOSED = 2;
const INT32_CELLS = 4;
const COUNTERS_OFFSET_BYTES = INT32_CELLS * 4;
const WRITTEN = 0;
const READ = 1;
const DROPPED = 2;
const COUNTER_CELLS = 3;

/** Allocates the shared memory of a ring holding up to `capacitySamples` samples. */
export function createAudioRing(capacitySamples: number): AudioRingShared {
  if (!Number.isInteger(capacitySamples) || capacitySamples < 1) {
    throw new RangeError(`ring capacity must be a positive integer of samples, got ${capacitySamples}`);
  }
  // ringbuf.js's typings declare the element type as `class<TypedArray>`, which TypeScript cannot
  // read; the runtime wants the constructor.
  const storage = RingBuffer.getStorageForCapacity(capacitySamples, Float32Array as never);
  const control = new SharedArrayBuffer(COUNTERS_OFFSET_BYTES + COUNTER_CELLS * 8);
  return { storage, control };
}

/** Both ends read the control block the same way. */
class RingEnd {
  protected readonly ring: RingBuffer;
  protected readonly cells: Int32Array;
  protected readonly counters: BigInt64Array;
  protected readonly dataBell: Doorbell;
  protected readonly spaceBell: Doorbell;

  constructor(shared: AudioRingShared) {
    this.ring = new RingBuffer(shared.storage, Float32Array as never);
    this.cells = new Int32Array(shared.control, 0, INT32_CELLS);
    this.counters = new BigInt64Array(shared.control, COUNTERS_OFFSET_BYTES, COUNTER_CELLS);
    this.dataBell = new Doorbell(this.cells, DATA_BELL);
    this.spaceBell = new Doorbell(this.cells, SPACE_BELL);
  }

  get capacitySamples(): number {
    return this.ring.capacity();
  }

  get closed(): boolean {
    return Atomics.load(this.cells, CLOSED) === 1;
  }

  stats(): AudioRingStats {
    return {
      capacitySamples: this.ring.capacity(),
      writtenSamples: Number(Atomics.load(this.counters, WRITTEN)),
      readSamples: Number(Atomics.load(this.counters, READ)),
      droppedSamples: Number(Atomics.load(this.counters, DROPPED)),
      closed: this.closed,
    };
  }
}

export class AudioRingWriter extends RingEnd {
  /**
   * Pushes as many samples as fit now and returns that number; the rest is counted as dropped
   * (for live sources that cannot wait). Never blocks.
   */
  write(samples: Float32Array): number {
    if (this.closed) throw new Error('write on a closed audio ring');
    const written = samples.length === 0 ? 0 : this.ring.push(samples, samples.length);
    const dropped = samples.length - written;
    if (written > 0) {
      Atomics.add(this.counters, WRITTEN, BigInt(written));
      this.dataBell.ring();
    }
    if (dropped > 0) Atomics.add(this.counters, DROPPED, BigInt(dropped));
    return written;
  }

  /**
   * Pushes every sample, waiting for the reader to make room (backpressure for files and stdin).
   * Resolves false when `timeoutMs` passes with samples still unwritten (nothing is counted as
   * dropped: the caller still holds them) or when the ring was closed meanwhile.
   */
  async writeAll(samples: Float32Array, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let offset = 0;
    while (offset < samples.length) {
      if (this.closed) return false;
      const seen = this.spaceBell.sequence();
      const pushed = this.ring.push(samples, samples.length - offset, offset);
      if (pushed > 0) {
        offset += pushed;
        Atomics.add(this.counters, WRITTEN, BigInt(pushed));
        this.dataBell.ring();
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      if ((await this.spaceBell.wait(seen, left)) === 'timed-out' && this.ring.available_write() === 0) return false;
    }
    return true;
  }

  /** End of stream: the reader drains what is left, then sees `ended`. */
  close(): void {
    Atomics.store(this.cells, CLOSED, 1);
    this.dataBell.ring();
    this.spaceBell.ring();
  }
}

export type ReadableOutcome = 'data' | 'ended' | 'timed-out';

export class AudioRingReader extends RingEnd {
  get availableSamples(): number {
    return this.ring.available_read();
  }

  /** Pops up to `into.length` samples into `into` (from index 0); returns how many. Never blocks. */
  read(into: Float32Array, maxSamples = into.length): number {
    const count = Math.min(maxSamples, into.length);
    if (count === 0) return 0;
    const popped = this.ring.pop(into, count);
    if (popped > 0) {
      Atomics.add(this.counters, READ, BigInt(popped));
      this.spaceBell.ring();
    }
    return popped;
  }

  /**
   * Resolves 'data' when samples are available, 'ended' when the writer closed and everything was
   * read, 'timed-out' otherwise. Waits with Atomics.waitAsync: the thread keeps serving messages.
   */
  async waitReadable(timeoutMs = Number.POSITIVE_INFINITY): Promise<ReadableOutcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.dataBell.sequence();
      if (this.ring.available_read() > 0) return 'data';
      if (this.closed) return 'ended';
      const left = deadline - Date.now();
      if (left <= 0) return 'timed-out';
      await this.dataBell.wait(seen, left);
    }
  }
}
