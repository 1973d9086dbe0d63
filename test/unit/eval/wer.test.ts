import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { type ErrorCounts, charErrors, errorRate, sumCounts, wordErrors } from '../../../src/eval/wer.js';

interface Counts {
  readonly s: number;
  readonly d: number;
  readonly i: number;
  readonly h: number;
}
interface Pair {
  readonly ref: string;
  readonly hyp: string;
  readonly wer: number;
  readonly word: Counts;
  readonly cer?: number;
  readonly char?: Counts;
}

// Expected values computed by jiwer 4.0.0 rapidfuzz 3.14.6 with test/unit/eval/jiwer_reference.py
// (process_words / process_characters on each pair); regenerate with that script.
const PAIRS: readonly Pair[] = [
  {"ref": "allume la lumière", "hyp": "allume la lumière", "wer": 0.0, "word": {"s": 0, "d": 0, "i": 0, "h": 3}, "cer": 0.0, "char": {"s": 0, "d": 0, "i": 0, "h": 17}},
  {"ref": "allume la lumière", "hyp": "", "wer": 1.0, "word": {"s": 0, "d": 3, "i": 0, "h": 0}, "cer": 1.0, "char": {"s": 0, "d": 17, "i": 0, "h": 0}},
  {"ref": "a b", "hyp": "a x b y z", "wer": 1.5, "word": {"s": 0, "d": 0, "i": 3, "h": 2}, "cer": 2.0, "char": {"s": 0, "d": 0, "i": 6, "h": 3}},
  {"ref": "éteins la lumière dans le salon", "hyp": "éteins les lumières du salon", "wer": 0.6666666666666666, "word": {"s": 3, "d": 1, "i": 0, "h": 2}, "cer": 0.25806451612903225, "char": {"s": 3, "d": 4, "i": 1, "h": 24}},
  {"ref": "a b", "hyp": "b c", "wer": 1.0, "word": {"s": 2, "d": 0, "i": 0, "h": 0}, "cer": 0.6666666666666666, "char": {"s": 2, "d": 0, "i": 0, "h": 1}},
  {"ref": "a b c d", "hyp": "x a c d y", "wer": 0.75, "word": {"s": 0, "d": 1, "i": 2, "h": 3}, "cer": 0.5714285714285714, "char": {"s": 2, "d": 0, "i": 2, "h": 5}},
  {"ref": "d c b f e", "hyp": "d g f c c", "wer": 0.8, "word": {"s": 4, "d": 0, "i": 0, "h": 1}, "cer": 0.4444444444444444, "char": {"s": 4, "d": 0, "i": 0, "h": 5}},
  {"ref": "combien de temps reste t il", "hyp": "combien de temps restent ils", "wer": 0.5, "word": {"s": 2, "d": 1, "i": 0, "h": 3}, "cer": 0.07407407407407407, "char": {"s": 1, "d": 0, "i": 1, "h": 26}},
  {"ref": "l'été est là", "hyp": "l été est la", "wer": 1.0, "word": {"s": 2, "d": 0, "i": 1, "h": 1}, "cer": 0.16666666666666666, "char": {"s": 2, "d": 0, "i": 0, "h": 10}},
  {"ref": "le chat dort", "hyp": "chat le dort", "wer": 0.6666666666666666, "word": {"s": 0, "d": 1, "i": 1, "h": 2}, "cer": 0.5, "char": {"s": 0, "d": 3, "i": 3, "h": 9}},
  {"ref": "un deux trois quatre cinq", "hyp": "deux trois quatre cinq six", "wer": 0.4, "word": {"s": 0, "d": 1, "i": 1, "h": 4}, "cer": 0.28, "char": {"s": 0, "d": 3, "i": 4, "h": 22}},
  {"ref": "minuteur 10 minutes", "hyp": "minuteur dix minutes", "wer": 0.3333333333333333, "word": {"s": 1, "d": 0, "i": 0, "h": 2}, "cer": 0.15789473684210525, "char": {"s": 2, "d": 0, "i": 1, "h": 17}},
  {"ref": "a", "hyp": "b c d e", "wer": 4.0, "word": {"s": 1, "d": 0, "i": 3, "h": 0}, "cer": 7.0, "char": {"s": 1, "d": 0, "i": 6, "h": 0}},
  {"ref": "ça a changé", "hyp": "ca à changé", "wer": 0.6666666666666666, "word": {"s": 2, "d": 0, "i": 0, "h": 1}, "cer": 0.18181818181818182, "char": {"s": 2, "d": 0, "i": 0, "h": 9}},
  {"ref": "the cat sat on the mat", "hyp": "the cat sat on mat the", "wer": 0.3333333333333333, "word": {"s": 0, "d": 1, "i": 1, "h": 5}, "cer": 0.2727272727272727, "char": {"s": 6, "d": 0, "i": 0, "h": 16}},
  {"ref": "allume le rez de chaussée à 80 pour cent", "hyp": "allume le rédech au c à 80 pour cent", "wer": 0.3333333333333333, "word": {"s": 3, "d": 0, "i": 0, "h": 6}, "cer": 0.225, "char": {"s": 3, "d": 5, "i": 1, "h": 32}},
  {"ref": "", "hyp": "a b c", "wer": 3, "word": {"s": 0, "d": 0, "i": 3, "h": 0}, "cer": 5, "char": {"s": 0, "d": 0, "i": 5, "h": 0}},
];
const CORPUS_WER = 0.640625;
const CORPUS_CER = 0.33203125;

