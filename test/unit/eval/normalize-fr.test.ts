import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { frenchWordsToDigits } from '../../../src/eval/french-numbers.js';
import { normalizeFrench } from '../../../src/eval/normalize-fr.js';
import { normalizeFor } from '../../../src/eval/normalize.js';
import { corpusPath } from '../../helpers/paths.js';

describe('normalizeFrench: numbers to digits', () => {
  it.each([
    ['quatre-vingts', '80'],
    ['quatre vingt', '80'],
    ['dix-sept', '17'],
    ['vingt et un', '21'],
    ['trente-et-une', '31'],
    ['deux cent trente', '230'],
    ['deux cents', '200'],
    ['mille neuf cent quatre-vingt-neuf', '1989'],
    ['cent', '100'],
    ['cent un', '101'],
    ['soixante et onze', '71'],
    ['soixante-dix-sept', '77'],
    ['quatre-vingt-onze', '91'],
    ['quatre-vingt-un', '81'],
    ['quatre-vingt-dix-sept', '97'],
    ['septante-cinq', '75'],
    ['trois mille', '3000'],
    ['mille', '1000'],
    ['deux millions trois cent mille', '2300000'],
    ['un million', '1000000'],
    ['2 millions', '2000000'],
    ['zéro', '0'],
    ['10 000', '10000'],
    ['10\u202f000', '10000'],
  ])('%s → %s', (text, digits) => {
    expect(normalizeFrench(text)).toBe(digits);
  });

  it('keeps a run of separate numbers separate', () => {
    expect(normalizeFrench('deux trois fois')).toBe('2 3 fois');
    expect(normalizeFrench('vingt dix')).toBe('20 10');
    expect(normalizeFrench('six sept huit')).toBe('6 7 8');
  });

  it('compares the spelled and digit forms of the corpus numbers equal', () => {
    expect(normalizeFrench('minuteur dix minutes')).toBe(normalizeFrench('minuteur 10 minutes'));
    expect(normalizeFrench('minuteur vingt secondes')).toBe(normalizeFrench('minuteur 20 secondes'));
    expect(normalizeFrench('le 6 mars mille neuf cent quatre-vingt-neuf')).toBe('le 6 mars 1989');
    expect(normalizeFrench('stature trente six')).toBe('stature 36');
  });

  it('reads ordinals in digit form', () => {
    expect(normalizeFrench('le troisième étage')).toBe('le 3e étage');
    expect(normalizeFrench('le 3ème étage')).toBe('le 3e étage');
    expect(normalizeFrench('le 3e étage')).toBe('le 3e étage');
    expect(normalizeFrench('le vingt et unième siècle')).toBe('le 21e siècle');
    expect(normalizeFrench('le 1er étage')).toBe('le premier étage');
    expect(normalizeFrench('la 1ère fois')).toBe('la première fois');
  });

  it('reads decimals with "virgule"', () => {
    expect(normalizeFrench('1,5 litre')).toBe('1 virgule 5 litre');
    expect(normalizeFrench('un virgule cinq litre')).toBe('1 virgule 5 litre');
  });
});

describe('normalizeFrench: "un" / "une" as articles', () => {
  it('keeps a lone un / une as a word', () => {
    expect(normalizeFrench('un homme et une femme')).toBe('un homme et une femme');
    expect(normalizeFrench("il a trouvé un appart d'un coup")).toBe("il a trouvé un appart d'un coup");
    expect(normalizeFrench('une série de casseroles')).toBe('une série de casseroles');
  });

  it('converts un / une only inside a compound number', () => {
    expect(normalizeFrench('vingt et une heures')).toBe('21 heures');
    expect(normalizeFrench('cent une pages')).toBe('101 pages');
    expect(normalizeFrench('un million de personnes')).toBe('1000000 de personnes');
  });

  it('does not merge an article after a number', () => {
    expect(normalizeFrench('deux un')).toBe('2 un');
    expect(normalizeFrench('vingt ans un homme')).toBe('20 ans un homme');
  });

  it('keeps "et" when no compound follows', () => {
    expect(normalizeFrench('vingt et trente')).toBe('20 et 30');
    expect(normalizeFrench('et un chat')).toBe('et un chat');
  });
});

describe('normalizeFrench: percent', () => {
  it('makes 80%, 80 %, 80 pourcent, 80 pour cent and quatre-vingts pour cent equal', () => {
    const expected = 'à 80 pour cent';
    for (const t of ['à 80%', 'à 80 %', 'à 80\u00a0%', 'à 80 pourcent', 'à 80 pour cent', 'à quatre-vingts pour cent']) {
      expect(normalizeFrench(t)).toBe(expected);
    }
  });

  it('reads "cent pour cent" as 100 pour cent', () => {
    expect(normalizeFrench('avec cent pour cent de certitude')).toBe('avec 100 pour cent de certitude');
    expect(normalizeFrench('avec 100% de certitude')).toBe('avec 100 pour cent de certitude');
  });
});

