/**
 * Whisper-shaped operations over the ONNX facade (src/onnx/runtime.ts): encode a mel window, then
 * decode it with a KV-cached decoder that beams can reorder. Sessions and tensors stay opaque, so the
 * rest of the core is plain typed arrays.
 *
 * Cross-attention keys/values depend only on the audio, so they are computed once per window (in
 * `encode`, via the merged decoder's no-cache branch on [sot]) and every later decode — any prompt,
 * any temperature, any beam — starts on the cache branch with an empty self-attention past. The
 * cross KV stays at batch 1: MatMul broadcasts it over the beams, which saves tiling ~37 MB per beam.
 */
import { DecodeFailedError, ModelCorruptError } from '../errors.js';
import {
  boolTensor,
  createOnnxSessions,
  float32Data,
  float32Tensor,
  int64Tensor,
  type OnnxModelSource,
  type OnnxSession,
  type OnnxTensor,
} from '../onnx/runtime.js';
import type { DecoderModel } from './search.js';
import type { Device, EngineWarning } from './types.js';

type Tensor = OnnxTensor;

export interface OrtOpenOptions {
  readonly device: Device;
  readonly strictDevice: boolean;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly onWarning?: ((warning: EngineWarning) => void) | undefined;
}

/** Cross-attention KV of one encoded window plus the decoder's logits at [sot] (for language detection). */
export interface CrossAttention {
  readonly kind: 'cross-attention';
  readonly sotLogits: Float32Array;
}

/** The decoder's state after an initial sequence, kept for the next decode of the same window. */
interface StartState {
  readonly tokens: readonly number[];
  /** [tokens.length][vocab], read-only. */
  readonly logits: Float32Array;
  /** Self-attention KV at batch 1; never written (reorders gather or copy only at batch > 1). */
  readonly past: readonly Tensor[];
}

class CrossState implements CrossAttention {
  readonly kind = 'cross-attention' as const;
  /** Per layer: [key, value], each [1, heads, audioCtx, headDim]. */
  tensors: Tensor[] | null;
  /** Tiled copies per batch size, only for exports that cannot broadcast the cross KV. */
  readonly tiled = new Map<number, Tensor[]>();
  /**
   * Temperature fallback decodes the window again from the same prompt and SOT sequence: a prompt of
   * ~200 previous-text tokens costs ~80 ms (logits for every position), so the last start is reused.
   */
  start: StartState | null = null;
  readonly sotLogits: Float32Array;
  constructor(tensors: Tensor[], sotLogits: Float32Array) {
    this.tensors = tensors;
    this.sotLogits = sotLogits;
  }
}

/** Runs one cache-branch decoder pass; `feeds` lacks only the cross-attention inputs. */
type StepRunner = (cross: CrossState, feeds: Record<string, Tensor>, batch: number) => Promise<Record<string, Tensor>>;

interface DecoderLayout {
  readonly nHeads: number;
  readonly headDim: number;
  readonly selfPast: readonly string[];
  readonly selfPresent: readonly string[];
  readonly useCache: Tensor;
  hiddenStandIn(batch: number): Tensor;
}

export class WhisperOrt {
  readonly device: Device;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly headDim: number;
  readonly dModel: number;
  readonly #encoder: OnnxSession;
  readonly #decoder: OnnxSession;
  readonly #selfNames: { past: string[]; present: string[] };
  readonly #crossNames: { past: string[]; present: string[] };
  readonly #stepFetches: string[];
  readonly #layout: DecoderLayout;
  readonly #useCacheFalse: Tensor;
  /** Stand-ins for encoder_hidden_states on the cache branch, which never reads them. */
  readonly #dummyHidden = new Map<number, Tensor>();
  #crossBroadcasts = true;

