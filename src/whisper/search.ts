/**
 * The model-facing side of a decode and the two sampling searches (greedy, temperature sampling with
 * best-of). The model is injected as a DecoderModel so the searches run on synthetic logits in tests.
 */
import { greedyWithDraft, type DraftStats } from './draft.js';
import { LogitFilters, argmax, logSumExp, rangeMax, rankScore, sampleWithTemperature } from './logit-filters.js';

/** A decoder with its KV cache, as seen by a search. */
export interface DecoderModel {
  /**
   * Feeds the initial sequence at batch 1; returns logits row-major [tokens.length][vocab], read-only
   * (a decoder may hand the same array to the next decode of the window).
   */
  start(tokens: readonly number[]): Promise<Float32Array>;
  /** Row b of the cache becomes a copy of row sources[b]; the batch becomes sources.length. */
  reorder(sources: Int32Array): void;
  /** Feeds one token per row; returns logits row-major [batch][vocab], the caller's to overwrite until the next step. */
  step(tokens: Int32Array): Promise<Float32Array>;
  /**
   * At batch 1: feeds several tokens in one pass (the next token and a draft's guess of the ones
   * after it); returns logits row-major [tokens.length][vocab], row i read after tokens[0..i].
   * Absent: the model takes one token per step only, and a draft is not used.
   */
  extend?(tokens: readonly number[]): Promise<Float32Array>;
  /** Forgets the last `count` fed tokens of every row (a draft's rejected guesses). With extend. */
  rewind?(count: number): void;
}

export interface SearchParams {
  readonly vocabSize: number;
  readonly eot: number;
  readonly filters: LogitFilters;
  /** Most tokens to sample (EOT included). */
  readonly maxSteps: number;
  readonly lengthPenalty: number | null;
  /**
   * True when a hypothesis (its tokens so far) can no longer pass the caller's repetition gate;
   * asked only at repetition checkpoints. Absent: hypotheses run to EOT or maxSteps.
   */
  readonly hopeless?: ((tokens: Int32Array) => boolean) | undefined;
  /**
   * Text tokens another decode of this audio produced (DecodeOptions.draftTokens): greedy search,
   * and a beam search once narrowed to one hypothesis, check several tokens per decoder pass where
   * the hypothesis follows it (draft.ts). Used only with a model that has extend and rewind.
   */
  readonly draft?: readonly number[] | undefined;
  /** Counts of the draft's passes, when the caller wants them. */
  readonly draftStats?: DraftStats | undefined;
}

/** The model can check a draft (DecoderModel.extend and rewind). */
export function takesDrafts(model: DecoderModel): model is DecoderModel & Required<Pick<DecoderModel, 'extend' | 'rewind'>> {
  return typeof model.extend === 'function' && typeof model.rewind === 'function';
}

/** The draft to check in this search, or null: none given, or a model that cannot. */
export function usableDraft(model: DecoderModel, params: SearchParams): readonly number[] | null {
  const draft = params.draft;
  return draft !== undefined && draft.length > 0 && takesDrafts(model) ? draft : null;
}

/** One finished hypothesis: sampled tokens without the final EOT. */
export interface Candidate {
  readonly tokens: number[];
  /** Sum of the log-probs of the sampled tokens, EOT included when it was sampled. */
  readonly sumLogprob: number;
  /** Stopped before EOT because `hopeless` said so. */
  readonly stoppedEarly?: boolean;
  /** A beam search that kept fewer hypotheses past its deadline (BeamOptions.narrow) before it ended. */
  readonly narrowed?: boolean;
}

/** Lengths at which a hypothesis is checked: 32, 48, 64… A loop needs a few repeats to show. */
const REPETITION_CHECK_FIRST = 32;
const REPETITION_CHECK_EVERY = 16;

export function isRepetitionCheckpoint(length: number): boolean {
  return length >= REPETITION_CHECK_FIRST && (length - REPETITION_CHECK_FIRST) % REPETITION_CHECK_EVERY === 0;
}

