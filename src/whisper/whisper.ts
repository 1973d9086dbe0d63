/**
 * A loaded Whisper model: config + tokenizer + ORT sessions, behind the WhisperBackend contract the
 * transcribe driver uses. encode() keeps the cross-attention KV of the window, so language detection
 * and every decode of that window (temperature fallback, beams) reuse it until release().
 */
import { InvalidOptionError } from '../errors.js';
import { defaultCacheDir } from '../models/resolve.js';
import { ACTIVATION_QUANTS, isActivationQuant, prepareWhisperGraphs, type EffectiveActivationQuant, type SaturationGuards, type WeightQuant } from './graphs.js';
import { loadWhisperConfig, type WhisperConfig } from './config.js';
import { decodeWindow, type DecoderContext } from './decoder.js';
import { parseDevice } from './device.js';
import { WhisperOrt, type CrossAttention } from './ort.js';
import { WhisperTokenizer } from './tokenizer.js';
import type {
  DecodeOptions,
  DecodingResult,
  Device,
  EncodedAudio,
  LanguageDetection,
  LoadWhisperOptions,
  ResolvedModel,
  WhisperBackend,
} from './types.js';

const DEFAULT_INTRA_OP_THREADS = 2;
const DEFAULT_INTER_OP_THREADS = 1;
const LANGUAGE_CANDIDATES = 5;

class Encoded implements EncodedAudio {
  readonly kind = 'encoded-audio' as const;
  constructor(readonly cross: CrossAttention) {}
}

function threads(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidOptionError(`${option} must be an integer ≥ 1, not ${value}`, { option });
  }
  return value;
}

export class Whisper implements WhisperBackend {
  readonly modelName: string;
  readonly config: WhisperConfig;
  readonly tokenizer: WhisperTokenizer;
  readonly device: Device;
  /** How the int8 sessions quantise activations ('none' for fp16 / fp32 models). */
  readonly activationQuant: EffectiveActivationQuant;
  /** 'per-channel' when the int8 weights were requantised from float weights (LoadWhisperOptions.floatWeights). */
  readonly weightQuant: WeightQuant;
  readonly shortWindows: boolean;
  /** How each graph's integer MatMuls are kept exact where this CPU's int8 products saturate (graphs.ts step 8). */
  readonly saturationGuard: SaturationGuards;
  readonly #ort: WhisperOrt;
  readonly #context: DecoderContext;
  #closed = false;

