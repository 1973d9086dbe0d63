/**
 * Greedy search checked against a draft: the text tokens another decode of (most of) the same audio
 * produced, e.g. the live engine's last partial of an utterance when its final is decoded.
 *
 * A greedy step feeds one token and reads one row of logits: whisper-base int8 on 2 cores spends
 * 6–11 ms on it, nearly all in ~250 small kernels; a pass of 17 tokens costs 25–36 ms. Where the hypothesis
 * so far lines up with the draft, the draft's next tokens are a guess of what greedy will sample;
 * one pass feeds the next token and that guess (DecoderModel.extend) and returns a row after each.
 * The rows are then taken in order, exactly as greedy takes its steps' rows (same filters, argmax,
 * log-probs, repetition checkpoints): each sampled token that equals the guess's next one lets the
 * row after it stand; the first that differs ends the pass, and the cache forgets the guesses fed
 * after it (DecoderModel.rewind). Every token is still the argmax of the model's own row for it, so
 * on exact arithmetic the draft decides only how many tokens one pass checks, never which tokens come
 * out (the unit tests hold the searches to that on a synthetic decoder).
 *
 * The int8 decoder is not exact arithmetic: it quantises each pass's activations with one scale for
 * all of the pass's rows (as it does across a beam search's batch), so a row of a 17-token pass is
 * not bit-identical to the one-token step's. Measured on whisper-base with per-channel weights, the
 * argmax differed in 92 of 2519 rows (3.7 %); where that flips a near tie, the text reads the other
 * branch. On the corpus (bench:drafts) about a third of the French texts differed by a word or so,
 * and WER did not move (README → Models → Drafts).
 *
 * A guess is looked up as "prompt lookup decoding" does (Saxena, 2023): where the draft holds the
 * hypothesis's latest tokens, the tokens after them. An aligned prefix is tried first (the common
 * case: the final repeats the partial's words and goes on), then the latest DRAFT_MATCH tokens found
 * in the draft, nearest the hypothesis's own position (a final that reworded a few tokens finds the
 * partial's text again after them).
 */
import { argmax, logSumExp } from './logit-filters.js';
import { isRepetitionCheckpoint, type DecoderModel, type SearchParams } from './search.js';

/** Most guessed tokens one pass checks: a longer guess costs more rows when it fails early. */
export const DRAFT_MAX_GUESS = 16;
/** Tokens that must match to find the hypothesis in the draft again (away from an aligned prefix). */
export const DRAFT_MATCH = 2;

/**
 * The draft's guess of the tokens after history[0..length): at most `limit`, written into `out`
 * (emptied first). Empty when the draft holds nothing to say there.
 */
export function draftGuess(draft: readonly number[], history: Int32Array, length: number, limit: number, out: number[]): void {
  out.length = 0;
  if (limit <= 0 || draft.length === 0) return;
  let at = -1;
  if (length < draft.length && alignedPrefix(draft, history, length)) {
    at = length;
  } else if (length >= DRAFT_MATCH) {
    let bestDistance = Infinity;
    // p: where the guess would start; the draft's [p - DRAFT_MATCH, p) must equal the hypothesis's tail.
    for (let p = DRAFT_MATCH; p < draft.length; p++) {
      let same = true;
      for (let i = 1; same && i <= DRAFT_MATCH; i++) same = draft[p - i] === history[length - i];
      if (!same) continue;
      const distance = Math.abs(p - length);
      if (distance < bestDistance) {
        bestDistance = distance;
        at = p;
      }
    }
  }
  if (at < 0) return;
  for (let i = at; i < draft.length && out.length < limit; i++) out.push(draft[i] as number);
}

function alignedPrefix(draft: readonly number[], history: Int32Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (draft[i] !== history[i]) return false;
  return true;
}

/** A greedy hypothesis as the search leaves it: history[0..length) sampled, EOT not included. */
export interface GreedyHypothesis {
  /** maxSteps long. */
  readonly history: Int32Array;
  length: number;
  /** Sum of the sampled tokens' log-probs (EOT's included once sampled). */
  sum: number;
}

export type GreedyEnd = 'eot' | 'max-steps' | 'hopeless';

/** Counts for a decode's report and for tests: passes run, tokens guessed and tokens accepted. */
export interface DraftStats {
  passes: number;
  guessed: number;
  accepted: number;
}

/**
 * Greedy search on from `h`, checked against `draft`. Starts from `rows` (nRows rows of logits, the
 * first the next token's; `guess` the tokens fed after the last sampled one) or, when `rows` is null,
 * by feeding h's last token. Returns why it ended; `h` holds the result.
 */
export async function greedyWithDraft(
  model: DecoderModel & Required<Pick<DecoderModel, 'extend' | 'rewind'>>,
  params: SearchParams,
  draft: readonly number[],
  h: GreedyHypothesis,
  first: Float32Array | null,
  stats?: DraftStats,
): Promise<GreedyEnd> {
  const { vocabSize: vocab, eot, filters, maxSteps, hopeless } = params;
  const guess: number[] = [];
  const single = new Int32Array(1);
  let rows = first;
  let nRows = 1;
  for (;;) {
    if (rows === null) {
      const last = h.history[h.length - 1] as number;
      // Room for the guess: every row may sample a token, and at most maxSteps are sampled.
      draftGuess(draft, h.history, h.length, Math.min(DRAFT_MAX_GUESS, maxSteps - h.length - 1), guess);
      if (guess.length === 0) {
        single[0] = last;
        rows = await model.step(single);
      } else {
        rows = await model.extend([last, ...guess]);
        if (stats) {
          stats.passes++;
          stats.guessed += guess.length;
        }
      }
      nRows = guess.length + 1;
    }
    for (let i = 0; i < nRows; i++) {
      const row = rows.subarray(i * vocab, (i + 1) * vocab);
      filters.apply(row, h.history, h.length);
      const token = argmax(row);
      const max = row[token] as number;
      h.sum += max - logSumExp(row, 0, vocab, max);
      if (token === eot) return 'eot';
      h.history[h.length++] = token;
      if (hopeless && isRepetitionCheckpoint(h.length) && hopeless(h.history.subarray(0, h.length))) return 'hopeless';
      if (h.length === maxSteps) return 'max-steps';
      if (i < nRows - 1 && token === guess[i]) {
        if (stats) stats.accepted++;
        continue;
      }
      // Row i's token is not the guess's: the guesses fed after it (rows i+1…) are forgotten.
      if (i < nRows - 1) model.rewind(nRows - 1 - i);
      break;
    }
    rows = null;
  }
}
