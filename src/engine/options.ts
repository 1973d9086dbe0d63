/** createEngine's options, their defaults and validation (bad options are coded errors, early). */
import { DEFAULT_VAD_OPTIONS, type VadOptions } from '../actors/vad/vad.protocol.js';
import type { PcmFormat } from '../actors/capture/capture.protocol.js';
import { DEFAULT_POST_PROCESS_OPTIONS } from '../actors/postprocess/postprocess.js';
import type { PostProcessOptions } from '../actors/postprocess/postprocess.protocol.js';
import { BadSampleRateError, InvalidOptionError } from '../errors.js';
import { checkFloatWeightsOption } from '../models/float-weights.js';
import { DEFAULT_SHORT_WINDOW_MARGIN_MS, DEFAULT_TEMPERATURES } from '../whisper/transcribe-options.js';
import type { FloatWeightsOption, ModelDtype } from '../whisper/types.js';
import { warmUpOption, type SharedDecoder } from './shared-decoder.js';
import type { TraceRecord } from './trace.js';

export type EngineInput =
  | { readonly kind: 'push'; readonly sampleRate?: number; readonly channels?: number }
  | { readonly kind: 'file'; readonly path: string; readonly realtime?: boolean }
  | { readonly kind: 'stdin'; readonly sampleRate: number; readonly channels: number; readonly format: PcmFormat }
  | {
      readonly kind: 'microphone';
      readonly device?: number | string | null;
      readonly sampleRate?: number | null;
      readonly channels?: number | null;
    };

export interface EngineOptions {
  /** Model name from the manifest (default 'base'). */
  readonly model?: string;
  readonly modelDir?: string;
  readonly dtype?: ModelDtype;
  /** Mirror directory (default: env STT_MODEL_MIRROR). */
  readonly mirror?: string;
  readonly allowDownload?: boolean;
  /**
   * Float weights to requantise the int8 graphs from, per output channel: a CTranslate2 folder or
   * model.bin, or true for the model's own copy (cache, mirror or hub; src/models/float-weights.ts).
   * Default env STT_FLOAT_WEIGHTS (a path or `auto`); see README, Models.
   */
  readonly floatWeights?: FloatWeightsOption;
  /**
   * 'fr' by default: this is a French assistant, and language detection on 1–3 s commands is the
   * weakest part of Whisper (a short "OK, stop" flips to English) while costing a pass per utterance.
   * 'auto' remains available for mixed use.
   */
  readonly language?: string;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  readonly device?: string;
  readonly strictDevice?: boolean;
  /** ONNX Runtime intra-op threads of the decode worker. */
  readonly threads?: number;
  /** The decode worker warms up before the engine starts (default true; see SharedDecoderOptions.warmUp). */
  readonly warmUp?: boolean;
  /** Beam size of finals (partials are always greedy). Default 5. */
  readonly beamSize?: number;
  /**
   * A final's beam search still running this long after its decode began goes on with one
   * hypothesis (TranscribeOptions.beamNarrowAfterMs), so a slow machine's long finals come sooner;
   * decodes that end in time are untouched. Default FINAL_BEAM_NARROW_AFTER_MS; null: never.
   */
  readonly finalBeamNarrowAfterMs?: number | null;
  /**
   * Each decode of an utterance (its partials, its final) checks the words of its latest decode
   * several tokens per decoder pass (TranscribeOptions.draftTokens): greedy steps, and a final's
   * once its beam narrowed, take fewer passes (README → Models → Drafts). Default true.
   */
  readonly drafts?: boolean;
  readonly temperatures?: readonly number[];
  /**
   * Utterances under 30 s are encoded as their audio plus this margin instead of a padded 30 s
   * window (TranscribeOptions.shortWindowMarginMs). Default 4000; null: full windows.
   */
  readonly shortWindowMarginMs?: number | null;
  readonly initialPrompt?: string;
  readonly hotwords?: string;
  readonly vad?: Partial<VadOptions>;
  /**
   * intervalMs: new audio between partials (default 500). maxInputSpeed: skip (and count) partials
   * of audio arriving faster than this many × real time (default 2; null never skips).
   * maxDecodeShare: the share of the decoder's time partials may take (default 0.5; null: no limit),
   * so a final at the endpoint seldom finds a partial's encoder pass in its way. See PipelineOptions.
   */
  readonly partials?: {
    readonly enabled?: boolean;
    readonly intervalMs?: number;
    readonly maxInputSpeed?: number | null;
    readonly maxDecodeShare?: number | null;
  };
  readonly postProcess?: Partial<PostProcessOptions>;
  /** Pending partial decodes kept before the oldest is dropped (counted). Default 2. */
  readonly maxPendingPartials?: number;
  /**
   * Utterance arena length: audio a decode can still reach back to. Default 120 s; at least
   * (vad.maxUtteranceMs + vad.misfireJoinMs) / 1000 + 2 (ARENA_SLACK_MS), else STT_INVALID_OPTION.
   */
  readonly arenaSeconds?: number;
  /** Default: push at 16 kHz mono. */
  readonly input?: EngineInput;
  /** Interval of `metrics` events (default 1000 ms; 0 disables the timer, metrics still come at drain). */
  readonly metricsIntervalMs?: number;
  /**
   * A `trace` listener attached before the engine starts, so the trace holds the whole session from
   * the first actor message (engine.on('trace') after createEngine may miss the start of a file).
   */
  readonly onTrace?: (record: TraceRecord) => void;
  /**
   * A decode worker shared with other engines (createSharedDecoder): this engine then loads no
   * model of its own, and the model options above are the decoder's, not this engine's.
   */
  readonly decoder?: SharedDecoder;
  /** Environment for model defaults (STT_MODEL_MIRROR); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}


export interface ResolvedEngineOptions {
  readonly language: string;
  readonly beamSize: number;
  readonly finalBeamNarrowAfterMs: number | null;
  readonly drafts: boolean;
  readonly temperatures: readonly number[];
  readonly shortWindowMarginMs: number | null;
  readonly vad: VadOptions;
  readonly partialsEnabled: boolean;
  readonly partialIntervalMs: number;
  readonly partialMaxInputSpeed: number | null;
  readonly partialMaxDecodeShare: number | null;
  readonly postProcess: PostProcessOptions;
  readonly maxPendingPartials: number;
  readonly arenaSamples: number;
  readonly input: EngineInput;
  readonly pushSampleRate: number;
  readonly pushChannels: number;
  readonly metricsIntervalMs: number;
}

function integerAtLeast(name: string, value: number | undefined, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(`option ${name} must be an integer ≥ ${min}, got ${String(value)}`, { option: name });
  }
  return value;
}

/**
 * EngineOptions.finalBeamNarrowAfterMs's default: a final still in its beam search 700 ms after its
 * decode began finishes greedy. The final is due 880 ms after the end of speech (endpoint silence
 * 480 + 400, bench:stream's p95 target) and its decode starts about when speech ends (speculatively,
 * at the pause); 700 ms leaves the tail of a long utterance ~180 ms at a greedy step's cost (~8 ms
 * on the slowest 2-core CPU measured, against ~13 ms for 5 beams). A command that reaches it there has
 * only its last tokens left. On bench:stream on that CPU (README → Benchmarks → Stream, "Finals running
 * late finish greedy"), three pairs: p95 1225 / 1340 / 1235 → 1126 / 1182 / 1066 ms, word errors
 * 142 ×3 → 138 / 143 / 138.
 */
export const FINAL_BEAM_NARROW_AFTER_MS: number | null = 700;

/**
 * The CLIs' `--beam-narrow-after MS|off` (live, serve): ms ≥ 0, or null for 'off'; undefined when
 * absent. Anything else throws the CLI's own usage error, made by `usage`.
 */
export function parseBeamNarrowAfter(value: string | undefined, usage: (message: string) => Error): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'off') return null;
  const ms = Number(value);
  if (value.trim() === '' || !Number.isFinite(ms) || ms < 0) throw usage(`--beam-narrow-after must be a number of ms ≥ 0 or off, got "${value}"`);
  return ms;
}

