import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, render } from '../../../scripts/build-wasm.mjs';
import { argmax, rangeMax, rangeMaxScalar, topK, topKScalar } from '../../../src/whisper/logit-filters.js';
import { MAX_LANES, rowKernels } from '../../../src/whisper/row-kernels.js';
import { seededRandom } from '../../../src/whisper/random.js';

/**
 * Rows as the decoder's filters leave them: values on a coarse grid (so ties are common), suppressed
 * (-Infinity) runs, and optionally NaN entries.
 */
function row(seed: number, length: number, nanEvery = 0): Float32Array {
  const random = seededRandom(seed);
  const r = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    if (nanEvery > 0 && i % nanEvery === nanEvery - 1) r[i] = Number.NaN;
    else if (i % 211 < 9) r[i] = -Infinity;
    else r[i] = Math.round((random() * 30 - 20) * 8) / 8;
  }
  return r;
}

function scalarTop(r: Float32Array, k: number): { ids: number[]; values: number[] } {
  const ids = new Int32Array(k);
  const values = new Float64Array(k);
  topKScalar(r, k, ids, values);
  return { ids: [...ids], values: [...values] };
}

function kernelTop(r: Float32Array, k: number): { ids: number[]; values: number[] } {
  const ids = new Int32Array(k);
  const values = new Float64Array(k);
  topK(r, k, ids, values);
  return { ids: [...ids], values: [...values] };
}

describe('row kernels (WebAssembly SIMD)', () => {
  it('are available in this runtime (Node 20 has WebAssembly SIMD)', () => {
    expect(rowKernels()).not.toBeNull();
  });

  it('topK agrees with the scalar loop on vocabulary rows: ties, -Infinity runs, NaN, every k and length', () => {
    for (let seed = 1; seed <= 40; seed++) {
      // Lengths around the 16-lane groups; vocabulary-sized and longer than the initial memory.
      const length = [51_865, 64, 65, 79, 80, 1_501, 70_001][seed % 7] as number;
      const r = row(seed, length, seed % 3 === 0 ? 37 : 0);
      for (const k of [1, 2, 6]) expect(kernelTop(r, k), `seed ${seed} k ${k}`).toEqual(scalarTop(r, k));
    }
  });

  it('topK finds the best entries wherever they are: in the scalar tail, the first lane, after a NaN', () => {
    const r = new Float32Array(100).fill(-5);
    r[99] = 3; // the tail after the last group of sixteen
    r[0] = 2;
    r[17] = Number.NaN;
    r[18] = 2; // ties r[0]: the lower index first
    expect(kernelTop(r, 3)).toEqual({ ids: [99, 0, 18], values: [3, 2, 2] });
    // Fewer entries than k that are not NaN: padded as the scalar loop pads.
    const sparse = new Float32Array(64).fill(Number.NaN);
    sparse[40] = 1;
    expect(kernelTop(sparse, 2)).toEqual({ ids: [40, -1], values: [1, -Infinity] });
    expect(kernelTop(sparse, 2)).toEqual(scalarTop(sparse, 2));
  });

  it('rangeMax agrees with the scalar loop on any range, NaN ignored, -Infinity for a suppressed range', () => {
    const r = row(5, 51_865, 53);
    for (const [from, to] of [[0, 51_865], [0, 50_364], [50_364, 51_865], [3, 3 + 8 * MAX_LANES + 5], [7, 7]] as const) {
      expect(rangeMax(r, from, to), `[${from}, ${to})`).toBe(rangeMaxScalar(r, from, to));
    }
    const suppressed = new Float32Array(200).fill(-Infinity);
    suppressed[5] = Number.NaN;
    expect(rangeMax(suppressed)).toBe(-Infinity);
    const peak = new Float32Array(200).fill(-1);
    peak[199] = 4; // in the scalar tail
    expect(rangeMax(peak, 0, 200)).toBe(4);
    peak[40] = 9;
    expect(rangeMax(peak, 41, 200)).toBe(4); // the range's own maximum
  });

  it('argmax is the first index of the maximum, NaN ignored', () => {
    const r = row(9, 51_865);
    const best = scalarTop(r, 1).ids[0] as number;
    expect(argmax(r)).toBe(best);
    const nan = new Float32Array(70).fill(1);
    nan[0] = Number.NaN;
    nan[30] = 2;
    nan[31] = 2;
    expect(argmax(nan)).toBe(30);
    expect(argmax(new Float32Array(70).fill(Number.NaN))).toBe(0);
  });

  it('matches the committed module to its source (npm run build:wasm after editing row-kernels.wat)', async () => {
    const wat = readFileSync(new URL('../../../src/whisper/row-kernels.wat', import.meta.url), 'utf8');
    const committed = readFileSync(new URL('../../../src/whisper/row-kernels.wasm.ts', import.meta.url), 'utf8');
    expect(committed).toBe(render(await assemble(wat)));
  });
});
