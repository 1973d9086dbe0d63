/**
 * The contracts between the pieces of the decoding core: model manager → Whisper (ORT adapter,
 * tokenizer, decoder) → transcribe driver. All times in milliseconds unless the name ends in `InS`;
 * audio is 16 kHz mono Float32 in [-1, 1] unless the name says otherwise.
 */
import type { DraftStats } from './draft.js';
import type { ActivationQuant, SaturationGuards } from './graphs.js';

/** Where the ONNX sessions run. `cuda` with an index, default 0 when parsed from bare `cuda`. */
export type Device = { readonly kind: 'cpu' } | { readonly kind: 'cuda'; readonly index: number };

/** Precision of the ONNX files: q8 → `_quantized`, fp16 → `_fp16`, fp32 → no suffix. */
export type ModelDtype = 'q8' | 'fp16' | 'fp32';

export type ModelSource = 'dir' | 'cache' | 'mirror' | 'hub';

/** A model whose files are all present and checked on disk, in the hub's layout. */
export interface ResolvedModel {
  readonly name: string;
  readonly dtype: ModelDtype;
  readonly source: ModelSource;
  /** Folder with config.json, generation_config.json, preprocessor_config.json, tokenizer*.json… */
  readonly dir: string;
  readonly encoderPath: string;
  readonly decoderPath: string;
}

/** Non-fatal conditions the caller should see (CLI prints them, the engine emits them). */
/**
 * STT_WARN_DEVICE_FALLBACK: the device asked for cannot be used, the session runs on the CPU.
 * STT_WARN_CAPTURE_RESTARTED: the capture worker crashed and was restarted; the message says where
 * the stream resumed and how much audio the crash lost.
 */
export type WarningCode = 'STT_WARN_DEVICE_FALLBACK' | 'STT_WARN_CAPTURE_RESTARTED';
export interface EngineWarning {
  readonly code: WarningCode;
  readonly message: string;
}

export interface LoadWhisperOptions {
  /** `cpu` (default), `cuda`, `cuda:N`, or a parsed Device. */
  readonly device?: string | Device;
  /** When the device cannot be used: throw DeviceUnavailableError instead of warning and using CPU. */
  readonly strictDevice?: boolean;
  /** ORT intra-op threads (default: 2). */
  readonly intraOpThreads?: number;
  /** ORT inter-op threads (default: 1). */
  readonly interOpThreads?: number;
  /**
   * How q8 models quantise activations: 'per-row' (default; French WER 30.7 % → 25.7 % on the
   * corpus's speech clips) or 'per-tensor' (the exported graphs as they are). See graphs.ts.
   */
  readonly activationQuant?: ActivationQuant;
  /**
   * A float copy of the model's weights, as a CTranslate2 model folder (what faster-whisper loads,
   * e.g. the hub's Systran/faster-whisper-base) or its model.bin: the int8 MatMul weights are then
   * requantised per output channel at load, as CTranslate2 quantises them (src/onnx/weight-requant.ts).
   * q8 models with 'per-row' activations only. Default: none (null); createTranscriber reads env
   * STT_FLOAT_WEIGHTS when the option is absent.
   */
  readonly floatWeights?: string | null;
  /**
   * Where per-row rewrites of the int8 graphs are kept between loads (default: the model cache,
   * env STT_MODEL_CACHE or `models/`; null: rewrite in memory at every load).
   */
  readonly derivedCacheDir?: string | null;
  readonly onWarning?: (warning: EngineWarning) => void;
}

