import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncodedAudio } from '../../../src/whisper/types.js';
import { Whisper } from '../../../src/whisper/whisper.js';
import { BASE_MODEL, greedyOptions, readGolden, readGoldenMel } from './helpers.js';

/** Mulberry32: a small seeded PRNG, enough for reproducible sampling. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const golden = readGolden().greedy;
const FRENCH = [
  { id: 'fr_cmd_allume_la_chambre_a_80_pourcent', words: ['allume', 'chambre', '80'] },
  { id: 'fr_cmd_allume_toutes_les_lumieres_dans_le_rez_de_chaussee', words: ['allume', 'toutes', 'lumières'] },
  { id: 'fr_cmd_combien_de_temps_reste_t_il', words: ['combien', 'temps'] },
];

describe('Whisper decoding on real clips (golden log-mel)', () => {
  let whisper: Whisper;
  const encoded = new Map<string, EncodedAudio>();
  const encodeMs: number[] = [];

  beforeAll(async () => {
    // Compared with the reference ids, which come from the int8 graphs as exported (activations per tensor).
    whisper = await Whisper.load(BASE_MODEL, { activationQuant: 'per-tensor' });
    for (const id of [...FRENCH.map((f) => f.id), 'en_cmd_add_apples_to_my_shopping_list']) {
      const started = performance.now();
      encoded.set(id, await whisper.encode(readGoldenMel(id)));
      encodeMs.push(performance.now() - started);
    }
  });
  afterAll(async () => {
    for (const audio of encoded.values()) whisper.release(audio);
    await whisper.close();
  });

  const audioOf = (id: string): EncodedAudio => {
    const audio = encoded.get(id);
    if (!audio) throw new Error(`not encoded: ${id}`);
    return audio;
  };

  it('detects French on a French clip and English on an English one', async () => {
    const fr = await whisper.detectLanguage(audioOf('fr_cmd_allume_la_chambre_a_80_pourcent'));
    expect(fr.language).toBe('fr');
    expect(fr.probability).toBeGreaterThan(0.5);
    expect(fr.candidates[0]?.language).toBe('fr');
    const en = await whisper.detectLanguage(audioOf('en_cmd_add_apples_to_my_shopping_list'));
    expect(en.language).toBe('en');
    const total = en.candidates.reduce((sum, c) => sum + c.probability, 0);
    expect(total).toBeLessThanOrEqual(1 + 1e-9);
  });

  it.each(FRENCH)('beam 5 on $id keeps the key words', async ({ id, words }) => {
    const started = performance.now();
    const result = await whisper.decode(audioOf(id), greedyOptions(whisper, 'fr', { beamSize: 5 }));
    const decodeMs = performance.now() - started;
    console.log(`beam5 ${id}: ${decodeMs.toFixed(0)} ms "${result.text}"`);
    const text = result.text.toLowerCase();
    for (const word of words) expect(text).toContain(word);
    expect(result.avgLogprob).toBeGreaterThan(-1);
    expect(result.tokens.at(-1)).not.toBe(whisper.tokenizer.specials.eot);
  });

  it.each(FRENCH)('beam 1 equals greedy and the golden ids on $id', async ({ id }) => {
    const started = performance.now();
    const greedy = await whisper.decode(audioOf(id), greedyOptions(whisper, 'fr'));
    console.log(`greedy ${id}: ${(performance.now() - started).toFixed(0)} ms, encode ${encodeMs.map((m) => m.toFixed(0)).join('/')} ms`);
    const beam1 = await whisper.decode(audioOf(id), greedyOptions(whisper, 'fr', { beamSize: 1, patience: 2 }));
    expect(beam1.tokens).toEqual(greedy.tokens);
    expect(greedy.tokens).toEqual(golden.find((g) => g.id === id)?.tokens);
  });

  it('samples reproducibly with a seeded generator, and the seed matters', async () => {
    const audio = audioOf('fr_cmd_combien_de_temps_reste_t_il');
    const run = (seed: number) =>
      whisper.decode(audio, greedyOptions(whisper, 'fr', { temperature: 1.0, bestOf: 3, random: seeded(seed) }));
    const a = await run(7);
    const b = await run(7);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.sumLogprob).toBe(a.sumLogprob);
    expect(a.temperature).toBe(1.0);
    const texts = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5]) texts.add((await run(seed)).text);
    // At temperature 1 the transcripts of different seeds are not all identical.
    expect(texts.size).toBeGreaterThan(1);
  });

  it('decodes with timestamps: starts with a timestamp ≤ 1 s, pairs and monotonic', async () => {
    const result = await whisper.decode(
      audioOf('fr_cmd_allume_la_chambre_a_80_pourcent'),
      greedyOptions(whisper, 'fr', { withoutTimestamps: false }),
    );
    const tok = whisper.tokenizer;
    const first = result.tokens[0];
    expect(first !== undefined && tok.isTimestamp(first)).toBe(true);
    expect(tok.timestampSeconds(first as number)).toBeLessThanOrEqual(1);
    const stamps = result.tokens.filter((t) => tok.isTimestamp(t));
    expect(stamps.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]).toBeGreaterThanOrEqual(stamps[i - 1] as number);
    expect(result.text.toLowerCase()).toContain('chambre');
  });

  it('uses a prompt and a prefix', async () => {
    const audio = audioOf('fr_cmd_allume_la_chambre_a_80_pourcent');
    const prefix = whisper.tokenizer.encode(' Allume');
    const withPrefix = await whisper.decode(audio, greedyOptions(whisper, 'fr', { prefixTokens: prefix }));
    // As in OpenAI, the forced prefix is not part of the returned tokens.
    expect(withPrefix.text.toLowerCase()).toContain('chambre');
    const prompt = whisper.tokenizer.encode(' Allume la chambre à 80 %.');
    const withPrompt = await whisper.decode(audio, greedyOptions(whisper, 'fr', { promptTokens: prompt }));
    expect(withPrompt.text.toLowerCase()).toContain('chambre');
    expect(withPrompt.noSpeechProb).toBeLessThan(0.5);
  });

  it('rejects bad options with coded errors', async () => {
    const audio = audioOf('fr_cmd_allume_la_chambre_a_80_pourcent');
    await expect(whisper.decode(audio, greedyOptions(whisper, 'xx'))).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    await expect(whisper.decode(audio, greedyOptions(whisper, 'fr', { temperature: 0.5 }))).rejects.toMatchObject({
      code: 'STT_INVALID_OPTION',
    });
    await expect(whisper.decode(audio, greedyOptions(whisper, 'fr', { beamSize: 0 }))).rejects.toMatchObject({
      code: 'STT_INVALID_OPTION',
    });
    await expect(whisper.encode(new Float32Array(10))).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
  });
});