  private constructor(encoder: OnnxSession, decoder: OnnxSession, device: Device) {
    this.#encoder = encoder;
    this.#decoder = decoder;
    this.device = device;
    const layers = decoder.inputNames
      .map((n) => /^past_key_values\.(\d+)\.decoder\.key$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined);
    this.nLayers = layers.length;
    const meta = decoder.inputs.find((m) => m.name === 'past_key_values.0.decoder.key');
    const hiddenMeta = decoder.inputs.find((m) => m.name === 'encoder_hidden_states');
    const heads = meta?.shape?.[1];
    const headDim = meta?.shape?.[3];
    const dModel = hiddenMeta?.shape?.[2];
    if (this.nLayers === 0 || typeof heads !== 'number' || typeof headDim !== 'number' || typeof dModel !== 'number') {
      throw new ModelCorruptError('The decoder is not a merged Whisper decoder with past_key_values inputs', {});
    }
    this.nHeads = heads;
    this.headDim = headDim;
    this.dModel = dModel;
    const names = (prefix: string, kind: string): string[] =>
      Array.from({ length: this.nLayers }, (_, l) => [`${prefix}.${l}.${kind}.key`, `${prefix}.${l}.${kind}.value`]).flat();
    this.#selfNames = { past: names('past_key_values', 'decoder'), present: names('present', 'decoder') };
    this.#crossNames = { past: names('past_key_values', 'encoder'), present: names('present', 'encoder') };
    this.#stepFetches = ['logits', ...this.#selfNames.present];
    this.#useCacheFalse = boolTensor(new Uint8Array([0]), [1]);
    this.#layout = {
      nHeads: heads,
      headDim,
      selfPast: this.#selfNames.past,
      selfPresent: this.#selfNames.present,
      useCache: boolTensor(new Uint8Array([1]), [1]),
      hiddenStandIn: (batch) => this.#hiddenStandIn(batch),
    };
  }

  static async open(encoderModel: OnnxModelSource, decoderModel: OnnxModelSource, options: OrtOpenOptions): Promise<WhisperOrt> {
    // One group: the encoder and decoder fall back to the CPU together, with a single warning.
    const [encoder, decoder] = await createOnnxSessions([encoderModel, decoderModel], options);
    if (!encoder || !decoder) {
      const path = typeof decoderModel === 'string' ? decoderModel : decoderModel.path;
      throw new ModelCorruptError('onnxruntime opened no Whisper sessions', { path });
    }
    return new WhisperOrt(encoder, decoder, decoder.device);
  }

  #emptyPast(batch: number): Tensor {
    return float32Tensor(new Float32Array(0), [batch, this.nHeads, 0, this.headDim]);
  }

  #hiddenStandIn(batch: number): Tensor {
    let t = this.#dummyHidden.get(batch);
    if (!t) {
      t = float32Tensor(new Float32Array(batch * this.dModel), [batch, 1, this.dModel]);
      this.#dummyHidden.set(batch, t);
    }
    return t;
  }

  /** Runs the encoder on one window (row-major [nMels][nFrames]) and derives its cross-attention KV. */
  async encode(mel: Float32Array, nMels: number, nFrames: number, sot: number): Promise<CrossAttention> {
    const encoded = await this.#encoder.run({ input_features: float32Tensor(mel, [1, nMels, nFrames]) }, ['last_hidden_state']);
    const hidden = encoded['last_hidden_state'];
    if (!hidden) throw new DecodeFailedError('The encoder returned no last_hidden_state', {});
    const feeds: Record<string, Tensor> = {
      input_ids: int64Tensor(BigInt64Array.of(BigInt(sot)), [1, 1]),
      encoder_hidden_states: hidden,
      use_cache_branch: this.#useCacheFalse,
    };
    const empty = this.#emptyPast(1);
    for (const name of this.#selfNames.past) feeds[name] = empty;
    for (const name of this.#crossNames.past) feeds[name] = empty;
    const out = await this.#decoder.run(feeds, ['logits', ...this.#crossNames.present]);
    hidden.dispose();
    const cross = this.#crossNames.present.map((name) => required(out, name));
    return new CrossState(cross, float32Data(required(out, 'logits'), 'logits'));
  }

  /** A decoder over this window, with its own self-attention cache (one per decode call). */
  decoder(cross: CrossAttention): DecoderModel {
    return new KvDecoder(this.#layout, asCross(cross), this.#runStep);
  }

  readonly #runStep: StepRunner = async (cross, feeds, batch) => {
    const crossTensors = cross.tensors;
    if (!crossTensors) throw new DecodeFailedError('The encoded audio was already released', {});
    if (batch > 1 && this.#crossBroadcasts) {
      this.#crossNames.past.forEach((name, i) => (feeds[name] = crossTensors[i] as Tensor));
      try {
        return await this.#decoder.run(feeds, this.#stepFetches);
      } catch {
        // An export whose attention reshapes by batch cannot broadcast: tile from now on.
        this.#crossBroadcasts = false;
      }
    }
    const tensors = batch > 1 ? tiledCross(cross, crossTensors, batch) : crossTensors;
    this.#crossNames.past.forEach((name, i) => (feeds[name] = tensors[i] as Tensor));
    return this.#decoder.run(feeds, this.#stepFetches);
  };

  releaseCross(cross: CrossAttention): void {
    const state = asCross(cross);
    if (!state.tensors) return;
    for (const t of state.tensors) t.dispose();
    state.tensors = null;
    state.tiled.clear();
    state.start = null;
  }

  async close(): Promise<void> {
    await Promise.all([this.#encoder.release(), this.#decoder.release()]);
  }
}

/**
 * The decoder with its self-attention cache, as a search drives it. Beam reorders are applied
 * lazily: logical row b (the search's beam b) lives in physical cache row `slot[b]`, and a reorder
 * only copies the rows of beams that fork — the first child of a beam inherits its row in place.
 * Gathering the whole cache into new arrays every step (5 beams × 12 tensors × length × 512 floats,
 * ~25 MB at 200 tokens) added 4–9 ms to a ~12 ms step. The cache rows stay a permutation of the
 * logical rows, and every op of the decoder treats batch rows independently (per-tensor quantisation
 * scales see the same set of values), so the logits are bit-identical to those of a physical reorder.
 */
class KvDecoder implements DecoderModel {
  #batch = 1;
  #length = 0;
  /** Per layer key, value: [batch, heads, length, headDim], physical row order; fed as the next past. */
  #past: Tensor[];
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
    private readonly cross: CrossState,
    private readonly runStep: StepRunner,
  ) {
    const empty = float32Tensor(new Float32Array(0), [1, layout.nHeads, 0, layout.headDim]);
    this.#past = layout.selfPast.map(() => empty);
    this.#idsTensor = int64Tensor(this.#ids, [1, 1]);
    this.#feeds = { use_cache_branch: layout.useCache };
  }

  async start(tokens: readonly number[]): Promise<Float32Array> {
    if (this.#length !== 0) throw new DecodeFailedError('start: this decoder already ran', {});
    const cached = this.cross.start;
    if (cached && sameTokens(cached.tokens, tokens)) {
      // Same window, same tokens: ORT would return these very values (it is deterministic).
      this.#past = [...cached.past];
      this.#length = tokens.length;
      return cached.logits;
    }
    const ids = new BigInt64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) ids[i] = BigInt(tokens[i] as number);
    const logits = await this.#run(int64Tensor(ids, [1, tokens.length]), tokens.length);
    this.cross.start = { tokens: [...tokens], logits, past: [...this.#past] };
    return logits;
  }

  async step(tokens: Int32Array): Promise<Float32Array> {
    const batch = this.#batch;
    if (tokens.length !== batch) throw new DecodeFailedError(`step: ${tokens.length} tokens for batch ${batch}`, {});
    if (this.#ids.length !== batch) {
      this.#ids = new BigInt64Array(batch);
      this.#idsTensor = int64Tensor(this.#ids, [batch, 1]);
    }
    for (let b = 0; b < batch; b++) this.#ids[this.#slot[b] as number] = BigInt(tokens[b] as number);
    const logits = await this.#run(this.#idsTensor, 1);
    if (this.#identity) return logits;
    const vocab = logits.length / batch;
    if (this.#logical.length !== logits.length) this.#logical = new Float32Array(logits.length);
    for (let b = 0; b < batch; b++) {
      const p = this.#slot[b] as number;
      this.#logical.set(logits.subarray(p * vocab, (p + 1) * vocab), b * vocab);
    }
    return this.#logical;
  }

  reorder(sources: Int32Array): void {
    if (sources.length !== this.#batch) {
      this.#gather(sources);
      return;
    }
    const batch = this.#batch;
    const copies = planReorder(this.#slot, sources, this.#nextSlot, this.#claimed, this.#copies);
    const rowSize = this.layout.nHeads * this.#length * this.layout.headDim;
    for (let c = 0; c < copies; c++) {
      const from = this.#copies[2 * c] as number;
      const to = this.#copies[2 * c + 1] as number;
      for (const t of this.#past) float32Data(t, 'past key/value').copyWithin(to * rowSize, from * rowSize, (from + 1) * rowSize);
    }
    [this.#slot, this.#nextSlot] = [this.#nextSlot, this.#slot];
    let identity = true;
    for (let b = 0; identity && b < batch; b++) identity = this.#slot[b] === b;
    this.#identity = identity;
  }

  /** A reorder that changes the batch size: a real gather, back to identity order. */
  #gather(sources: Int32Array): void {
    const n = sources.length;
    const rowSize = this.layout.nHeads * this.#length * this.layout.headDim;
    this.#past = this.#past.map((t) => {
      const data = float32Data(t, 'past key/value');
      const out = new Float32Array(rowSize * n);
      for (let b = 0; b < n; b++) {
        const p = this.#slot[sources[b] as number] as number;
        out.set(data.subarray(p * rowSize, (p + 1) * rowSize), b * rowSize);
      }
      return float32Tensor(out, [n, this.layout.nHeads, this.#length, this.layout.headDim]);
    });
    this.#batch = n;
    this.#slot = Int32Array.from({ length: n }, (_, b) => b);
    this.#nextSlot = new Int32Array(n);
    this.#claimed = new Uint8Array(n);
    this.#copies = new Int32Array(2 * n);
    this.#identity = true;
  }

  /** One decoder pass; returns its logits in physical row order ([batch][seqLen][vocab]). */
  async #run(ids: Tensor, seqLen: number): Promise<Float32Array> {
    const batch = this.#batch;
    const feeds = this.#feeds;
    feeds['input_ids'] = ids;
    feeds['encoder_hidden_states'] = this.layout.hiddenStandIn(batch);
    this.layout.selfPast.forEach((name, i) => (feeds[name] = this.#past[i] as Tensor));
    const out = await this.runStep(this.cross, feeds, batch);
    // The outputs are fresh arrays owned by this side: the next pass reads them as its past and
    // reorders copy rows inside them.
    this.#past = this.layout.selfPresent.map((name) => required(out, name));
    this.#length += seqLen;
    return float32Data(required(out, 'logits'), 'logits');
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

function required(out: Record<string, Tensor>, name: string): Tensor {
  const t = out[name];
  if (!t) throw new DecodeFailedError(`The decoder returned no ${name}`, {});
  return t;
}

function asCross(cross: CrossAttention): CrossState {
  if (!(cross instanceof CrossState)) throw new DecodeFailedError('Not encoded audio made by WhisperOrt', {});
  return cross;
}

function tiledCross(state: CrossState, tensors: readonly Tensor[], batch: number): Tensor[] {
  let tiled = state.tiled.get(batch);
  if (!tiled) {
    tiled = tensors.map((t) => {
      const data = float32Data(t, 'cross key/value');
      const out = new Float32Array(data.length * batch);
      for (let b = 0; b < batch; b++) out.set(data, b * data.length);
      return float32Tensor(out, [batch, ...t.dims.slice(1)]);
    });
    state.tiled.set(batch, tiled);
  }
  return tiled;
}
