import { seededRandom } from '../../../../src/whisper/random.js';
import { describe, expect, it } from 'vitest';
import { VadActor, SILENCE_FLOOR_DBFS, type SpeechProbabilityModel } from '../../../../src/actors/vad/vad.js';
import type { VadEvent, VadMessage, VadOptions } from '../../../../src/actors/vad/vad.protocol.js';
import {
  AudioRingReader,
  AudioRingWriter,
  UtteranceArenaReader,
  UtteranceArenaWriter,
  createAudioRing,
  createUtteranceArena,
} from '../../../../src/shm/index.js';

const W = 512;
const OPTIONS: Partial<VadOptions> = {
  preRollMs: 64, // 2 windows
  postRollMs: 32, // 1 window
  minSpeechMs: 96, // 3 windows
  endpointSilenceMs: 160, // 5 windows
  maxUtteranceMs: 3200,
};

/**
 * A model that reads its answer from the audio: the script marks speech windows with a loud first
 * sample, so the probability follows the samples the actor actually read (and in which order).
 */
class ScriptedModel implements SpeechProbabilityModel {
  calls = 0;
  resets = 0;
  /** How many windows the model had seen at each reset. */
  readonly resetAt: number[] = [];
  closed = false;
  /** Windows per model run. */
  readonly runs: number[] = [];
  async probabilities(windows: Float32Array, count: number): Promise<Float32Array> {
    expect(windows.length).toBe(count * W);
    this.runs.push(count);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      this.calls++;
      out[i] = Math.abs(windows[i * W] ?? 0) >= 0.5 ? 0.9 : 0.05;
    }
    return out;
  }
  reset(): void {
    this.resets++;
    this.resetAt.push(this.calls);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * A model with state: a loud window after a quiet one (an onset) scores 0.9 within 16 windows of a
 * reset and 0.3 later, as if its recurrent state had gone stale; speech that goes on scores 0.9.
 * Windows scored without the reset that follows an utterance ending in silence would miss the
 * next utterance.
 */
class TiringModel implements SpeechProbabilityModel {
  calls = 0;
  readonly runs: number[] = [];
  #sinceReset = 0;
  #previousLoud = false;
  async probabilities(windows: Float32Array, count: number): Promise<Float32Array> {
    this.runs.push(count);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++, this.#sinceReset++) {
      this.calls++;
      const loud = Math.abs(windows[i * W] ?? 0) >= 0.5;
      out[i] = !loud ? 0.05 : this.#previousLoud || this.#sinceReset < 16 ? 0.9 : 0.3;
      this.#previousLoud = loud;
    }
    return out;
  }
  reset(): void {
    this.#sinceReset = 0;
    this.#previousLoud = false;
  }
  async close(): Promise<void> {}
}

/** Seeded, as the decoder's sampling is: deterministic noise and chunk sizes. */
const random = seededRandom;

/** Audio from a script: 'S' a speech window (first sample 0.8), '.' a quiet one; `tail` extra quiet samples. */
function audioFor(script: string, tail = 0, seed = 1): Float32Array {
  const rnd = random(seed);
  const audio = new Float32Array(script.length * W + tail);
  for (let i = 0; i < audio.length; i++) audio[i] = (rnd() - 0.5) * 0.02;
  [...script].forEach((c, k) => {
    if (c === 'S') audio[k * W] = 0.8;
  });
  return audio;
}

interface Harness {
  readonly actor: VadActor;
  readonly model: ScriptedModel;
  readonly messages: VadMessage[];
  readonly writer: AudioRingWriter;
  readonly arena: UtteranceArenaReader;
}

/** `maxRunWindows` 1: window at a time, so the model's count of windows scored is the stream position. */
function harness(progressEveryWindows = 4, ringCapacity = 4096, options: Partial<VadOptions> = OPTIONS, maxRunWindows?: number): Harness {
  const ring = createAudioRing(ringCapacity);
  const shared = createUtteranceArena(1 << 20);
  const messages: VadMessage[] = [];
  const model = new ScriptedModel();
  const arenaReader = new UtteranceArenaReader(shared);
  const actor = new VadActor({
    source: new AudioRingReader(ring),
    arena: new UtteranceArenaWriter(shared),
    model,
    options,
    progressEveryWindows,
    ...(maxRunWindows !== undefined ? { maxRunWindows } : {}),
    post: (m) => {
      // Every range an event names must already be readable when it is posted.
      if (m.type === 'vad' && (m.event.type === 'speechEnd' || m.event.type === 'misfire')) {
        expect(m.event.endSamples).toBeLessThanOrEqual(arenaReader.headSamples);
        arenaReader.read(m.event.startSamples, m.event.endSamples);
      }
      messages.push(m);
    },
  });
  return { actor, model, messages, writer: new AudioRingWriter(ring), arena: arenaReader };
}

