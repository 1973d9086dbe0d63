/**
 * French transcript normalisation for WER: one written form for what sounds the same, so the
 * score measures recognition errors, not spelling conventions of the references (see
 * ../shared/corpus/SOURCES.md: FLEURS, speech-to-phrase commands and SPPAS all differ).
 *
 * Choices, applied identically to reference and hypothesis:
 * - accents are kept: "a" / "à", "ou" / "où" are different words;
 * - elisions stay attached: "l'été", "aujourd'hui", "c'est" are one word each, as written;
 * - hyphens split words: "rez-de-chaussée" → "rez de chaussée", "reste-t-il" → "reste t il";
 * - numbers are compared as digits ("quatre-vingts" → 80), "%" is read "pour cent",
 *   digit ordinals are folded ("3ème" → "3e", "1er" → "premier");
 * - œ → oe, æ → ae (Whisper and the references use both spellings).
 */

import { frenchWordsToDigits } from './french-numbers.js';
import {
  type NormalizeOptions,
  foldText,
  joinSpacedThousands,
  stripPunctuation,
  tokenize,
} from './normalize-common.js';

export type { NormalizeOptions } from './normalize-common.js';

/** Hesitations, not words: SOURCES.md names euh and ben; the others are their spelling variants. */
const FRENCH_FILLERS: ReadonlySet<string> = new Set(['euh', 'euhm', 'heu', 'hum', 'hmm', 'mmh', 'mh', 'ben', 'bah']);

const NOT_WORD_CHAR = '(?![\\p{L}\\p{N}])';
const FIRST_MASC = new RegExp(`(?<![\\p{N}])1ers?${NOT_WORD_CHAR}`, 'gu');
const FIRST_FEM = new RegExp(`(?<![\\p{N}])1(?:re|ère|ere)s?${NOT_WORD_CHAR}`, 'gu');
const DIGIT_ORDINAL = new RegExp(`(?<![\\p{N}])(\\d+)(?:ièmes?|iemes?|èmes?|emes?|es?|è)${NOT_WORD_CHAR}`, 'gu');

function spellSymbols(text: string): string {
  return text
    .replace(/(\d),(\d)/gu, '$1 virgule $2')
    .replace(/%/gu, ' pour cent ')
    .replace(/€/gu, ' euros ')
    .replace(/°/gu, ' degrés ')
    .replace(/&/gu, ' et ')
    .replace(/œ/gu, 'oe')
    .replace(/æ/gu, 'ae')
    .replace(FIRST_MASC, (m) => (m.endsWith('s') ? 'premiers' : 'premier'))
    .replace(FIRST_FEM, (m) => (m.endsWith('s') ? 'premières' : 'première'))
    .replace(DIGIT_ORDINAL, '$1e');
}

export function normalizeFrench(text: string, options: NormalizeOptions = {}): string {
  const removeFillers = options.removeFillers ?? true;
  const folded = spellSymbols(foldText(joinSpacedThousands(text)));
  const words: string[] = [];
  for (const word of tokenize(stripPunctuation(folded))) {
    // "80 pourcent" is how some speakers' file names spell it.
    if (word === 'pourcent' || word === 'pourcents') words.push('pour', 'cent');
    else words.push(word);
  }
  const withDigits = frenchWordsToDigits(words);
  return (removeFillers ? withDigits.filter((w) => !FRENCH_FILLERS.has(w)) : withDigits).join(' ');
}
