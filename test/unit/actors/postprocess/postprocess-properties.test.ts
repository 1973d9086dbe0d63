import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frenchNumbersToDigits } from '../../../../src/actors/postprocess/numbers.js';
import { PostProcessor } from '../../../../src/actors/postprocess/postprocess.js';
import { collapseRepetitions } from '../../../../src/actors/postprocess/repetition.js';

const WORDS = ['vingt', 'et', 'un', 'une', 'cent', 'pour', 'mille', 'deux', 'quatre', 'Merci', 'la', "l'un", 'lumière', ',', '.', '-'];
const SEPARATORS = [' ', '-', ', ', '. ', "'", '  '];
const sentence = fc
  .array(fc.tuple(fc.constantFrom(...WORDS), fc.constantFrom(...SEPARATORS)), { maxLength: 12 })
  .map((parts) => parts.map(([w, s]) => w + s).join(''));

describe('post-processor properties (seeded)', () => {
  const processor = new PostProcessor({ frenchNumbers: true, lexicon: [{ from: 'la lumière', to: 'LA LUMIÈRE' }] });

  it('never throws, and a rejected text is always empty', () => {
    fc.assert(
      fc.property(fc.oneof(sentence, fc.string({ maxLength: 60 })), fc.double({ min: 0, max: 6, noNaN: true }), (text, ratio) => {
        const out = processor.process({
          utteranceId: 1,
          kind: 'final',
          text,
          language: 'fr',
          avgLogprob: -0.2,
          noSpeechProb: 0.1,
          compressionRatio: ratio,
        });
        if (out.rejected !== null) expect(out.text).toBe('');
      }),
      { seed: 20260, numRuns: 400 },
    );
  });

  it('number replacements rebuild the text: undoing each one gives the input back', () => {
    fc.assert(
      fc.property(sentence, (text) => {
        const { text: out, replacements } = frenchNumbersToDigits(text);
        let undone = out;
        // Replacements are in text order; undo them left to right on the output.
        let at = 0;
        for (const r of replacements) {
          const index = undone.indexOf(r.to, at);
          expect(index).toBeGreaterThanOrEqual(0);
          undone = undone.slice(0, index) + r.from + undone.slice(index + r.to.length);
          at = index + r.from.length;
        }
        expect(undone).toBe(text);
      }),
      { seed: 7, numRuns: 400 },
    );
  });

  it('collapsing is idempotent and never grows the text', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'oui'), { maxLength: 20 }), (words) => {
        const once = collapseRepetitions(words.join(' '));
        expect(collapseRepetitions(once.text).collapses).toEqual([]);
        expect(once.text.length).toBeLessThanOrEqual(words.join(' ').length);
      }),
      { seed: 11, numRuns: 400 },
    );
  });
});
