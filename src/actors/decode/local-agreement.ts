/**
 * LocalAgreement-2 (Macháček et al., "Turning Whisper into Real-Time Transcription System", 2023):
 * while the user speaks, the utterance so far is re-decoded on a cadence; a word becomes *stable*
 * once two consecutive hypotheses agree on it (and on everything before it). Stable words never
 * change in later partials; the rest is shown as the unstable tail. The final at the endpoint
 * replaces both.
 *
 * Words are compared loosely (case and edge punctuation ignored) because Whisper often revises
 * "lumière" into "lumière." between decodes; the stable text keeps the newer spelling.
 */

export interface AgreedText {
  /** Words both of the last two hypotheses agree on, from the start of the utterance. */
  readonly stable: string;
  /** The rest of the newest hypothesis. */
  readonly unstable: string;
  /** Number of stable words (never decreases within an utterance). */
  readonly stableWords: number;
}

const EDGE_PUNCTUATION = /^[\s"'«»“”.,;:!?…()-]+|[\s"'«»“”.,;:!?…()-]+$/gu;

function comparable(word: string): string {
  return word.replace(EDGE_PUNCTUATION, '').toLocaleLowerCase('fr');
}

function words(text: string): string[] {
  return text.split(/\s+/u).filter((w) => w.length > 0);
}

export class LocalAgreement {
  #previous: string[] = [];
  #stable: string[] = [];

  /** Feeds the newest hypothesis of the whole utterance so far; returns what to show. */
  update(hypothesis: string): AgreedText {
    const current = words(hypothesis);
    // Agreement is only ever extended: once committed, a word stays even if a later pair disagrees.
    let agreed = this.#stable.length;
    while (
      agreed < current.length &&
      agreed < this.#previous.length &&
      comparable(current[agreed] ?? '') === comparable(this.#previous[agreed] ?? '')
    ) {
      agreed++;
    }
    this.#stable = [...this.#stable, ...current.slice(this.#stable.length, agreed)];
    this.#previous = current;
    const tail = current.length > this.#stable.length ? current.slice(this.#stable.length) : [];
    return { stable: this.#stable.join(' '), unstable: tail.join(' '), stableWords: this.#stable.length };
  }

  /** A new utterance starts with nothing committed. */
  reset(): void {
    this.#previous = [];
    this.#stable = [];
  }
}