/** Options of one decode of one ≤ 30 s window at one temperature. */
export interface DecodeOptions {
  /** ISO code, e.g. 'fr'. The caller detects the language first when the user asked for auto. */
  readonly language: string;
  readonly task: 'transcribe' | 'translate';
  /** 0 → greedy (beamSize 1) or beam search; > 0 → sampling with `bestOf` candidates. */
  readonly temperature: number;
  readonly beamSize: number;
  readonly bestOf: number;
  /** Beam search: stop after beamSize × patience finished candidates (faster-whisper semantics). */
  readonly patience: number;
  /** null → rank by average log-prob (length-normalised); a number α → Google NMT penalty ((5+len)/6)^α. */
  readonly lengthPenalty: number | null;
  readonly withoutTimestamps: boolean;
  /** Largest first timestamp allowed (OpenAI default 1.0 s). */
  readonly maxInitialTimestampInS: number;
  /** Token ids never emitted (from generation_config when the caller passes the default). */
  readonly suppressTokens: readonly number[];
  /** Suppress blank (' ') and EOT at the first sampled position. */
  readonly suppressBlank: boolean;
  /** Text tokens placed after <|startofprev|> (previous text, initial prompt, hotwords); already trimmed. */
  readonly promptTokens: readonly number[];
  /** Text tokens forced at the start of the answer (after the SOT sequence). */
  readonly prefixTokens: readonly number[];
  /** Most new tokens to generate (default: half the model's max_target_positions). */
  readonly maxNewTokens: number;
  /** Seeded uniform [0, 1) generator for sampling; required when temperature > 0. */
  readonly random?: () => number;
  /**
   * The driver's compression-ratio gate (OpenAI's 2.4), or null/absent for none. When given, the
   * search measures the text of its best hypothesis every 16 tokens past the first 32 and stops as
   * soon as the ratio exceeds this: a repetition loop only gets more compressible, so the decode
   * would be rejected anyway, and the loop would otherwise run to maxNewTokens (seconds with beams).
   * Sampling stops each candidate on its own. The result is then marked `stoppedEarly`. When no
   * temperature passes the gate (or only one is tried), the driver keeps such a truncated loop where
   * it used to keep the whole one.
   */
  readonly compressionRatioThreshold?: number | null;
  /** Stops the search before its next decoder run (DecodeCancelledError). */
  readonly signal?: AbortSignal;
  /**
   * Beam search only: past `atMs` on the `now` clock, keep `beamSize` live hypotheses (see
   * BeamNarrowing in beam.ts). TranscribeOptions.beamNarrowAfterMs sets it.
   */
  readonly narrowBeam?: { readonly atMs: number; readonly beamSize: number; readonly now: () => number };
  /**
   * Tokens another decode of this audio produced (the live engine: the utterance's last partial),
   * checked several per decoder pass by greedy search and by a beam search narrowed to one
   * hypothesis (src/whisper/draft.ts): each token is still the argmax of the model's row for it, but a
   * pass's rows carry the int8 rounding of several rows at once, which flips a near tie now and then.
   */
  readonly draftTokens?: readonly number[];
  /** Filled with the draft's counts (passes, tokens guessed, tokens accepted), when given. */
  readonly draftStats?: DraftStats;
}

/** What one decode produced. `tokens` excludes the SOT sequence, the prompt and the final EOT. */
export interface DecodingResult {
  readonly tokens: readonly number[];
  readonly text: string;
  readonly language: string;
  readonly temperature: number;
  /** Sum of log-probs of the generated tokens (EOT included, as OpenAI does). */
  readonly sumLogprob: number;
  /** sumLogprob / (number of generated tokens + 1) — OpenAI's avg_logprob. */
  readonly avgLogprob: number;
  /** Probability of <|nocaptions|> at the SOT position (the no-speech gate's input). */
  readonly noSpeechProb: number;
  /**
   * Set when the decode ended before EOT because its text already exceeded
   * DecodeOptions.compressionRatioThreshold; tokens and text are the hypothesis at that point.
   */
  readonly stoppedEarly?: 'repetition';
  /** The beam search went on with fewer hypotheses past its deadline (DecodeOptions.narrowBeam). */
  readonly beamNarrowed?: true;
}

export interface LanguageDetection {
  readonly language: string;
  readonly probability: number;
  /** Top candidates, most probable first. */
  readonly candidates: readonly { readonly language: string; readonly probability: number }[];
}

/** One transcript segment with its times in the input audio. */
export interface Segment {
  readonly id: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly text: string;
  readonly tokens: readonly number[];
  readonly temperature: number;
  readonly avgLogprob: number;
  readonly compressionRatio: number;
  readonly noSpeechProb: number;
  /** Its decode's beam search was narrowed at the deadline (TranscribeOptions.beamNarrowAfterMs). */
  readonly beamNarrowed?: true;
}

