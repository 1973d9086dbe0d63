/**
 * Drafts for the decode actor: the text tokens of each recent utterance's latest decode, handed to
 * its next decode as TranscribeOptions.draftTokens (src/whisper/draft.ts).
 *
 * An utterance is decoded again and again on the same audio, each time a little longer: partials
 * on a cadence while it is spoken, then its final (speculatively at a pause, again if speech
 * resumes). The latest decode's words are what the next one will mostly say again, so its greedy
 * steps (a partial's, a final's once its beam narrowed) check them several per decoder pass. Each
 * token is still the model's own argmax (src/whisper/draft.ts), so a stale or wrong draft costs a
 * pass's extra rows, not words.
 *
 * Kept per (arena, utterance) — a shared decoder serves several engines, each numbering its own
 * utterances — and only for a decode that starts where the draft's did: the same utterance's audio.
 * A few utterances are kept, the most recently decoded; an engine decodes one at a time, and a
 * shared decoder's engines interleave theirs.
 */
import type { Segment } from '../../whisper/types.js';
import type { DecodeJobSpec } from './decode.protocol.js';

/** Utterances whose drafts are kept; the least recently decoded goes first. */
export const DRAFTS_KEPT = 8;

interface Draft {
  readonly startSamples: number;
  readonly tokens: readonly number[];
}

export class DraftStore {
  readonly #drafts = new Map<string, Draft>();

  /** The draft for this job's decode, or null: none kept, or kept for audio that starts elsewhere. */
  draftFor(arenaId: number, job: Pick<DecodeJobSpec, 'utteranceId' | 'startSamples'>): readonly number[] | null {
    const draft = this.#drafts.get(key(arenaId, job.utteranceId));
    return draft !== undefined && draft.startSamples === job.startSamples ? draft.tokens : null;
  }

  /**
   * Keeps a decode's tokens as its utterance's draft (the transcriber keeps only their text tokens).
   * A decode with no tokens keeps the draft there was: a partial of the first syllables may be
   * empty where the next one is not.
   */
  remember(arenaId: number, job: Pick<DecodeJobSpec, 'utteranceId' | 'startSamples'>, segments: readonly Segment[]): void {
    const tokens = segments.flatMap((s) => s.tokens);
    if (tokens.length === 0) return;
    const k = key(arenaId, job.utteranceId);
    this.#drafts.delete(k);
    this.#drafts.set(k, { startSamples: job.startSamples, tokens });
    for (const oldest of this.#drafts.keys()) {
      if (this.#drafts.size <= DRAFTS_KEPT) break;
      this.#drafts.delete(oldest);
    }
  }

  get size(): number {
    return this.#drafts.size;
  }
}

function key(arenaId: number, utteranceId: number): string {
  return `${arenaId}:${utteranceId}`;
}
