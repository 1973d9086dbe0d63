import { describe, expect, it } from 'vitest';

import { normalizeEnglish } from '../../../src/eval/normalize-en.js';
import { normalizeBasic, normalizeFor, normalizeRaw } from '../../../src/eval/normalize.js';

describe('normalizeEnglish: numbers', () => {
  it.each([
    ['twenty five', '25'],
    ['twenty-five', '25'],
    ['one hundred and five', '105'],
    ['a hundred', '100'],
    ['twelve hundred', '1200'],
    ['three thousand two hundred', '3200'],
    ['five million', '5000000'],
    ['5 million', '5000000'],
    ['1,000', '1000'],
    ['zero', '0'],
    ['nineteen', '19'],
  ])('%s → %s', (text, digits) => {
    expect(normalizeEnglish(text)).toBe(digits);
  });

  it('makes the corpus digit forms and spelled forms equal', () => {
    expect(normalizeEnglish('Set a timer for five minutes.')).toBe(normalizeEnglish('set a timer for 5 minutes'));
    expect(normalizeEnglish('set bed light brightness to fifty percent')).toBe('set bed light brightness to 50 percent');
    expect(normalizeEnglish('50%')).toBe('50 percent');
    expect(normalizeEnglish('50 per cent')).toBe('50 percent');
    expect(normalizeEnglish('I have a thousand thoughts')).toBe(normalizeEnglish('i have 1,000 thoughts'));
    expect(normalizeEnglish('They only played two movies')).toBe('they only played 2 movies');
  });

  it('keeps "one" and "a" as words outside a compound', () => {
    expect(normalizeEnglish('this one is the one')).toBe('this one is the one');
    expect(normalizeEnglish('a cat and a dog')).toBe('a cat and a dog');
    expect(normalizeEnglish('twenty one')).toBe('21');
  });

  it('keeps separate numbers separate and "and" outside numbers', () => {
    expect(normalizeEnglish('two three')).toBe('2 3');
    expect(normalizeEnglish('25 to 30')).toBe('25 to 30');
    expect(normalizeEnglish('five and six')).toBe('5 and 6');
    expect(normalizeEnglish('hundreds of thousands')).toBe('hundreds of thousands');
  });

  it('reads decimals with "point" without folding the scale into the fraction', () => {
    expect(normalizeEnglish('3.5 million')).toBe('3 point 5 million');
    expect(normalizeEnglish('one point five')).toBe('1 point 5');
  });
});

describe('normalizeEnglish: text', () => {
  it('lower-cases, strips punctuation and keeps contractions', () => {
    expect(normalizeEnglish('And so, my fellow Americans: ask not!')).toBe('and so my fellow americans ask not');
    expect(normalizeEnglish('What’s the temperature of the EcoBee?')).toBe("what's the temperature of the ecobee");
    expect(normalizeEnglish("I'd be grateful")).toBe("i'd be grateful");
  });

  it('splits hyphenated words', () => {
    expect(normalizeEnglish('the water-level')).toBe('the water level');
  });

  it('drops fillers by default and keeps them on request', () => {
    expect(normalizeEnglish('um this is uh yknow fine')).toBe('this is fine');
    expect(normalizeEnglish('um this is uh yknow fine', { removeFillers: false })).toBe('um this is uh yknow fine');
  });

  it('handles upper-case LibriSpeech style', () => {
    expect(normalizeEnglish('HE HOPED THERE WOULD BE STEW')).toBe('he hoped there would be stew');
  });
});

describe('normalizeFor / normalizeRaw / normalizeBasic', () => {
  it('routes en to the English rules and unknown languages to the basic fold', () => {
    expect(normalizeFor('en')('Twenty-five!')).toBe('25');
    expect(normalizeFor('de')('Zwanzig, Fünf!')).toBe('zwanzig fünf');
    expect(normalizeBasic('  Hello,   World ')).toBe('hello world');
  });

  it('raw normalisation only lower-cases and collapses whitespace', () => {
    expect(normalizeRaw('  Allume la  Chambre à 80% ! ')).toBe('allume la chambre à 80% !');
  });
});
