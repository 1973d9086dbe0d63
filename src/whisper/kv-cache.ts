/**
 * The decoder's self-attention cache, in physical row order (kv-decoder.ts maps beams onto rows), in
 * the form the loaded graph wants it:
 *
 * - ConcatCache, for a graph as exported: each pass returns the whole cache (`present` = past + new
 *   rows) in fresh buffers, which the next pass is fed as its past.
 * - AppendCache, for a graph rewritten by src/onnx/kv-append.ts: each pass returns only its tokens'
 *   rows; the cache lives in buffers with spare capacity, [batch, heads, capacity, headDim], fed
 *   whole with the valid length (`past_sequence_length`), and the new rows are written after it.
 *   Nothing is reallocated per step; capacity doubles when it runs out.
 * - SequenceMajorCache, for a kv-append graph laid out by src/onnx/kv-sequence-major.ts: the same,
 *   in buffers [capacity, batch, heads, headDim], so that the valid rows are the buffer's prefix and
 *   are fed as a view of exactly those (the graph copies no cache to cut them out).
 *
 * All three give the decoder bit-identical logits (the rewrite's attention reads the same values).
 */
import { DecodeFailedError } from '../errors.js';
import { PAST_LENGTH_INPUT } from '../onnx/kv-append.js';
import { float32Data, float32Tensor, int64Tensor, type OnnxTensor } from '../onnx/runtime.js';

type Tensor = OnnxTensor;

export interface CacheShape {
  readonly nHeads: number;
  readonly headDim: number;
  /** The self-attention past inputs, per layer key then value. */
  readonly pastNames: readonly string[];
}

export interface SelfCache {
  /** Physical rows. */
  readonly batch: number;
  /** Tokens cached per row. */
  readonly length: number;
  /** Puts the past inputs of the next pass into `feeds`. */
  feed(feeds: Record<string, Tensor>): void;
  /**
   * Takes a pass's `present` outputs (pastNames order) for `seqLen` new tokens at the current batch.
   * The tensors are only read (a decoder's first pass may be replayed from them).
   */
  absorb(present: readonly Tensor[], seqLen: number): void;
  /** Physical row `to` becomes a copy of row `from`. */
  copyRow(from: number, to: number): void;
  /** The cache becomes rows[0..n) of the current one (physical indices): a batch change. */
  gather(rows: Int32Array): void;
  /** Forgets the last tokens: the cache keeps its first `length` (≤ the current length) per row. */
  truncate(length: number): void;
}

function checkTruncate(length: number, current: number): void {
  if (!Number.isInteger(length) || length < 0 || length > current) {
    throw new DecodeFailedError(`truncate: cannot keep ${length} of ${current} cached tokens`, {});
  }
}

export class ConcatCache implements SelfCache {
  batch = 1;
  length = 0;
  #past: readonly Tensor[];

  constructor(private readonly shape: CacheShape) {
    const empty = float32Tensor(new Float32Array(0), [1, shape.nHeads, 0, shape.headDim]);
    this.#past = shape.pastNames.map(() => empty);
  }

  feed(feeds: Record<string, Tensor>): void {
    this.shape.pastNames.forEach((name, i) => (feeds[name] = this.#past[i] as Tensor));
  }

  absorb(present: readonly Tensor[], seqLen: number): void {
    // The outputs are fresh arrays owned by this side: the next pass reads them as its past and
    // copyRow writes inside them (never inside a replayed first pass's: that is batch 1, where
    // reorders are gathers into new arrays).
    this.#past = present;
    this.length += seqLen;
  }

  copyRow(from: number, to: number): void {
    const rowSize = this.shape.nHeads * this.length * this.shape.headDim;
    for (const t of this.#past) float32Data(t, 'past key/value').copyWithin(to * rowSize, from * rowSize, (from + 1) * rowSize);
  }

  gather(rows: Int32Array): void {
    const n = rows.length;
    const { nHeads, headDim } = this.shape;
    const rowSize = nHeads * this.length * headDim;
    this.#past = this.#past.map((t) => {
      const data = float32Data(t, 'past key/value');
      const out = new Float32Array(rowSize * n);
      for (let b = 0; b < n; b++) {
        const p = rows[b] as number;
        out.set(data.subarray(p * rowSize, (p + 1) * rowSize), b * rowSize);
      }
      return float32Tensor(out, [n, nHeads, this.length, headDim]);
    });
    this.batch = n;
  }

  truncate(length: number): void {
    checkTruncate(length, this.length);
    if (length === this.length) return;
    const { nHeads, headDim } = this.shape;
    const rows = this.batch * nHeads;
    const from = this.length * headDim;
    const to = length * headDim;
    this.#past = this.#past.map((t) => {
      const data = float32Data(t, 'past key/value');
      const out = new Float32Array(rows * to);
      for (let r = 0; r < rows; r++) out.set(data.subarray(r * from, r * from + to), r * to);
      return float32Tensor(out, [this.batch, nHeads, length, headDim]);
    });
    this.length = length;
  }
}

