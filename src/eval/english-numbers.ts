/**
 * English number words → digits, on lower-cased tokens with hyphens split ("twenty-five" arrives
 * as twenty / five). A word that cannot continue the number being read ends it, so "two three"
 * stays "2 3".
 *
 * "one" and the article "a" become 1 only inside a compound ("twenty one", "one hundred",
 * "a thousand", "one point five"): "the one that", "this one" keep the pronoun. A lone "one" and a
 * lone digit "1" are kept as written, on both sides alike.
 */

const UNITS: ReadonlyMap<string, number> = new Map([
  ['one', 1], ['two', 2], ['three', 3], ['four', 4], ['five', 5],
  ['six', 6], ['seven', 7], ['eight', 8], ['nine', 9],
]);
const TEENS: ReadonlyMap<string, number> = new Map([
  ['ten', 10], ['eleven', 11], ['twelve', 12], ['thirteen', 13], ['fourteen', 14], ['fifteen', 15],
  ['sixteen', 16], ['seventeen', 17], ['eighteen', 18], ['nineteen', 19],
]);
const TENS: ReadonlyMap<string, number> = new Map([
  ['twenty', 20], ['thirty', 30], ['forty', 40], ['fifty', 50],
  ['sixty', 60], ['seventy', 70], ['eighty', 80], ['ninety', 90],
]);
const SCALES: ReadonlyMap<string, number> = new Map([['thousand', 1e3], ['million', 1e6], ['billion', 1e9]]);

function isMultiplier(word: string | undefined): boolean {
  return word !== undefined && (word === 'hundred' || SCALES.has(word));
}

function startsNumber(word: string | undefined): boolean {
  return word !== undefined && (UNITS.has(word) || TEENS.has(word) || TENS.has(word));
}

type GroupState = 'empty' | 'unit' | 'tens' | 'teen' | 'and';

class EnglishNumber {
  total = 0;
  lastScale = Infinity;
  hundreds = -1;
  group = 0;
  state: GroupState = 'empty';
  words = 0;
  digitsOnly = false;
  digitsText = '';

  value(): number {
    return this.total + Math.max(0, this.hundreds) * 100 + this.group;
  }

  push(w: string, next: string | undefined): boolean {
    if (this.digitsOnly && !SCALES.has(w) && w !== 'hundred') return false;
    const ok = this.pushWord(w, next);
    if (ok) this.words++;
    return ok;
  }

  private pushWord(w: string, next: string | undefined): boolean {
    const unit = w === 'a' ? 1 : UNITS.get(w);
    if (unit !== undefined) {
      if (w === 'a' && !(this.words === 0 && isMultiplier(next))) return false;
      const inCompound = this.words > 0 || isMultiplier(next) || next === 'point';
      if (unit === 1 && !inCompound) return false;
      if (this.state !== 'empty' && this.state !== 'tens' && this.state !== 'and') return false;
      this.group += unit;
      this.state = 'unit';
      return true;
    }
    const teen = TEENS.get(w);
    if (teen !== undefined) {
      if (this.state !== 'empty' && this.state !== 'and') return false;
      this.group += teen;
      this.state = 'teen';
      return true;
    }
    const tens = TENS.get(w);
    if (tens !== undefined) {
      if (this.state !== 'empty' && this.state !== 'and') return false;
      this.group += tens;
      this.state = 'tens';
      return true;
    }
    if (w === 'and') {
      // "one hundred and five", "two thousand and ten": only after a multiplier, before a number.
      if (this.state !== 'empty' || this.words === 0 || !startsNumber(next)) return false;
      this.state = 'and';
      return true;
    }
    if (w === 'hundred') {
      // "twelve hundred" = 1200; "hundred" alone is a noun ("hundreds of").
      if (this.hundreds >= 0 || this.group === 0 || this.state === 'and') return false;
      this.hundreds = this.group;
      this.group = 0;
      this.state = 'empty';
      this.digitsOnly = false;
      return true;
    }
    const scale = SCALES.get(w);
    if (scale !== undefined) {
      const count = Math.max(0, this.hundreds) * 100 + this.group;
      if (scale >= this.lastScale || count === 0 || this.state === 'and') return false;
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

function emit(out: string[], n: EnglishNumber | null): null {
  if (n === null) return null;
  if (n.words > 0) out.push(String(n.value()));
  else if (n.digitsText !== '') out.push(n.digitsText);
  return null;
}

/** Replaces runs of English number words by their digit form; other tokens pass through unchanged. */
export function englishWordsToDigits(tokens: readonly string[]): string[] {
  const out: string[] = [];
  let current: EnglishNumber | null = null;
  for (let k = 0; k < tokens.length; k++) {
    const word = tokens[k] as string;
    const next = tokens[k + 1];
    if (current !== null && current.push(word, next)) continue;
    current = emit(out, current);
    if (/^\d+$/u.test(word) && tokens[k - 1] !== 'point' && isMultiplier(next)) {
      // Digits then a multiplier ("5 thousand", "3 million"): fold into one number.
      const n = new EnglishNumber();
      n.group = Number(word);
      n.digitsOnly = true;
      n.digitsText = word;
      current = n;
      continue;
    }
    if (word === 'zero') {
      out.push('0');
      continue;
    }
    const n = new EnglishNumber();
    if (n.push(word, next)) {
      current = n;
      continue;
    }
    out.push(word);
  }
  emit(out, current);
  return out;
}
