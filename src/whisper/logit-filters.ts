/**
 * Logit processing for one vocabulary row, in place, as OpenAI whisper/decoding.py does it:
 * SuppressBlank → SuppressTokens → ApplyTimestampRules, then the row statistics the decoders need
 * (log-normaliser, argmax, top-k). Everything works on a Float32Array view without allocating, so the
 * decode loop can run them per step and per beam.
 */
import { SIMD_MIN_ENTRIES, expNonPositive, sumExpBelow } from './fast-exp.js';
import { MAX_LANES, rowKernels } from './row-kernels.js';

export interface LogitFilterOptions {
  readonly eot: number;
  /** Ids suppressed at every step. */
  readonly suppressTokens: readonly number[];
  /** Ids suppressed at the first sampled position (`encode(' ')` and eot), or empty. */
  readonly blankTokens: readonly number[];
  /** Timestamp rules: null when decoding without timestamps. */
  readonly timestamps: {
    readonly timestampBegin: number;
    readonly noTimestamps: number;
    /** Largest first timestamp, in timestamp steps; null = no limit. */
    readonly maxInitialTimestampIndex: number | null;
  } | null;
}

export class LogitFilters {
  readonly #suppress: Int32Array;
  readonly #blank: Int32Array;
  readonly #options: LogitFilterOptions;

  constructor(options: LogitFilterOptions) {
    this.#options = options;
    this.#suppress = Int32Array.from(options.suppressTokens);
    this.#blank = Int32Array.from(options.blankTokens);
  }

  /**
   * Filters one row given the tokens sampled so far for that row (`generated[0..length)`, counted
   * from the first sampled position, i.e. after the SOT sequence and any forced prefix).
   */
  apply(row: Float32Array, generated: ArrayLike<number>, length: number): void {
    if (length === 0) suppressIds(row, this.#blank);
    suppressIds(row, this.#suppress);
    const ts = this.#options.timestamps;
    if (ts) applyTimestampRules(row, generated, length, this.#options.eot, ts);
  }
}

function suppressIds(row: Float32Array, ids: Int32Array): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (id >= 0 && id < row.length) row[id] = -Infinity;
  }
}

export function applyTimestampRules(
  row: Float32Array,
  generated: ArrayLike<number>,
  length: number,
  eot: number,
  rules: NonNullable<LogitFilterOptions['timestamps']>,
): void {
  const begin = rules.timestampBegin;
  const vocab = row.length;
  row[rules.noTimestamps] = -Infinity;

  // Timestamps come in pairs, except directly before EOT.
  const lastWasTimestamp = length >= 1 && (generated[length - 1] as number) >= begin;
  const penultimateWasTimestamp = length < 2 || (generated[length - 2] as number) >= begin;
  if (lastWasTimestamp) {
    if (penultimateWasTimestamp) row.fill(-Infinity, begin, vocab);
    else row.fill(-Infinity, 0, eot);
  }

  // Timestamps never decrease, and a segment has a non-zero length (prevents infinite loops).
  let lastTimestamp = -1;
  for (let i = length - 1; i >= 0; i--) {
    const t = generated[i] as number;
    if (t >= begin) {
      lastTimestamp = t;
      break;
    }
  }
  if (lastTimestamp >= 0) {
    const upTo = lastWasTimestamp && !penultimateWasTimestamp ? lastTimestamp : lastTimestamp + 1;
    row.fill(-Infinity, begin, Math.min(upTo, vocab));
  }

  if (length === 0) {
    // The first sampled token is a timestamp, no later than the allowed initial one.
    row.fill(-Infinity, 0, begin);
    if (rules.maxInitialTimestampIndex !== null) {
      row.fill(-Infinity, Math.min(begin + rules.maxInitialTimestampIndex + 1, vocab), vocab);
    }
  }

  // If the timestamps together outweigh the best text token, force a timestamp. Both sides share the
  // row's log-normaliser, so comparing logsumexp(timestamps) with max(text) needs no full softmax.
  const timestampMass = logSumExp(row, begin, vocab);
  if (timestampMass > rangeMax(row, 0, begin)) row.fill(-Infinity, 0, begin);
}

/** The largest entry of row[from..to), NaN entries ignored; -Infinity for an empty or fully suppressed range. */
export function rangeMax(row: Float32Array, from = 0, to = row.length): number {
  const simd = rowKernels();
  const lanes = Math.max(0, to - from) & -MAX_LANES;
  if (simd === null || lanes < SIMD_MIN_ENTRIES) return rangeMaxScalar(row, from, to);
  return Math.max(simd.max(row, from, lanes), rangeMaxScalar(row, from + lanes, to));
}

/** rangeMax's scalar loop. */
export function rangeMaxScalar(row: Float32Array, from = 0, to = row.length): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    const v = row[i] as number;
    if (v > max) max = v;
  }
  return max;
}