function short(c: ErrorCounts): Counts {
  return { s: c.substitutions, d: c.deletions, i: c.insertions, h: c.hits };
}

describe('wordErrors / charErrors agree with jiwer', () => {
  it.each(PAIRS)('words: "$ref" vs "$hyp"', (p) => {
    const c = wordErrors(p.ref, p.hyp);
    expect(short(c)).toEqual(p.word);
    expect(c.refLength).toBe(p.word.h + p.word.s + p.word.d);
    expect(errorRate(c)).toBeCloseTo(p.wer, 12);
  });

  it.each(PAIRS.filter((p) => p.char !== undefined))('chars: "$ref" vs "$hyp"', (p) => {
    const c = charErrors(p.ref, p.hyp);
    expect(short(c)).toEqual(p.char);
    expect(errorRate(c)).toBeCloseTo(p.cer ?? NaN, 12);
  });

  it('aggregates a corpus as total errors over total reference words', () => {
    const scored = PAIRS.filter((p) => p.ref !== '');
    const words = sumCounts(scored.map((p) => wordErrors(p.ref, p.hyp)));
    const chars = sumCounts(scored.map((p) => charErrors(p.ref, p.hyp)));
    expect(errorRate(words)).toBeCloseTo(CORPUS_WER, 12);
    expect(errorRate(chars)).toBeCloseTo(CORPUS_CER, 12);
    // Not the mean of per-pair rates: long references weigh more.
    const meanOfRates = scored.reduce((acc, p) => acc + p.wer, 0) / scored.length;
    expect(Math.abs(meanOfRates - CORPUS_WER)).toBeGreaterThan(0.01);
  });
});

describe('wordErrors edge cases', () => {
  it('treats runs of whitespace as one separator and ignores the ends', () => {
    expect(short(wordErrors('  a   b ', 'a\tb\n'))).toEqual({ s: 0, d: 0, i: 0, h: 2 });
  });

  it('scores two empty strings as no error', () => {
    const c = wordErrors('', '');
    expect(c.refLength).toBe(0);
    expect(errorRate(c)).toBe(0);
  });

  it('counts characters by code point, not UTF-16 unit', () => {
    // "𝔸" is one code point but two UTF-16 units; one substitution either way round.
    expect(short(charErrors('a𝔸b', 'axb'))).toEqual({ s: 1, d: 0, i: 0, h: 2 });
  });

  it('handles long inputs (the DP buffer grows) with the right totals', () => {
    const ref = Array.from({ length: 600 }, (_, k) => `w${k % 37}`).join(' ');
    const hyp = Array.from({ length: 650 }, (_, k) => `w${(k * 7) % 41}`).join(' ');
    const c = wordErrors(ref, hyp);
    expect(c.refLength).toBe(600);
    expect(c.hits + c.substitutions + c.insertions).toBe(650);
    // Levenshtein distance is at least the length difference and at most the longer length.
    const distance = c.substitutions + c.deletions + c.insertions;
    expect(distance).toBeGreaterThanOrEqual(50);
    expect(distance).toBeLessThanOrEqual(650);
    // And a small pair afterwards still aligns correctly with the reused buffer.
    expect(short(wordErrors('a b', 'b c'))).toEqual({ s: 2, d: 0, i: 0, h: 0 });
  });
});

describe('wordErrors invariants (seeded property test)', () => {
  it('accounts for every word and is zero exactly on equal inputs', () => {
    const sentence = fc.array(fc.constantFrom('a', 'b', 'c', 'é', "l'x"), { maxLength: 14 }).map((w) => w.join(' '));
    fc.assert(
      fc.property(sentence, sentence, (ref, hyp) => {
        const c = wordErrors(ref, hyp);
        const refWords = ref === '' ? 0 : ref.split(' ').length;
        const hypWords = hyp === '' ? 0 : hyp.split(' ').length;
        expect(c.hits + c.substitutions + c.deletions).toBe(refWords);
        expect(c.hits + c.substitutions + c.insertions).toBe(hypWords);
        const distance = c.substitutions + c.deletions + c.insertions;
        // Same edit distance both ways round (only the S/D/I split may differ).
        const back = wordErrors(hyp, ref);
        expect(back.substitutions + back.deletions + back.insertions).toBe(distance);
        expect(distance === 0).toBe(ref === hyp);
        expect(distance).toBeGreaterThanOrEqual(Math.abs(refWords - hypWords));
      }),
      { seed: 20240611, numRuns: 300 },
    );
  });
});
