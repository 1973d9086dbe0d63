/**
 * A doorbell: a shared Int32 sequence number that a producer bumps (Atomics.add + notify) after it
 * publishes data, and that a consumer awaits with Atomics.waitAsync — never a blocking
 * Atomics.wait, because every thread that waits here also serves messages (control RPC, close).
 *
 * The consumer reads the sequence *before* it checks for data, then waits only if the sequence is
 * still the one it read: a ring that happens between the check and the wait changes the value, so
 * waitAsync returns 'not-equal' at once and no wake-up is lost (the same pattern piscina uses).
 */

export type WaitOutcome = 'rang' | 'timed-out';

const KEEP_ALIVE_INTERVAL_MS = 2 ** 30;
const noop = (): void => undefined;

export class Doorbell {
  readonly #cells: Int32Array;
  readonly #index: number;

  /** `cells[index]` is the sequence; the cells must live in a SharedArrayBuffer. */
  constructor(cells: Int32Array, index: number) {
    if (!(cells.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError('Doorbell cells must live in a SharedArrayBuffer');
    }
    if (!Number.isInteger(index) || index < 0 || index >= cells.length) {
      throw new RangeError(`Doorbell index ${index} is outside its ${cells.length} cells`);
    }
    this.#cells = cells;
    this.#index = index;
  }

  /** The current sequence: read it before checking for data, pass it to `wait`. */
  sequence(): number {
    return Atomics.load(this.#cells, this.#index);
  }

  /** Wakes every waiter. */
  ring(): void {
    Atomics.add(this.#cells, this.#index, 1);
    Atomics.notify(this.#cells, this.#index);
  }

  /**
   * Resolves when the sequence differs from `seen` (at once if it already does) or after
   * `timeoutMs` (Infinity: no timeout).
   */
  async wait(seen: number, timeoutMs = Number.POSITIVE_INFINITY): Promise<WaitOutcome> {
    const result = Atomics.waitAsync(this.#cells, this.#index, seen, timeoutMs);
    if (!result.async) return result.value === 'timed-out' ? 'timed-out' : 'rang';
    // A pending waitAsync holds no libuv handle: a worker whose only work is this wait would exit
    // (code 13, unsettled top-level await). A timer keeps the loop alive until the bell rings.
    const keepAlive = setInterval(noop, KEEP_ALIVE_INTERVAL_MS);
    try {
      return (await result.value) === 'timed-out' ? 'timed-out' : 'rang';
    } finally {
      clearInterval(keepAlive);
    }
  }
}