export interface TranscribeOptions {
  /** ISO code, or 'auto' to detect on the first window (default 'auto'). */
  readonly language?: string;
  readonly task?: 'transcribe' | 'translate';
  readonly beamSize?: number;
  readonly bestOf?: number;
  readonly patience?: number;
  readonly lengthPenalty?: number | null;
  /** Temperatures tried in order until the gates pass (default [0, 0.2, 0.4, 0.6, 0.8, 1.0]). */
  readonly temperatures?: readonly number[];
  readonly compressionRatioThreshold?: number | null;
  readonly logProbThreshold?: number | null;
  readonly noSpeechThreshold?: number | null;
  readonly conditionOnPreviousText?: boolean;
  readonly initialPrompt?: string;
  readonly hotwords?: string;
  readonly withoutTimestamps?: boolean;
  /** Seed for sampling at temperature > 0 (default 0: deterministic). */
  readonly seed?: number;
  /**
   * A window with less than 30 s of audio is encoded as its audio plus this margin, rounded up to a
   * multiple of 2 s and at least `shortWindowMinMs` long, instead of being padded to 30 s. When the
   * short window's first decode would fall back to another temperature, or the model doubts there is
   * speech while the log-prob would keep the text, the window is decoded again the reference way
   * (full window, every temperature). Default 4000; null: always full windows, as OpenAI and
   * faster-whisper do. A backend without `shortWindows` always encodes full windows.
   */
  readonly shortWindowMarginMs?: number | null;
  /**
   * The shortest window encoded (default 20 000: measured as accurate as full windows, see
   * DEFAULT_SHORT_WINDOW_MIN_MS; 0 for interim results, where speed matters more).
   */
  readonly shortWindowMinMs?: number;
  /**
   * The short window's first decode runs without timestamp tokens (default false). Its guard's retry,
   * and every full window, keep `withoutTimestamps`. For input that is one utterance (the live
   * engine's finals): its segment times are not needed, and the timestamp tokens are ~14 % of the
   * decoder steps (README → Models → Short windows, "Finals without timestamp tokens").
   */
  readonly shortWindowWithoutTimestamps?: boolean;
  /**
   * When the short window's first decode fails only the log-prob gate (its compression ratio passes)
   * and its no-speech probability is below this, the guard's retry is skipped and that decode is
   * kept: the model is sure it hears speech and is unsure of a word, which the full window and the
   * temperature fallback rarely mend, at 1–2 s of CPU for a command. The phantoms the retry is there
   * for come with a high no-speech probability (0.6–0.9 on the corpus's noise) and still get it.
   * Default null: every failed first decode is retried. The live engine's finals use
   * FINAL_RETRY_MIN_NO_SPEECH (README → Models → Short windows, "Log-prob failures sure of speech").
   */
  readonly shortWindowRetryMinNoSpeech?: number | null;
  /**
   * A deadline for beam search, in ms after transcribe() began (default null: none). A beam search
   * (temperature 0, beamSize > 1) still running then goes on with one hypothesis, as greedy search
   * would from there: a decoder step costs ~40 % less at batch 1 than at 5 on a 2-core CPU, so a
   * late decode ends sooner at the cost of the beam on its last words. Every decode that ends before
   * the deadline is untouched, so on a fast machine nothing changes; on a slow one the text of a long
   * decode depends on timing. The live engine's finals use EngineOptions.finalBeamNarrowAfterMs
   * (README → Models → "Finals running late finish greedy").
   */
  readonly beamNarrowAfterMs?: number | null;
  /**
   * Tokens of an earlier decode of (most of) this audio, e.g. a Segment's: the live engine passes an
   * utterance's latest partial to its next partial and to its final. Only its text tokens (ids below
   * EOT) are used: timestamps and other special tokens are left out. Greedy search, and a beam search once
   * narrowed to one hypothesis (beamNarrowAfterMs), check the draft's next tokens several per
   * decoder pass where the hypothesis follows it (src/whisper/draft.ts): fewer passes, and the tokens
   * greedy search would sample but for the int8 rounding of a pass's rows (README → Models → Drafts:
   * WER unchanged, a word here and there read the other way). Default none.
   */
  readonly draftTokens?: readonly number[];
  /**
   * Cancels the transcription: it rejects with DecodeCancelledError (STT_DECODE_CANCELLED) at the
   * next checkpoint, i.e. before the mel, before each encoder run and before each decoder step. A
   * model run already started finishes first (onnxruntime cannot stop one midway), so the wait is
   * at most one encoder pass.
   */
  readonly signal?: AbortSignal;
}

export interface TranscriptionResult {
  readonly text: string;
  readonly language: string;
  readonly languageProbability: number | null;
  readonly segments: readonly Segment[];
  readonly durationMs: number;
  readonly timings: { readonly melMs: number; readonly encodeMs: number; readonly decodeMs: number; readonly totalMs: number };
  /** With TranscribeOptions.draftTokens: the multi-token passes run, tokens guessed and tokens accepted. */
  readonly draft?: DraftStats;
}

