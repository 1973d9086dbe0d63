/**
 * The only module that imports onnxruntime-node (project rule: one importer per third-party runtime).
 * Whisper (src/whisper/ort.ts) and Silero VAD run their ONNX models through this facade, so an ORT
 * upgrade, a session option or an execution provider is handled here once.
 *
 * It owns what every model shares: session options (threads, optimisation, spinning, profiling),
 * the CUDA execution provider with its CPU fallback, and the mapping of ORT failures to coded errors:
 *   - a file ORT cannot load on the CPU             → ModelCorruptError (details.path)
 *   - CUDA unusable, strictDevice                    → DeviceUnavailableError (details.device)
 *   - CUDA unusable, otherwise                       → STT_WARN_DEVICE_FALLBACK warning, CPU session
 *   - a failing run                                  → DecodeFailedError
 * ORT's own types stay private: callers see OnnxSession and OnnxTensor.
 */
import ort from 'onnxruntime-node';
import { DecodeFailedError, DeviceUnavailableError, ModelCorruptError } from '../errors.js';
import { formatDevice } from '../whisper/device.js';
import type { Device, EngineWarning } from '../whisper/types.js';

export type OnnxTensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

/** Brands OnnxTensor: only the constructors below and runs make one (a type, no runtime value). */
declare const onnxTensorBrand: unique symbol;

/** A tensor made by this module (constructors below) or returned by a run; its data is not copied. */
export interface OnnxTensor {
  readonly [onnxTensorBrand]: true;
  readonly type: string;
  readonly data: OnnxTensorData;
  readonly dims: readonly number[];
  /** Frees runtime-owned memory early (outputs); tensors over caller arrays just drop the reference. */
  dispose(): void;
}

/** A model input or output as declared in the file: symbolic dimensions are strings. */
export interface OnnxValueInfo {
  readonly name: string;
  /** Element type ('float32', 'int64', …); null for non-tensor values. */
  readonly type: string | null;
  readonly shape: readonly (number | string)[] | null;
}

/** Output name → a preallocated tensor of the exact output shape (written in place), or null. */
export type OnnxFetches = readonly string[] | Readonly<Record<string, OnnxTensor | null>>;

export interface OnnxSession {
  /** The device the session really runs on (cpu after a fallback). */
  readonly device: Device;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /**
   * Runs the model (every output when `fetches` is omitted); failures become DecodeFailedError.
   * A preallocated fetch is filled in place: ORT writes the output straight into its array.
   */
  run(feeds: Readonly<Record<string, OnnxTensor>>, fetches?: OnnxFetches): Promise<Record<string, OnnxTensor>>;
  /** Closes the profile file when the session was opened with `profileFilePrefix`. */
  endProfiling(): void;
  release(): Promise<void>;
}

export interface OnnxSessionOptions {
  readonly device: Device;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  /** When the device cannot be used: throw DeviceUnavailableError instead of warning and using CPU. */
  readonly strictDevice?: boolean;
  readonly onWarning?: ((warning: EngineWarning) => void) | undefined;
  /**
   * Whether idle intra-op threads busy-wait for the next parallel section within a run (ORT's
   * default: true): it shortens the hand-off between a run's kernels. Between runs they never spin
   * here (see STOP_SPINNING_AFTER_RUN); off entirely for sparse runs (the VAD's 32 ms windows).
   */
  readonly allowSpinning?: boolean;
  /** Writes ORT's chrome-trace profile to `<prefix>_<date>.json`; endProfiling() closes it. */
  readonly profileFilePrefix?: string;
}

/** A model file, or its bytes after a rewrite (src/onnx/row-quant.ts); `path` names it in errors. */
export type OnnxModelSource = string | { readonly path: string; readonly bytes: Uint8Array };

function sourcePath(source: OnnxModelSource): string {
  return typeof source === 'string' ? source : source.path;
}

const CPU: Device = { kind: 'cpu' };

/**
 * ORT's intra-op workers keep busy-waiting for ~40 ms after a run returns (measured here: 35–43 ms
 * of CPU in the 50 ms after an encoder run, 0.3 ms with this key). Whisper has two sessions with a
 * pool each (encoder, decoder): on a 2-core machine the idle pool's spin took a core from the
 * other session's run and from the JavaScript of the search between decoder steps. With the stop,
 * the decode benchmark's 36 French clips took 12 % (beam 5) to 16 % (greedy) less, texts identical.
 * Spinning within a run (allowSpinning) is unaffected.
 */
const STOP_SPINNING_AFTER_RUN = { 'session.force_spinning_stop': '1' } as const;

/**
 * Measured on the whisper-base decoder step at 2 threads: turning off intra-op spinning (within
 * runs too) cost 15–30 %, one thread instead of two 25–40 %, and 'extended' optimisation or other
 * block sizes changed nothing measurable, so these stay at ORT's fastest defaults.
 *
 * Memory patterns are off: onnxruntime plans and keeps one per input shape, and the encoder sees
 * many (short windows) and the decoder a new one every step. Measured on the whisper-base encoder
 * after 14 passes: 463 → 304 MiB RSS at 30 s windows only, 519 → 359 MiB at mixed lengths, at the
 * same speed; decoder steps were no slower. (The CPU arena stays on: without it the encoder was
 * 43 % slower.)
 */
