import { describe, expect, it } from 'vitest';
import { CaptureActor, type CaptureClock, type CaptureRing } from '../../../../src/actors/capture/capture.js';
import type { CaptureMessage, CaptureSource } from '../../../../src/actors/capture/capture.protocol.js';
import { pickDevice } from '../../../../src/actors/capture/microphone.js';
import type { OpenedSource, SourceChunk } from '../../../../src/actors/capture/source.js';
import { AudioRingReader, AudioRingWriter, createAudioRing } from '../../../../src/shm/audio-ring.js';
import { NotAudioError } from '../../../../src/errors.js';

/** A clock that only moves when the actor sleeps (or a test says so). */
class FakeClock implements CaptureClock {
  now = 1_000_000;
  sleeps: number[] = [];
  nowMs(): number {
    return this.now;
  }
  sleepMs(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.now += ms;
    return Promise.resolve();
  }
}

/** 16 kHz mono chunks of `frames` samples numbered in order, then optionally a failure. */
function scripted(opts: {
  chunks: number;
  frames: number;
  live?: boolean;
  realtime?: boolean;
  failAfter?: Error;
  onRead?: (index: number) => void;
}): OpenedSource {
  let index = 0;
  let next = 0;
  return {
    description: 'scripted',
    sampleRate: 16_000,
    channels: 1,
    live: opts.live ?? false,
    realtime: opts.realtime ?? false,
    read(): Promise<SourceChunk | null> {
      opts.onRead?.(index);
      if (index >= opts.chunks) return opts.failAfter ? Promise.reject(opts.failAfter) : Promise.resolve(null);
      index++;
      const samples = new Float32Array(opts.frames);
      for (let i = 0; i < opts.frames; i++) samples[i] = (next++ % 1000) / 1000;
      return Promise.resolve({ samples, layout: 'interleaved', frames: opts.frames });
    },
    close: () => Promise.resolve(),
  };
}

const FILE: CaptureSource = { kind: 'file', path: 'x.wav', realtime: false };

function setup(source: OpenedSource | Error, capacity = 1 << 20, clock = new FakeClock()) {
  const shared = createAudioRing(capacity);
  const messages: CaptureMessage[] = [];
  const actor = new CaptureActor({
    openSource: () => (source instanceof Error ? Promise.reject(source) : Promise.resolve(source)),
    openRing: (s): CaptureRing => new AudioRingWriter(s),
    listDevices: () => Promise.resolve([]),
    clock,
    post: (m) => messages.push(m),
  });
  return { actor, messages, reader: new AudioRingReader(shared), shared, clock };
}

function drain(reader: AudioRingReader): Float32Array {
  const out = new Float32Array(reader.availableSamples);
  reader.read(out);
  return out;
}

