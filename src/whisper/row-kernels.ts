/**
 * The WebAssembly SIMD kernels of the per-step passes over a vocabulary row (row-kernels.wat): the
 * exp pass of a log-sum-exp, a maximum, a top-k. A beam-5 step runs each over five 51 865-entry
 * rows; in TypeScript they took ~0.26 ms a row, 1.3 ms of a ~9.6 ms step on the 2-core dev machine,
 * in WebAssembly ~0.1 ms. Each call copies its range into the module's memory first (4 µs for a
 * whole row), so callers pass ordinary Float32Arrays.
 *
 * rowKernels() is null where this runtime lacks WebAssembly SIMD; callers (fast-exp.ts,
 * logit-filters.ts) then take their scalar loops, which compute the same results (sums within the
 * documented float32 precision).
 */
import { ROW_KERNELS_WASM_BASE64 } from './row-kernels.wasm.js';

export interface RowKernels {
  /** Σ exp(row[i] - max) over [from, from + count), count a multiple of SUM_EXP_LANES. */
  sumExp(row: Float32Array, from: number, count: number, max: number): number;
  /** The largest entry of [from, from + count), count a multiple of MAX_LANES; NaN ignored; -Infinity if none. */
  max(row: Float32Array, from: number, count: number): number;
  /**
   * The k largest entries of [from, from + count), best first, lower index first on ties, NaN
   * skipped, into outIds (row indices) / outValues; returns how many were found (≤ k).
   */
  topK(row: Float32Array, from: number, count: number, k: number, outIds: Int32Array, outValues: Float64Array): number;
}

/** sum_exp takes sixteen lanes an iteration, max eight. */
export const SUM_EXP_LANES = 16;
export const MAX_LANES = 8;

const PAGE_BYTES = 65_536;

/** The slice of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

let instance: RowKernels | null | undefined;

/** The kernels, instantiated on first use; null where this runtime lacks WebAssembly SIMD. */
export function rowKernels(): RowKernels | null {
  if (instance !== undefined) return instance;
  try {
    instance = instantiate();
  } catch {
    instance = null; // no WebAssembly SIMD (an old or restricted runtime): the scalar loops
  }
  return instance;
}

function instantiate(): RowKernels {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const { exports } = new wasm.Instance(new wasm.Module(Buffer.from(ROW_KERNELS_WASM_BASE64, 'base64')));
  const memory = exports['memory'] as WasmMemory;
  const sumExp = exports['sum_exp'] as (n: number, max: number) => number;
  const max = exports['max'] as (n: number) => number;
  const topK = exports['top_k'] as (n: number, k: number, out: number) => number;
  let floats = new Float32Array(memory.buffer);
  let ints = new Int32Array(memory.buffer);

  /** Copies row[from, from + count) to address 0, with `extraBytes` free after it (16-aligned). */
  const load = (row: Float32Array, from: number, count: number, extraBytes = 0): number => {
    const end = align16(count * 4);
    if (memory.buffer.byteLength < end + extraBytes) {
      memory.grow(Math.ceil((end + extraBytes - memory.buffer.byteLength) / PAGE_BYTES));
      // Growing detaches the old buffer: the views must be remade.
      floats = new Float32Array(memory.buffer);
      ints = new Int32Array(memory.buffer);
    }
    floats.set(row.subarray(from, from + count));
    return end;
  };

  return {
    sumExp(row, from, count, rowMax) {
      load(row, from, count);
      return sumExp(count, rowMax);
    },
    max(row, from, count) {
      load(row, from, count);
      return max(count);
    },
    topK(row, from, count, k, outIds, outValues) {
      const out = load(row, from, count, 8 * k);
      const found = topK(count, k, out);
      const values = out / 4;
      const ids = values + k;
      for (let j = 0; j < found; j++) {
        outValues[j] = floats[values + j] as number;
        outIds[j] = from + (ints[ids + j] as number);
      }
      return found;
    },
  };
}

function align16(bytes: number): number {
  return (bytes + 15) & ~15;
}
