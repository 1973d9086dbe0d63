import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Whisper } from '../../../src/whisper/whisper.js';
import { BASE_MODEL, greedyOptions, readGolden, readGoldenMel } from './helpers.js';

const golden = readGolden().greedy;

/**
 * Clips whose first differing step is a near tie that flips with the CPU's int8 GEMM kernel. The
 * golden ids come from a CPU without VNNI, where MLAS's U8S8 kernel saturates int16 partial sums;
 * with AVX512-VNNI / AVX-VNNI the products are accumulated exactly and ORT's own raw logits (same
 * for every thread count and optimisation level) pick the other token. Without VNNI they must match.
 */
const VNNI_SENSITIVE = new Set([
  'fr_cmd_allume_le_rez_de_chaussee_a_80_pourcent',
  'fr_cmd_annuler',
  'en_cmd_set_bed_light_brightness_to_50_percent',
]);
const cpuHasVnni = (() => {
  try {
    return /\b(avx512_vnni|avx_vnni)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
})();

describe('greedy decoding against the reference implementation', () => {
  let whisper: Whisper;
  beforeAll(async () => {
    // The reference ids come from the exported int8 graphs, activations quantised per tensor.
    whisper = await Whisper.load(BASE_MODEL, { activationQuant: 'per-tensor' });
  });
  afterAll(async () => {
    await whisper.close();
  });

  it('covers the 12 golden clips', () => {
    expect(golden).toHaveLength(12);
  });

  const cases = golden.filter((g) => !(cpuHasVnni && VNNI_SENSITIVE.has(g.id))).map((g) => [g.id, g] as const);

  it('checks at least 9 clips on any CPU (all 12 without VNNI)', () => {
    expect(cases.length).toBe(cpuHasVnni ? 9 : 12);
  });

  it.each(cases)('%s: same token ids as the reference', async (_id, g) => {
    const s = whisper.tokenizer.specials;
    // The golden prompt is exactly the SOT sequence this decode builds.
    expect(g.prompt).toEqual([s.sot, s.languages.get(g.lang), s.transcribe, s.noTimestamps]);
    const audio = await whisper.encode(readGoldenMel(g.id));
    try {
      const result = await whisper.decode(audio, greedyOptions(whisper, g.lang));
      expect(result.tokens).toEqual(g.tokens);
      expect(result.text).toBe(g.text);
      expect(result.avgLogprob).toBeLessThan(0);
      expect(result.avgLogprob).toBeCloseTo(result.sumLogprob / (g.tokens.length + 1), 10);
      expect(result.noSpeechProb).toBeGreaterThanOrEqual(0);
      expect(result.noSpeechProb).toBeLessThan(0.5);
    } finally {
      whisper.release(audio);
    }
  });
});
