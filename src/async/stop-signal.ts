/**
 * A stop that many short waits race against, without leaking.
 *
 * `Promise.race([work, stopped])` against one long-lived `stopped` promise adds a reaction to it at
 * every call, and each reaction keeps its race's promise — and the value that settled it — alive
 * until `stopped` settles, which may be never. In the capture worker that retained every 20 ms audio
 * chunk ever read (its RSS grew with the audio rate). Here each wait registers a listener that is
 * removed as soon as its work settles.
 */
export class StopSignal {
  readonly #listeners = new Set<() => void>();
  #stopped = false;

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stops: every pending `race` resolves with `null` now, and later ones at once. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const listener of this.#listeners) listener();
    this.#listeners.clear();
  }

  /** `work`'s outcome, or `null` if the signal stops first (the work is abandoned, not cancelled). */
  race<T>(work: Promise<T>): Promise<T | null> {
    if (this.#stopped) return Promise.resolve(null);
    return new Promise<T | null>((resolve, reject) => {
      const onStop = (): void => resolve(null);
      this.#listeners.add(onStop);
      work.then(
        (value) => {
          this.#listeners.delete(onStop);
          resolve(value);
        },
        (err: unknown) => {
          this.#listeners.delete(onStop);
          reject(err as Error);
        },
      );
    });
  }

  /** How many races are waiting (for tests: it must drop back to 0). */
  get pending(): number {
    return this.#listeners.size;
  }
}
