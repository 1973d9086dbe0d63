/**
 * TranscribeOptions with every default filled in and every value checked, so the driver never meets
 * an out-of-range number: bad input becomes InvalidOptionError before any audio is touched.
 * Defaults are OpenAI's transcribe() / faster-whisper's.
 */
import { InvalidOptionError } from '../errors.js';
import type { TranscribeOptions, WhisperTokenizerLike } from './types.js';

export const DEFAULT_TEMPERATURES: readonly number[] = [0, 0.2, 0.4, 0.6, 0.8, 1.0];

/**
 * A window with less than 30 s of audio is encoded as its audio plus 4 s, rounded up to 2 s steps,
 * and at least 20 s long. Measured with whisper-base int8 (per-row activations) on the 36 French
 * speech clips of ../shared/corpus, teacher-forced loss of the reference transcripts (nats/token;
 * overall / the 23 commands): full windows 0.990 / 1.075; audio + 4 s 1.010 / 1.160; at least 10 s
 * 1.000 / 1.141; at least 15 s 0.995 / 1.102; at least 20 s 0.988 / 1.072. Commands suffer from a
 * short window (Whisper saw them padded to 30 s in training); from 20 s on they do not, and a 20 s
 * pass costs about half a 30 s one. Beam 5 French WER moved within ±1 point in every variant.
 */
export const DEFAULT_SHORT_WINDOW_MARGIN_MS = 4000;
export const DEFAULT_SHORT_WINDOW_MIN_MS = 20_000;

export interface ResolvedTranscribeOptions {
  /** null → detect on the first window. */
  readonly language: string | null;
  readonly task: 'transcribe' | 'translate';
  readonly beamSize: number;
  readonly bestOf: number;
  readonly patience: number;
  readonly lengthPenalty: number | null;
  readonly temperatures: readonly number[];
  readonly compressionRatioThreshold: number | null;
  readonly logProbThreshold: number | null;
  readonly noSpeechThreshold: number | null;
  readonly conditionOnPreviousText: boolean;
  /** After a decode at a temperature above this, the previous text stops conditioning (OpenAI: 0.5). */
  readonly promptResetOnTemperature: number;
  readonly initialPrompt: string | null;
  readonly hotwords: string | null;
  readonly withoutTimestamps: boolean;
  readonly seed: number;
  /** null → full windows. */
  readonly shortWindowMarginMs: number | null;
  readonly shortWindowMinMs: number;
  readonly shortWindowWithoutTimestamps: boolean;
  /** null → every failed first decode of a short window is retried. */
  readonly shortWindowRetryMinNoSpeech: number | null;
  readonly beamNarrowAfterMs: number | null;
  /** Text tokens only (below EOT); empty: no draft. */
  readonly draftTokens: readonly number[];
}

function fail(name: string, value: unknown, expected: string): never {
  throw new InvalidOptionError(`option ${name} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`, {
    option: name,
  });
}

function integerAtLeast(name: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(name, value, `an integer ≥ ${min}`);
  return value;
}

function finiteOrNull(name: string, value: unknown, fallback: number | null): number | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(name, value, 'a finite number or null');
  return value;
}

