/**
 * The real VAD worker from dist/, fed by a ring this test writes (a corpus command clip with
 * silence around it): `ready` first, events in order with offsets inside the arena's range, and
 * `ended` after `flush`. Synchronised on messages only, never on sleeps.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { sileroModelPath } from '../../../dist/actors/vad/silero.js';
import { DEFAULT_VAD_OPTIONS, type VadCommand, type VadEvent, type VadMessage } from '../../../dist/actors/vad/vad.protocol.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { AudioRingWriter, UtteranceArenaReader, createAudioRing, createUtteranceArena } from '../../../dist/shm/index.js';
import { corpusPath, hasShared } from '../../helpers/paths.js';

const RATE = 16_000;
const CLIP = corpusPath('fr/fr_cmd_allume_la_chambre_a_80_pourcent.wav');
const workerUrl = new URL('../../../dist/workers/vad.worker.js', import.meta.url);

describe.skipIf(!hasShared())('VAD worker (real thread, real Silero)', () => {
  it('posts ready, then ordered events inside the arena, then ended after flush', async () => {
    const clip = (await loadAudioFile(CLIP)).samples;
    // One second of silence on each side, so the command is one utterance with a clear endpoint.
    const audio = new Float32Array(clip.length + 2 * RATE);
    audio.set(clip, RATE);

    const ring = createAudioRing(RATE / 2); // smaller than the input: backpressure is exercised
    const arena = createUtteranceArena(audio.length);
    const worker = new Worker(workerUrl);
    const messages: VadMessage[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: VadMessage) => {
        messages.push(m);
        if (m.type === 'ended') resolve();
        if (m.type === 'fatal') reject(new Error(m.error.message));
      });
      worker.on('error', reject);
    });
    try {
      const ready = once(worker, 'message') as Promise<[VadMessage]>;
      const start: VadCommand = { type: 'start', input: ring, arena, options: DEFAULT_VAD_OPTIONS, modelPath: sileroModelPath(), firstUtteranceId: 1 };
      worker.postMessage(start);
      const [first] = await ready;
      expect(first.type).toBe('ready');
      if (first.type === 'ready') {
        expect(first.info).toMatchObject({ model: 'silero-vad', windowSamples: 512 });
        expect(first.info['msPerWindow']).toBeGreaterThan(0);
        console.log(`VAD worker ready: ${JSON.stringify(first.info)}`);
      }

      const writer = new AudioRingWriter(ring);
      for (let at = 0; at < audio.length; at += 1600) {
        expect(await writer.writeAll(audio.subarray(at, Math.min(audio.length, at + 1600)), 20_000)).toBe(true);
      }
      // The ring stays open: `flush` alone must drain it and end the stream.
      worker.postMessage({ type: 'flush' } satisfies VadCommand);
      await ended;

      expect(messages.at(-1)).toEqual({ type: 'ended', positionSamples: audio.length });
      const arenaReader = new UtteranceArenaReader(arena);
      expect(arenaReader.headSamples).toBe(audio.length);
      expect(arenaReader.read(0, audio.length)).toEqual(audio);

      const events = messages.flatMap((m) => (m.type === 'vad' ? [m.event] : []));
      expect(events[0]?.type).toBe('speechStart');
      const speechEnds = events.filter((e) => e.type === 'speechEnd');
      expect(speechEnds).toHaveLength(1);
      const [utterance] = speechEnds;
      if (!utterance) throw new Error('no utterance');
      // The clip is inside the utterance, give or take the VAD's window and rolls.
      expect(utterance.startSamples).toBeGreaterThanOrEqual(0);
      expect(utterance.startSamples).toBeLessThan(RATE + 0.5 * clip.length);
      expect(utterance.endSamples).toBeGreaterThan(RATE + 0.5 * clip.length);
      expect(utterance.endSamples).toBeLessThanOrEqual(audio.length);

      // Progress positions never go back, and every event offset lies within what was read so far.
      let position = 0;
      for (const m of messages) {
        if (m.type === 'progress') {
          expect(m.positionSamples).toBeGreaterThanOrEqual(position);
          position = m.positionSamples;
        }
        if (m.type === 'vad' && 'endSamples' in m.event) expect(m.event.endSamples).toBeLessThanOrEqual(audio.length);
      }
      expect(messages.filter((m) => m.type === 'error' || m.type === 'fatal')).toEqual([]);

      const exited = once(worker, 'exit') as Promise<[number]>;
      worker.postMessage({ type: 'shutdown' } satisfies VadCommand);
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      await worker.terminate();
    }
  });

  it('splits continuous speech at the maximum length and says which utterances start mid-speech', async () => {
    // 20 s of read French, cut every 6 s at most: a cut made inside speech is followed by a
    // speechStart with startsMidSpeech (it crosses the thread as a plain field), and no other is.
    const audio = (await loadAudioFile(corpusPath('long/long_fr_sppas_b003_read_p8_p9.wav'))).samples.subarray(0, 20 * RATE);
    const options = { ...DEFAULT_VAD_OPTIONS, maxUtteranceMs: 6000 };
    const ring = createAudioRing(RATE);
    const arena = createUtteranceArena(audio.length);
    const worker = new Worker(workerUrl);
    const messages: VadMessage[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: VadMessage) => {
        messages.push(m);
        if (m.type === 'ended') resolve();
        if (m.type === 'fatal') reject(new Error(m.error.message));
      });
      worker.on('error', reject);
    });
    try {
      worker.postMessage({ type: 'start', input: ring, arena, options, modelPath: sileroModelPath(), firstUtteranceId: 1 } satisfies VadCommand);
      const writer = new AudioRingWriter(ring);
      for (let at = 0; at < audio.length; at += 1600) {
        expect(await writer.writeAll(audio.subarray(at, Math.min(audio.length, at + 1600)), 20_000)).toBe(true);
      }
      worker.postMessage({ type: 'flush' } satisfies VadCommand);
      await ended;

      const events = messages.flatMap((m) => (m.type === 'vad' ? [m.event] : []));
      let previousEnd: (VadEvent & { type: 'speechEnd' }) | null = null;
      let midSpeech = 0;
      for (const e of events) {
        if (e.type === 'speechEnd') previousEnd = e;
        if (e.type !== 'speechStart') continue;
        if (e.startsMidSpeech === true) {
          midSpeech++;
          // It starts where the utterance before it was cut, with no gap.
          expect(previousEnd).toMatchObject({ reason: 'max-length', endSamples: e.startSamples });
        } else {
          expect(e).toEqual({ type: 'speechStart', utteranceId: e.utteranceId, startSamples: e.startSamples });
        }
      }
      expect(midSpeech).toBeGreaterThan(0);
      expect(events.filter((e) => e.type === 'speechEnd' && e.reason === 'max-length').length).toBeGreaterThanOrEqual(midSpeech);
    } finally {
      await worker.terminate();
    }
  });

  it('a missing model file is fatal with a coded error', async () => {
    const worker = new Worker(workerUrl);
    try {
      const reply = once(worker, 'message') as Promise<[VadMessage]>;
      // Listen for the exit before anything can happen: the worker exits right after `fatal`.
      const exited = once(worker, 'exit') as Promise<[number]>;
      worker.postMessage({
        type: 'start',
        input: createAudioRing(1024),
        arena: createUtteranceArena(1024),
        options: DEFAULT_VAD_OPTIONS,
        modelPath: '/nonexistent/silero_vad.onnx',
        firstUtteranceId: 1,
      } satisfies VadCommand);
      const [message] = await reply;
      expect(message).toMatchObject({ type: 'fatal', error: { code: 'STT_MODEL_NOT_FOUND' } });
      const [code] = await exited;
      expect(code).toBe(1);
    } finally {
      await worker.terminate();
    }
  });
});
