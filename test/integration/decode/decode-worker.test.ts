import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { DecodeJobSpec, DecodeMessage } from '../../../dist/actors/decode/decode.protocol.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { UtteranceArenaWriter, createUtteranceArena } from '../../../dist/shm/index.js';
import { decodeJob } from '../../helpers/decode-job.js';
import { WHISPER_BASE_DIR, corpusPath, hasShared } from '../../helpers/paths.js';

const WORKER_URL = new URL('../../../dist/workers/decode.worker.js', import.meta.url);

/** Messages from a worker, awaited one by one (no sleeps: each step waits for its message). */
function inbox(worker: Worker): (type: DecodeMessage['type']) => Promise<DecodeMessage> {
  const queue: DecodeMessage[] = [];
  const waiters: (() => void)[] = [];
  worker.on('message', (m: DecodeMessage) => {
    queue.push(m);
    waiters.shift()?.();
  });
  return async (type) => {
    for (;;) {
      const index = queue.findIndex((m) => m.type === type);
      if (index >= 0) return queue.splice(index, 1)[0] as DecodeMessage;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
}

/** Finals with the full temperature fallback, as the engine sends them. */
function job(jobId: number, kind: DecodeJobSpec['kind'], startSamples: number, endSamples: number): DecodeJobSpec {
  return decodeJob(jobId, kind, startSamples, endSamples, { temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1] });
}

/** A decode worker on `arena`, initialised with whisper-base on the CPU: its inbox, its exit, its ready message. */
async function startWorker(arena: ReturnType<typeof createUtteranceArena>) {
  const worker = new Worker(WORKER_URL);
  const next = inbox(worker);
  const exited = once(worker, 'exit');
  worker.postMessage({ type: 'init', model: { modelDir: WHISPER_BASE_DIR, intraOpThreads: 2 }, arena });
  const ready = await next('ready');
  return { worker, next, exited, ready };
}

describe.skipIf(!hasShared())('decode worker (real Whisper base, real arena)', () => {
  it('decodes a French command by arena offsets, reports a lost range, then shuts down cleanly', async () => {
    const audio = await loadAudioFile(corpusPath('fr/fr_cmd_allume_la_lumiere.wav'));
    // Silence before the command, so the job's offsets are not simply [0, n).
    const leadSamples = 8000;
    const shared = createUtteranceArena(leadSamples + audio.samples.length + 16_000);
    const writer = new UtteranceArenaWriter(shared);
    writer.append(new Float32Array(leadSamples));
    const start = writer.append(audio.samples);
    const end = start + audio.samples.length;

    const { worker, next, exited, ready } = await startWorker(shared);
    expect(ready).toMatchObject({ type: 'ready', info: { device: 'cpu' } });

    worker.postMessage({ type: 'job', job: job(1, 'partial', start, end) });
    worker.postMessage({ type: 'job', job: job(2, 'final', start, end) });
    worker.postMessage({ type: 'job', job: job(3, 'final', end, end + 64_000) }); // not written
    worker.postMessage({ type: 'shutdown' });

    const partial = await next('result');
    const final = await next('result');
    const failed = await next('jobFailed');
    for (const r of [partial, final]) {
      if (r.type !== 'result') throw new Error('expected a result');
      expect(r.language).toBe('fr');
      expect(r.text.toLowerCase()).toMatch(/allume la lumi[eè]re/u);
      expect(r.noSpeechProb).toBeLessThan(0.5);
      expect(r.avgLogprob).toBeGreaterThan(-1);
      expect(r.timings.encodeMs).toBeGreaterThan(0);
      expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.melMs + r.timings.encodeMs + r.timings.decodeMs);
    }
    expect([partial.type === 'result' && partial.kind, final.type === 'result' && final.kind]).toEqual(['partial', 'final']);
    expect(failed).toMatchObject({ jobId: 3, utteranceId: 3, error: { code: 'STT_SHM_RANGE_UNAVAILABLE' } });
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
  });

  it('cancels a waiting job at once and the running one after its encoder pass; the session decodes on', async () => {
    const audio = await loadAudioFile(corpusPath('fr/fr_fleurs_007.wav')); // 11.6 s: a long beam-5 decode
    const shared = createUtteranceArena(audio.samples.length + 16_000);
    const writer = new UtteranceArenaWriter(shared);
    const start = writer.append(audio.samples);
    const end = start + audio.samples.length;

    const { worker, next, exited } = await startWorker(shared);

    // The whole decode, for comparison.
    worker.postMessage({ type: 'job', job: job(1, 'final', start, end) });
    const whole = await next('result');
    if (whole.type !== 'result') throw new Error('expected a result');
    expect(whole.text.toLowerCase()).toContain('circulation');

    // The same job cancelled as soon as it started; a partial queued behind it cancelled while waiting.
    worker.postMessage({ type: 'job', job: job(2, 'final', start, end) });
    worker.postMessage({ type: 'job', job: job(3, 'partial', start, end) });
    worker.postMessage({ type: 'cancel', jobId: 3 });
    worker.postMessage({ type: 'cancel', jobId: 2 });
    worker.postMessage({ type: 'cancel', jobId: 1 }); // answered long ago: ignored
    const waiting = await next('jobCancelled');
    const running = await next('jobCancelled');
    expect(waiting).toEqual({ type: 'jobCancelled', jobId: 3, utteranceId: 3, kind: 'partial', ranMs: 0 });
    expect(running).toMatchObject({ type: 'jobCancelled', jobId: 2, utteranceId: 2, kind: 'final' });
    if (running.type !== 'jobCancelled') throw new Error('expected jobCancelled');
    // It stopped after its mel and encoder pass, well before the beam search was done.
    expect(running.ranMs).toBeGreaterThan(0);
    expect(running.ranMs).toBeLessThan(whole.timings.totalMs - whole.timings.decodeMs / 2);

    // The session is unharmed: the next job decodes the same text as before.
    worker.postMessage({ type: 'job', job: job(4, 'final', start, end) });
    worker.postMessage({ type: 'shutdown' });
    const again = await next('result');
    expect(again).toMatchObject({ jobId: 4, text: whole.text });
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
  });

  it('answers a bad init with fatal STT_MODEL_UNKNOWN and exits with code 1', async () => {
    const worker = new Worker(WORKER_URL);
    const next = inbox(worker);
    const exited = once(worker, 'exit');
    worker.postMessage({
      type: 'init',
      model: { model: 'no-such-whisper', allowDownload: false },
      arena: createUtteranceArena(16),
    });
    const fatal = await next('fatal');
    expect(fatal).toMatchObject({ type: 'fatal', error: { code: 'STT_MODEL_UNKNOWN' } });
    const [code] = (await exited) as [number];
    expect(code).toBe(1);
  });
});
