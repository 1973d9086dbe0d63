import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadAudioFile } from '../../../src/audio/load.js';
import { appendOnlySelfAttentionCache } from '../../../src/onnx/kv-append.js';
import { constantReshapeTargets } from '../../../src/onnx/reshape-targets.js';
import { quantizeActivationsPerRow } from '../../../src/onnx/row-quant.js';
import { int8ProductsSaturate } from '../../../src/onnx/saturation-probe.js';
import { shiftWeightsToUint8 } from '../../../src/onnx/uint8-weights.js';
import { loadWhisperConfig } from '../../../src/whisper/config.js';
import { prepareWhisperGraphs } from '../../../src/whisper/graphs.js';
import { logMelSpectrogram, padOrTrimAudio } from '../../../src/whisper/mel.js';
import { WhisperOrt } from '../../../src/whisper/ort.js';
import { corpusPath, WHISPER_BASE_DIR } from '../../helpers/paths.js';
import { BASE_MODEL } from './helpers.js';

const OPEN = { device: { kind: 'cpu' as const }, strictDevice: false, intraOpThreads: 2, interOpThreads: 1 };

/**
 * The decoder rewritten to return only new self-attention rows (src/onnx/kv-append.ts), its cache
 * kept in src/whisper/kv-cache.ts, its Reshape targets made constant (src/onnx/reshape-targets.ts)
 * and that cache laid out sequence-major (src/onnx/kv-sequence-major.ts), against the same decoder as exported: a beam-shaped walk through a real French clip — first pass,
 * batch 1 → 4, forks, a beam dropped, 60 steps (past the cache's first capacity step and a
 * doubling) — must give bit-identical logits at every step.
 */
describe('whisper-base with the self-attention cache kept by the caller', () => {
  it('loads the rewritten decoder by default and decodes bit-identically to the graph as exported', async () => {
    const config = await loadWhisperConfig(WHISPER_BASE_DIR);
    const graphs = await prepareWhisperGraphs(BASE_MODEL, 'per-row', null, config.nFrames);
    const exported = quantizeActivationsPerRow(await readFile(BASE_MODEL.decoderPath), (input) => input === 'encoder_hidden_states');
    const appended = appendOnlySelfAttentionCache(exported.bytes, (input) => /^past_key_values\.\d+\.decoder\.(key|value)$/.test(input));
    expect(appended.appended).toBe(true);
    // The prepared decoder has the Reshape targets rewritten as well: the graph as exported computes them.
    expect(constantReshapeTargets(appended.bytes).rewritten).toBeGreaterThan(50);

    // Where this CPU's int8 products saturate the prepared graphs hold uint8 weights (graphs.ts step 8):
    // the graph as exported gets the same, so that only the cache rewrites differ between the two.
    const plainBytes = (await int8ProductsSaturate()) ? shiftWeightsToUint8(exported.bytes).bytes : exported.bytes;
    expect(graphs.saturationGuard.decoder).toBe((await int8ProductsSaturate()) ? 'uint8-weights' : 'none');
    const plain = await WhisperOrt.open(graphs.encoder, { path: BASE_MODEL.decoderPath, bytes: plainBytes }, OPEN);
    const kept = await WhisperOrt.open(graphs.encoder, graphs.decoder, OPEN);
    try {
      expect(plain.appendsKv).toBe(false);
      expect(kept.appendsKv).toBe(true);
      expect(plain.sequenceMajorKv).toBe(false);
      expect(kept.sequenceMajorKv).toBe(true);
      const audio = await loadAudioFile(corpusPath('fr/fr_fleurs_001.wav'));
      const { nMels, nFft, hopLength, sampleRate, nSamples, nFrames } = config;
      const mel = logMelSpectrogram(padOrTrimAudio(audio.samples, nSamples), { nMels, nFft, hopLength, sampleRate }).data;
      const s = config.specials;
      const prompt = [s.sot, s.languages.get('fr') as number, s.transcribe, s.noTimestamps];

      const walk = async (ort: WhisperOrt): Promise<Float32Array[]> => {
        const cross = await ort.encode(mel, nMels, nFrames, s.sot);
        const decoder = ort.decoder(cross);
        const seen: Float32Array[] = [];
        try {
          let logits = await decoder.start(prompt);
          seen.push(logits.slice(-logits.length / prompt.length));
          decoder.reorder(Int32Array.of(0, 0, 0, 0));
          let tokens = Int32Array.of(1, 2, 3, 4).map((t) => t + 400);
          for (let step = 0; step < 60; step++) {
            logits = await decoder.step(tokens);
            seen.push(logits.slice());
            const batch = tokens.length;
            const vocab = logits.length / batch;
            // Each beam's next token: its row's best text token (deterministic, distinct per row).
            const next = new Int32Array(batch);
            for (let b = 0; b < batch; b++) {
              let best = 0;
              for (let v = 1; v < s.eot; v++) if ((logits[b * vocab + v] as number) > (logits[b * vocab + best] as number)) best = v;
              next[b] = best;
            }
            if (step === 30) {
              decoder.reorder(Int32Array.of(2, 0, 1)); // a beam ends: batch 4 → 3
              tokens = Int32Array.of(next[2] as number, next[0] as number, next[1] as number);
            } else {
              // Beam 0 forks twice, the last beam dies: copies and a permutation.
              const sources = batch === 4 ? Int32Array.of(0, 0, step % 3, 1) : Int32Array.of(1, 0, 0);
              decoder.reorder(sources);
              tokens = sources.map((src) => next[src] as number);
            }
          }
        } finally {
          ort.releaseCross(cross);
        }
        return seen;
      };
      const reference = await walk(plain);
      const rewritten = await walk(kept);
      expect(rewritten.length).toBe(61);
      const mismatches = rewritten.map((logits, i) => {
        const ref = reference[i] as Float32Array;
        let differ = logits.length === ref.length ? 0 : Infinity;
        for (let j = 0; j < Math.min(logits.length, ref.length); j++) if (!Object.is(logits[j], ref[j])) differ++;
        return differ;
      });
      expect(mismatches).toEqual(reference.map(() => 0));
    } finally {
      await Promise.all([plain.close(), kept.close()]);
    }
  }, 120_000);
});
