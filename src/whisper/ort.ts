/**
 * The one module that touches onnxruntime-node. It exposes Whisper-shaped operations (encode a mel
 * window, run a decoder step against a KV cache, reorder the cache for beams) and keeps every ORT
 * type private, so the rest of the core is plain typed arrays.
 *
 * Cross-attention keys/values depend only on the audio, so they are computed once per window (in
 * `encode`, via the merged decoder's no-cache branch on [sot]) and every later decode — any prompt,
 * any temperature, any beam — starts on the cache branch with an empty self-attention past. The
 * cross KV stays at batch 1: MatMul broadcasts it over the beams, which saves tiling ~37 MB per beam.
 */
import ort from 'onnxruntime-node';
import { DecodeFailedError, DeviceUnavailableError, ModelCorruptError } from '../errors.js';
import { formatDevice } from './device.js';
import type { Device, EngineWarning } from './types.js';

type Tensor = ort.Tensor;
type Session = ort.InferenceSession;

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

/** Self-attention KV of `batch` rows that have seen `length` tokens. */
export interface SelfAttentionCache {
  readonly kind: 'self-attention';
  readonly batch: number;
  readonly length: number;
}

export interface StepOutput {
  /** Row-major [batch][seqLen][vocab]; the caller owns it (filters write into it). */
  readonly logits: Float32Array;
  readonly vocabSize: number;
  readonly cache: SelfAttentionCache;
}

class CrossState implements CrossAttention {
  readonly kind = 'cross-attention' as const;
  /** Per layer: [key, value], each [1, heads, audioCtx, headDim]. */
  tensors: Tensor[] | null;
  /** Tiled copies per batch size, only for exports that cannot broadcast the cross KV. */
  readonly tiled = new Map<number, Tensor[]>();
  readonly sotLogits: Float32Array;
  constructor(tensors: Tensor[], sotLogits: Float32Array) {
    this.tensors = tensors;
    this.sotLogits = sotLogits;
  }
}

class SelfState implements SelfAttentionCache {
  readonly kind = 'self-attention' as const;
  constructor(
    readonly batch: number,
    readonly length: number,
    /** Per layer: key, value, each [batch, heads, length, headDim]. */
    readonly tensors: readonly Tensor[],
  ) {}
}

function sessionOptions(device: Device, options: OrtOpenOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: options.interOpThreads,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // Fatal only: a missing CUDA provider is reported through our own warning, not ORT's stderr.
    logSeverityLevel: device.kind === 'cpu' ? 3 : 4,
    executionProviders: device.kind === 'cpu' ? ['cpu'] : [{ name: 'cuda', deviceId: device.index }, 'cpu'],
  };
}

async function createSession(filePath: string, device: Device, options: OrtOpenOptions): Promise<Session> {
  return ort.InferenceSession.create(filePath, sessionOptions(device, options));
}

async function createCpuOrCorrupt(filePath: string, options: OrtOpenOptions): Promise<Session> {
  try {
    return await createSession(filePath, { kind: 'cpu' }, options);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ModelCorruptError(`onnxruntime cannot load ${filePath}: ${reason}`, { path: filePath }, { cause });
  }
}

export class WhisperOrt {
  readonly device: Device;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly headDim: number;
  readonly dModel: number;
  readonly #encoder: Session;
  readonly #decoder: Session;
  readonly #selfNames: { past: string[]; present: string[] };
  readonly #crossNames: { past: string[]; present: string[] };
  readonly #stepFetches: string[];
  readonly #useCacheTrue: Tensor;
  readonly #useCacheFalse: Tensor;
  /** Stand-ins for encoder_hidden_states on the cache branch, which never reads them. */
  readonly #dummyHidden = new Map<number, Tensor>();
  #crossBroadcasts = true;

  private constructor(encoder: Session, decoder: Session, device: Device) {
    this.#encoder = encoder;
    this.#decoder = decoder;
    this.device = device;
    const layers = decoder.inputNames
      .map((n) => /^past_key_values\.(\d+)\.decoder\.key$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined);
    this.nLayers = layers.length;
    const meta = decoder.inputMetadata.find((m) => m.name === 'past_key_values.0.decoder.key');
    const hiddenMeta = decoder.inputMetadata.find((m) => m.name === 'encoder_hidden_states');
    const heads = meta?.isTensor ? meta.shape[1] : undefined;
    const headDim = meta?.isTensor ? meta.shape[3] : undefined;
    const dModel = hiddenMeta?.isTensor ? hiddenMeta.shape[2] : undefined;
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
    this.#useCacheTrue = new ort.Tensor('bool', new Uint8Array([1]), [1]);
    this.#useCacheFalse = new ort.Tensor('bool', new Uint8Array([0]), [1]);
  }

