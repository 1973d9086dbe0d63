/**
 * French number words → digits, on a token list that is already lower-cased with hyphens split
 * ("quatre-vingt-dix-sept" arrives as quatre / vingt / dix / sept). References write numbers both
 * ways ("80%", "dix-sept", "cent pour cent") and so does Whisper; scoring compares the digit form.
 *
 * The grammar is strict on purpose: a word that cannot continue the number being read ends it and
 * may start a new one, so "deux trois fois" stays "2 3 fois" instead of summing to 5.
 *
 * "un" / "une" are articles far more often than numbers, so they become 1 only inside a compound:
 * after "et" ("vingt et un"), after a number word ("cent un", "mille une"), or before
 * "million(s)", "milliard(s)" or "virgule". A lone "un" / "une" and a lone digit "1" are kept as
 * written, on both sides alike.
 *
 * "cent" right after "pour" is the percent sign spelled out and stays a word.
 */

const UNITS: ReadonlyMap<string, number> = new Map([
  ['un', 1], ['une', 1], ['deux', 2], ['trois', 3], ['quatre', 4], ['cinq', 5],
  ['six', 6], ['sept', 7], ['huit', 8], ['neuf', 9],
]);
const TEENS: ReadonlyMap<string, number> = new Map([
  ['dix', 10], ['onze', 11], ['douze', 12], ['treize', 13], ['quatorze', 14], ['quinze', 15], ['seize', 16],
]);
/** Tens; septante / huitante / octante / nonante are the Belgian and Swiss forms. */
const TENS: ReadonlyMap<string, number> = new Map([
  ['vingt', 20], ['vingts', 20], ['trente', 30], ['quarante', 40], ['cinquante', 50], ['soixante', 60],
  ['septante', 70], ['huitante', 80], ['octante', 80], ['nonante', 90],
]);
const SCALES: ReadonlyMap<string, number> = new Map([
  ['mille', 1e3], ['mil', 1e3], ['million', 1e6], ['millions', 1e6], ['milliard', 1e9], ['milliards', 1e9],
]);
/** Ordinal word → its cardinal word; "unième" only exists in compounds ("vingt et unième"). */
const ORDINALS: ReadonlyMap<string, string> = new Map([
  ['unième', 'un'], ['deuxième', 'deux'], ['troisième', 'trois'], ['quatrième', 'quatre'],
  ['cinquième', 'cinq'], ['sixième', 'six'], ['septième', 'sept'], ['huitième', 'huit'],
  ['neuvième', 'neuf'], ['dixième', 'dix'], ['onzième', 'onze'], ['douzième', 'douze'],
  ['treizième', 'treize'], ['quatorzième', 'quatorze'], ['quinzième', 'quinze'], ['seizième', 'seize'],
  ['vingtième', 'vingt'], ['trentième', 'trente'], ['quarantième', 'quarante'],
  ['cinquantième', 'cinquante'], ['soixantième', 'soixante'], ['centième', 'cent'], ['millième', 'mille'],
]);

function cardinalOf(word: string): string {
  return ORDINALS.get(word) ?? ORDINALS.get(word.replace(/s$/u, '')) ?? word;
}

function isNumberWord(word: string | undefined): boolean {
  if (word === undefined) return false;
  const w = cardinalOf(word);
  return UNITS.has(w) || TEENS.has(w) || TENS.has(w) || SCALES.has(w) || w === 'cent' || w === 'cents';
}

/** Which sub-hundred words may come next in the group being read. */
type GroupState = 'empty' | 'unit' | 'tens' | 'dix' | 'teen' | 'et';

class FrenchNumber {
  total = 0;
  /** The scale last closed (mille, million…); the next one must be smaller. */
  lastScale = Infinity;
  hundreds = -1;
  group = 0;
  state: GroupState = 'empty';
  words = 0;
  ordinal = false;
  /** Set when the number began with digits ("2 millions"): only scale words may follow. */
  digitsOnly = false;
  /** Those digits as written, emitted unchanged if no scale word could follow after all. */
  digitsText = '';

  value(): number {
    return this.total + Math.max(0, this.hundreds) * 100 + this.group;
  }

  segment(): number {
    return Math.max(0, this.hundreds) * 100 + this.group;
  }

  /** Tries to add `word`; false when it cannot continue this number (nothing changed then). */
  push(word: string, next: string | undefined): boolean {
    if (this.ordinal) return false;
    const w = cardinalOf(word);
    const ordinal = w !== word;
    if (this.digitsOnly && !SCALES.has(w)) return false;
    const ok = this.pushCardinal(w, next);
    if (ok) {
      this.words++;
      this.ordinal = ordinal;
    }
    return ok;
  }