/**
 * What the arena holds beyond an utterance (at most vad.maxUtteranceMs from its start, which may be
 * a misfire's start up to misfireJoinMs back): the VAD's read-ahead (a run of up to
 * SILERO_MAX_RUN_WINDOWS windows, 1.024 s, is in the arena before it is scored) and the time the
 * main thread takes to pin a new utterance's start. The VAD waits for room behind the oldest open utterance, so an arena shorter
 * than an utterance plus its read-ahead would never let that utterance end: the engine stalled
 * with no final (measured with 6 s utterances on a 48 s reading: a 6 s arena stalled at once, 6.5 s
 * after 8 finals; 7 s got through that file, 10 s is what this asks).
 */
const ARENA_SLACK_MS = 2000;
/** The arena holds the engine's 16 kHz mono stream, as the VAD writes it. */
const ARENA_SAMPLE_RATE = 16_000;

function arenaSamples(seconds: number | undefined, vad: VadOptions): number {
  const arenaS = positiveNumber('arenaSeconds', seconds, 120);
  const neededMs = vad.maxUtteranceMs + vad.misfireJoinMs + ARENA_SLACK_MS;
  // Non-finite VAD lengths are the VAD's to refuse (its own coded error names them).
  if (Number.isFinite(neededMs) && arenaS * 1000 < neededMs) {
    throw new InvalidOptionError(
      `option arenaSeconds must be at least ${neededMs / 1000} s with vad.maxUtteranceMs ${vad.maxUtteranceMs} and vad.misfireJoinMs ${vad.misfireJoinMs} ` +
        `(an utterance, the misfire it may take in, and ${ARENA_SLACK_MS / 1000} s for the VAD's read-ahead), got ${arenaS} s`,
      { option: 'arenaSeconds' },
    );
  }
  return Math.round(arenaS * ARENA_SAMPLE_RATE);
}

function positiveNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(`option ${name} must be a number > 0, got ${String(value)}`, { option: name });
  }
  return value;
}

/** A fraction in (0, 1]. */
function share(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    throw new InvalidOptionError(`option ${name} must be a number in (0, 1], got ${String(value)}`, { option: name });
  }
  return value;
}

export function checkSampleRate(rate: unknown): number {
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1000 || rate > 384_000) {
    throw new BadSampleRateError(`sample rate must be an integer in [1000, 384000] Hz, got ${String(rate)}`, {
      sampleRate: typeof rate === 'number' ? rate : String(rate),
    });
  }
  return rate;
}

export function resolveEngineOptions(o: EngineOptions): ResolvedEngineOptions {
  if (typeof o !== 'object' || o === null) throw new InvalidOptionError('engine options must be an object', { option: 'options' });
  const language = o.language ?? 'fr';
  if (typeof language !== 'string' || !/^(auto|[a-z]{2,3})$/u.test(language)) {
    throw new InvalidOptionError(`option language must be 'auto' or an ISO code, got ${String(language)}`, { option: 'language' });
  }
  warmUpOption(o.warmUp);
  checkFloatWeightsOption(o.floatWeights);
  const input: EngineInput = o.input ?? { kind: 'push' };
  let pushSampleRate = 16_000;
  let pushChannels = 1;
  switch (input.kind) {
    case 'push':
      pushSampleRate = checkSampleRate(input.sampleRate ?? 16_000);
      pushChannels = integerAtLeast('input.channels', input.channels, 1, 1);
      break;
    case 'file':
      if (typeof input.path !== 'string' || input.path === '') {
        throw new InvalidOptionError('option input.path must be a non-empty string', { option: 'input.path' });
      }
      break;
    case 'stdin':
      checkSampleRate(input.sampleRate);
      integerAtLeast('input.channels', input.channels, 1, 1);
      break;
    case 'microphone':
      break;
    default:
      throw new InvalidOptionError(`unknown input kind ${JSON.stringify((input as { kind: unknown }).kind)}`, { option: 'input.kind' });
  }
  const temperatures = o.temperatures ?? DEFAULT_TEMPERATURES;
  if (!Array.isArray(temperatures) || temperatures.length === 0 || temperatures.some((t) => !Number.isFinite(t) || t < 0)) {
    throw new InvalidOptionError('option temperatures must be a non-empty list of numbers ≥ 0', { option: 'temperatures' });
  }
  const margin = o.shortWindowMarginMs === undefined ? DEFAULT_SHORT_WINDOW_MARGIN_MS : o.shortWindowMarginMs;
  if (margin !== null && (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0)) {
    throw new InvalidOptionError('option shortWindowMarginMs must be a number ≥ 0 or null', { option: 'shortWindowMarginMs' });
  }
  const narrowAfter = o.finalBeamNarrowAfterMs === undefined ? FINAL_BEAM_NARROW_AFTER_MS : o.finalBeamNarrowAfterMs;
  if (narrowAfter !== null && (typeof narrowAfter !== 'number' || !Number.isFinite(narrowAfter) || narrowAfter < 0)) {
    throw new InvalidOptionError('option finalBeamNarrowAfterMs must be a number of ms ≥ 0 or null', { option: 'finalBeamNarrowAfterMs' });
  }
  const drafts = o.drafts === undefined ? true : o.drafts;
  if (typeof drafts !== 'boolean') throw new InvalidOptionError('option drafts must be a boolean', { option: 'drafts' });
  const vad: VadOptions = { ...DEFAULT_VAD_OPTIONS, ...o.vad };
  return {
    language,
    beamSize: integerAtLeast('beamSize', o.beamSize, 1, 5),
    finalBeamNarrowAfterMs: narrowAfter,
    drafts,
    temperatures,
    shortWindowMarginMs: margin,
    vad,
    partialsEnabled: o.partials?.enabled ?? true,
    partialIntervalMs: positiveNumber('partials.intervalMs', o.partials?.intervalMs, 500),
    partialMaxInputSpeed: o.partials?.maxInputSpeed === null ? null : positiveNumber('partials.maxInputSpeed', o.partials?.maxInputSpeed, 2),
    partialMaxDecodeShare: o.partials?.maxDecodeShare === null ? null : share('partials.maxDecodeShare', o.partials?.maxDecodeShare, 0.5),
    postProcess: { ...DEFAULT_POST_PROCESS_OPTIONS, ...o.postProcess },
    maxPendingPartials: integerAtLeast('maxPendingPartials', o.maxPendingPartials, 0, 2),
    arenaSamples: arenaSamples(o.arenaSeconds, vad),
    input,
    pushSampleRate,
    pushChannels,
    metricsIntervalMs: integerAtLeast('metricsIntervalMs', o.metricsIntervalMs, 0, 1000),
  };
}
