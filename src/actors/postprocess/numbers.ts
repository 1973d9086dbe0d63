/**
 * French numbers in digits for display ("vingt et un" → "21", "deux mille vingt-six" → "2026",
 * "cinquante pour cent" → "50 %", "trois virgule cinq" → "3,5"). The grammar is
 * src/eval/french-numbers.ts's (strict; "un" / "une" stay articles unless inside a compound);
 * this wrapper keeps everything around the numbers as written: case, punctuation, elisions.
 *
 * The text is cut into clauses: runs of word tokens separated only by spaces or hyphens, so a
 * comma, a period or an apostrophe ends a number ("l'un" stays "l'un", "trois, quatre" stays two
 * numbers). Each clause's folded tokens go through frenchWordsToDigits; each number it produced is
 * mapped back to the source tokens it replaced, and only those characters are rewritten.
 */
import { frenchWordsToDigits } from '../../eval/french-numbers.js';
import { textTokens, type TextToken } from './blocklist.js';

export interface NumberReplacement {
  readonly from: string;
  readonly to: string;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly to: string;
}

const CLAUSE_GAP = /^[\s\-‐‑]+$/u;
const DIGITS = /^\d/u;

function clauses(text: string, tokens: readonly TextToken[]): TextToken[][] {
  const out: TextToken[][] = [];
  let current: TextToken[] = [];
  for (const token of tokens) {
    const previous = current[current.length - 1];
    if (previous !== undefined && !CLAUSE_GAP.test(text.slice(previous.end, token.start))) {
      out.push(current);
      current = [];
    }
    current.push(token);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Longest m such that words[i, m) alone reads as exactly `number` (the group that produced it). */
function groupEnd(words: readonly string[], i: number, number: string): number {
  for (let m = words.length; m > i; m--) {
    const alone = frenchWordsToDigits(words.slice(i, m));
    if (alone.length === 1 && alone[0] === number) return m;
    // "un" is 1 only when the next word says so ("un virgule deux"): read it with that word.
    const next = words[m];
    if (next === undefined) continue;
    const withNext = frenchWordsToDigits(words.slice(i, m + 1));
    if (withNext.length === 2 && withNext[0] === number && withNext[1] === next) return m;
  }
  return -1;
}

function clauseEdits(text: string, clause: readonly TextToken[]): Edit[] {
  // The French forms are lower-case with accents ("zéro", "dixième"): fold case only.
  const words = clause.map((t) => text.slice(t.start, t.end).toLocaleLowerCase('fr'));
  const out = frenchWordsToDigits(words);
  const edits: Edit[] = [];
  let i = 0;
  for (let o = 0; o < out.length && i < words.length; o++) {
    const produced = out[o] as string;
    if (produced === words[i]) {
      i++;
      continue;
    }
    const m = groupEnd(words, i, produced);
    if (m < 0 || !DIGITS.test(produced)) return edits; // cannot align: leave the rest as written
    let end = m;
    let to = produced;
    // "trois virgule cinq" → "3,5": the French decimal comma, spelled out.
    const decimals = out[o + 2];
    if (words[m] === 'virgule' && out[o + 1] === 'virgule' && decimals !== undefined && /^\d+$/u.test(decimals)) {
      const decimalsEnd = groupEnd(words, m + 1, decimals);
      if (decimalsEnd > m + 1) {
        end = decimalsEnd;
        to = `${produced},${decimals}`;
        o += 2;
      }
    }
    // "cinquante pour cent" → "50 %": the spelled percent sign after a number.
    if (words[end] === 'pour' && (words[end + 1] === 'cent' || words[end + 1] === 'cents')) {
      end += 2;
      to = `${to} %`;
      o += 2;
    }
    const first = clause[i] as TextToken;
    const last = clause[end - 1] as TextToken;
    edits.push({ start: first.start, end: last.end, to });
    i = end;
  }
  return edits;
}

export function frenchNumbersToDigits(text: string): { text: string; replacements: NumberReplacement[] } {
  const edits = clauses(text, textTokens(text)).flatMap((clause) => clauseEdits(text, clause));
  const replacements: NumberReplacement[] = [];
  let out = '';
  let at = 0;
  for (const edit of edits) {
    const from = text.slice(edit.start, edit.end);
    out += text.slice(at, edit.start) + edit.to;
    at = edit.end;
    replacements.push({ from, to: edit.to });
  }
  return { text: out + text.slice(at), replacements };
}
