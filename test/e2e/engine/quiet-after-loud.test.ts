/**
 * A quiet speaker right after a loud one (the stream benchmark's fr_fleurs_000, −62 dBFS, after a
 * command at −20 dBFS and 2.5 s of −60 dBFS noise). With Silero's recurrent state carried over from
 * the loud utterance, its speech probability never passed 0.34 and the whole clip was lost without
 * an utterance; the VAD now starts Silero fresh after each utterance that ends in silence. Skipped
 * when the shared models are absent.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, type FinalEvent } from '../../../dist/index.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { normalizeFrench } from '../../../dist/eval/normalize-fr.js';
import { seededRandom } from '../../../dist/whisper/random.js';
import { corpusPath, hasShared, WHISPER_BASE_DIR } from '../../helpers/paths.js';

const RATE = 16_000;

/** White Gaussian noise at -60 dBFS RMS, seeded. */
function noise(seconds: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) {
    const u = Math.max(random(), 1e-12);
    out[i] = 0.001 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return out;
}

describe.skipIf(!hasShared())('a quiet speaker after a loud one (real workers, real model)', () => {
  it('finds and transcribes the quiet clip', async () => {
    const engine = await createEngine({
      modelDir: WHISPER_BASE_DIR,
      language: 'fr',
      beamSize: 1,
      metricsIntervalMs: 0,
      partials: { enabled: false },
      input: { kind: 'push' },
    });
    const finals: FinalEvent[] = [];
    engine.on('final', (f) => finals.push(f));
    try {
      const loud = (await loadAudioFile(corpusPath('fr/fr_cmd_supprime_tous_les_minuteurs.wav'))).samples;
      const quiet = (await loadAudioFile(corpusPath('fr/fr_fleurs_000.wav'))).samples;
      for (const part of [noise(1, 1), loud, noise(2.5, 2), quiet, noise(2.5, 3)]) {
        for (let at = 0; at < part.length; at += RATE / 10) expect(await engine.pushAudio(part.subarray(at, at + RATE / 10), RATE)).toBe(true);
      }
      await engine.flush();
    } finally {
      await engine.close();
    }
    const quietStartMs = ((RATE + 41_920 + 2.5 * RATE) / RATE) * 1000;
    const text = normalizeFrench(finals.filter((f) => f.startMs >= quietStartMs - 500).map((f) => f.text).join(' '));
    // Its start and its end are found. (At this level, 5–10 dB over the noise, the VAD still splits the
    // sentence in two and may lose a word at the split: "montagneux" here.)
    for (const word of ['accident', 'terrain', 'malveillant']) expect(text).toContain(word);
  }, 120_000);
});
