/**
 * The long-form driver: OpenAI whisper's transcribe() (and faster-whisper's generate_segments) over a
 * WhisperBackend. The mel of the whole input (plus 30 s of zero audio) is cut into 30 s windows
 * starting at `seek`; each window is decoded with temperature fallback, gated for silence, split at
 * timestamp tokens, and `seek` moves to the last timestamp so words cut by the edge are decoded whole.
 */
import { DecodeFailedError, EmptyAudioError, InvalidSamplesError, SttError } from '../errors.js';
import { compressionRatio } from './compression.js';
import { throwIfCancelled } from './decoder.js';
import type { DraftStats } from './draft.js';
import { logMelSpectrogram } from './mel.js';
import { seededRandom } from './random.js';
import { splitWindow, type WindowSplit } from './segments.js';
import { resolveTranscribeOptions, type ResolvedTranscribeOptions } from './transcribe-options.js';
import type {
  DecodeOptions,
  DecodingResult,
  EncodedAudio,
  Segment,
  TranscribeOptions,
  TranscriptionResult,
  WhisperBackend,
} from './types.js';

/** The backend contract takes 16 kHz mono samples; every Whisper model is trained on that rate. */
export const WHISPER_SAMPLE_RATE = 16_000;
/** FFT size of every Whisper model's front end (preprocessor_config.json n_fft). */
export const WHISPER_N_FFT = 400;
/** Timestamp tokens are 20 ms apart in every Whisper vocabulary (<|0.00|> … <|30.00|>). */
const TIMESTAMP_STEP_MS = 20;
/** OpenAI's max_initial_timestamp: the first timestamp of a window may not exceed 1 s. */
const MAX_INITIAL_TIMESTAMP_IN_S = 1.0;
/**
 * A window whose decode says "no speech after this" (it ends on a single timestamp) at least this
 * long before the window's end has the rest checked for speech before it is skipped (deps.hasSpeech).
 */
export const SKIP_CHECK_MIN_MS = 2000;

/** Short windows grow in steps of 2 s: a few distinct input shapes, so onnxruntime plans each once. */
const SHORT_WINDOW_STEP_MS = 2000;

/** Frames a short window encodes for `frames` of audio and margin: rounded up to a step, at least `minFrames`, at most a full window. */
export function shortWindowFrames(frames: number, minFrames: number, nFrames: number, frameMs: number): number {
  const step = Math.max(2, 2 * Math.round(SHORT_WINDOW_STEP_MS / frameMs / 2));
  return Math.min(nFrames, Math.ceil(Math.max(frames, minFrames) / step) * step);
}

/** Log-mel of a whole input, row-major [nMels][nFrames]. */
export interface LogMel {
  readonly data: Float32Array;
  readonly nMels: number;
  readonly nFrames: number;
}

/** Computes the log-mel of `samples` followed by `padTailSamples` zeros. */
export type MelFunction = (samples: Float32Array, padTailSamples: number) => LogMel;

export interface TranscribeDeps {
  /** Default: mel.ts with the backend's nMels / hopLength and Whisper's n_fft and rate. */
  readonly mel?: MelFunction;
  /** Clock for the timings, in ms (default performance.now). */
  readonly now?: () => number;
  /**
   * Whether samples [startSample, endSample) hold speech: a VAD. OpenAI's and faster-whisper's rule
   * skips the rest of a window whose decode ends on a single timestamp ("no speech after"); when the
   * model is wrong (a long pause, then more speech), whole sentences vanish without a trace. With this
   * dependency, a skip of at least SKIP_CHECK_MIN_MS is checked first, and where there is speech the
   * next window starts at that last timestamp instead. Without it, the reference rule applies.
   */
  readonly hasSpeech?: (samples: Float32Array, startSample: number, endSample: number) => Promise<boolean>;
}

interface Clock {
  melMs: number;
  encodeMs: number;
  decodeMs: number;
}

interface FallbackOutcome {
  readonly result: DecodingResult;
  readonly compressionRatio: number;
  /** The last temperature tried: decides the prompt reset even when an earlier result was kept. */
  readonly finalTemperature: number;
  /** Whether a temperature passed the gates (false: every one failed and the best was kept). */
  readonly passed: boolean;
}

function checkSamples(samples: Float32Array): void {
  if (!(samples instanceof Float32Array)) {
    throw new InvalidSamplesError('samples must be a Float32Array of 16 kHz mono audio');
  }
  if (samples.length === 0) throw new EmptyAudioError('the audio holds no samples');
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i])) {
      throw new InvalidSamplesError(`sample ${i} is ${samples[i]} (NaN or infinite)`, { index: i });
    }
  }
}

