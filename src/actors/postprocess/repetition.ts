/**
 * Repetition collapse: Whisper's decoder can fall into a loop ("merci merci merci merci…",
 * "je sais pas je sais pas je sais pas"). A word or n-gram (n ≤ MAX_NGRAM) repeated
 * MIN_REPEATS or more times in a row is written once. Twice is left alone: "très très" and
 * "non non" are how people speak.
 *
 * Words are compared loosely (case and edge punctuation ignored); the kept occurrence is the
 * first one, ending with the punctuation of the last repeat ("Merci, merci, merci." → "Merci.").
 */

export const MAX_NGRAM = 4;
export const MIN_REPEATS = 3;

export interface Collapse {
  /** The repeated span as written. */
  readonly from: string;
  /** What replaced it. */
  readonly to: string;
}

export interface CollapseResult {
  readonly text: string;
  readonly collapses: readonly Collapse[];
}

const TRAILING_PUNCTUATION = /[\p{P}]+$/u;
const EDGE_PUNCTUATION = /^[\p{P}]+|[\p{P}]+$/gu;

function key(word: string): string {
  return word.replace(EDGE_PUNCTUATION, '').normalize('NFC').toLocaleLowerCase('fr');
}

/** How many times words[i, i + n) repeats back to back from i (1 = no repeat). */
function repeatsAt(keys: readonly string[], i: number, n: number): number {
  let count = 1;
  for (;;) {
    const next = i + count * n;
    if (next + n > keys.length) return count;
    for (let k = 0; k < n; k++) if (keys[i + k] !== keys[next + k]) return count;
    count++;
  }
}

export function collapseRepetitions(text: string): CollapseResult {
  const words = text.split(/\s+/u).filter((w) => w.length > 0);
  const keys = words.map(key);
  const collapses: Collapse[] = [];
  let i = 0;
  while (i < words.length) {
    let collapsed = false;
    for (let n = 1; n <= MAX_NGRAM && i + n * MIN_REPEATS <= words.length; n++) {
      // A run of punctuation-only "words" is not a repetition of speech.
      if (keys.slice(i, i + n).some((k) => k === '')) break;
      const count = repeatsAt(keys, i, n);
      if (count < MIN_REPEATS) continue;
      const span = words.slice(i, i + count * n);
      const kept = words.slice(i, i + n);
      const lastWord = span[span.length - 1] ?? '';
      const closing = TRAILING_PUNCTUATION.exec(lastWord)?.[0] ?? '';
      const lastKept = kept[n - 1] ?? '';
      kept[n - 1] = lastKept.replace(TRAILING_PUNCTUATION, '') + closing;
      collapses.push({ from: span.join(' '), to: kept.join(' ') });
      words.splice(i, count * n, ...kept);
      keys.splice(i, count * n, ...keys.slice(i, i + n));
      collapsed = true;
      break;
    }
    // After a collapse, start over: the shorter text may now repeat at a larger scale
    // ("a a a b a a a b a a a b" → "a b a b a b" → "a b"). Texts are short; this stays cheap.
    i = collapsed ? 0 : i + 1;
  }
  // Untouched text keeps its spacing as written; a collapsed one is re-spaced with single spaces.
  return { text: collapses.length > 0 ? words.join(' ') : text, collapses };
}