/** Highest rankScore wins; the first one on ties (np.argmax). */
export function pickBest(candidates: readonly Candidate[], lengthPenalty: number | null): Candidate {
  let best: Candidate | undefined;
  let bestScore = -Infinity;
  for (const c of candidates) {
    const score = rankScore(c.sumLogprob, c.tokens.length, lengthPenalty);
    if (best === undefined || score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  if (best === undefined) throw new RangeError('pickBest: no candidates');
  return best;
}

/**
 * Greedy (temperature 0, n = 1) or sampling (temperature > 0, n = bestOf rows in one batch).
 * `first` is the filtered-to-be logits row after the initial sequence (batch 1); it is overwritten.
 */
export async function sampleSearch(
  model: DecoderModel,
  first: Float32Array,
  params: SearchParams,
  n: number,
  temperature: number,
  random: (() => number) | undefined,
): Promise<Candidate> {
  const { vocabSize: vocab, eot, filters, maxSteps } = params;
  const draft = n === 1 && temperature === 0 ? usableDraft(model, params) : null;
  if (draft !== null && takesDrafts(model)) {
    const h = { history: new Int32Array(maxSteps), length: 0, sum: 0 };
    const end = await greedyWithDraft(model, params, draft, h, first, params.draftStats);
    const ids = Array.from(h.history.subarray(0, h.length));
    return end === 'hopeless' ? { tokens: ids, sumLogprob: h.sum, stoppedEarly: true } : { tokens: ids, sumLogprob: h.sum };
  }
  const tokens = new Int32Array(n * maxSteps);
  const lengths = new Int32Array(n);
  const finished = new Uint8Array(n);
  const sums = new Float64Array(n);
  const next = new Int32Array(n);
  const stopped = new Uint8Array(n);
  // Candidate k's logits are row rows[k] of the batch. A candidate that finishes leaves the batch at
  // the next step: at high temperatures one rambling candidate can run 50–90 tokens after the others
  // stopped, and each row costs a decoder pass its share (a fallback chain on a 0.8 s fragment:
  // 3.6 → 2.2 s). The random draws stay one per open candidate, in candidate order. The survivors'
  // logits move only as much as any batch change moves them: the int8 decoder's per-token steps
  // quantise activations over the whole batch (graphs.ts), finished rows fed EOT included.
  const rows = Int32Array.from({ length: n }, (_, k) => k);
  let batch = n;
  let feed = next;
  const hopeless = params.hopeless;
  const weights = temperature > 0 && random ? new Float64Array(vocab) : undefined;

  let logits = first;
  if (n > 1) {
    // All rows start from the same state: copy the first row and tile the cache.
    logits = new Float32Array(n * vocab);
    for (let k = 0; k < n; k++) logits.set(first, k * vocab);
    model.reorder(new Int32Array(n));
  }

  for (let step = 0; step < maxSteps; step++) {
    let open = 0;
    for (let k = 0; k < n; k++) {
      if (finished[k]) continue; // out of the batch since the step after it finished
      const r = rows[k] as number;
      const row = logits.subarray(r * vocab, (r + 1) * vocab);
      const history = tokens.subarray(k * maxSteps, (k + 1) * maxSteps);
      filters.apply(row, history, lengths[k] as number);
      let token: number;
      let max: number;
      if (weights && random) {
        max = rangeMax(row);
        token = sampleWithTemperature(row, temperature, random(), weights, max);
      } else {
        token = argmax(row);
        max = row[token] as number;
      }
      sums[k] = (sums[k] as number) + ((row[token] as number) - logSumExp(row, 0, vocab, max));
      next[k] = token;
      if (token === eot) {
        finished[k] = 1;
        continue;
      }
      const length = (lengths[k] as number) + 1;
      history[length - 1] = token;
      lengths[k] = length;
      if (hopeless && isRepetitionCheckpoint(length) && hopeless(history.subarray(0, length))) {
        // This candidate alone stops (no EOT log-prob); the others keep sampling.
        finished[k] = 1;
        stopped[k] = 1;
      } else {
        open++;
      }
    }
    if (open === 0 || step + 1 === maxSteps) break;
    if (open < batch) {
      const sources = new Int32Array(open);
      let r = 0;
      for (let k = 0; k < n; k++) {
        if (finished[k]) continue;
        sources[r] = rows[k] as number;
        rows[k] = r++;
      }
      model.reorder(sources);
      batch = open;
      feed = new Int32Array(open);
    }
    if (feed !== next) {
      for (let k = 0; k < n; k++) if (!finished[k]) feed[rows[k] as number] = next[k] as number;
    }
    logits = await model.step(feed);
  }

  const candidates: Candidate[] = [];
  for (let k = 0; k < n; k++) {
    const start = k * maxSteps;
    const ids = Array.from(tokens.subarray(start, start + (lengths[k] as number)));
    candidates.push(stopped[k] ? { tokens: ids, sumLogprob: sums[k] as number, stoppedEarly: true } : { tokens: ids, sumLogprob: sums[k] as number });
  }
  return pickBest(candidates, params.lengthPenalty);
}