/** Runtime failures that are not already coded become DecodeFailedError, keeping the cause. */
async function coded<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof SttError) throw err;
    throw new DecodeFailedError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  }
}

function defaultMel(backend: WhisperBackend): MelFunction {
  const melOptions = {
    nMels: backend.nMels,
    nFft: WHISPER_N_FFT,
    hopLength: backend.hopLength,
    sampleRate: WHISPER_SAMPLE_RATE,
  };
  return (samples, padTailSamples) => logMelSpectrogram(samples, melOptions, padTailSamples);
}

/** The compression gate: a text this repetitive is a decoding loop. */
function tooRepetitive(opts: ResolvedTranscribeOptions, ratio: number): boolean {
  return opts.compressionRatioThreshold !== null && ratio > opts.compressionRatioThreshold;
}

/**
 * Decodes at each temperature until the gates pass. When every temperature fails, keeps the result
 * with the best average log-prob among those under the compression threshold (faster-whisper),
 * rather than OpenAI's last one, which is usually the noisiest.
 */
async function decodeWithFallback(
  backend: WhisperBackend,
  encoded: EncodedAudio,
  opts: ResolvedTranscribeOptions,
  base: Omit<DecodeOptions, 'temperature' | 'random'>,
  random: () => number,
): Promise<FallbackOutcome> {
  const all: { result: DecodingResult; ratio: number }[] = [];
  const belowRatio: { result: DecodingResult; ratio: number }[] = [];
  let finalTemperature = 0;
  for (const temperature of opts.temperatures) {
    finalTemperature = temperature;
    const decodeOptions: DecodeOptions =
      temperature > 0 ? { ...base, temperature, random } : { ...base, temperature };
    const result = await coded('decoding', backend.decode(encoded, decodeOptions));
    const ratio = compressionRatio(result.text.trim());
    all.push({ result, ratio });

    let needsFallback = false;
    if (tooRepetitive(opts, ratio)) {
      needsFallback = true;
    } else {
      belowRatio.push({ result, ratio });
    }
    const lowLogprob = opts.logProbThreshold !== null && result.avgLogprob < opts.logProbThreshold;
    if (lowLogprob) needsFallback = true;
    // Silence: the no-speech gate will drop this window, so another temperature is wasted work.
    if (opts.noSpeechThreshold !== null && result.noSpeechProb > opts.noSpeechThreshold && lowLogprob) {
      needsFallback = false;
    }
    if (!needsFallback) return { result, compressionRatio: ratio, finalTemperature, passed: true };
  }
  const pool = belowRatio.length > 0 ? belowRatio : all;
  let best = pool[0];
  for (const candidate of pool) {
    if (best === undefined || candidate.result.avgLogprob > best.result.avgLogprob) best = candidate;
  }
  if (best === undefined) throw new DecodeFailedError('no temperature was tried');
  return { result: best.result, compressionRatio: best.ratio, finalTemperature, passed: false };
}

/**
 * How far to seek after a window: the split's answer, except when it skips the rest of the window
 * after the last timestamp and `hasSpeech` finds speech there (see TranscribeDeps.hasSpeech).
 */
async function checkedSeek(
  split: WindowSplit,
  windowFrames: number,
  frameMs: number,
  seek: number,
  samples: Float32Array,
  hasSpeech: TranscribeDeps['hasSpeech'],
): Promise<number> {
  const last = split.pieces.at(-1);
  if (hasSpeech === undefined || last === undefined || split.seekFrames < windowFrames) return split.seekFrames;
  const offsetMs = seek * frameMs;
  const endFrames = Math.round((last.endMs - offsetMs) / frameMs);
  if (endFrames < 1 || (windowFrames - endFrames) * frameMs < SKIP_CHECK_MIN_MS) return split.seekFrames;
  const samplesPerFrame = (frameMs * WHISPER_SAMPLE_RATE) / 1000;
  const from = Math.round((seek + endFrames) * samplesPerFrame);
  const to = Math.min(samples.length, Math.round((seek + windowFrames) * samplesPerFrame));
  return from < to && (await hasSpeech(samples, from, to)) ? endFrames : split.seekFrames;
}

