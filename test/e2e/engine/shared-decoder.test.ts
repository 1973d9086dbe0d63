/**
 * Two engines, one decode worker: the Wyoming server's shape. Each engine has its own capture, VAD,
 * post-process and supervisor; the model is loaded once. Both clients' commands are pushed at the
 * same time and each engine must get its own text (results routed by arena and job id), then a
 * crash of the shared worker while a final is in flight must cost neither engine a final.
 * Skipped when the shared models are absent.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, createSharedDecoder, type Engine, type FinalEvent } from '../../../dist/index.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import type { DecodeJobSpec, DecodeMessage } from '../../../dist/actors/decode/decode.protocol.js';
import type { PortEvent } from '../../../dist/engine/worker-bridge.js';
import { UtteranceArenaWriter, createUtteranceArena } from '../../../dist/shm/index.js';
import { normalizeFrench } from '../../../dist/eval/normalize-fr.js';
import { errorRate, wordErrors } from '../../../dist/eval/wer.js';
import { int8ProductsSaturate } from '../../../dist/onnx/saturation-probe.js';
import { decodeJob } from '../../helpers/decode-job.js';
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

const ALLUME = 'allume la lumière';
const VOLETS = 'ferme tous les volets';

/**
 * One final, close to its own clip's words and far from the other engine's. "ferme"/"fermes" and
 * "volets"/"volés" sound the same, so the spelling the numerics pick may cost up to half the words;
 * a final routed to the wrong engine shares no word with its reference.
 */
function expectOwnFinal(finals: readonly { text: string }[], own: string, other: string): void {
  expect(finals).toHaveLength(1);
  const text = normalizeFrench(finals[0]?.text ?? '');
  expect(errorRate(wordErrors(normalizeFrench(own), text))).toBeLessThanOrEqual(0.5);
  expect(errorRate(wordErrors(normalizeFrench(other), text))).toBeGreaterThanOrEqual(0.75);
}

describe.skipIf(!hasShared())('shared decoder (one decode worker, two engines)', () => {
  it('routes each engine its own finals, and survives a crash of the shared worker with no final lost', async () => {
    const decoder = await createSharedDecoder({ modelDir: WHISPER_BASE_DIR, threads: 2 });
    try {
      // Warmed up before ready (the default): one encode and two short decodes took some time.
      expect(decoder.info['warmUpMs']).toBeGreaterThan(0);
      // The worker says how its integer MatMuls are kept exact (where this CPU's int8 products saturate).
      const saturates = await int8ProductsSaturate();
      expect(decoder.info['encoderSaturationGuard']).toBe(saturates ? '7-bit-activations' : 'none');
      expect(decoder.info['decoderSaturationGuard']).toBe(saturates ? 'uint8-weights' : 'none');
      const [allume, volets] = await Promise.all([
        clipWithSilence('fr/fr_cmd_allume_la_lumiere.wav'),
        clipWithSilence('fr/fr_cmd_ferme_tous_les_volets.wav'),
      ]);
      const open = (): Promise<Engine> => createEngine({ decoder, metricsIntervalMs: 0, partials: { enabled: false }, input: { kind: 'push' } });

      // Round 1: both at once.
      let [a, b] = await Promise.all([open(), open()]);
      expect(decoder.sessions).toBe(2);
      let [fa, fb] = await Promise.all([speak(a, allume), speak(b, volets)]);
      expectOwnFinal(fa, ALLUME, VOLETS);
      expectOwnFinal(fb, VOLETS, ALLUME);
      await Promise.all([a.close(), b.close()]);
      expect(decoder.sessions).toBe(0);

      // Round 2: the worker is killed as soon as B's first decode job is sent; both finals still come.
      // The kill is B's, not A's: "allume la lumière" is one utterance whose speculative final (sent
      // at the endpoint pause) becomes the final, so it is still in flight when the worker dies and is
      // replayed. A's "ferme tous les volets" pauses mid-sentence: its first job is voided when speech
      // resumes, and a job being cancelled at a crash is redone, not replayed (decode-dispatcher.ts).
      [a, b] = await Promise.all([open(), open()]);
      let killed: Promise<void> | null = null;
      b.on('trace', (r) => {
        if (killed === null && r.kind === 'command' && r.actor === 'decode') killed = decoder.kill();
      });
      [fa, fb] = await Promise.all([speak(a, volets), speak(b, allume)]);
      expect(killed).not.toBeNull();
      await killed;
      expect(decoder.restarts).toBe(1);
      // The restarted worker went straight to the replayed jobs, without a warm-up.
      expect(decoder.info['warmUpMs']).toBeNull();
      expect(a.metrics().restarts.decode).toBe(1);
      expect(a.metrics().replayedJobs + b.metrics().replayedJobs).toBeGreaterThanOrEqual(1);
      expectOwnFinal(fa, VOLETS, ALLUME);
      expectOwnFinal(fb, ALLUME, VOLETS);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await decoder.close();
    }
  });

  it('routes a cancel to the job of the engine that sent it, though job ids repeat across engines', async () => {
    // Without the warm-up: a cold worker serves jobs too.
    const decoder = await createSharedDecoder({ modelDir: WHISPER_BASE_DIR, threads: 2, warmUp: false });
    try {
      expect(decoder.info['warmUpMs']).toBeNull();
      const { samples } = await loadAudioFile(corpusPath('fr/fr_fleurs_007.wav'));
      const sessions = [0, 1].map(() => {
        const shared = createUtteranceArena(samples.length);
        new UtteranceArenaWriter(shared).append(samples);
        const port = decoder.session(shared);
        const inbox: DecodeMessage[] = [];
        let wake: (() => void) | null = null;
        port.subscribe((e: PortEvent<DecodeMessage>) => {
          if (e.type !== 'message') return;
          inbox.push(e.message);
          wake?.();
        });
        const next = async (): Promise<DecodeMessage> => {
          while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          return inbox.shift() as DecodeMessage;
        };
        return { port, inbox, next };
      });
      const [a, b] = sessions as [(typeof sessions)[0], (typeof sessions)[0]];
      await Promise.all([a.port.start(), b.port.start()]);
      const job = (jobId: number, kind: DecodeJobSpec['kind']): DecodeJobSpec => decodeJob(jobId, kind, 0, samples.length);
      // Both engines call their job 1: A's is decoded first, B's waits behind it.
      a.port.send({ type: 'job', job: job(1, 'final') });
      b.port.send({ type: 'job', job: job(1, 'partial') });
      b.port.send({ type: 'cancel', jobId: 1 });
      expect(await b.next()).toEqual({ type: 'jobCancelled', jobId: 1, utteranceId: 1, kind: 'partial', ranMs: 0 });
      expect(a.inbox).toHaveLength(0); // A's job 1 was not touched
      a.port.send({ type: 'cancel', jobId: 1 });
      expect(await a.next()).toMatchObject({ type: 'jobCancelled', jobId: 1, kind: 'final' });
      // Both go on decoding.
      a.port.send({ type: 'job', job: job(2, 'partial') });
      b.port.send({ type: 'job', job: job(2, 'partial') });
      const [ra, rb] = await Promise.all([a.next(), b.next()]);
      expect(ra).toMatchObject({ type: 'result', jobId: 2 });
      expect(rb).toMatchObject({ type: 'result', jobId: 2 });
      if (ra.type !== 'result' || rb.type !== 'result') throw new Error('expected results');
      expect(normalizeFrench(ra.text)).toContain('circulation');
      expect(rb.text).toBe(ra.text);
      await Promise.all([a.port.close(), b.port.close()]);
    } finally {
      await decoder.close();
    }
  });
});
