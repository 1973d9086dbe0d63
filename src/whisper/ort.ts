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
import { PAST_LENGTH_INPUT } from '../onnx/kv-append.js';
import { throwIfCancelled } from './decoder.js';
import { AppendCache, ConcatCache, SequenceMajorCache, type CacheShape } from './kv-cache.js';
import { KvDecoder, required, type DecoderLayout, type StartSlot, type StartState } from './kv-decoder.js';
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

class CrossState implements CrossAttention, StartSlot {
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

export class WhisperOrt {
  readonly device: Device;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly headDim: number;
  readonly dModel: number;
  /**
   * Whether the decoder returns only new self-attention rows (rewritten by src/onnx/kv-append.ts:
   * it has a `past_sequence_length` input) and the cache is kept here (kv-cache.ts AppendCache).
   */
  readonly appendsKv: boolean;
  /**
   * Whether that cache is laid out [positions, batch, heads, headDim] (src/onnx/kv-sequence-major.ts:
   * the past inputs' second dimension is the symbolic batch) and kept in kv-cache.ts SequenceMajorCache.
   */
  readonly sequenceMajorKv: boolean;
  /** The encoder, whole or cut into runs of layers (src/onnx/layer-split.ts), run in order. */
  readonly #encoder: readonly OnnxSession[];
  readonly #decoder: OnnxSession;
  readonly #selfNames: { past: string[]; present: string[] };
  readonly #crossNames: { past: string[]; present: string[] };
  readonly #stepFetches: string[];
  readonly #layout: DecoderLayout;
  readonly #cacheShape: CacheShape;
  readonly #useCacheFalse: Tensor;
  /** past_sequence_length = 0, for the no-cache pass of `encode` (which does not read it). */
  readonly #noPastLength = int64Tensor(new BigInt64Array(1), [1]);
  /** Stand-ins for encoder_hidden_states on the cache branch, which never reads them. */
  readonly #dummyHidden = new Map<number, Tensor>();
  #crossBroadcasts = true;

  private constructor(encoder: readonly OnnxSession[], decoder: OnnxSession, device: Device) {
    this.#encoder = encoder;
    this.#decoder = decoder;
    this.device = device;
    const layers = decoder.inputNames
      .map((n) => /^past_key_values\.(\d+)\.decoder\.key$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined);
    this.nLayers = layers.length;
    const meta = decoder.inputs.find((m) => m.name === 'past_key_values.0.decoder.key');
    const hiddenMeta = decoder.inputs.find((m) => m.name === 'encoder_hidden_states');
    // [batch, heads, positions, headDim] as exported; [positions, batch, heads, headDim] sequence-major.
    this.sequenceMajorKv = typeof meta?.shape?.[1] !== 'number' && typeof meta?.shape?.[2] === 'number';
    const heads = meta?.shape?.[this.sequenceMajorKv ? 2 : 1];
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
    this.appendsKv = decoder.inputNames.includes(PAST_LENGTH_INPUT);
    if (this.sequenceMajorKv && !this.appendsKv) {
      throw new ModelCorruptError('The decoder lays its self-attention past out sequence-major without a past_sequence_length input', {});
    }
    this.#layout = {
      selfPresent: this.#selfNames.present,
      useCache: boolTensor(new Uint8Array([1]), [1]),
      hiddenStandIn: (batch) => this.#hiddenStandIn(batch),
    };
    this.#cacheShape = { nHeads: heads, headDim, pastNames: this.#selfNames.past };
  }

  /** `encoderModel`: the encoder, or its pieces in run order (each one's output is the next one's input). */
  static async open(encoderModel: OnnxModelSource | readonly OnnxModelSource[], decoderModel: OnnxModelSource, options: OrtOpenOptions): Promise<WhisperOrt> {
    const pieces = Array.isArray(encoderModel) ? (encoderModel as readonly OnnxModelSource[]) : [encoderModel as OnnxModelSource];
    // One group: the encoder and decoder fall back to the CPU together, with a single warning.
    const sessions = await createOnnxSessions([...pieces, decoderModel], options);
    const decoder = sessions.pop();
    if (!decoder || sessions.length !== pieces.length || pieces.length === 0) {
      const path = typeof decoderModel === 'string' ? decoderModel : decoderModel.path;
      throw new ModelCorruptError('onnxruntime opened no Whisper sessions', { path });
    }
    return new WhisperOrt(sessions, decoder, decoder.device);
  }