describe('normalizeFrench: spelling and punctuation', () => {
  it('lower-cases and keeps accents', () => {
    expect(normalizeFrench('Éteins LA Lumière')).toBe('éteins la lumière');
    expect(normalizeFrench('ça a changé')).toBe('ça a changé');
    expect(normalizeFrench('où ou')).toBe('où ou');
  });

  it('folds typographic apostrophes and keeps elisions attached', () => {
    expect(normalizeFrench('L’été')).toBe("l'été");
    expect(normalizeFrench("l'été")).toBe("l'été");
    expect(normalizeFrench('aujourd’hui c’est')).toBe("aujourd'hui c'est");
  });

  it('drops quote-mark apostrophes that are not elisions', () => {
    expect(normalizeFrench("il a dit 'bonjour'")).toBe('il a dit bonjour');
  });

  it('splits hyphenated words', () => {
    expect(normalizeFrench('rez-de-chaussée')).toBe('rez de chaussée');
    expect(normalizeFrench('combien de temps reste-t-il ?')).toBe('combien de temps reste t il');
    expect(normalizeFrench('États-Unis')).toBe('états unis');
  });

  it('strips punctuation, guillemets and dashes', () => {
    expect(normalizeFrench('« Bonjour », dit-il… Puis : « non ! » — fin; ok? oui.')).toBe(
      'bonjour dit il puis non fin ok oui',
    );
    expect(normalizeFrench('le match – 6-6 – nul')).toBe('le match 6 6 nul');
  });

  it('spells ligatures out', () => {
    expect(normalizeFrench('Un œuf, un cœur, ex æquo')).toBe('un oeuf un coeur ex aequo');
    expect(normalizeFrench('un oeuf')).toBe(normalizeFrench('un œuf'));
  });

  it('applies Unicode compatibility folding and composes accents', () => {
    // "e" + combining acute (NFD) equals the precomposed "é"; the "ﬁ" ligature becomes "fi".
    expect(normalizeFrench('e\u0301te\u0301')).toBe('été');
    expect(normalizeFrench('ﬁn')).toBe('fin');
  });

  it('returns an empty string for empty or punctuation-only text', () => {
    expect(normalizeFrench('')).toBe('');
    expect(normalizeFrench(' … !? ')).toBe('');
  });
});

describe('normalizeFrench: fillers', () => {
  it('drops fillers by default', () => {
    expect(normalizeFrench('oui ben oui euh donc')).toBe('oui oui donc');
    expect(normalizeFrench('Euh… hum, voilà')).toBe('voilà');
  });

  it('keeps them with removeFillers: false', () => {
    expect(normalizeFrench('oui ben oui euh donc', { removeFillers: false })).toBe('oui ben oui euh donc');
  });
});

describe('frenchWordsToDigits', () => {
  it('passes non-number tokens through unchanged', () => {
    expect(frenchWordsToDigits(['allume', 'la', 'lumière'])).toEqual(['allume', 'la', 'lumière']);
  });

  it('keeps a lone "million" (a noun) and digits followed by nothing', () => {
    expect(frenchWordsToDigits(['des', 'millions', 'de', 'gens'])).toEqual(['des', 'millions', 'de', 'gens']);
    expect(frenchWordsToDigits(['007'])).toEqual(['007']);
  });
});

describe('normalizeFrench on the corpus references', () => {
  const entries = readFileSync(corpusPath('manifest.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { id: string; lang: string; text: string });
  const french = entries.filter((e) => e.lang === 'fr');

  it('is idempotent on every French reference', () => {
    expect(french.length).toBeGreaterThan(20);
    for (const e of french) {
      const once = normalizeFrench(e.text);
      expect(normalizeFrench(once), e.id).toBe(once);
    }
  });

  it('leaves no upper case, punctuation or % in any French reference', () => {
    for (const e of french) expect(normalizeFrench(e.text), e.id).toMatch(/^[\p{Ll}\p{N}' ]*$/u);
  });

  it('matches the reference of a command written with % to its spelled form', () => {
    const clip = french.find((e) => e.id === 'fr_cmd_allume_la_chambre_a_80_pourcent');
    expect(clip).toBeDefined();
    expect(normalizeFrench(clip?.text ?? '')).toBe(normalizeFrench('Allume la chambre à quatre-vingts pour cent.'));
  });

  it('normalizeFor picks the French rules for fr and fr-CA', () => {
    expect(normalizeFor('fr')('Dix-sept.')).toBe('17');
    expect(normalizeFor('fr-CA')('Dix-sept.')).toBe('17');
  });
});