describe('CaptureActor', () => {
  it('writes every sample in order, posts progress every ~100 ms of audio, then ended with the ring closed', async () => {
    const { actor, messages, reader, shared } = setup(scripted({ chunks: 50, frames: 320 }));
    actor.handle({ type: 'start', source: FILE, output: shared });
    await actor.done;
    const audio = drain(reader);
    expect(audio.length).toBe(16_000);
    for (let i = 0; i < audio.length; i++) if (audio[i] !== Math.fround((i % 1000) / 1000)) throw new Error(`sample ${i}`);
    expect(reader.closed).toBe(true);
    expect(messages[0]).toMatchObject({ type: 'started', sourceKind: 'file', sourceSampleRate: 16_000, sourceChannels: 1 });
    const progress = messages.filter((m) => m.type === 'progress').map((m) => m.writtenSamples);
    // 320-sample chunks: a progress at each multiple of 1600 (every 5 chunks).
    expect(progress).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 1600));
    expect(messages.at(-1)).toEqual({ type: 'ended', writtenSamples: 16_000, reason: 'end-of-input' });
  });

  it('paces a realtime source: audio never enters ahead of the clock', async () => {
    const clock = new FakeClock();
    const start = clock.now;
    const { actor, messages, shared } = setup(scripted({ chunks: 25, frames: 320, realtime: true }), 1 << 20, clock);
    actor.handle({ type: 'start', source: { ...FILE, realtime: true }, output: shared });
    await actor.done;
    // Each 20 ms chunk waits until its last frame is due.
    expect(clock.sleeps).toEqual(Array.from({ length: 25 }, () => 20));
    for (const m of messages) {
      if (m.type === 'progress') expect(m.atMs - start).toBeGreaterThanOrEqual((m.writtenSamples / 16_000) * 1000);
    }
    expect(clock.now - start).toBe(500);
  });

  it('does not pace a non-realtime source', async () => {
    const { actor, clock, shared } = setup(scripted({ chunks: 25, frames: 320 }));
    actor.handle({ type: 'start', source: FILE, output: shared });
    await actor.done;
    expect(clock.sleeps).toEqual([]);
  });

  it('counts and reports overruns of a live source instead of waiting', async () => {
    const { actor, messages, reader, shared } = setup(scripted({ chunks: 10, frames: 1000, live: true }), 4096);
    actor.handle({ type: 'start', source: { kind: 'microphone', device: null, sampleRate: null, channels: null }, output: shared });
    await actor.done;
    const capacity = reader.capacitySamples;
    const overruns = messages.filter((m) => m.type === 'overrun');
    const total = overruns.reduce((n, m) => n + m.droppedSamples, 0);
    expect(total).toBe(10_000 - capacity);
    expect(overruns.at(-1)).toMatchObject({ totalDroppedSamples: 10_000 - capacity });
    expect(reader.stats()).toMatchObject({ writtenSamples: capacity, droppedSamples: 10_000 - capacity });
    expect(messages.at(-1)).toEqual({ type: 'ended', writtenSamples: capacity, reason: 'end-of-input' });
  });

  it('posts the coded error then ended(error) when the source fails mid-way, keeping what came before', async () => {
    const { actor, messages, reader, shared } = setup(
      scripted({ chunks: 3, frames: 500, failAfter: new NotAudioError('bad bytes', { source: 'x' }) }),
    );
    actor.handle({ type: 'start', source: FILE, output: shared });
    await actor.done;
    expect(drain(reader).length).toBe(1500);
    const types = messages.map((m) => m.type);
    expect(types.indexOf('error')).toBeLessThan(types.indexOf('ended'));
    expect(messages.find((m) => m.type === 'error')).toMatchObject({ error: { code: 'STT_AUDIO_NOT_AUDIO' } });
    expect(messages.at(-1)).toEqual({ type: 'ended', writtenSamples: 1500, reason: 'error' });
    expect(reader.closed).toBe(true);
  });

  it('reports a source that cannot open, and still closes the ring', async () => {
    const { actor, messages, reader, shared } = setup(new NotAudioError('not a wav', {}));
    actor.handle({ type: 'start', source: FILE, output: shared });
    await actor.done;
    expect(messages.map((m) => m.type)).toEqual(['error', 'ended']);
    expect(reader.closed).toBe(true);
  });

  it('stops on request even while a read is pending, flushing what it had', async () => {
    let release: (() => void) | null = null;
    const hanging: OpenedSource = {
      ...scripted({ chunks: 0, frames: 0 }),
      read: () => new Promise(() => (release = () => undefined)),
    };
    const { actor, messages, shared } = setup(hanging);
    actor.handle({ type: 'start', source: FILE, output: shared });
    await new Promise((r) => setImmediate(r));
    expect(release).not.toBeNull();
    actor.handle({ type: 'stop' });
    await actor.done;
    expect(messages.at(-1)).toEqual({ type: 'ended', writtenSamples: 0, reason: 'stopped' });
  });

  it('rejects a second start with a coded error', async () => {
    const { actor, messages, shared } = setup(scripted({ chunks: 1, frames: 10 }));
    actor.handle({ type: 'start', source: FILE, output: shared });
    actor.handle({ type: 'start', source: FILE, output: shared });
    await actor.done;
    expect(messages.filter((m) => m.type === 'error')).toMatchObject([{ error: { code: 'STT_INVALID_OPTION' } }]);
  });
});

describe('pickDevice', () => {
  const devices = [
    { id: 0, name: 'HDA Intel PCH: ALC257 Analog', maxInputChannels: 2, defaultSampleRate: 48_000, hostApi: 'ALSA', isDefault: false },
    { id: 3, name: 'default', maxInputChannels: 128, defaultSampleRate: 44_100, hostApi: 'ALSA', isDefault: true },
  ];
  it('finds by id, by case-insensitive part of the name, or the default', () => {
    expect(pickDevice(devices, 0).id).toBe(0);
    expect(pickDevice(devices, 'alc257').id).toBe(0);
    expect(pickDevice(devices, 'DEFAULT').id).toBe(3);
    expect(pickDevice(devices, null).id).toBe(3);
  });
  it('names the available devices when none matches, and hints at files/stdin when there are none', () => {
    expect(() => pickDevice(devices, 'usb')).toThrow(expect.objectContaining({ code: 'STT_DEVICE_UNKNOWN' }));
    expect(() => pickDevice(devices, 'usb')).toThrow(/ALC257 Analog/);
    expect(() => pickDevice(devices, 9)).toThrow(expect.objectContaining({ code: 'STT_DEVICE_UNKNOWN' }));
    expect(() => pickDevice([], null)).toThrow(expect.objectContaining({ code: 'STT_DEVICE_UNAVAILABLE' }));
    expect(() => pickDevice([], null)).toThrow(/--input file\.wav.*--stdin/);
  });
});