/**
 * log Σ exp(row[from..to)); -Infinity when every entry is -Infinity. Pass `max` when the caller
 * already knows the range's maximum (argmax, top-k): the exp pass is the whole cost then, and it
 * uses fast-exp.ts (within 1e-8 of Math.exp's sum). Suppressed (-∞) entries add an exact 0.
 */
export function logSumExp(row: Float32Array, from = 0, to = row.length, max = rangeMax(row, from, to)): number {
  if (max === -Infinity) return -Infinity;
  return max + Math.log(sumExpBelow(row, from, to, max));
}

const argmaxId = new Int32Array(1);
const argmaxValue = new Float64Array(1);

/** The index of the row's largest entry, the first one on ties, NaN entries ignored (0 for an all-NaN row). */
export function argmax(row: Float32Array): number {
  topK(row, 1, argmaxId, argmaxValue);
  return Math.max(0, argmaxId[0] as number);
}

/**
 * The k largest entries, best first, into outIds/outValues (length ≥ k). Ties keep the lower id
 * first, as a stable sort would; NaN entries are skipped; when fewer than k entries remain, the rest
 * is padded with id -1 and -Infinity. WebAssembly SIMD (row-kernels.wat) where available.
 */
export function topK(row: Float32Array, k: number, outIds: Int32Array, outValues: Float64Array): void {
  if (k < 1) return;
  const simd = rowKernels();
  if (simd === null || row.length < SIMD_MIN_ENTRIES) {
    topKScalar(row, k, outIds, outValues);
    return;
  }
  padTopK(simd.topK(row, 0, row.length, k, outIds, outValues), k, outIds, outValues);
}

/**
 * topK's scalar loop: insertion into a k-long list, O(V·k) worst case but k ≤ ~6 and most entries
 * fail the first comparison.
 */
export function topKScalar(row: Float32Array, k: number, outIds: Int32Array, outValues: Float64Array): void {
  if (k < 1) return;
  let filled = 0;
  // The k-th best so far, in a local: the one comparison most entries get. NaN until the list is
  // full, since nothing compares <= NaN.
  let floor = Number.NaN;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (v <= floor || v !== v) continue;
    let pos = filled < k ? filled : k - 1;
    while (pos > 0 && v > (outValues[pos - 1] as number)) {
      outValues[pos] = outValues[pos - 1] as number;
      outIds[pos] = outIds[pos - 1] as number;
      pos--;
    }
    outValues[pos] = v;
    outIds[pos] = i;
    if (filled < k) filled++;
    if (filled === k) floor = outValues[k - 1] as number;
  }
  padTopK(filled, k, outIds, outValues);
}

function padTopK(filled: number, k: number, outIds: Int32Array, outValues: Float64Array): void {
  for (let j = filled; j < k; j++) {
    outValues[j] = -Infinity;
    outIds[j] = -1;
  }
}

/**
 * Draws from softmax(row / temperature) with one uniform [0, 1) number. `weights` (≥ row.length)
 * keeps each exp from the normalising pass so the inverse-CDF walk does not compute it again.
 */
export function sampleWithTemperature(
  row: Float32Array,
  temperature: number,
  uniform: number,
  weights: Float64Array = new Float64Array(row.length),
  max = rangeMax(row),
): number {
  const inv = 1 / temperature;
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const w = expNonPositive(((row[i] as number) - max) * inv);
    weights[i] = w;
    total += w;
  }
  let target = uniform * total;
  let last = -1;
  for (let i = 0; i < row.length; i++) {
    if (row[i] === -Infinity) continue;
    last = i;
    target -= weights[i] as number;
    if (target < 0) return i;
  }
  // Rounding left a sliver of mass past the end: the last possible token takes it.
  return last;
}

/** OpenAI's MaximumLikelihoodRanker score: null → logprob/length, α → logprob / ((5+len)/6)^α. */
export function rankScore(sumLogprob: number, length: number, lengthPenalty: number | null): number {
  // An empty candidate (EOT first, possible without suppressBlank) ranks by its raw log-prob.
  const penalty = lengthPenalty === null ? Math.max(length, 1) : ((5 + length) / 6) ** lengthPenalty;
  return sumLogprob / penalty;
}
