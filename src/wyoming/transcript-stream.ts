/**
 * Turns one request's engine events (utterances in order, each with partials whose `stable` prefix
 * only grows, then a final or a rejection) into Wyoming `transcript-chunk` texts and the final
 * `transcript` text.
 *
 * A chunk carries only NEW words and is never retracted: clients (wyoming-bench, Home Assistant)
 * concatenate chunk texts. Words stream in utterance order: an utterance's words wait until every
 * earlier utterance has its final or rejection. Stable words come from LocalAgreement-2 partials;
 * the final may still differ from them (beam search vs greedy partials), so at the final only
 * the words beyond the count already sent are added: the concatenation approximates the
 * transcript, and the `transcript` event carries the exact text.
 */

interface UtteranceWords {
  /** Stable words so far (from partials), replaced by the final's words once it arrives. */
  words: readonly string[];
  /** null while open; the final text ('' for a rejection). */
  finalText: string | null;
}

function words(text: string): string[] {
  return text.split(/\s+/u).filter((w) => w !== '');
}

export class TranscriptAssembler {
  readonly #utterances = new Map<number, UtteranceWords>();
  /** Utterance ids in stream order. */
  readonly #order: number[] = [];
  /** Index in #order of the first utterance not complete, and how many of its words were sent. */
  #cursor = 0;
  #sentOfCursor = 0;
  #anySent = false;
  /** Utterances after this id are ignored (server-side VAD endpointing ended the request). */
  #lastId = Number.POSITIVE_INFINITY;

  /** Ignore every utterance after `utteranceId` (the request ended at its end). */
  endAfter(utteranceId: number): void {
    this.#lastId = Math.min(this.#lastId, utteranceId);
  }

  speechStart(utteranceId: number): void {
    this.#get(utteranceId);
  }

  /** A partial's stable prefix; returns the chunk text to send, or null. */
  partial(utteranceId: number, stable: string): string | null {
    const u = this.#get(utteranceId);
    if (!u || u.finalText !== null) return null;
    const next = words(stable);
    if (next.length > u.words.length) u.words = next;
    return this.#drain();
  }

  final(utteranceId: number, text: string): string | null {
    const u = this.#get(utteranceId);
    if (!u) return null;
    u.finalText = text.trim();
    u.words = words(text);
    return this.#drain();
  }

  rejected(utteranceId: number): string | null {
    const u = this.#get(utteranceId);
    if (!u) return null;
    u.finalText = '';
    return this.#drain();
  }

  /** The finals' texts in utterance order, joined with spaces. */
  text(): string {
    return this.#order
      .map((id) => this.#utterances.get(id)?.finalText ?? '')
      .filter((t) => t !== '')
      .join(' ');
  }

  #get(utteranceId: number): UtteranceWords | null {
    if (utteranceId > this.#lastId) return null;
    let u = this.#utterances.get(utteranceId);
    if (!u) {
      u = { words: [], finalText: null };
      this.#utterances.set(utteranceId, u);
      this.#order.push(utteranceId);
      this.#order.sort((a, b) => a - b);
    }
    return u;
  }

  #drain(): string | null {
    const out: string[] = [];
    while (this.#cursor < this.#order.length) {
      const u = this.#utterances.get(this.#order[this.#cursor] as number) as UtteranceWords;
      if (u.words.length > this.#sentOfCursor) {
        out.push(...u.words.slice(this.#sentOfCursor));
        this.#sentOfCursor = u.words.length;
      }
      if (u.finalText === null) break;
      this.#cursor++;
      this.#sentOfCursor = 0;
    }
    if (out.length === 0) return null;
    const text = `${this.#anySent ? ' ' : ''}${out.join(' ')}`;
    this.#anySent = true;
    return text;
  }
}