  private pushCardinal(w: string, next: string | undefined): boolean {
    const unit = UNITS.get(w);
    if (unit !== undefined) {
      if (unit === 1) {
        const compound =
          this.state === 'et' ||
          (this.state === 'tens' && this.group === 80) ||
          (this.state === 'empty' && this.words > 0) ||
          (this.words === 0 && (next === 'virgule' || (next !== undefined && (SCALES.get(next) ?? 0) >= 1e6)));
        if (!compound) return false;
      } else if (!(this.state === 'empty' || this.state === 'tens' || (this.state === 'dix' && unit >= 7))) {
        return false;
      }
      this.group += unit;
      this.state = 'unit';
      return true;
    }
    const teen = TEENS.get(w);
    if (teen !== undefined) {
      const afterTens = this.state === 'tens' && (this.group === 60 || this.group === 80);
      const afterEt = this.state === 'et' && teen === 11 && this.group === 60;
      if (!(this.state === 'empty' || afterTens || afterEt)) return false;
      this.group += teen;
      this.state = teen === 10 ? 'dix' : 'teen';
      return true;
    }
    const tens = TENS.get(w);
    if (tens !== undefined) {
      if (tens === 20 && this.state === 'unit' && this.group === 4) {
        // "quatre vingt(s)": 4 × 20, the one multiplicative tens word.
        this.group = 80;
        this.state = 'tens';
        return true;
      }
      if (this.state !== 'empty') return false;
      this.group = tens;
      this.state = 'tens';
      return true;
    }
    if (w === 'et') {
      const okTens = this.state === 'tens' && this.group !== 80;
      const nextCardinal = next === undefined ? undefined : cardinalOf(next);
      const okNext = nextCardinal === 'un' || nextCardinal === 'une' || (nextCardinal === 'onze' && this.group === 60);
      if (!okTens || !okNext) return false;
      this.state = 'et';
      return true;
    }
    if (w === 'cent' || w === 'cents') {
      if (this.hundreds >= 0 || this.group > 9 || this.state === 'et') return false;
      this.hundreds = this.group === 0 ? 1 : this.group;
      this.group = 0;
      this.state = 'empty';
      return true;
    }
    const scale = SCALES.get(w);
    if (scale !== undefined) {
      if (scale >= this.lastScale || this.state === 'et') return false;
      let count = this.segment();
      // "mille" alone is 1000, but "million" alone is a noun ("des millions").
      if (count === 0 && this.words === 0 && !this.digitsOnly) {
        if (scale !== 1e3) return false;
        count = 1;
      }
      if (count === 0) return false;
      this.total += count * scale;
      this.lastScale = scale;
      this.hundreds = -1;
      this.group = 0;
      this.state = 'empty';
      this.digitsOnly = false;
      return true;
    }
    return false;
  }
}

function emit(out: string[], n: FrenchNumber | null): null {
  if (n === null) return null;
  if (n.words > 0) out.push(`${n.value()}${n.ordinal ? 'e' : ''}`);
  else if (n.digitsText !== '') out.push(n.digitsText);
  return null;
}

/** Replaces runs of French number words by their digit form; other tokens pass through unchanged. */
export function frenchWordsToDigits(tokens: readonly string[]): string[] {
  const out: string[] = [];
  let current: FrenchNumber | null = null;
  for (let k = 0; k < tokens.length; k++) {
    const word = tokens[k] as string;
    const next = tokens[k + 1];
    if (current !== null && current.push(word, next)) continue;
    current = emit(out, current);
    if (/^\d+$/u.test(word) && tokens[k - 1] !== 'virgule' && next !== undefined && SCALES.has(next)) {
      // Digits then a scale word ("2 millions", "20 mille"): fold into one number.
      const n = new FrenchNumber();
      n.group = Number(word);
      n.digitsOnly = true;
      n.digitsText = word;
      current = n;
      continue;
    }
    if (word === 'cent' && tokens[k - 1] === 'pour') {
      // "pour cent" is the spelled "%", not a hundred: "cent pour cent" → "100 pour cent".
      out.push(word);
      continue;
    }
    if (word === 'zéro') {
      out.push('0');
      continue;
    }
    if (isNumberWord(word)) {
      const n = new FrenchNumber();
      if (n.push(word, next)) {
        current = n;
        continue;
      }
    }
    out.push(word);
  }
  emit(out, current);
  return out;
}