export async function transcribe(
  backend: WhisperBackend,
  samples: Float32Array,
  options: TranscribeOptions = {},
  deps: TranscribeDeps = {},
): Promise<TranscriptionResult> {
  const now = deps.now ?? (() => performance.now());
  const startedMs = now();
  const opts = resolveTranscribeOptions(options, backend.tokenizer);
  const { signal } = options;
  checkSamples(samples);
  throwIfCancelled(signal);

  const { nMels, nFrames, hopLength, tokenizer } = backend;
  const frameMs = (hopLength * 1000) / WHISPER_SAMPLE_RATE;
  const durationMs = (samples.length * 1000) / WHISPER_SAMPLE_RATE;
  const clock: Clock = { melMs: 0, encodeMs: 0, decodeMs: 0 };
  const draftStats: DraftStats = { passes: 0, guessed: 0, accepted: 0 };

  let t = now();
  const mel = (deps.mel ?? defaultMel(backend))(samples, nFrames * hopLength);
  clock.melMs += now() - t;
  if (mel.nMels !== nMels || mel.data.length !== mel.nMels * mel.nFrames) {
    throw new DecodeFailedError(`log-mel has ${mel.nMels} bins × ${mel.nFrames} frames; the model expects ${nMels} bins`);
  }
  // The tail padding is not content; a clip shorter than one hop still gets one (mostly empty) frame.
  const contentFrames = Math.max(1, mel.nFrames - nFrames);

  const half = Math.floor(backend.maxTargetPositions / 2);
  // The decoder keeps at most half the context minus <|startofprev|> for the prompt; hotwords come
  // first (faster-whisper) and previous text gets what is left, so neither is cut by the decoder.
  const promptBudget = half - 1;
  const hotwordTokens = opts.hotwords === null ? [] : tokenizer.encode(` ${opts.hotwords}`).slice(0, promptBudget);
  const allTokens: number[] = opts.initialPrompt === null ? [] : tokenizer.encode(` ${opts.initialPrompt}`);
  let promptResetSince = 0;
  let language = opts.language;
  let languageProbability: number | null = null;
  const random = seededRandom(opts.seed);
  const segments: Segment[] = [];
  // One buffer for every window: a short one is its first nMels × frames values.
  const windowBuffer = new Float32Array(nMels * nFrames);
  const shortWindowMargin = opts.shortWindowMarginMs !== null && backend.shortWindows ? Math.ceil(opts.shortWindowMarginMs / frameMs) : null;
  const shortWindowMin = Math.ceil(opts.shortWindowMinMs / frameMs);

  let seek = 0;
  while (seek < contentFrames) {
    const windowFrames = Math.min(nFrames, contentFrames - seek);
    const decodeWindow = async (frames: number, temperatures: readonly number[], withoutTimestamps = opts.withoutTimestamps): Promise<FallbackOutcome> => {
      const window = windowBuffer.subarray(0, nMels * frames);
      // OpenAI pads a short last window with zeros in the log-mel domain, not with the mel of silence.
      for (let m = 0; m < nMels; m++) {
        const from = m * mel.nFrames + seek;
        window.set(mel.data.subarray(from, from + windowFrames), m * frames);
        window.fill(0, m * frames + windowFrames, (m + 1) * frames);
      }
      throwIfCancelled(signal);
      t = now();
      const encoded = await coded('encoding', backend.encode(window, frames, signal));
      clock.encodeMs += now() - t;
      t = now();
      try {
        // The encoder run could not be stopped; the decodes can.
        throwIfCancelled(signal);
        if (language === null) {
          // Detection reuses the first window's encoding: OpenAI encodes a second, mel-of-silence
          // padded copy for it, which costs a whole encoder pass on short clips for the same answer.
          const detection = await coded('language detection', backend.detectLanguage(encoded));
          language = detection.language;
          languageProbability = detection.probability;
        }
        const previous = allTokens.slice(promptResetSince);
        const keep = promptBudget - hotwordTokens.length;
        const promptTokens = keep > 0 ? [...hotwordTokens, ...previous.slice(-keep)] : hotwordTokens;
        const base: Omit<DecodeOptions, 'temperature' | 'random'> = {
          language,
          task: opts.task,
          beamSize: opts.beamSize,
          bestOf: opts.bestOf,
          patience: opts.patience,
          lengthPenalty: opts.lengthPenalty,
          withoutTimestamps,
          maxInitialTimestampInS: MAX_INITIAL_TIMESTAMP_IN_S,
          suppressTokens: backend.defaultSuppressTokens,
          suppressBlank: true,
          promptTokens,
          prefixTokens: [],
          maxNewTokens: half,
          // Lets a decode that already fails the gate below stop early instead of looping to maxNewTokens.
          compressionRatioThreshold: opts.compressionRatioThreshold,
          ...(signal !== undefined ? { signal } : {}),
          ...(opts.beamNarrowAfterMs !== null ? { narrowBeam: { atMs: startedMs + opts.beamNarrowAfterMs, beamSize: 1, now } } : {}),
          ...(opts.draftTokens.length > 0 ? { draftTokens: opts.draftTokens, draftStats } : {}),
        };
        return await decodeWithFallback(backend, encoded, { ...opts, temperatures }, base, random);
      } finally {
        backend.release(encoded);
        clock.decodeMs += now() - t;
      }
    };

    const shortFrames = shortWindowMargin === null ? nFrames : shortWindowFrames(windowFrames + shortWindowMargin, shortWindowMin, nFrames, frameMs);
    let outcome: FallbackOutcome;
    if (shortFrames < nFrames) {
      // The short window is a fast path for clean speech. When its first decode would fall back to
      // another temperature, or the model doubts there is speech but the log-prob would keep the
      // text, the window is decoded again the reference way (full window, every temperature): on
      // noise, a short window can carry a fluent phantom sentence past the gates that the full window
      // rejects. A decode the no-speech gate drops anyway is dropped as the reference would. With
      // shortWindowWithoutTimestamps the fast path also skips the timestamp tokens; the retry keeps them.
      // With shortWindowRetryMinNoSpeech, a decode that fails only the log-prob gate while sure of
      // speech is kept: an unsure word, not a phantom (those are unsure of speech or loop).
      outcome = await decodeWindow(shortFrames, opts.temperatures.slice(0, 1), opts.withoutTimestamps || opts.shortWindowWithoutTimestamps);
      const { result } = outcome;
      const loops = tooRepetitive(opts, outcome.compressionRatio);
      const sureOfSpeech = opts.shortWindowRetryMinNoSpeech !== null && result.noSpeechProb < opts.shortWindowRetryMinNoSpeech;
      const fallback = !outcome.passed && opts.temperatures.length > 1 && (loops || !sureOfSpeech);
      const doubtsSpeech = opts.noSpeechThreshold !== null && result.noSpeechProb > opts.noSpeechThreshold;
      // The driver's no-speech gate below keeps such a text only when the log-prob is confident.
      const keptByLogprob = opts.logProbThreshold !== null && result.avgLogprob > opts.logProbThreshold;
      if (fallback || (doubtsSpeech && keptByLogprob)) outcome = await decodeWindow(nFrames, opts.temperatures);
    } else {
      outcome = await decodeWindow(nFrames, opts.temperatures);
    }
    const { result } = outcome;

    if (opts.noSpeechThreshold !== null && result.noSpeechProb > opts.noSpeechThreshold) {
      const confident = opts.logProbThreshold !== null && result.avgLogprob > opts.logProbThreshold;
      if (!confident) {
        seek += windowFrames;
        continue;
      }
    }

    const split = splitWindow(result.tokens, {
      timestampBegin: tokenizer.specials.timestampBegin,
      offsetMs: seek * frameMs,
      contentFrames: windowFrames,
      frameMs,
      timestampStepMs: TIMESTAMP_STEP_MS,
    });
    for (const piece of split.pieces) {
      const text = tokenizer.decode(piece.tokens);
      // Times past the input's end come from the zero padding; clamp them to the audio.
      const startMs = Math.min(piece.startMs, durationMs);
      const endMs = Math.min(piece.endMs, durationMs);
      // An instantaneous or blank piece carries nothing (faster-whisper drops it, and its tokens).
      if (endMs <= startMs || text.trim() === '') continue;
      segments.push({
        id: segments.length,
        startMs,
        endMs,
        text,
        tokens: piece.tokens,
        temperature: result.temperature,
        avgLogprob: result.avgLogprob,
        compressionRatio: outcome.compressionRatio,
        noSpeechProb: result.noSpeechProb,
        ...(result.beamNarrowed === true ? { beamNarrowed: true as const } : {}),
      });
      allTokens.push(...piece.tokens);
    }
    seek += await checkedSeek(split, windowFrames, frameMs, seek, samples, deps.hasSpeech);

    if (!opts.conditionOnPreviousText || outcome.finalTemperature > opts.promptResetOnTemperature) {
      promptResetSince = allTokens.length;
    }
  }

  return {
    text: segments.map((s) => s.text).join('').trim(),
    language: language ?? '',
    languageProbability,
    segments,
    durationMs,
    timings: { ...clock, totalMs: now() - startedMs },
    ...(opts.draftTokens.length > 0 ? { draft: draftStats } : {}),
  };
}
