import { describe, expect, it } from 'vitest';
import { PostProcessor } from '../../../../src/actors/postprocess/postprocess.js';
import type { PostProcessInput, PostProcessOptions } from '../../../../src/actors/postprocess/postprocess.protocol.js';
import { collapseRepetitions } from '../../../../src/actors/postprocess/repetition.js';
import { frenchNumbersToDigits } from '../../../../src/actors/postprocess/numbers.js';
import { compressionRatio } from '../../../../src/whisper/compression.js';

function input(text: string, over: Partial<PostProcessInput> = {}): PostProcessInput {
  return {
    utteranceId: 7,
    kind: 'final',
    text,
    language: 'fr',
    avgLogprob: -0.3,
    noSpeechProb: 0.05,
    compressionRatio: compressionRatio(text),
    ...over,
  };
}

const run = (text: string, over: Partial<PostProcessInput> = {}, options: Partial<PostProcessOptions> = {}) =>
  new PostProcessor(options).process(input(text, over));

describe('PostProcessor guard', () => {
  it.each([
    ['', {}, 'empty'],
    ['   \n ', {}, 'empty'],
    ['Allume la lumière', { noSpeechProb: 0.8, avgLogprob: -1.3 }, 'no-speech'],
    // A loop of a phantom word collapses to the phantom itself.
    ['merci merci merci merci merci merci merci merci merci merci merci merci', { compressionRatio: 5 }, 'blocklisted'],
    ['Sous-titres réalisés par la communauté d’Amara.org', {}, 'blocklisted'],
    ["sous titres realises par la communaute d'amara org", {}, 'blocklisted'],
    ['Sous-titrage Société Radio-Canada', {}, 'blocklisted'],
    ["Sous-titrage ST' 501", {}, 'blocklisted'],
    ['Sous-titres par Jean Dupont', {}, 'blocklisted'],
    ["Merci d'avoir regardé cette vidéo !", {}, 'blocklisted'],
    ['Merci.', {}, 'blocklisted'],
    ['Abonnez-vous !', {}, 'blocklisted'],
    ['Thanks for watching!', { language: 'en' }, 'blocklisted'],
    ['Thank you.', { language: 'en' }, 'blocklisted'],
    ['you', { language: 'en' }, 'blocklisted'],
  ] as const)('%j → %s', (text, over, reason) => {
    const out = run(text, over);
    expect(out.rejected).toBe(reason);
    if (reason !== null) expect(out.text).toBe('');
    expect(out.utteranceId).toBe(7);
  });

  it('keeps confident speech even when the no-speech probability is high', () => {
    expect(run('Allume la lumière', { noSpeechProb: 0.8, avgLogprob: -0.4 }).rejected).toBeNull();
  });

  it('rejects a high compression ratio the collapse cannot fix', () => {
    const loop = 'la maison est bleue et la maison est verte et la maison est bleue et la maison est verte';
    expect(run(loop, { compressionRatio: 2.9 }).rejected).toBe('repetition');
  });

  it('rescues a loop that collapses to ordinary text', () => {
    const out = run('Allume la lumière merci merci merci merci merci merci merci merci merci', { compressionRatio: 3.1 });
    expect(out).toMatchObject({ rejected: null, text: 'Allume la lumière merci' });
    expect(out.corrections).toEqual([
      { rule: 'repetition-collapse', from: 'merci merci merci merci merci merci merci merci merci', to: 'merci' },
    ]);
  });

  it('strips a phantom phrase appended to real speech and reports it', () => {
    const out = run("Ferme les volets. Sous-titres réalisés par la communauté d'Amara.org");
    expect(out).toMatchObject({ rejected: null, text: 'Ferme les volets.' });
    expect(out.corrections).toEqual([
      { rule: 'blocklist', from: "Sous-titres réalisés par la communauté d'Amara.org", to: '' },
    ]);
    expect(run("Allume la lumière, merci d'avoir regardé").text).toBe('Allume la lumière');
  });

  it('keeps a polite trailing "merci" and phrases that only begin like a phantom', () => {
    expect(run('Allume la lumière, merci.').text).toBe('Allume la lumière, merci.');
    const partial = run('Merci de fermer', { kind: 'partial' });
    expect(partial).toMatchObject({ rejected: null, text: 'Merci de fermer', kind: 'partial' });
    expect(run('Sous-titres', { kind: 'partial' }).rejected).toBeNull();
  });

  it('adds extra blocklist phrases to the built-in ones', () => {
    expect(run('Bonne nuit les petits', {}, { extraBlocklist: ['bonne nuit les petits'] }).rejected).toBe('blocklisted');
    expect(run('Bonne nuit les petits').rejected).toBeNull();
  });
});