function sessionOptions(device: Device, options: OnnxSessionOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: options.interOpThreads,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableMemPattern: false,
    // Fatal only: a missing CUDA provider is reported through our own warning, not ORT's stderr.
    logSeverityLevel: device.kind === 'cpu' ? 3 : 4,
    executionProviders: device.kind === 'cpu' ? ['cpu'] : [{ name: 'cuda', deviceId: device.index }, 'cpu'],
    ...(options.profileFilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: options.profileFilePrefix } : {}),
    extra: {
      ...STOP_SPINNING_AFTER_RUN,
      ...(options.allowSpinning !== undefined ? { 'session.intra_op.allow_spinning': options.allowSpinning ? '1' : '0' } : {}),
    },
  };
}

function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

function valueInfo(meta: readonly ort.InferenceSession.ValueMetadata[]): OnnxValueInfo[] {
  return meta.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: null, shape: null },
  );
}

class Session implements OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  constructor(
    readonly device: Device,
    readonly inner: ort.InferenceSession,
  ) {
    this.inputNames = [...inner.inputNames];
    this.outputNames = [...inner.outputNames];
    this.inputs = valueInfo(inner.inputMetadata);
    this.outputs = valueInfo(inner.outputMetadata);
  }

  async run(feeds: Readonly<Record<string, OnnxTensor>>, fetches?: OnnxFetches): Promise<Record<string, OnnxTensor>> {
    try {
      // OnnxTensor values are ort.Tensor instances: only this module constructs them.
      const ortFeeds = feeds as unknown as ort.InferenceSession.FeedsType;
      const out =
        fetches === undefined
          ? await this.inner.run(ortFeeds)
          : Array.isArray(fetches)
            ? await this.inner.run(ortFeeds, fetches as string[])
            : await this.inner.run(ortFeeds, fetches as unknown as ort.InferenceSession.FetchesType);
      return out as unknown as Record<string, OnnxTensor>;
    } catch (cause) {
      throw new DecodeFailedError(`onnxruntime failed: ${reasonOf(cause)}`, {}, { cause });
    }
  }

  endProfiling(): void {
    this.inner.endProfiling();
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}

async function load(source: OnnxModelSource, device: Device, options: OnnxSessionOptions): Promise<ort.InferenceSession> {
  return typeof source === 'string'
    ? ort.InferenceSession.create(source, sessionOptions(device, options))
    : ort.InferenceSession.create(source.bytes, sessionOptions(device, options));
}

async function loadCpuOrCorrupt(source: OnnxModelSource, options: OnnxSessionOptions): Promise<ort.InferenceSession> {
  try {
    return await load(source, CPU, options);
  } catch (cause) {
    const path = sourcePath(source);
    throw new ModelCorruptError(`onnxruntime cannot load ${path}: ${reasonOf(cause)}`, { path }, { cause });
  }
}

/**
 * Opens several models that must share one device (an encoder and its decoder): either all run on
 * the requested device or all fall back to the CPU, with a single warning.
 */
export async function createOnnxSessions(sources: readonly OnnxModelSource[], options: OnnxSessionOptions): Promise<OnnxSession[]> {
  const device = options.device;
  if (device.kind === 'cuda') {
    try {
      const inner = await Promise.all(sources.map((p) => load(p, device, options)));
      return inner.map((s) => new Session(device, s));
    } catch (cause) {
      // Tell a broken model from an unusable device: the CPU load below throws ModelCorruptError.
      const inner = await Promise.all(sources.map((p) => loadCpuOrCorrupt(p, options)));
      const reason = cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : String(cause);
      const message = `${formatDevice(device)} is unavailable (${reason})`;
      if (options.strictDevice === true) {
        await Promise.all(inner.map((s) => s.release()));
        throw new DeviceUnavailableError(`${message}; strictDevice forbids the CPU fallback`, {
          device: formatDevice(device),
        }, { cause });
      }
      options.onWarning?.({ code: 'STT_WARN_DEVICE_FALLBACK', message: `${message}; running on cpu` });
      return inner.map((s) => new Session(CPU, s));
    }
  }
  const inner = await Promise.all(sources.map((p) => loadCpuOrCorrupt(p, options)));
  return inner.map((s) => new Session(CPU, s));
}

export async function createOnnxSession(source: OnnxModelSource, options: OnnxSessionOptions): Promise<OnnxSession> {
  const [session] = await createOnnxSessions([source], options);
  if (!session) throw new ModelCorruptError(`onnxruntime opened no session for ${sourcePath(source)}`, { path: sourcePath(source) });
  return session;
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): OnnxTensor {
  return new ort.Tensor('float32', data, dims) as unknown as OnnxTensor;
}

export function int64Tensor(data: BigInt64Array, dims: readonly number[]): OnnxTensor {
  return new ort.Tensor('int64', data, dims) as unknown as OnnxTensor;
}

export function int32Tensor(data: Int32Array, dims: readonly number[]): OnnxTensor {
  return new ort.Tensor('int32', data, dims) as unknown as OnnxTensor;
}

export function uint8Tensor(data: Uint8Array, dims: readonly number[]): OnnxTensor {
  return new ort.Tensor('uint8', data, dims) as unknown as OnnxTensor;
}

/** ONNX bool: one byte per element, 0 or 1. */
export function boolTensor(data: Uint8Array, dims: readonly number[]): OnnxTensor {
  return new ort.Tensor('bool', data, dims) as unknown as OnnxTensor;
}

/** The Float32Array behind a float32 tensor; DecodeFailedError for any other type (a model mismatch). */
export function float32Data(tensor: OnnxTensor, what: string): Float32Array {
  if (!(tensor.data instanceof Float32Array)) {
    throw new DecodeFailedError(`${what} is ${tensor.type}, expected float32`, { tensor: what });
  }
  return tensor.data;
}