  static async open(encoderPath: string, decoderPath: string, options: OrtOpenOptions): Promise<WhisperOrt> {
    if (options.device.kind === 'cuda') {
      try {
        const [encoder, decoder] = await Promise.all([
          createSession(encoderPath, options.device, options),
          createSession(decoderPath, options.device, options),
        ]);
        return new WhisperOrt(encoder, decoder, options.device);
      } catch (cause) {
        // Tell a broken model from an unusable device: the CPU load below throws ModelCorruptError.
        const [encoder, decoder] = await Promise.all([
          createCpuOrCorrupt(encoderPath, options),
          createCpuOrCorrupt(decoderPath, options),
        ]);
        const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
        const message = `${formatDevice(options.device)} is unavailable (${reason})`;
        if (options.strictDevice) {
          await Promise.all([encoder.release(), decoder.release()]);
          throw new DeviceUnavailableError(`${message}; strictDevice forbids the CPU fallback`, {
            device: formatDevice(options.device),
          }, { cause });
        }
        options.onWarning?.({ code: 'STT_WARN_DEVICE_FALLBACK', message: `${message}; running on cpu` });
        return new WhisperOrt(encoder, decoder, { kind: 'cpu' });
      }
    }
    const [encoder, decoder] = await Promise.all([
      createCpuOrCorrupt(encoderPath, options),
      createCpuOrCorrupt(decoderPath, options),
    ]);
    return new WhisperOrt(encoder, decoder, { kind: 'cpu' });
  }