  /** How many runs an encoder pass is (1: the encoder whole); a cancel stops the pass between two. */
  get encoderPieces(): number {
    return this.#encoder.length;
  }

  #emptyPast(batch: number, sequenceMajor: boolean): Tensor {
    const dims = sequenceMajor ? [0, batch, this.nHeads, this.headDim] : [batch, this.nHeads, 0, this.headDim];
    return float32Tensor(new Float32Array(0), dims);
  }

  #hiddenStandIn(batch: number): Tensor {
    let t = this.#dummyHidden.get(batch);
    if (!t) {
      t = float32Tensor(new Float32Array(batch * this.dModel), [batch, 1, this.dModel]);
      this.#dummyHidden.set(batch, t);
    }
    return t;
  }

  /**
   * Runs the encoder on one window (row-major [nMels][nFrames]) and derives its cross-attention KV.
   * `signal` is checked after each encoder run: a pass cancelled while it runs (a partial a final was
   * queued behind, a speculative final whose pause ended) stops at the next cut between its pieces,
   * or at the latest before the cross-attention pass (~10–25 ms).
   */
  async encode(mel: Float32Array, nMels: number, nFrames: number, sot: number, signal?: AbortSignal): Promise<CrossAttention> {
    let hidden = float32Tensor(mel, [1, nMels, nFrames]);
    for (const [index, piece] of this.#encoder.entries()) {
      // A piece reads the one before it: one input, one output (the residual stream at its cut).
      const input = index === 0 ? 'input_features' : (piece.inputNames[0] ?? '');
      const output = index === this.#encoder.length - 1 ? 'last_hidden_state' : (piece.outputNames[0] ?? '');
      const encoded = await piece.run({ [input]: hidden }, [output]);
      if (index > 0) hidden.dispose();
      const next = encoded[output];
      if (!next) throw new DecodeFailedError(`The encoder returned no ${output}`, {});
      hidden = next;
      // onnxruntime-node settles a run from a setImmediate callback, so this continuation runs before
      // the event loop has polled the worker's messages: a `cancel` sent during the run would not have
      // aborted the signal yet. One turn of the loop (an immediate queued now runs after the poll)
      // lets it through.
      if (signal !== undefined) {
        await yieldToEventLoop();
        if (signal.aborted) {
          hidden.dispose();
          throwIfCancelled(signal, `after encoder run ${index + 1} of ${this.#encoder.length}`);
        }
      }
    }
    const feeds: Record<string, Tensor> = {
      input_ids: int64Tensor(BigInt64Array.of(BigInt(sot)), [1, 1]),
      encoder_hidden_states: hidden,
      use_cache_branch: this.#useCacheFalse,
    };
    const emptySelf = this.#emptyPast(1, this.sequenceMajorKv);
    const emptyCross = this.#emptyPast(1, false);
    for (const name of this.#selfNames.past) feeds[name] = emptySelf;
    for (const name of this.#crossNames.past) feeds[name] = emptyCross;
    if (this.appendsKv) feeds[PAST_LENGTH_INPUT] = this.#noPastLength;
    const out = await this.#decoder.run(feeds, ['logits', ...this.#crossNames.present]);
    hidden.dispose();
    const cross = this.#crossNames.present.map((name) => required(out, name));
    return new CrossState(cross, float32Data(required(out, 'logits'), 'logits'));
  }

  /** A decoder over this window, with its own self-attention cache (one per decode call). */
  decoder(cross: CrossAttention): DecoderModel {
    const state = asCross(cross);
    const shape = this.#cacheShape;
    const cache = this.sequenceMajorKv ? new SequenceMajorCache(shape) : this.appendsKv ? new AppendCache(shape) : new ConcatCache(shape);
    return new KvDecoder(this.#layout, cache, state, (feeds, batch) => this.#runStep(state, feeds, batch));
  }

  async #runStep(cross: CrossState, feeds: Record<string, Tensor>, batch: number): Promise<Record<string, Tensor>> {
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
  }

  releaseCross(cross: CrossAttention): void {
    const state = asCross(cross);
    if (!state.tensors) return;
    for (const t of state.tensors) t.dispose();
    state.tensors = null;
    state.tiled.clear();
    state.start = null;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#encoder.map((piece) => piece.release()), this.#decoder.release()]);
  }
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

/** Lets the event loop run its phases once (messages included) before the caller goes on. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