function textOrNull(name: string, value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') fail(name, value, 'a string');
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

function booleanOr(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(name, value, 'a boolean');
  return value;
}

export function resolveTranscribeOptions(
  options: TranscribeOptions,
  tokenizer: WhisperTokenizerLike,
): ResolvedTranscribeOptions {
  if (typeof options !== 'object' || options === null) fail('options', options, 'an object');

  let language: string | null = null;
  const rawLanguage: unknown = options.language;
  if (rawLanguage !== undefined && rawLanguage !== 'auto') {
    if (typeof rawLanguage !== 'string') fail('language', rawLanguage, "an ISO code or 'auto'");
    const code = rawLanguage.trim().toLowerCase();
    if (!tokenizer.specials.languages.has(code)) {
      throw new InvalidOptionError(`unknown language '${rawLanguage}' (expected an ISO code such as 'fr', or 'auto')`, {
        option: 'language',
      });
    }
    language = code;
  }

  const task: unknown = options.task ?? 'transcribe';
  if (task !== 'transcribe' && task !== 'translate') fail('task', task, "'transcribe' or 'translate'");

  const patience: unknown = options.patience ?? 1;
  if (typeof patience !== 'number' || !Number.isFinite(patience) || patience <= 0) {
    fail('patience', patience, 'a number > 0');
  }

  const temperatures: unknown = options.temperatures ?? DEFAULT_TEMPERATURES;
  if (
    !Array.isArray(temperatures) ||
    temperatures.length === 0 ||
    !temperatures.every((t: unknown) => typeof t === 'number' && Number.isFinite(t) && t >= 0)
  ) {
    fail('temperatures', temperatures, 'a non-empty list of finite numbers ≥ 0');
  }

  const seed = integerAtLeast('seed', options.seed, 0, 0);
  const shortWindowMarginMs = finiteOrNull('shortWindowMarginMs', options.shortWindowMarginMs, DEFAULT_SHORT_WINDOW_MARGIN_MS);
  if (shortWindowMarginMs !== null && shortWindowMarginMs < 0) fail('shortWindowMarginMs', shortWindowMarginMs, 'a number ≥ 0 or null');
  const shortWindowMinMs = options.shortWindowMinMs ?? DEFAULT_SHORT_WINDOW_MIN_MS;
  if (typeof shortWindowMinMs !== 'number' || !Number.isFinite(shortWindowMinMs) || shortWindowMinMs < 0) {
    fail('shortWindowMinMs', shortWindowMinMs, 'a number ≥ 0');
  }
  if (seed > 0xffffffff) fail('seed', seed, 'an integer in [0, 2^32)');
  const shortWindowRetryMinNoSpeech = finiteOrNull('shortWindowRetryMinNoSpeech', options.shortWindowRetryMinNoSpeech, null);
  if (shortWindowRetryMinNoSpeech !== null && (shortWindowRetryMinNoSpeech < 0 || shortWindowRetryMinNoSpeech > 1)) {
    fail('shortWindowRetryMinNoSpeech', shortWindowRetryMinNoSpeech, 'a probability in [0, 1] or null');
  }

  const beamNarrowAfterMs = finiteOrNull('beamNarrowAfterMs', options.beamNarrowAfterMs, null);
  if (beamNarrowAfterMs !== null && beamNarrowAfterMs < 0) fail('beamNarrowAfterMs', beamNarrowAfterMs, 'a number of ms ≥ 0 or null');

  const draftTokens: unknown = options.draftTokens ?? [];
  if (!Array.isArray(draftTokens) || !draftTokens.every((t: unknown) => typeof t === 'number' && Number.isInteger(t) && t >= 0)) {
    fail('draftTokens', draftTokens, 'a list of token ids');
  }

  const noSpeechThreshold = finiteOrNull('noSpeechThreshold', options.noSpeechThreshold, 0.6);
  const compressionRatioThreshold = finiteOrNull('compressionRatioThreshold', options.compressionRatioThreshold, 2.4);

  return {
    language,
    task,
    beamSize: integerAtLeast('beamSize', options.beamSize, 1, 5),
    bestOf: integerAtLeast('bestOf', options.bestOf, 1, 5),
    patience,
    lengthPenalty: finiteOrNull('lengthPenalty', options.lengthPenalty, null),
    temperatures: (temperatures as number[]).slice(),
    compressionRatioThreshold,
    logProbThreshold: finiteOrNull('logProbThreshold', options.logProbThreshold, -1.0),
    noSpeechThreshold,
    conditionOnPreviousText: booleanOr('conditionOnPreviousText', options.conditionOnPreviousText, true),
    promptResetOnTemperature: 0.5,
    initialPrompt: textOrNull('initialPrompt', options.initialPrompt),
    hotwords: textOrNull('hotwords', options.hotwords),
    withoutTimestamps: booleanOr('withoutTimestamps', options.withoutTimestamps, false),
    seed,
    shortWindowMarginMs,
    shortWindowMinMs,
    shortWindowWithoutTimestamps: booleanOr('shortWindowWithoutTimestamps', options.shortWindowWithoutTimestamps, false),
    shortWindowRetryMinNoSpeech,
    beamNarrowAfterMs,
    // Timestamps and other special tokens are not text a decode repeats: the draft is the text tokens.
    draftTokens: (draftTokens as number[]).filter((id) => id < tokenizer.specials.eot),
  };
}
