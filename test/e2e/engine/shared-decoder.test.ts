/**
 * Two engines, one decode worker: the Wyoming server's shape. Each engine has its own capture, VAD,
 * post-process and supervisor; the model is loaded once. Both clients' commands are pushed at the
 * same time and each engine must get its own text (results routed by arena and job id), then a
 * crash of the shared worker while both have finals in flight must cost neither a final.
 * Skipped when the shared models are absent.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, createSharedDecoder, type Engine, type FinalEvent } from '../../../dist/index.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { normalizeFrench } from '../../../dist/eval/normalize-fr.js';
import { corpusPath, hasShared, WHISPER_BASE_DIR } from '../../helpers/paths.js';

const RATE = 16_000;

async function clipWithSilence(file: string): Promise<Float32Array> {
  const { samples } = await loadAudioFile(corpusPath(file));
  const out = new Float32Array(samples.length + RATE);
  out.set(samples, RATE / 2);
  return out;
}

/** Pushes the whole clip in 100 ms chunks, then flushes; resolves with the engine's finals. */
async function speak(engine: Engine, samples: Float32Array): Promise<FinalEvent[]> {
  const finals: FinalEvent[] = [];
  engine.on('final', (f) => finals.push(f));
  for (let at = 0; at < samples.length; at += RATE / 10) {
    expect(await engine.pushAudio(samples.subarray(at, at + RATE / 10), RATE)).toBe(true);
  }
  await engine.flush();
  return finals;
}

describe.skipIf(!hasShared())('shared decoder (one decode worker, two engines)', () => {
  it('routes each engine its own finals, and survives a crash of the shared worker with no final lost', async () => {
    const decoder = await createSharedDecoder({ modelDir: WHISPER_BASE_DIR, threads: 2 });
    try {
      const [allume, volets] = await Promise.all([
        clipWithSilence('fr/fr_cmd_allume_la_lumiere.wav'),
        clipWithSilence('fr/fr_cmd_ferme_tous_les_volets.wav'),
      ]);
      const open = (): Promise<Engine> => createEngine({ decoder, metricsIntervalMs: 0, partials: { enabled: false }, input: { kind: 'push' } });

      // Round 1: both at once.
      let [a, b] = await Promise.all([open(), open()]);
      expect(decoder.sessions).toBe(2);
      let [fa, fb] = await Promise.all([speak(a, allume), speak(b, volets)]);
      expect(fa.map((f) => normalizeFrench(f.text))).toEqual(['allume la lumière']);
      expect(fb.map((f) => normalizeFrench(f.text))).toEqual(['ferme tous les volets']);
      await Promise.all([a.close(), b.close()]);
      expect(decoder.sessions).toBe(0);

      // Round 2: the worker is killed as soon as A's final job is sent; both finals still come.
      [a, b] = await Promise.all([open(), open()]);
      let killed: Promise<void> | null = null;
      a.on('trace', (r) => {
        if (killed === null && r.kind === 'command' && r.actor === 'decode') killed = decoder.kill();
      });
      [fa, fb] = await Promise.all([speak(a, volets), speak(b, allume)]);
      expect(killed).not.toBeNull();
      await killed;
      expect(decoder.restarts).toBe(1);
      expect(a.metrics().restarts.decode).toBe(1);
      expect(a.metrics().replayedJobs + b.metrics().replayedJobs).toBeGreaterThanOrEqual(1);
      expect(fa.map((f) => normalizeFrench(f.text))).toEqual(['ferme tous les volets']);
      expect(fb.map((f) => normalizeFrench(f.text))).toEqual(['allume la lumière']);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await decoder.close();
    }
  });
});
