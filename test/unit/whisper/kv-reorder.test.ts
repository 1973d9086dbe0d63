import { describe, expect, it } from 'vitest';
import { planReorder } from '../../../src/whisper/kv-decoder.js';

/**
 * Simulates the KV cache as one label per physical row, applies the plan's copies in order, and
 * checks against an eager gather of the logical rows (what the cache held before the lazy reorder).
 */
function simulate(batch: number, steps: number, nextSources: (step: number) => Int32Array): void {
  let slot = Int32Array.from({ length: batch }, (_, b) => b);
  let next = new Int32Array(batch);
  const claimed = new Uint8Array(batch);
  const copies = new Int32Array(2 * batch);
  const physical = Array.from({ length: batch }, (_, b) => `r${b}`);
  let logical = [...physical];

  for (let step = 0; step < steps; step++) {
    const sources = nextSources(step);
    const count = planReorder(slot, sources, next, claimed, copies);
    for (let c = 0; c < count; c++) physical[copies[2 * c + 1] as number] = physical[copies[2 * c] as number] as string;
    logical = Array.from(sources, (s) => logical[s] as string);

    expect(Array.from(next, (p) => physical[p])).toEqual(logical);
    expect([...next].sort()).toEqual(Array.from({ length: batch }, (_, b) => b));
    // Only the extra children of a row cost a copy.
    expect(count).toBe(batch - new Set(sources).size);

    // Each step every beam grows by one token: rows stay distinguishable.
    for (let b = 0; b < batch; b++) {
      const p = next[b] as number;
      physical[p] = `${physical[p]}.${step}:${b}`;
      logical[b] = physical[p] as string;
    }
    [slot, next] = [next, slot];
  }
}

describe('lazy KV reorder for beams (planReorder)', () => {
  it('identity and pure permutations copy nothing', () => {
    const slot = Int32Array.of(0, 1, 2);
    const next = new Int32Array(3);
    const copies = new Int32Array(6);
    expect(planReorder(slot, Int32Array.of(0, 1, 2), next, new Uint8Array(3), copies)).toBe(0);
    expect(Array.from(next)).toEqual([0, 1, 2]);
    expect(planReorder(slot, Int32Array.of(2, 0, 1), next, new Uint8Array(3), copies)).toBe(0);
    expect(Array.from(next)).toEqual([2, 0, 1]);
  });

  it('a beam with three children keeps its row and fills the rows of dead beams', () => {
    const next = new Int32Array(4);
    const copies = new Int32Array(8);
    const count = planReorder(Int32Array.of(0, 1, 2, 3), Int32Array.of(1, 1, 3, 1), next, new Uint8Array(4), copies);
    expect(count).toBe(2);
    expect(Array.from(next)).toEqual([1, 0, 3, 2]);
    expect(Array.from(copies.subarray(0, 4))).toEqual([1, 0, 1, 2]);
  });

  it('matches an eager gather over many random beam steps', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const batch of [1, 2, 5, 8]) {
      simulate(batch, 300, () => Int32Array.from({ length: batch }, () => Math.floor(random() ** 2 * batch)));
    }
  });
});