/**
 * A pass's new rows for one past input, refused when they are not `values` long (a graph not
 * rewritten, a batch mismatch): written at the wrong place, they would corrupt the cache silently.
 */
function presentData(t: Tensor, batch: number, values: number, seqLen: number): Float32Array {
  const data = float32Data(t, 'present key/value');
  if (data.length !== values) {
    throw new DecodeFailedError(`present key/value holds ${data.length} values, expected ${values} (${batch} rows × ${seqLen} tokens)`, {});
  }
  return data;
}

/** Rows of capacity are added in steps of this many (and at least doubled). */
const CAPACITY_STEP = 32;

export class AppendCache implements SelfCache {
  batch = 1;
  length = 0;
  #capacity = 0;
  #buffers: Float32Array[];
  #tensors: Tensor[];
  readonly #lengthData = new BigInt64Array(1);
  readonly #lengthTensor = int64Tensor(this.#lengthData, [1]);

  constructor(private readonly shape: CacheShape) {
    this.#buffers = shape.pastNames.map(() => new Float32Array(0));
    this.#tensors = this.#wrap();
  }

  #wrap(): Tensor[] {
    const { nHeads, headDim } = this.shape;
    return this.#buffers.map((b) => float32Tensor(b, [this.batch, nHeads, this.#capacity, headDim]));
  }

  feed(feeds: Record<string, Tensor>): void {
    this.#lengthData[0] = BigInt(this.length);
    this.shape.pastNames.forEach((name, i) => (feeds[name] = this.#tensors[i] as Tensor));
    feeds[PAST_LENGTH_INPUT] = this.#lengthTensor;
  }

  absorb(present: readonly Tensor[], seqLen: number): void {
    const needed = this.length + seqLen;
    if (needed > this.#capacity) this.#resize(this.batch, Math.max(needed, 2 * this.#capacity), null);
    const { nHeads, headDim } = this.shape;
    const rows = this.batch * nHeads;
    const chunk = seqLen * headDim;
    present.forEach((t, i) => {
      const data = presentData(t, this.batch, rows * chunk, seqLen);
      const buffer = this.#buffers[i] as Float32Array;
      for (let r = 0; r < rows; r++) buffer.set(data.subarray(r * chunk, (r + 1) * chunk), (r * this.#capacity + this.length) * headDim);
    });
    this.length = needed;
  }

  copyRow(from: number, to: number): void {
    const { nHeads, headDim } = this.shape;
    const used = this.length * headDim;
    for (const buffer of this.#buffers) {
      for (let h = 0; h < nHeads; h++) {
        const src = (from * nHeads + h) * this.#capacity * headDim;
        buffer.copyWithin((to * nHeads + h) * this.#capacity * headDim, src, src + used);
      }
    }
  }

  gather(rows: Int32Array): void {
    this.#resize(rows.length, this.#capacity, rows);
  }

  /** The rows past `length` stay in the buffers, unread: the valid length is what each pass is fed. */
  truncate(length: number): void {
    checkTruncate(length, this.length);
    this.length = length;
  }

  /** New buffers of `batch` rows and at least `capacity` positions, holding rows[b] (or row b) of the old. */
  #resize(batch: number, capacity: number, rows: Int32Array | null): void {
    const { nHeads, headDim } = this.shape;
    const newCapacity = Math.ceil(capacity / CAPACITY_STEP) * CAPACITY_STEP;
    const used = this.length * headDim;
    this.#buffers = this.#buffers.map((old) => {
      const buffer = new Float32Array(batch * nHeads * newCapacity * headDim);
      for (let b = 0; b < batch; b++) {
        const p = rows === null ? b : (rows[b] as number);
        for (let h = 0; h < nHeads; h++) {
          const src = (p * nHeads + h) * this.#capacity * headDim;
          buffer.set(old.subarray(src, src + used), (b * nHeads + h) * newCapacity * headDim);
        }
      }
      return buffer;
    });
    this.batch = batch;
    this.#capacity = newCapacity;
    this.#tensors = this.#wrap();
  }
}

/**
 * Sequence-major: position p of row b, head h lives at ((p * batch + b) * nHeads + h) * headDim.
 * A batch change relays the buffer out (as AppendCache's does); a step writes its rows after the
 * valid ones and feeds a view of the prefix, which is a new tensor object over the same memory.
 */
export class SequenceMajorCache implements SelfCache {
  batch = 1;
  length = 0;
  #capacity = 0;
  #buffers: Float32Array[];
  readonly #lengthData = new BigInt64Array(1);
  readonly #lengthTensor = int64Tensor(this.#lengthData, [1]);

  constructor(private readonly shape: CacheShape) {
    this.#buffers = shape.pastNames.map(() => new Float32Array(0));
  }

  feed(feeds: Record<string, Tensor>): void {
    const { nHeads, headDim } = this.shape;
    const used = this.length * this.batch * nHeads * headDim;
    this.#lengthData[0] = BigInt(this.length);
    this.shape.pastNames.forEach((name, i) => {
      feeds[name] = float32Tensor((this.#buffers[i] as Float32Array).subarray(0, used), [this.length, this.batch, nHeads, headDim]);
    });
    feeds[PAST_LENGTH_INPUT] = this.#lengthTensor;
  }

  absorb(present: readonly Tensor[], seqLen: number): void {
    const needed = this.length + seqLen;
    if (needed > this.#capacity) this.#resize(this.batch, Math.max(needed, 2 * this.#capacity), null);
    const { nHeads, headDim } = this.shape;
    const rows = this.batch * nHeads;
    present.forEach((t, i) => {
      const data = presentData(t, this.batch, rows * seqLen * headDim, seqLen);
      const buffer = this.#buffers[i] as Float32Array;
      // present is [batch, heads, seqLen, headDim]: row r = b * nHeads + h, token s.
      for (let r = 0; r < rows; r++) {
        for (let s = 0; s < seqLen; s++) {
          const src = (r * seqLen + s) * headDim;
          buffer.set(data.subarray(src, src + headDim), ((this.length + s) * rows + r) * headDim);
        }
      }
    });
    this.length = needed;
  }

  copyRow(from: number, to: number): void {
    const { nHeads, headDim } = this.shape;
    const slot = nHeads * headDim;
    const stride = this.batch * slot;
    for (const buffer of this.#buffers) {
      for (let p = 0; p < this.length; p++) buffer.copyWithin(p * stride + to * slot, p * stride + from * slot, p * stride + (from + 1) * slot);
    }
  }

  gather(rows: Int32Array): void {
    this.#resize(rows.length, this.#capacity, rows);
  }

  /** The rows past `length` stay in the buffers, unread: the valid length is what each pass is fed. */
  truncate(length: number): void {
    checkTruncate(length, this.length);
    this.length = length;
  }

  /** New buffers of `batch` rows and at least `capacity` positions, holding rows[b] (or row b) of the old. */
  #resize(batch: number, capacity: number, rows: Int32Array | null): void {
    const { nHeads, headDim } = this.shape;
    const newCapacity = Math.ceil(capacity / CAPACITY_STEP) * CAPACITY_STEP;
    const slot = nHeads * headDim;
    this.#buffers = this.#buffers.map((old) => {
      const buffer = new Float32Array(newCapacity * batch * slot);
      if (rows === null && batch === this.batch) {
        buffer.set(old.subarray(0, this.length * batch * slot));
        return buffer;
      }
      for (let p = 0; p < this.length; p++) {
        for (let b = 0; b < batch; b++) {
          const src = (p * this.batch + (rows === null ? b : (rows[b] as number))) * slot;
          buffer.set(old.subarray(src, src + slot), (p * batch + b) * slot);
        }
      }
      return buffer;
    });
    this.batch = batch;
    this.#capacity = newCapacity;
  }
}