describe('repetition collapse', () => {
  it.each([
    ['oui oui oui', 'oui'],
    ['non non', 'non non'],
    ['je sais pas je sais pas je sais pas', 'je sais pas'],
    ['Merci, merci, merci.', 'Merci.'],
    ['a b c d a b c d a b c d fin', 'a b c d fin'],
    ['a a a b a a a b a a a b', 'a b'],
    ['un deux trois quatre cinq', 'un deux trois quatre cinq'],
  ])('%j → %j', (text, expected) => {
    expect(collapseRepetitions(text).text).toBe(expected);
  });
});

describe('lexicon', () => {
  const lexicon = [
    { from: 'super whispers', to: 'SuperWhisper' },
    { from: 'home assistant', to: 'Home Assistant' },
  ];
  it('applies rules case-insensitively on word boundaries and reports each one', () => {
    const out = run('Lance Super  Whispers puis super whispers, et home assistant.', {}, { lexicon });
    expect(out.text).toBe('Lance SuperWhisper puis SuperWhisper, et Home Assistant.');
    expect(out.corrections).toEqual([
      { rule: 'lexicon', from: 'Super  Whispers', to: 'SuperWhisper' },
      { rule: 'lexicon', from: 'super whispers', to: 'SuperWhisper' },
      { rule: 'lexicon', from: 'home assistant', to: 'Home Assistant' },
    ]);
  });
  it('does not match inside a longer word, nor report what is already right', () => {
    const out = run('Les hypersuper whispersé et Home Assistant', {}, { lexicon });
    expect(out.text).toBe('Les hypersuper whispersé et Home Assistant');
    expect(out.corrections).toEqual([]);
  });
  it('rejects a rule without "from" with a coded error', () => {
    expect(() => new PostProcessor({ lexicon: [{ from: ' ', to: 'x' }] })).toThrow(
      expect.objectContaining({ code: 'STT_INVALID_OPTION' }),
    );
  });
});

describe('French numbers', () => {
  it.each([
    ['Règle le chauffage sur vingt et un degrés.', 'Règle le chauffage sur 21 degrés.'],
    ['Il en reste quatre-vingt-dix-sept.', 'Il en reste 97.'],
    ['Nous sommes en deux mille vingt-six', 'Nous sommes en 2026'],
    ['Mets le volume à cinquante pour cent', 'Mets le volume à 50 %'],
    ['Allume une lampe et un ventilateur', 'Allume une lampe et un ventilateur'],
    ["L'un des deux", "L'un des 2"],
    ['Trois, quatre et cinq.', '3, 4 et 5.'],
    ['Cent pour cent', '100 %'],
    ['Un café et deux croissants.', 'Un café et 2 croissants.'],
    ['trois virgule cinq pour cent', '3,5 %'],
    ['un virgule deux', '1,2'],
    ['un million de personnes', '1000000 de personnes'],
  ])('%j → %j', (text, expected) => {
    expect(run(text, {}, { frenchNumbers: true }).text).toBe(expected);
  });

  it('reports each replacement', () => {
    expect(frenchNumbersToDigits('Vingt et un, puis cinquante pour cent').replacements).toEqual([
      { from: 'Vingt et un', to: '21' },
      { from: 'cinquante pour cent', to: '50 %' },
    ]);
  });

  it('is off by default and for other languages', () => {
    expect(run('vingt et un degrés').text).toBe('vingt et un degrés');
    expect(run('vingt et un', { language: 'en' }, { frenchNumbers: true }).text).toBe('vingt et un');
  });
});
