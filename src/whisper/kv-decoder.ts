/**
 * The decoder with its self-attention cache, as a search drives it (WhisperOrt.decoder makes one per
 * decode call). Beam reorders are applied lazily: logical row b (the search's beam b) lives in
 * physical cache row `slot[b]`, and a reorder only copies the rows of beams that fork — the first
 * child of a beam inherits its row in place. Gathering the whole cache into new arrays every step
 * (5 beams × 12 tensors × length × 512 floats, ~25 MB at 200 tokens) added 4–9 ms to a ~12 ms step.
 * The cache rows stay a permutation of the logical rows, and every op of the decoder treats batch
 * rows independently (per-tensor quantisation scales see the same set of values), so the logits are
 * bit-identical to those of a physical reorder.
 */
import { DecodeFailedError } from '../errors.js';
import { float32Data, int64Tensor, type OnnxTensor } from '../onnx/runtime.js';
import type { SelfCache } from './kv-cache.js';
import type { DecoderModel } from './search.js';

type Tensor = OnnxTensor;

/** The decoder's state after an initial sequence, kept for the next decode of the same window. */
export interface StartState {
  readonly tokens: readonly number[];
  /** [tokens.length][vocab], read-only. */
  readonly logits: Float32Array;
  /** The pass's self-attention `present` outputs at batch 1, read-only. */
  readonly present: readonly Tensor[];
}

/** Where a window's last start state is kept (its cross-attention state), shared by its decoders. */
export interface StartSlot {
  start: StartState | null;
}

export interface DecoderLayout {
  readonly selfPresent: readonly string[];
  readonly useCache: Tensor;
  hiddenStandIn(batch: number): Tensor;
}

/** Runs one cache-branch decoder pass; `feeds` lacks only the cross-attention inputs. */
export type PassRunner = (feeds: Record<string, Tensor>, batch: number) => Promise<Record<string, Tensor>>;

export class KvDecoder implements DecoderModel {
  #slot = new Int32Array(1);
  #nextSlot = new Int32Array(1);
  #claimed = new Uint8Array(1);
  /** (from, to) physical row pairs of the current reorder. */
  #copies = new Int32Array(2);
  #identity = true;
  #ids = new BigInt64Array(1);
  #idsTensor: Tensor;
  /** Logits in logical row order, when the physical order differs. */
  #logical = new Float32Array(0);
  readonly #feeds: Record<string, Tensor>;

  constructor(
    private readonly layout: DecoderLayout,
    private readonly cache: SelfCache,
    private readonly startSlot: StartSlot,
    private readonly runPass: PassRunner,
  ) {
    this.#idsTensor = int64Tensor(this.#ids, [1, 1]);
    this.#feeds = { use_cache_branch: layout.useCache };
  }

