import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AudioRingReader, AudioRingWriter, createAudioRing } from '../../../src/shm/audio-ring.js';

const CANARY = -12345.5;

/** A buffer with canaries on both sides of the `length` samples a call may touch. */
function guarded(length: number): { view: Float32Array; intact: () => boolean } {
  const all = new Float32Array(length + 2).fill(CANARY);
  return { view: all.subarray(1, 1 + length), intact: () => all[0] === CANARY && all[length + 1] === CANARY };
}

describe('AudioRing (single thread)', () => {
  it('keeps order and counts across wrap-around, for any seeded sequence of writes and reads', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 100 })), { maxLength: 200 }),
        (capacity, ops) => {
          const shared = createAudioRing(capacity);
          const writer = new AudioRingWriter(shared);
          const reader = new AudioRingReader(shared);
          const model: number[] = [];
          let next = 0;
          let dropped = 0;
          for (const [isWrite, size] of ops) {
            if (isWrite) {
              const chunk = Float32Array.from({ length: size }, () => next++);
              const written = writer.write(chunk);
              expect(written).toBe(Math.min(size, capacity - model.length));
              for (let i = 0; i < written; i++) model.push(chunk[i] ?? Number.NaN);
              dropped += size - written;
            } else {
              const { view, intact } = guarded(size);
              const got = reader.read(view);
              expect(got).toBe(Math.min(size, model.length));
              expect(Array.from(view.subarray(0, got))).toEqual(model.splice(0, got));
              expect(intact()).toBe(true);
            }
            expect(reader.availableSamples).toBe(model.length);
          }
          const stats = writer.stats();
          expect(stats.droppedSamples).toBe(dropped);
          expect(stats.writtenSamples - stats.readSamples).toBe(model.length);
        },
      ),
      { seed: 20261124, numRuns: 300 },
    );
  });

  it('reports the end of the stream only after the last sample was read', async () => {
    const shared = createAudioRing(8);
    const writer = new AudioRingWriter(shared);
    const reader = new AudioRingReader(shared);
    writer.write(new Float32Array([1, 2, 3]));
    writer.close();
    expect(await reader.waitReadable(10)).toBe('data');
    const into = new Float32Array(8);
    expect(reader.read(into)).toBe(3);
    expect(await reader.waitReadable(10)).toBe('ended');
    expect(() => writer.write(new Float32Array(1))).toThrow(/closed/);
  });

  it('times out when nothing arrives, without blocking the event loop', async () => {
    const reader = new AudioRingReader(createAudioRing(4));
    let ticked = false;
    setTimeout(() => (ticked = true), 1);
    expect(await reader.waitReadable(30)).toBe('timed-out');
    expect(ticked).toBe(true);
  });

  it('writeAll waits for room instead of dropping, and gives up at its timeout', async () => {
    const shared = createAudioRing(4);
    const writer = new AudioRingWriter(shared);
    const reader = new AudioRingReader(shared);
    const pending = writer.writeAll(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const out: number[] = [];
    const into = new Float32Array(3);
    while (out.length < 10) {
      await reader.waitReadable(1000);
      const n = reader.read(into);
      out.push(...into.subarray(0, n));
    }
    expect(await pending).toBe(true);
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(writer.stats().droppedSamples).toBe(0);

    writer.write(new Float32Array(4));
    expect(await writer.writeAll(new Float32Array(1), 20)).toBe(false);
    expect(writer.stats().droppedSamples).toBe(0);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => createAudioRing(0)).toThrow(RangeError);
    expect(() => createAudioRing(1.5)).toThrow(RangeError);
  });
});
