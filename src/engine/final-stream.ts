/**
 * engine.results(): finals as async iterators. Finals are buffered only while an iterator is open
 * (leaving a `for await` early closes it), so an engine that serves for hours with nobody iterating
 * keeps none of them; every open iterator ends when the stream ends (the engine drained or closed).
 */
import type { FinalEvent } from './events.js';

export class FinalStream {
  readonly #buffered: FinalEvent[] = [];
  readonly #waiters: ((r: IteratorResult<FinalEvent>) => void)[] = [];
  #ended = false;
  /** Iterators still open: finals are buffered only for them. */
  #readers = 0;

  /** An iterator of the finals from now on. */
  open(): AsyncIterableIterator<FinalEvent> {
    this.#readers++;
    let open = true;
    const close = (): void => {
      if (!open) return;
      open = false;
      if (--this.#readers === 0) this.#buffered.length = 0;
    };
    const iterator: AsyncIterableIterator<FinalEvent> = {
      next: () => {
        const f = this.#buffered.shift();
        if (f) return Promise.resolve({ value: f, done: false });
        if (this.#ended || !open) {
          close();
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        close();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  deliver(f: FinalEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter({ value: f, done: false });
    else if (this.#readers > 0) this.#buffered.push(f);
  }

  /** No more finals: waiting iterators end, and open ones end once their buffer is read. */
  end(): void {
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }
}