  async #run(session: Session, feeds: Record<string, Tensor>, fetches: string[]): Promise<Record<string, Tensor>> {
    try {
      return (await session.run(feeds, fetches)) as Record<string, Tensor>;
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new DecodeFailedError(`onnxruntime failed: ${reason}`, {}, { cause });
    }
  }

  #emptyPast(batch: number): Tensor {
    return new ort.Tensor('float32', new Float32Array(0), [batch, this.nHeads, 0, this.headDim]);
  }

  #hiddenStandIn(batch: number): Tensor {
    let t = this.#dummyHidden.get(batch);
    if (!t) {
      t = new ort.Tensor('float32', new Float32Array(batch * this.dModel), [batch, 1, this.dModel]);
      this.#dummyHidden.set(batch, t);
    }
    return t;
  }

  /** Runs the encoder on one window (row-major [nMels][nFrames]) and derives its cross-attention KV. */
  async encode(mel: Float32Array, nMels: number, nFrames: number, sot: number): Promise<CrossAttention> {
    const encoded = await this.#run(
      this.#encoder,
      { input_features: new ort.Tensor('float32', mel, [1, nMels, nFrames]) },
      ['last_hidden_state'],
    );
    const hidden = encoded['last_hidden_state'];
    if (!hidden) throw new DecodeFailedError('The encoder returned no last_hidden_state', {});
    const feeds: Record<string, Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(sot)), [1, 1]),
      encoder_hidden_states: hidden,
      use_cache_branch: this.#useCacheFalse,
    };
    const empty = this.#emptyPast(1);
    for (const name of this.#selfNames.past) feeds[name] = empty;
    for (const name of this.#crossNames.past) feeds[name] = empty;
    const out = await this.#run(this.#decoder, feeds, ['logits', ...this.#crossNames.present]);
    hidden.dispose();
    const cross = this.#crossNames.present.map((name) => {
      const t = out[name];
      if (!t) throw new DecodeFailedError(`The decoder returned no ${name}`, {});
      return t;
    });
    const logits = out['logits'];
    if (!logits) throw new DecodeFailedError('The decoder returned no logits', {});
    return new CrossState(cross, logits.data as Float32Array);
  }

  emptyCache(batch: number): SelfAttentionCache {
    const empty = this.#emptyPast(batch);
    return new SelfState(batch, 0, this.#selfNames.past.map(() => empty));
  }

  /**
   * Feeds `tokens` (row-major [batch][seqLen]) after the cached ones. Returns the logits of every
   * fed position and the grown cache; the input cache stays valid (beams may still reorder it).
   */
  async step(cross: CrossAttention, cache: SelfAttentionCache, tokens: ArrayLike<number>, seqLen: number): Promise<StepOutput> {
    const state = asSelf(cache);
    const crossState = asCross(cross);
    const crossTensors = crossState.tensors;
    if (!crossTensors) throw new DecodeFailedError('The encoded audio was already released', {});
    const batch = state.batch;
    if (tokens.length !== batch * seqLen) {
      throw new DecodeFailedError(`step: ${tokens.length} tokens for batch ${batch} × ${seqLen}`, {});
    }
    const ids = new BigInt64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) ids[i] = BigInt(tokens[i] as number);
    const feeds: Record<string, Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, seqLen]),
      encoder_hidden_states: this.#hiddenStandIn(batch),
      use_cache_branch: this.#useCacheTrue,
    };
    this.#selfNames.past.forEach((name, i) => (feeds[name] = state.tensors[i] as Tensor));
    let out: Record<string, Tensor>;
    if (batch > 1 && this.#crossBroadcasts) {
      this.#crossNames.past.forEach((name, i) => (feeds[name] = crossTensors[i] as Tensor));
      try {
        out = await this.#run(this.#decoder, feeds, this.#stepFetches);
      } catch {
        // An export whose attention reshapes by batch cannot broadcast: tile from now on.
        this.#crossBroadcasts = false;
        const tiled = tiledCross(crossState, crossTensors, batch);
        this.#crossNames.past.forEach((name, i) => (feeds[name] = tiled[i] as Tensor));
        out = await this.#run(this.#decoder, feeds, this.#stepFetches);
      }
    } else {
      const tensors = batch > 1 ? tiledCross(crossState, crossTensors, batch) : crossTensors;
      this.#crossNames.past.forEach((name, i) => (feeds[name] = tensors[i] as Tensor));
      out = await this.#run(this.#decoder, feeds, this.#stepFetches);
    }
    const logits = out['logits'];
    if (!logits) throw new DecodeFailedError('The decoder returned no logits', {});
    const presents = this.#selfNames.present.map((name) => {
      const t = out[name];
      if (!t) throw new DecodeFailedError(`The decoder returned no ${name}`, {});
      return t;
    });
    const vocabSize = logits.dims[2] ?? 0;
    return { logits: logits.data as Float32Array, vocabSize, cache: new SelfState(batch, state.length + seqLen, presents) };
  }

  /** Row b of the result is row sources[b] of `cache` (beam search); sources may change the batch size. */
  reorder(cache: SelfAttentionCache, sources: ArrayLike<number>): SelfAttentionCache {
    const state = asSelf(cache);
    let identity = sources.length === state.batch;
    for (let b = 0; identity && b < sources.length; b++) identity = sources[b] === b;
    if (identity) return state;
    const tensors = state.tensors.map((t) => gatherBatch(t, sources));
    return new SelfState(sources.length, state.length, tensors);
  }

  releaseCross(cross: CrossAttention): void {
    const state = asCross(cross);
    if (!state.tensors) return;
    for (const t of state.tensors) t.dispose();
    state.tensors = null;
    state.tiled.clear();
  }

  async close(): Promise<void> {
    await Promise.all([this.#encoder.release(), this.#decoder.release()]);
  }
}

function asSelf(cache: SelfAttentionCache): SelfState {
  if (!(cache instanceof SelfState)) throw new DecodeFailedError('Not a KV cache made by WhisperOrt', {});
  return cache;
}

function asCross(cross: CrossAttention): CrossState {
  if (!(cross instanceof CrossState)) throw new DecodeFailedError('Not encoded audio made by WhisperOrt', {});
  return cross;
}

function gatherBatch(t: Tensor, sources: ArrayLike<number>): Tensor {
  const data = t.data as Float32Array;
  const batch = t.dims[0] ?? 1;
  const rowSize = data.length / batch;
  const out = new Float32Array(rowSize * sources.length);
  for (let b = 0; b < sources.length; b++) {
    const src = sources[b] as number;
    out.set(data.subarray(src * rowSize, (src + 1) * rowSize), b * rowSize);
  }
  return new ort.Tensor('float32', out, [sources.length, ...t.dims.slice(1)]);
}

function tiledCross(state: CrossState, tensors: readonly Tensor[], batch: number): Tensor[] {
  let tiled = state.tiled.get(batch);
  if (!tiled) {
    const zeros = new Array<number>(batch).fill(0);
    tiled = tensors.map((t) => gatherBatch(t, zeros));
    state.tiled.set(batch, tiled);
  }
  return tiled;
}