/** Writes `audio` in seeded chunk sizes while the actor runs, then closes the ring. */
async function feed(writer: AudioRingWriter, audio: Float32Array, seed = 3): Promise<void> {
  const rnd = random(seed);
  let at = 0;
  while (at < audio.length) {
    const size = Math.min(audio.length - at, 1 + Math.floor(rnd() * 1500));
    expect(await writer.writeAll(audio.subarray(at, at + size), 5000)).toBe(true);
    at += size;
    // Let the reader run between chunks, as a real producer thread would.
    await new Promise((r) => setImmediate(r));
  }
}

const events = (messages: VadMessage[]): VadEvent[] =>
  messages.flatMap((m) => (m.type === 'vad' ? [m.event] : []));

describe('VadActor', () => {
  it('finds utterance boundaries, copies every sample to the arena in order, and ends when the ring closes', async () => {
    const script = '..........SSSSSS..........SSSSSSSS.........';
    const audio = audioFor(script);
    const h = harness(4, 4096, OPTIONS, 1);
    const running = h.actor.run();
    await feed(h.writer, audio);
    h.writer.close();
    await running;

    expect(events(h.messages)).toEqual([
      { type: 'speechStart', utteranceId: 1, startSamples: 8 * W },
      { type: 'pauseStart', utteranceId: 1, endSamples: 17 * W },
      { type: 'speechEnd', utteranceId: 1, startSamples: 8 * W, endSamples: 17 * W, reason: 'silence' },
      { type: 'speechStart', utteranceId: 2, startSamples: 24 * W },
      { type: 'pauseStart', utteranceId: 2, endSamples: 35 * W },
      { type: 'speechEnd', utteranceId: 2, startSamples: 24 * W, endSamples: 35 * W, reason: 'silence' },
    ]);
    expect(h.arena.headSamples).toBe(audio.length);
    expect(h.arena.read(0, audio.length)).toEqual(audio);
    expect(h.messages.at(-1)).toEqual({ type: 'ended', positionSamples: audio.length });
    expect(h.model.calls).toBe(script.length);
    // A fresh Silero state at the start and after each utterance that ended in silence: utterance 1
    // ends while window 20 is processed (5 quiet windows after its last speech window, 15), so
    // window 21 starts fresh; utterance 2 ends at window 38, so window 39 does.
    expect(h.model.resetAt).toEqual([0, 21, 39]);
    expect(h.actor.stats()).toMatchObject({ windows: script.length, positionSamples: audio.length, nonFiniteSamples: 0 });
  });

  it('scores a backlog in runs, and after an utterance ends mid-run scores the rest again from a fresh state: the same messages as window at a time', async () => {
    // Speech twice (the second after the first ended in silence), a misfire, speech past the
    // maximum length (split), then quiet and a partial last window.
    const script = `..SSSSSS........SSSSSS........SS.........${'S'.repeat(110)}........`;
    const audio = audioFor(script, 300, 5);
    const run = async (maxRunWindows: number): Promise<{ messages: VadMessage[]; model: TiringModel }> => {
      const ring = createAudioRing(audio.length + W);
      const messages: VadMessage[] = [];
      const model = new TiringModel();
      const actor = new VadActor({
        source: new AudioRingReader(ring),
        arena: new UtteranceArenaWriter(createUtteranceArena(1 << 20)),
        model,
        options: { ...OPTIONS, maxUtteranceMs: 3200 },
        maxRunWindows,
        post: (m) => messages.push(m),
      });
      // All of it in the ring before the actor reads: a backlog, as a request sent whole.
      expect(new AudioRingWriter(ring).write(audio)).toBe(audio.length);
      const running = actor.run();
      actor.flush();
      await running;
      return { messages, model };
    };
    const one = await run(1);
    const runs = await run(32);
    expect(runs.messages).toEqual(one.messages);
    const ends = events(one.messages).filter((e) => e.type === 'speechEnd' || e.type === 'misfire');
    expect(ends.map((e) => (e.type === 'speechEnd' ? e.reason : e.type))).toEqual(['silence', 'silence', 'misfire', 'max-length', 'silence']);
    expect(one.model.runs.every((n) => n === 1)).toBe(true);
    expect(runs.model.runs[0]).toBe(32);
    // Windows after each end in silence (and the misfire) were scored twice.
    expect(runs.model.calls).toBeGreaterThan(script.length + 1);
    expect(one.model.calls).toBe(script.length + 1);
  });

  it('starts Silero fresh after a misfire, and keeps its state across a split at the maximum length', async () => {
    // A 2-window blip (a misfire: under minSpeechMs), then speech longer than maxUtteranceMs (100 windows).
    const script = `.....SS........${'S'.repeat(110)}......`;
    const h = harness(4, 4096, { ...OPTIONS, maxUtteranceMs: 3200 }, 1);
    const running = h.actor.run();
    await feed(h.writer, audioFor(script));
    h.writer.close();
    await running;
    const ends = events(h.messages).filter((e) => e.type === 'speechEnd' || e.type === 'misfire');
    expect(ends.map((e) => (e.type === 'speechEnd' ? e.reason : e.type))).toEqual(['misfire', 'max-length', 'silence']);
    // The misfire (speech in windows 5–6) is decided in window 11, 5 quiet windows on: window 12
    // starts fresh. The split keeps the state (no reset between); the speech ends in silence in
    // window 129, so the last window, 130, starts fresh again.
    expect(h.model.resetAt).toEqual([0, 12, 130]);
  });

  it('posts progress every N windows with position, probability, level and utterance state', async () => {
    const script = '....SSSSSSSS....'; // 16 windows
    const audio = audioFor(script);
    const h = harness(4);
    const running = h.actor.run();
    await feed(h.writer, audio);
    h.writer.close();
    await running;
    const progress = h.messages.filter((m) => m.type === 'progress');
    // Four on the cadence, and one final report before `ended` (after the flush closed the
    // utterance, whose pause was still shorter than the endpoint at window 16).
    expect(progress.map((p) => p.positionSamples)).toEqual([4 * W, 8 * W, 12 * W, 16 * W, 16 * W]);
    expect(progress.map((p) => p.inUtterance)).toEqual([false, true, true, true, false]);
    expect(progress.map((p) => p.probability)).toEqual([0.05, 0.9, 0.9, 0.05, 0.05].map(Math.fround));
    for (const p of progress) {
      expect(p.levelDbfs).toBeGreaterThan(-60);
      expect(p.levelDbfs).toBeLessThan(0);
    }
  });

  it('zero-pads a partial last window for the model only: the arena and event offsets keep the real length', async () => {
    const script = '......SSSSSSSSSS'; // speech runs into the end of the input
    const tail = 200;
    const audio = audioFor(script, tail);
    audio[script.length * W] = 0.8; // the partial window is speech too
    const h = harness();
    const running = h.actor.run();
    await feed(h.writer, audio);
    h.actor.flush();
    await running;

    expect(h.model.calls).toBe(script.length + 1);
    expect(h.arena.headSamples).toBe(audio.length);
    expect(h.arena.read(0, audio.length)).toEqual(audio);
    const end = events(h.messages).at(-1);
    expect(end).toEqual({ type: 'speechEnd', utteranceId: 1, startSamples: 4 * W, endSamples: audio.length, reason: 'flush' });
    expect(h.messages.at(-1)).toEqual({ type: 'ended', positionSamples: audio.length });
  });

  it('cut() ends the utterance at exactly that position and keeps reading; external segmentation: one utterance per cut, its silent edges trimmed', async () => {
    const h = harness(4, 8192, { ...OPTIONS, segmentation: 'external' });
    const running = h.actor.run();
    // The actor posts `cut` once done: a handshake on its messages, not a delay.
    const cutAt = async (n: number): Promise<void> => {
      for (let spin = 0; spin < 10_000 && !h.messages.some((m) => m.type === 'cut' && m.positionSamples === n); spin++) {
        await new Promise((r) => setImmediate(r));
      }
      expect(h.messages).toContainEqual({ type: 'cut', positionSamples: n });
    };
    // Quiet windows are still one utterance: the client decided where it starts and ends. Its edges
    // outside speech (with pre-roll 2 windows, post-roll 1) are trimmed; with no speech it is whole.
    const a = audioFor('...SS..', 100, 1);
    const b = audioFor('....', 30, 2);
    await feed(h.writer, a);
    h.actor.cut(a.length);
    await cutAt(a.length);
    await feed(h.writer, b);
    h.actor.cut(a.length + b.length);
    await cutAt(a.length + b.length);
    h.actor.flush();
    await running;
    expect(events(h.messages)).toEqual([
      { type: 'speechStart', utteranceId: 1, startSamples: 0 },
      { type: 'speechEnd', utteranceId: 1, startSamples: W, endSamples: 6 * W, reason: 'flush' },
      { type: 'speechStart', utteranceId: 2, startSamples: a.length },
      { type: 'speechEnd', utteranceId: 2, startSamples: a.length, endSamples: a.length + b.length, reason: 'flush' },
    ]);
    expect(h.arena.read(0, a.length + b.length)).toEqual(new Float32Array([...a, ...b]));
    // Each cut's last partial window went to the model zero-padded; each cut reset Silero's state.
    expect(h.model.calls).toBe(13);
    expect(h.model.resets).toBe(3);
    expect(h.messages.at(-1)).toEqual({ type: 'ended', positionSamples: a.length + b.length });
  });

  it('a cut in VAD segmentation ends speech in progress as a flush would, and later speech opens a new utterance', async () => {
    const h = harness(4, 8192);
    const running = h.actor.run();
    const a = audioFor('..SSSSSS', 40, 3);
    await feed(h.writer, a);
    h.actor.cut(a.length);
    for (let spin = 0; spin < 10_000 && !h.messages.some((m) => m.type === 'cut'); spin++) await new Promise((r) => setImmediate(r));
    await feed(h.writer, audioFor('SSSSSS.......', 0, 4));
    h.writer.close();
    await running;
    expect(events(h.messages)).toEqual([
      { type: 'speechStart', utteranceId: 1, startSamples: 0 },
      // The partial window (40 quiet samples) opened a pause; the cut ended the utterance at its post-roll.
      { type: 'pauseStart', utteranceId: 1, endSamples: a.length },
      { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: a.length, reason: 'flush' },
      { type: 'speechStart', utteranceId: 2, startSamples: a.length },
      { type: 'pauseStart', utteranceId: 2, endSamples: a.length + 7 * W },
      { type: 'speechEnd', utteranceId: 2, startSamples: a.length, endSamples: a.length + 7 * W, reason: 'silence' },
    ]);
  });

  it('flush drains what the ring holds without waiting for the writer to close', async () => {
    const audio = audioFor('...SSSSSS', 37);
    const h = harness(4, 8192);
    // Written before run(): the flush must still see all of it.
    expect(h.writer.write(audio)).toBe(audio.length);
    const running = h.actor.run();
    h.actor.flush();
    await running;
    expect(h.arena.headSamples).toBe(audio.length);
    // The 37 quiet samples of the partial last window open a pause before the flush ends it.
    expect(events(h.messages).map((e) => e.type)).toEqual(['speechStart', 'pauseStart', 'speechEnd']);
    expect(h.messages.at(-1)).toEqual({ type: 'ended', positionSamples: audio.length });
  });

  it('a flush while waiting on an empty ring ends at once, and empty input ends with no event', async () => {
    const h = harness();
    const running = h.actor.run();
    await new Promise((r) => setImmediate(r));
    h.actor.flush();
    await running;
    expect(h.messages).toEqual([
      { type: 'progress', positionSamples: 0, probability: 0, levelDbfs: SILENCE_FLOOR_DBFS, inUtterance: false },
      { type: 'ended', positionSamples: 0 },
    ]);
  });

  it('stop() ends the loop without `ended`', async () => {
    const h = harness();
    const running = h.actor.run();
    h.writer.write(audioFor('SSSS'));
    await new Promise((r) => setTimeout(r, 5));
    h.actor.stop();
    await running;
    expect(h.messages.some((m) => m.type === 'ended')).toBe(false);
  });

  it('reports NaN samples with one coded error per bad stretch, treats them as silence, and loses no utterance', async () => {
    const script = '...SSSSSS.......SSSSSS.......';
    const audio = audioFor(script);
    audio.fill(Number.NaN, 12 * W + 5, 14 * W + 9); // between the two utterances, three windows touched
    const h = harness();
    const running = h.actor.run();
    await feed(h.writer, audio);
    h.writer.close();
    await running;
    const errors = h.messages.filter((m) => m.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ error: { code: 'STT_AUDIO_INVALID_SAMPLES' }, utteranceId: null });
    expect(events(h.messages).filter((e) => e.type === 'speechEnd')).toHaveLength(2);
    expect(h.actor.stats().nonFiniteSamples).toBe(2 * W + 4);
    const stored = h.arena.read(12 * W, 15 * W);
    expect(stored.every((x) => Number.isFinite(x))).toBe(true);
  });

  it('keeps up with a ring smaller than the input (backpressure, no loss)', async () => {
    const script = '..SSSSSSS....'.repeat(20);
    const audio = audioFor(script, 0, 9);
    const h = harness(4, 1024);
    const running = h.actor.run();
    await feed(h.writer, audio, 11);
    h.writer.close();
    await running;
    expect(h.arena.read(0, audio.length)).toEqual(audio);
    expect(events(h.messages).filter((e) => e.type === 'speechEnd')).toHaveLength(20);
  });

  it('rejects invalid options with a coded error', () => {
    const ring = createAudioRing(1024);
    const arena = createUtteranceArena(1024);
    expect(
      () =>
        new VadActor({
          source: new AudioRingReader(ring),
          arena: new UtteranceArenaWriter(arena),
          model: new ScriptedModel(),
          post: () => undefined,
          options: { positiveThreshold: 2 },
        }),
    ).toThrow(expect.objectContaining({ code: 'STT_INVALID_OPTION' }));
  });
});