/** Token ids the decoder needs, read from the model's config files (never hard-coded). */
export interface SpecialTokens {
  readonly eot: number;
  readonly sot: number;
  readonly sotPrev: number;
  /** <|nocaptions|> (or <|nospeech|> in newer vocabularies): the no-speech gate's token. */
  readonly noSpeech: number;
  readonly noTimestamps: number;
  /** <|0.00|>; every id ≥ this is a timestamp, 0.02 s apart. */
  readonly timestampBegin: number;
  readonly transcribe: number;
  readonly translate: number;
  /** ISO code → language token id, e.g. 'fr' → 50265. */
  readonly languages: ReadonlyMap<string, number>;
}

export interface WhisperTokenizerLike {
  readonly specials: SpecialTokens;
  /** Text → ids, no special tokens added. */
  encode(text: string): number[];
  /** Ids → text; special and timestamp ids are dropped. */
  decode(ids: readonly number[]): string;
}

/** Audio features after the encoder, owned by the backend (opaque to callers). */
export interface EncodedAudio {
  readonly kind: 'encoded-audio';
}

/** What the transcribe driver needs from a loaded Whisper model (implemented by Whisper in whisper.ts). */
export interface WhisperBackend {
  readonly modelName: string;
  /** How the int8 MatMul weights are quantised (Whisper: 'per-channel' with floatWeights); absent for backends that do not say. */
  readonly weightQuant?: 'per-tensor' | 'per-channel' | 'none';
  /** How each graph's integer MatMuls are kept exact where this CPU's int8 products saturate (src/whisper/graphs.ts step 8); absent for backends that do not say. */
  readonly saturationGuard?: SaturationGuards;
  /** The device the sessions actually run on (after any CPU fallback). */
  readonly device: Device;
  readonly nMels: number;
  /** Samples per mel frame (160) and frames per 30 s window (3000), from preprocessor_config.json. */
  readonly hopLength: number;
  readonly nFrames: number;
  readonly maxTargetPositions: number;
  readonly defaultSuppressTokens: readonly number[];
  readonly tokenizer: WhisperTokenizerLike;
  /**
   * Whether encode() accepts windows shorter than nFrames (an encoder whose positional embedding
   * follows the input's length: src/onnx/position-slice.ts).
   */
  readonly shortWindows: boolean;
  /**
   * mel: row-major [nMels][frames] of one window; `frames` defaults to nFrames and may be less
   * (an even number) only when shortWindows. `signal`: a backend whose encoding takes several runs
   * stops between them once it fires (DecodeCancelledError); a run in progress cannot be stopped.
   */
  encode(mel: Float32Array, frames?: number, signal?: AbortSignal): Promise<EncodedAudio>;
  detectLanguage(audio: EncodedAudio): Promise<LanguageDetection>;
  decode(audio: EncodedAudio, options: DecodeOptions): Promise<DecodingResult>;
  release(audio: EncodedAudio): void;
  close(): Promise<void>;
}

/** A model loaded and ready to transcribe (created by createTranscriber in src/transcriber.ts). */
export interface Transcriber {
  readonly backend: WhisperBackend;
  /** samples: 16 kHz mono. */
  transcribe(samples: Float32Array, options?: TranscribeOptions): Promise<TranscriptionResult>;
  /** Reads, converts (any WAV format, rate, channels) and transcribes a file. */
  transcribeFile(path: string, options?: TranscribeOptions): Promise<TranscriptionResult>;
  close(): Promise<void>;
}

/** A `floatWeights` option (TranscriberOptions, engines): a path, true (the model's own copy), or none. */
export type FloatWeightsOption = string | boolean | null;

export interface TranscriberOptions extends Omit<LoadWhisperOptions, 'floatWeights'> {
  /**
   * Float weights to requantise the int8 MatMul weights from, per output channel
   * (LoadWhisperOptions.floatWeights): a CTranslate2 model folder or its model.bin; true for the
   * model's own float copy, found like the model (cache, mirror, hub: src/models/float-weights.ts);
   * null or false for none. Default: env STT_FLOAT_WEIGHTS (a path, or `auto` for true).
   */
  readonly floatWeights?: FloatWeightsOption;
  /** Model name from the manifest (default 'base'). */
  readonly model?: string;
  readonly dtype?: ModelDtype;
  /** An explicit model directory (hub layout) instead of resolving by name. */
  readonly modelDir?: string;
  /** Mirror directory with the hub layout (default: env STT_MODEL_MIRROR). */
  readonly mirror?: string;
  /** Allow a hub download when no local source has the model (default true). */
  readonly allowDownload?: boolean;
  /**
   * Before skipping the rest of a 30 s window the model called silent (≥ 2 s), check it with the
   * Silero VAD and decode it if it holds speech (default true; false: OpenAI's rule as is).
   */
  readonly verifySkips?: boolean;
}