  private constructor(
    model: ResolvedModel,
    config: WhisperConfig,
    tokenizer: WhisperTokenizer,
    ort: WhisperOrt,
    activationQuant: EffectiveActivationQuant,
    weightQuant: WeightQuant,
    shortWindows: boolean,
    saturationGuard: SaturationGuards,
  ) {
    this.modelName = model.name;
    this.saturationGuard = saturationGuard;
    this.activationQuant = activationQuant;
    this.weightQuant = weightQuant;
    this.shortWindows = shortWindows;
    this.config = config;
    this.tokenizer = tokenizer;
    this.#ort = ort;
    this.device = ort.device;
    this.#context = {
      specials: config.specials,
      vocabSize: config.vocabSize,
      maxTargetPositions: config.maxTargetPositions,
      blankTokens: tokenizer.encode(' '),
      timestampPrecisionInS: tokenizer.timestampPrecisionInS,
      decodeText: (ids) => tokenizer.decode(ids),
    };
  }

  static async load(model: ResolvedModel, options: LoadWhisperOptions = {}): Promise<Whisper> {
    const device = parseDevice(options.device ?? 'cpu');
    const intraOpThreads = threads(options.intraOpThreads, DEFAULT_INTRA_OP_THREADS, 'intraOpThreads');
    const interOpThreads = threads(options.interOpThreads, DEFAULT_INTER_OP_THREADS, 'interOpThreads');
    const config = await loadWhisperConfig(model.dir);
    const tokenizer = await WhisperTokenizer.fromDir(model.dir, config);
    const activationQuant = options.activationQuant ?? 'per-row';
    if (!isActivationQuant(activationQuant)) {
      throw new InvalidOptionError(`activationQuant must be ${ACTIVATION_QUANTS.join(' or ')}, not ${String(activationQuant)}`, {
        option: 'activationQuant',
      });
    }
    const floatWeights = options.floatWeights ?? null;
    if (floatWeights !== null && (typeof floatWeights !== 'string' || floatWeights.trim() === '')) {
      throw new InvalidOptionError(`floatWeights must be a path (a CTranslate2 model folder or model.bin), not ${JSON.stringify(floatWeights)}`, {
        option: 'floatWeights',
      });
    }
    const cacheDir = options.derivedCacheDir === undefined ? defaultCacheDir() : options.derivedCacheDir;
    // Step 8 is a fix for the CPU's int8 kernel: CUDA's integer MatMul takes int8 weights only.
    const graphs = await prepareWhisperGraphs(model, activationQuant, cacheDir, config.nFrames, floatWeights, device.kind === 'cpu');
    const ort = await WhisperOrt.open(graphs.encoderPieces, graphs.decoder, {
      device,
      strictDevice: options.strictDevice ?? false,
      intraOpThreads,
      interOpThreads,
      onWarning: options.onWarning,
    });
    return new Whisper(model, config, tokenizer, ort, graphs.activationQuant, graphs.weightQuant, graphs.shortWindows, graphs.saturationGuard);
  }

  get nMels(): number {
    return this.config.nMels;
  }
  get hopLength(): number {
    return this.config.hopLength;
  }
  get nFrames(): number {
    return this.config.nFrames;
  }
  get maxTargetPositions(): number {
    return this.config.maxTargetPositions;
  }
  get defaultSuppressTokens(): readonly number[] {
    return this.config.suppressTokens;
  }

  async encode(mel: Float32Array, frames: number = this.config.nFrames, signal?: AbortSignal): Promise<EncodedAudio> {
    this.#checkOpen();
    const { nFrames } = this.config;
    if (frames !== nFrames && !(this.shortWindows && Number.isInteger(frames) && frames > 0 && frames < nFrames && frames % 2 === 0)) {
      const allowed = this.shortWindows ? `an even number of frames up to ${nFrames}` : `${nFrames} frames (this encoder takes full windows only)`;
      throw new InvalidOptionError(`encode expects ${allowed}, not ${frames}`, { option: 'frames' });
    }
    const expected = this.config.nMels * frames;
    if (!(mel instanceof Float32Array) || mel.length !== expected) {
      throw new InvalidOptionError(`encode expects a Float32Array of ${this.config.nMels} × ${frames} = ${expected} values, got ${mel.length}`, {
        option: 'mel',
      });
    }
    for (let i = 0; i < mel.length; i++) {
      if (!Number.isFinite(mel[i])) {
        throw new InvalidOptionError(`The mel spectrogram holds a non-finite value at index ${i}`, { option: 'mel' });
      }
    }
    const cross = await this.#ort.encode(mel, this.config.nMels, frames, this.config.sot, signal);
    return new Encoded(cross);
  }

  /** OpenAI's detect_language: the decoder's distribution at [sot], restricted to language tokens. */
  async detectLanguage(audio: EncodedAudio): Promise<LanguageDetection> {
    const logits = asEncoded(audio).cross.sotLogits;
    const entries = [...this.config.langToId].map(([language, id]) => ({ language, logit: logits[id] ?? -Infinity }));
    let max = -Infinity;
    for (const e of entries) if (e.logit > max) max = e.logit;
    let sum = 0;
    for (const e of entries) sum += Math.exp(e.logit - max);
    const ranked = entries
      .map((e) => ({ language: e.language, probability: Math.exp(e.logit - max) / sum }))
      .sort((a, b) => b.probability - a.probability);
    const top = ranked[0];
    if (!top) throw new InvalidOptionError('The model has no language tokens', { option: 'language' });
    return { language: top.language, probability: top.probability, candidates: ranked.slice(0, LANGUAGE_CANDIDATES) };
  }

  async decode(audio: EncodedAudio, options: DecodeOptions): Promise<DecodingResult> {
    this.#checkOpen();
    return decodeWindow(this.#ort.decoder(asEncoded(audio).cross), this.#context, options);
  }

  release(audio: EncodedAudio): void {
    this.#ort.releaseCross(asEncoded(audio).cross);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ort.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new InvalidOptionError('This Whisper model was closed', { option: 'model' });
  }
}

function asEncoded(audio: EncodedAudio): Encoded {
  if (!(audio instanceof Encoded)) {
    throw new InvalidOptionError('Not encoded audio from this Whisper backend', { option: 'audio' });
  }
  return audio;
}
