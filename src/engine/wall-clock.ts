/**
 * Maps 16 kHz sample positions to the wall clock at which capture wrote them, from capture's
 * `progress` messages, so a final can say how long after the end of speech it came out.
 */

/** ~100 ms per progress message: 4096 entries cover several minutes, enough for any open utterance. */
const MAX_ENTRIES = 4096;

export class WallClockMap {
  readonly #written: number[] = [];
  readonly #atMs: number[] = [];

  record(writtenSamples: number, atMs: number): void {
    const last = this.#written[this.#written.length - 1];
    if (last !== undefined && writtenSamples <= last) return;
    // Capture stamps with its own clock; one that is not epoch-based (a worker's performance.now)
    // cannot be compared across threads, so the arrival time on this thread stands in for it.
    this.#written.push(writtenSamples);
    this.#atMs.push(atMs > 1e12 ? atMs : Date.now());
    if (this.#written.length > MAX_ENTRIES) {
      this.#written.shift();
      this.#atMs.shift();
    }
  }

  /** When the sample at `positionSamples` was written (the first progress that covers it), or null. */
  at(positionSamples: number): number | null {
    let lo = 0;
    let hi = this.#written.length - 1;
    if (hi < 0 || (this.#written[hi] ?? 0) <= positionSamples) return null;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#written[mid] ?? 0) > positionSamples) hi = mid;
      else lo = mid + 1;
    }
    return this.#atMs[lo] ?? null;
  }
}