  async start(tokens: readonly number[]): Promise<Float32Array> {
    if (this.cache.length !== 0) throw new DecodeFailedError('start: this decoder already ran', {});
    const cached = this.startSlot.start;
    if (cached && sameTokens(cached.tokens, tokens)) {
      // Same window, same tokens: ORT would return these very values (it is deterministic).
      this.cache.absorb(cached.present, tokens.length);
      return cached.logits;
    }
    const ids = new BigInt64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) ids[i] = BigInt(tokens[i] as number);
    const { logits, present } = await this.#run(int64Tensor(ids, [1, tokens.length]), tokens.length);
    this.startSlot.start = { tokens: [...tokens], logits, present };
    return logits;
  }

  async step(tokens: Int32Array): Promise<Float32Array> {
    const batch = this.cache.batch;
    if (tokens.length !== batch) throw new DecodeFailedError(`step: ${tokens.length} tokens for batch ${batch}`, {});
    if (this.#ids.length !== batch) {
      this.#ids = new BigInt64Array(batch);
      this.#idsTensor = int64Tensor(this.#ids, [batch, 1]);
    }
    for (let b = 0; b < batch; b++) this.#ids[this.#slot[b] as number] = BigInt(tokens[b] as number);
    const { logits } = await this.#run(this.#idsTensor, 1);
    if (this.#identity) return logits;
    const vocab = logits.length / batch;
    if (this.#logical.length !== logits.length) this.#logical = new Float32Array(logits.length);
    for (let b = 0; b < batch; b++) {
      const p = this.#slot[b] as number;
      this.#logical.set(logits.subarray(p * vocab, (p + 1) * vocab), b * vocab);
    }
    return this.#logical;
  }

  async extend(tokens: readonly number[]): Promise<Float32Array> {
    if (this.cache.batch !== 1) throw new DecodeFailedError(`extend: the decoder holds ${this.cache.batch} rows, not 1`, {});
    if (tokens.length === 0) throw new DecodeFailedError('extend: no tokens', {});
    const ids = new BigInt64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) ids[i] = BigInt(tokens[i] as number);
    const { logits } = await this.#run(int64Tensor(ids, [1, tokens.length]), tokens.length);
    return logits;
  }

  rewind(count: number): void {
    this.cache.truncate(this.cache.length - count);
  }

  reorder(sources: Int32Array): void {
    const batch = this.cache.batch;
    if (sources.length !== batch) {
      this.#gather(sources);
      return;
    }
    const copies = planReorder(this.#slot, sources, this.#nextSlot, this.#claimed, this.#copies);
    for (let c = 0; c < copies; c++) this.cache.copyRow(this.#copies[2 * c] as number, this.#copies[2 * c + 1] as number);
    [this.#slot, this.#nextSlot] = [this.#nextSlot, this.#slot];
    let identity = true;
    for (let b = 0; identity && b < batch; b++) identity = this.#slot[b] === b;
    this.#identity = identity;
  }

  /** A reorder that changes the batch size: a real gather, back to identity order. */
  #gather(sources: Int32Array): void {
    const n = sources.length;
    this.cache.gather(Int32Array.from(sources, (s) => this.#slot[s] as number));
    this.#slot = Int32Array.from({ length: n }, (_, b) => b);
    this.#nextSlot = new Int32Array(n);
    this.#claimed = new Uint8Array(n);
    this.#copies = new Int32Array(2 * n);
    this.#identity = true;
  }

  /** One decoder pass; its logits in physical row order ([batch][seqLen][vocab]) and its self-attention outputs. */
  async #run(ids: Tensor, seqLen: number): Promise<{ logits: Float32Array; present: Tensor[] }> {
    const batch = this.cache.batch;
    const feeds = this.#feeds;
    feeds['input_ids'] = ids;
    feeds['encoder_hidden_states'] = this.layout.hiddenStandIn(batch);
    this.cache.feed(feeds);
    const out = await this.runPass(feeds, batch);
    const present = this.layout.selfPresent.map((name) => required(out, name));
    this.cache.absorb(present, seqLen);
    return { logits: float32Data(required(out, 'logits'), 'logits'), present };
  }
}

/**
 * The lazy beam reorder of KvDecoder: logical row b, which lives in physical row slot[b], becomes a
 * copy of logical row sources[b]. The first child of each physical row keeps that row; every other
 * child takes a row no child claimed (its beam died) and needs a copy. Writes the new slots into
 * `next` and the copies as (from, to) pairs into `copies`; returns how many. Copies never overwrite a
 * row another copy reads: sources are claimed rows, destinations unclaimed ones.
 */
export function planReorder(slot: Int32Array, sources: Int32Array, next: Int32Array, claimed: Uint8Array, copies: Int32Array): number {
  const batch = sources.length;
  claimed.fill(0, 0, batch);
  for (let b = 0; b < batch; b++) {
    const p = slot[sources[b] as number] as number;
    if (claimed[p]) {
      next[b] = -1 - p; // a second child: gets a free row below
    } else {
      claimed[p] = 1;
      next[b] = p;
    }
  }
  let count = 0;
  let free = 0;
  for (let b = 0; b < batch; b++) {
    const code = next[b] as number;
    if (code >= 0) continue;
    while (claimed[free]) free++;
    claimed[free] = 1;
    copies[2 * count] = -1 - code;
    copies[2 * count + 1] = free;
    next[b] = free;
    count++;
  }
  return count;
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function required(out: Record<string, Tensor>, name: string): Tensor {
  const t = out[name];
  if (!t) throw new DecodeFailedError(`The decoder returned no ${name}`, {});
  return t;
}
