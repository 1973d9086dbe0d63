import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  AudioRingReader,
  UtteranceArenaReader,
  createAudioRing,
  createUtteranceArena,
} from '../../../dist/shm/index.js';

describe('audio ring across real threads', () => {
  it('delivers every sample in order with backpressure, and the arena serves ranges by offset', async () => {
    const total = 200_000;
    const ring = createAudioRing(1024);
    const arena = createUtteranceArena(total);
    const worker = new Worker(new URL('./fixtures/ring-producer.worker.mjs', import.meta.url), {
      workerData: { ring, arena, total, seed: 7 },
    });
    const [ready] = (await once(worker, 'message')) as [{ type: string }];
    expect(ready.type).toBe('ready');
    const done = new Promise<{ written: number }>((resolve, reject) => {
      worker.on('message', (m: { type: string; written: number }) => m.type === 'done' && resolve(m));
      worker.on('error', reject);
    });

    const reader = new AudioRingReader(ring);
    const into = new Float32Array(333);
    let expected = 0;
    let mismatches = 0;
    for (;;) {
      const outcome = await reader.waitReadable(10_000);
      if (outcome === 'ended') break;
      expect(outcome).toBe('data');
      const n = reader.read(into);
      for (let i = 0; i < n; i++) if (into[i] !== expected + i) mismatches++;
      expected += n;
    }
    expect((await done).written).toBe(total);
    expect(expected).toBe(total);
    expect(mismatches).toBe(0);
    expect(reader.stats()).toMatchObject({ writtenSamples: total, readSamples: total, droppedSamples: 0, closed: true });

    const arenaReader = new UtteranceArenaReader(arena);
    const range = arenaReader.read(123_456, 124_000);
    expect(range[0]).toBe(123_456);
    expect(range[range.length - 1]).toBe(123_999);
    await worker.terminate();
  });
});
