/**
 * A capture worker restarted after a crash (CaptureCommand `resume`): the stream goes on at the
 * position the ring already counts, from the right place of each source, and the loss is reported.
 * Real sources (a WAV file, the push ring) and a real ring; no threads.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureActor, systemClock } from '../../../../src/actors/capture/capture.js';
import type { CaptureMessage, CaptureSource } from '../../../../src/actors/capture/capture.protocol.js';
import { openCaptureSource } from '../../../../src/actors/capture/open-source.js';
import { AudioRingReader, AudioRingWriter, createAudioRing, type AudioRingShared } from '../../../../src/shm/audio-ring.js';
import { buildWav, encodeSamples } from '../../audio/wav-fixtures.js';

function actor(messages: CaptureMessage[]): CaptureActor {
  return new CaptureActor({
    openSource: openCaptureSource,
    openRing: (s) => new AudioRingWriter(s),
    listDevices: () => Promise.resolve([]),
    clock: systemClock,
    post: (m) => messages.push(m),
  });
}

function drain(reader: AudioRingReader): Float32Array {
  const out = new Float32Array(reader.availableSamples);
  reader.read(out);
  return out;
}

describe('capture resumed after a crash', () => {
  it('a WAV file goes on from the frame the ring position stands for: nothing lost, nothing twice', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'capture-resume-'));
    try {
      // 1 s of 16 kHz mono whose sample i is i - 8000 (exact in 16-bit PCM).
      const values = Array.from({ length: 16_000 }, (_, i) => i - 8000);
      const file = path.join(dir, 'ramp.wav');
      await writeFile(file, buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16_000, data: encodeSamples([values], 'pcm16') }));
      const source: CaptureSource = { kind: 'file', path: file, realtime: false };
      const output = createAudioRing(1 << 16);
      const reader = new AudioRingReader(output);
      // The crashed worker had written the first 6000 samples, which the VAD read.
      const before = new AudioRingWriter(output);
      before.write(Float32Array.from(values.slice(0, 6000), (v) => v / 32768));
      drain(reader);

      const messages: CaptureMessage[] = [];
      const resumed = actor(messages);
      resumed.handle({ type: 'start', source, output, resume: true });
      await resumed.done;
      expect(messages[0]).toMatchObject({ type: 'started', resumedAtSamples: 6000, lostSamples: 0 });
      const rest = drain(reader);
      expect(rest.length).toBe(10_000);
      expect(Math.round((rest[0] ?? 0) * 32768)).toBe(6000 - 8000);
      expect(Math.round((rest.at(-1) ?? 0) * 32768)).toBe(15_999 - 8000);
      // Positions go on from the ring's count, so the engine's wall-clock map stays continuous.
      const progress = messages.filter((m) => m.type === 'progress').map((m) => m.writtenSamples);
      expect(progress[0]).toBe(7600);
      expect(messages.at(-1)).toEqual({ type: 'ended', writtenSamples: 16_000, reason: 'end-of-input' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the push ring goes on where it is; what the dead worker took but never wrote is counted, and channels realign', async () => {
    const push: AudioRingShared = createAudioRing(1 << 16);
    const pushWriter = new AudioRingWriter(push);
    const pushReader = new AudioRingReader(push);
    // Stereo frames (L = frame index, R = -frame index). The dead worker took 3 frames and half of
    // the 4th, but wrote only 2 frames' worth of 16 kHz audio before it died.
    const frames = 1000;
    const interleaved = new Float32Array(frames * 2);
    for (let f = 0; f < frames; f++) {
      interleaved[2 * f] = f / 10_000;
      interleaved[2 * f + 1] = -f / 10_000;
    }
    pushWriter.write(interleaved);
    pushReader.read(new Float32Array(7));
    const output = createAudioRing(1 << 16);
    new AudioRingWriter(output).write(new Float32Array(2));

    const messages: CaptureMessage[] = [];
    const resumed = actor(messages);
    resumed.handle({ type: 'start', source: { kind: 'push', ring: push, sampleRate: 16_000, channels: 2 }, output, resume: true });
    pushWriter.close();
    await resumed.done;
    // 4 frames taken (the half one is dropped to realign), 2 written: 2 lost.
    expect(messages[0]).toMatchObject({ type: 'started', resumedAtSamples: 2, lostSamples: 2 });
    const reader = new AudioRingReader(output);
    const out = drain(reader).subarray(2);
    expect(out.length).toBe(frames - 4);
    // Downmixed L + R of every frame is 0: a channel shift would leave ±1/20000 residues.
    for (const v of out) expect(Math.abs(v)).toBeLessThan(1e-7);
    expect(messages.at(-1)).toEqual({ type: 'ended', writtenSamples: frames - 2, reason: 'end-of-input' });
  });
});
