import { describe, expect, it } from 'vitest';
import type { FinalEvent } from '../../../src/engine/events.js';
import { FinalStream } from '../../../src/engine/final-stream.js';

function final(utteranceId: number): FinalEvent {
  return {
    utteranceId,
    text: `phrase ${utteranceId}`,
    language: 'fr',
    startMs: 0,
    endMs: 1000,
    speculative: false,
    beamNarrowed: false,
    timings: { decodeMs: 1, queueMs: 0, postProcessMs: 0, endOfSpeechToFinalMs: null },
    corrections: [],
  };
}

async function drain(it: AsyncIterableIterator<FinalEvent>): Promise<number[]> {
  const ids: number[] = [];
  for await (const f of it) ids.push(f.utteranceId);
  return ids;
}

describe('FinalStream (engine.results())', () => {
  it('keeps no finals while nobody iterates', async () => {
    const stream = new FinalStream();
    stream.deliver(final(1));
    const it = stream.open();
    stream.deliver(final(2));
    stream.end();
    expect(await drain(it)).toEqual([2]);
  });

  it('hands finals to waiting iterators and buffers the rest in order; every iterator ends', async () => {
    const stream = new FinalStream();
    const a = stream.open();
    const waiting = a.next();
    stream.deliver(final(1));
    expect(await waiting).toEqual({ value: final(1), done: false });
    stream.deliver(final(2));
    stream.deliver(final(3));
    stream.end();
    expect(await drain(a)).toEqual([2, 3]);
    expect(await stream.open().next()).toEqual({ value: undefined, done: true });
  });

  it('leaving a for-await early closes the iterator and drops what it buffered', async () => {
    const stream = new FinalStream();
    const it = stream.open();
    stream.deliver(final(1));
    stream.deliver(final(2));
    for await (const f of it) {
      expect(f.utteranceId).toBe(1);
      break;
    }
    expect(await it.next()).toEqual({ value: undefined, done: true });
    stream.deliver(final(3)); // no reader: not kept
    const later = stream.open();
    stream.end();
    expect(await drain(later)).toEqual([]);
  });
});
