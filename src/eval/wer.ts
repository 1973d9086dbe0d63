/**
 * Word and character error counts by Levenshtein alignment, on text that is already normalised.
 *
 * The alignment reproduces jiwer 4 (rapidfuzz `Levenshtein.editops`): the common prefix and suffix
 * are matched first, then the middle is aligned on a full DP matrix and traced back from the end
 * with rapidfuzz's rules (see the trace-back below). Several
 * alignments often have the same cost but a different substitution/deletion/insertion split; using
 * the same tie-break as the reference tool keeps our S/D/I numbers comparable with published ones.
 */

export interface ErrorCounts {
  readonly substitutions: number;
  readonly deletions: number;
  readonly insertions: number;
  readonly hits: number;
  /** Words (or characters) in the reference: hits + substitutions + deletions. */
  readonly refLength: number;
}

export const ZERO_COUNTS: ErrorCounts = { substitutions: 0, deletions: 0, insertions: 0, hits: 0, refLength: 0 };

/** DP matrix reused between calls: one Int32Array grown on demand instead of one per alignment. */
let scratch = new Int32Array(4096);

function matrix(size: number): Int32Array {
  if (scratch.length < size) {
    let next = scratch.length;
    while (next < size) next *= 2;
    scratch = new Int32Array(next);
  }
  return scratch;
}

/** Aligns two sequences of symbol ids (equal id = equal symbol). */
export function alignIds(ref: Int32Array, hyp: Int32Array): ErrorCounts {
  let start = 0;
  const minLen = Math.min(ref.length, hyp.length);
  while (start < minLen && ref[start] === hyp[start]) start++;
  let endRef = ref.length;
  let endHyp = hyp.length;
  while (endRef > start && endHyp > start && ref[endRef - 1] === hyp[endHyp - 1]) {
    endRef--;
    endHyp--;
  }
  const affixHits = start + (ref.length - endRef);
  const n = endRef - start; // reference symbols in the middle
  const m = endHyp - start; // hypothesis symbols in the middle

  // d[i * (m + 1) + j] = distance between ref[start, start+i) and hyp[start, start+j).
  const width = m + 1;
  const d = matrix((n + 1) * width);
  for (let j = 0; j <= m; j++) d[j] = j;
  for (let i = 1; i <= n; i++) {
    const row = i * width;
    const prev = row - width;
    const r = ref[start + i - 1];
    d[row] = i;
    for (let j = 1; j <= m; j++) {
      const sub = (d[prev + j - 1] as number) + (r === hyp[start + j - 1] ? 0 : 1);
      const del = (d[prev + j] as number) + 1;
      const ins = (d[row + j - 1] as number) + 1;
      d[row + j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
  }

  let substitutions = 0;
  let deletions = 0;
  let insertions = 0;
  let hits = 0;
  let i = n;
  let j = m;
  // rapidfuzz's trace-back, which reads the vertical deltas of its bit-parallel matrix: a deletion
  // when D[i][j] − D[i−1][j] = +1; otherwise step to column j−1 and call it an insertion when
  // D[i][j−1] − D[i−1][j−1] = −1, else a substitution or match. Kept literally (it is not the
  // textbook check) because its tie-breaking is what decides the S/D/I split.
  while (i > 0 && j > 0) {
    const here = d[i * width + j] as number;
    if (here - (d[(i - 1) * width + j] as number) === 1) {
      deletions++;
      i--;
    } else if ((d[i * width + j - 1] as number) - (d[(i - 1) * width + j - 1] as number) === -1) {
      insertions++;
      j--;
    } else {
      if (ref[start + i - 1] === hyp[start + j - 1]) hits++;
      else substitutions++;
      i--;
      j--;
    }
  }
  deletions += i;
  insertions += j;
  hits += affixHits;
  return { substitutions, deletions, insertions, hits, refLength: hits + substitutions + deletions };
}

function toIds(ref: readonly string[], hyp: readonly string[]): [Int32Array, Int32Array] {
  const ids = new Map<string, number>();
  const encode = (symbols: readonly string[]): Int32Array => {
    const out = new Int32Array(symbols.length);
    for (let k = 0; k < symbols.length; k++) {
      const s = symbols[k] as string;
      let id = ids.get(s);
      if (id === undefined) {
        id = ids.size;
        ids.set(s, id);
      }
      out[k] = id;
    }
    return out;
  };
  return [encode(ref), encode(hyp)];
}

export function splitWords(text: string): string[] {
  const trimmed = text.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/u);
}

/** Word-level counts; both strings already normalised, words separated by whitespace. */
export function wordErrors(ref: string, hyp: string): ErrorCounts {
  const [r, h] = toIds(splitWords(ref), splitWords(hyp));
  return alignIds(r, h);
}

/**
 * Character-level counts (code points), spaces between words included as jiwer's CER does; runs of
 * whitespace count as one space and the ends are trimmed.
 */
export function charErrors(ref: string, hyp: string): ErrorCounts {
  const chars = (t: string): string[] => Array.from(splitWords(t).join(' '));
  const [r, h] = toIds(chars(ref), chars(hyp));
  return alignIds(r, h);
}

export function addCounts(a: ErrorCounts, b: ErrorCounts): ErrorCounts {
  return {
    substitutions: a.substitutions + b.substitutions,
    deletions: a.deletions + b.deletions,
    insertions: a.insertions + b.insertions,
    hits: a.hits + b.hits,
    refLength: a.refLength + b.refLength,
  };
}

/** Corpus aggregation as jiwer does on a list: total errors over total reference length. */
export function sumCounts(list: Iterable<ErrorCounts>): ErrorCounts {
  let total = ZERO_COUNTS;
  for (const c of list) total = addCounts(total, c);
  return total;
}

/**
 * (S + D + I) / reference length. With an empty reference jiwer 4 divides by 1 (the rate is the
 * insertion count); we do the same so empty-reference clips stay comparable.
 */
export function errorRate(c: ErrorCounts): number {
  const errors = c.substitutions + c.deletions + c.insertions;
  return errors / Math.max(1, c.refLength);
}
