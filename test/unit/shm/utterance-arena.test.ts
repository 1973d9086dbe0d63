import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShmRangeUnavailableError } from '../../../src/errors.js';
import {
  UtteranceArenaPin,
  UtteranceArenaReader,
  UtteranceArenaWriter,
  createUtteranceArena,
} from '../../../src/shm/utterance-arena.js';

describe('UtteranceArena', () => {
  it('returns any retained range exactly, across wrap-around (seeded)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        (capacity, chunkSizes, a, b) => {
          const shared = createUtteranceArena(capacity);
          const writer = new UtteranceArenaWriter(shared);
          const reader = new UtteranceArenaReader(shared);
          let position = 0;
          for (const size of chunkSizes) {
            const chunk = Float32Array.from({ length: size }, (_, i) => position + i);
            expect(writer.append(chunk)).toBe(position);
            position += size;
          }
          expect(reader.headSamples).toBe(position);
          const start = reader.oldestSamples + (a % (position - reader.oldestSamples + 1));
          const end = start + (b % (position - start + 1));
          const got = reader.read(start, end);
          expect(Array.from(got)).toEqual(Array.from({ length: end - start }, (_, i) => start + i));
        },
      ),
      { seed: 424242, numRuns: 300 },
    );
  });

  it('refuses ranges not written yet and ranges already evicted, with a coded error', () => {
    const shared = createUtteranceArena(10);
    const writer = new UtteranceArenaWriter(shared);
    const reader = new UtteranceArenaReader(shared);
    writer.append(new Float32Array(25));
    expect(() => reader.read(20, 26)).toThrow(ShmRangeUnavailableError);
    try {
      reader.read(14, 20);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ShmRangeUnavailableError);
      expect((err as ShmRangeUnavailableError).code).toBe('STT_SHM_RANGE_UNAVAILABLE');
      expect((err as ShmRangeUnavailableError).details['capacitySamples']).toBe(10);
    }
    expect(reader.read(15, 25).length).toBe(10);
  });

  it('reads into a caller buffer without touching past the range', () => {
    const shared = createUtteranceArena(8);
    const writer = new UtteranceArenaWriter(shared);
    writer.append(Float32Array.from([1, 2, 3, 4, 5, 6]));
    const into = new Float32Array(6).fill(-1);
    const view = new UtteranceArenaReader(shared).read(2, 5, into);
    expect(Array.from(view)).toEqual([3, 4, 5]);
    expect(Array.from(into)).toEqual([3, 4, 5, -1, -1, -1]);
  });
});

describe('UtteranceArena pin (backpressure instead of eviction)', () => {
  it('makes the writer wait while an append would evict the pinned position, and resumes on unpin', async () => {
    const shared = createUtteranceArena(10);
    const writer = new UtteranceArenaWriter(shared);
    const pin = new UtteranceArenaPin(shared);
    writer.append(new Float32Array(8));
    pin.pin(2);
    expect(writer.hasRoomFor(4)).toBe(true); // head 12 - capacity 10 = 2: position 2 survives
    expect(writer.hasRoomFor(5)).toBe(false);
    expect(await writer.waitForRoom(5, 20)).toBe('timed-out');

    const waiting = writer.waitForRoom(5);
    pin.pin(3);
    expect(await waiting).toBe('rang');
    pin.pin(null);
    expect(pin.pinnedSamples).toBeNull();
    expect(writer.hasRoomFor(1_000)).toBe(true);
  });
});
