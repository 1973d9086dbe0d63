/**
 * English transcript normalisation for WER. References mix sentence case, UPPER CASE (LibriSpeech),
 * digits ("5 minutes", "50 percent") and words ("twelve"); Whisper mixes them too.
 *
 * Choices, applied identically to reference and hypothesis:
 * - contractions are kept as written ("what's", "i'd"), one word each;
 * - hyphens split words ("water-level" → "water level");
 * - numbers are compared as digits ("twenty five" → 25, "a thousand" → 1000, "1,000" → 1000),
 *   "%" and "per cent" are read "percent";
 * - hesitation fillers are dropped unless `removeFillers: false`.
 * No British/American spelling folding ("colour" / "color" still differ).
 */

import { englishWordsToDigits } from './english-numbers.js';
import { type NormalizeOptions, foldText, stripPunctuation, tokenize } from './normalize-common.js';

export type { NormalizeOptions } from './normalize-common.js';

/** Hesitations as the MFA transcripts and Whisper spell them (SOURCES.md names um, uh, yknow). */
const ENGLISH_FILLERS: ReadonlySet<string> = new Set(['um', 'umm', 'uh', 'uhh', 'er', 'erm', 'ah', 'hmm', 'hm', 'mm', 'mhm', 'yknow', "y'know"]);

function spellSymbols(text: string): string {
  return text
    .replace(/(\d),(?=\d{3}(?!\d))/gu, '$1')
    .replace(/(\d)\.(\d)/gu, '$1 point $2')
    .replace(/%/gu, ' percent ')
    .replace(/\$\s?(\d+)/gu, '$1 dollars ')
    .replace(/&/gu, ' and ')
    .replace(/°/gu, ' degrees ');
}

export function normalizeEnglish(text: string, options: NormalizeOptions = {}): string {
  const removeFillers = options.removeFillers ?? true;
  const tokens = tokenize(stripPunctuation(spellSymbols(foldText(text))));
  const words: string[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const word = tokens[k] as string;
    if (word === 'per' && tokens[k + 1] === 'cent') {
      words.push('percent');
      k++;
    } else {
      words.push(word);
    }
  }
  const withDigits = englishWordsToDigits(words);
  return (removeFillers ? withDigits.filter((w) => !ENGLISH_FILLERS.has(w)) : withDigits).join(' ');
}
