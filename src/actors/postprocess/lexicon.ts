/**
 * Lexicon corrections: names and jargon Whisper does not know, fixed after the fact
 * ("super whispers" → "SuperWhisper"). Rules are matched case-insensitively on word boundaries,
 * the words of a multi-word `from` separated by any whitespace, and applied in the order given
 * (so the user decides which of two overlapping rules wins). Every application is reported.
 */
import { InvalidOptionError } from '../../errors.js';
import type { LexiconRule } from './postprocess.protocol.js';

export interface LexiconApplication {
  readonly from: string;
  readonly to: string;
}

interface CompiledRule {
  readonly pattern: RegExp;
  readonly to: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}

export class Lexicon {
  readonly #rules: readonly CompiledRule[];

  constructor(rules: readonly LexiconRule[]) {
    this.#rules = rules.map((rule, index) => {
      if (typeof rule.from !== 'string' || typeof rule.to !== 'string' || rule.from.trim() === '') {
        throw new InvalidOptionError(`lexicon rule ${index} needs a non-empty "from" and a string "to"`, {
          option: 'lexicon',
          index,
        });
      }
      const words = rule.from.trim().split(/\s+/u).map(escapeRegExp);
      // \b is ASCII-only in JS; these lookarounds make "é" and digits word characters too.
      const source = `(?<![\\p{L}\\p{N}_])${words.join('\\s+')}(?![\\p{L}\\p{N}_])`;
      return { pattern: new RegExp(source, 'giu'), to: rule.to };
    });
  }

  apply(text: string): { text: string; applied: LexiconApplication[] } {
    const applied: LexiconApplication[] = [];
    let out = text;
    for (const rule of this.#rules) {
      out = out.replace(rule.pattern, (matched) => {
        // Already written the lexicon's way: nothing was corrected, nothing to report.
        if (matched === rule.to) return matched;
        applied.push({ from: matched, to: rule.to });
        return rule.to;
      });
    }
    return { text: out, applied };
  }
}
