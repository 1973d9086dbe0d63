import { describe, expect, it } from 'vitest';
import { StopSignal } from '../../../src/async/stop-signal.js';

describe('StopSignal', () => {
  it('a race settles with its work and leaves nothing behind, however many there are', async () => {
    const signal = new StopSignal();
    for (let i = 0; i < 10_000; i++) {
      expect(await signal.race(Promise.resolve(i))).toBe(i);
    }
    // Promise.race against one long-lived promise would keep 10 000 reactions (and their values) here.
    expect(signal.pending).toBe(0);
    await expect(signal.race(Promise.reject(new Error('read failed')))).rejects.toThrow('read failed');
    expect(signal.pending).toBe(0);
  });

  it('stop() resolves every pending race with null, and later races at once', async () => {
    const signal = new StopSignal();
    const never = new Promise<number>(() => undefined);
    const a = signal.race(never);
    const b = signal.race(never);
    expect(signal.pending).toBe(2);
    signal.stop();
    expect(await a).toBeNull();
    expect(await b).toBeNull();
    expect(signal.stopped).toBe(true);
    expect(signal.pending).toBe(0);
    expect(await signal.race(Promise.resolve(7))).toBeNull();
    signal.stop(); // twice is harmless
  });
});
