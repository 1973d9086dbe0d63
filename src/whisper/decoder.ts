/**
 * Decodes one ≤ 30 s window at one temperature (the transcribe driver owns fallback and seeking):
 * validates DecodeOptions, builds OpenAI's initial sequence
 *   [<|startofprev|>, ...prompt] [sot, lang, task, (notimestamps)] [...prefix]
 * reads the no-speech probability at the SOT position, then runs greedy, sampling or beam search.
 */
import { DecodeCancelledError, DecodeFailedError, InvalidOptionError } from '../errors.js';
import { beamSearch } from './beam.js';
import { compressionRatio } from './compression.js';
import { expNonPositive, sumExpBelow } from './fast-exp.js';
import { LogitFilters } from './logit-filters.js';
import { sampleSearch, type Candidate, type DecoderModel, type SearchParams } from './search.js';
import type { DecodeOptions, DecodingResult, SpecialTokens } from './types.js';

export interface DecoderContext {
  readonly specials: SpecialTokens;
  readonly vocabSize: number;
  readonly maxTargetPositions: number;
  /** `encode(' ')`: suppressed with EOT at the first sampled position when suppressBlank. */
  readonly blankTokens: readonly number[];
  readonly timestampPrecisionInS: number;
  readonly decodeText: (ids: readonly number[]) => string;
}

export interface InitialSequence {
  readonly tokens: readonly number[];
  /** Index of <|startoftranscript|> in tokens (where the no-speech probability is read). */
  readonly sotIndex: number;
}

function invalid(message: string, option: string): InvalidOptionError {
  return new InvalidOptionError(message, { option });
}

function checkIds(ids: readonly number[], vocabSize: number, option: string): void {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw invalid(`${option} holds ${id}, not a token id in [0, ${vocabSize})`, option);
    }
  }
}

export function validateDecodeOptions(options: DecodeOptions, ctx: DecoderContext): void {
  if (!ctx.specials.languages.has(options.language)) {
    throw invalid(`Unknown language "${options.language}" for this model`, 'language');
  }
  if (options.task !== 'transcribe' && options.task !== 'translate') {
    throw invalid(`task must be transcribe or translate, not ${String(options.task)}`, 'task');
  }
  if (!Number.isFinite(options.temperature) || options.temperature < 0) {
    throw invalid(`temperature must be a finite number ≥ 0, not ${options.temperature}`, 'temperature');
  }
  if (!Number.isInteger(options.beamSize) || options.beamSize < 1) {
    throw invalid(`beamSize must be an integer ≥ 1, not ${options.beamSize}`, 'beamSize');
  }
  if (!Number.isInteger(options.bestOf) || options.bestOf < 1) {
    throw invalid(`bestOf must be an integer ≥ 1, not ${options.bestOf}`, 'bestOf');
  }
  if (!Number.isFinite(options.patience) || options.patience <= 0) {
    throw invalid(`patience must be a finite number > 0, not ${options.patience}`, 'patience');
  }
  if (options.lengthPenalty !== null && !Number.isFinite(options.lengthPenalty)) {
    throw invalid(`lengthPenalty must be null or a finite number, not ${options.lengthPenalty}`, 'lengthPenalty');
  }
  if (!Number.isFinite(options.maxInitialTimestampInS) || options.maxInitialTimestampInS < 0) {
    throw invalid(`maxInitialTimestampInS must be ≥ 0, not ${options.maxInitialTimestampInS}`, 'maxInitialTimestampInS');
  }
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw invalid(`maxNewTokens must be an integer ≥ 1, not ${options.maxNewTokens}`, 'maxNewTokens');
  }
  const threshold = options.compressionRatioThreshold;
  if (threshold !== undefined && threshold !== null && !(Number.isFinite(threshold) && threshold > 0)) {
    throw invalid(`compressionRatioThreshold must be null or a finite number > 0, not ${threshold}`, 'compressionRatioThreshold');
  }
  if (options.temperature > 0 && typeof options.random !== 'function') {
    throw invalid('Sampling (temperature > 0) needs a seeded random generator', 'random');
  }
  checkIds(options.suppressTokens, ctx.vocabSize, 'suppressTokens');
  checkIds(options.promptTokens, ctx.vocabSize, 'promptTokens');
  checkIds(options.prefixTokens, ctx.vocabSize, 'prefixTokens');
  if (options.draftTokens !== undefined) checkIds(options.draftTokens, ctx.specials.eot, 'draftTokens');
}

export function initialSequence(options: DecodeOptions, ctx: DecoderContext): InitialSequence {
  const s = ctx.specials;
  const tokens: number[] = [];
  if (options.promptTokens.length > 0) {
    // OpenAI keeps at most n_ctx/2 - 1 prompt tokens, the most recent ones.
    const keep = Math.floor(ctx.maxTargetPositions / 2) - 1;
    tokens.push(s.sotPrev, ...options.promptTokens.slice(-keep));
  }
  const sotIndex = tokens.length;
  const language = s.languages.get(options.language);
  if (language === undefined) throw invalid(`Unknown language "${options.language}"`, 'language');
  tokens.push(s.sot, language, options.task === 'translate' ? s.translate : s.transcribe);
  if (options.withoutTimestamps) tokens.push(s.noTimestamps);
  tokens.push(...options.prefixTokens);
  return { tokens, sotIndex };
}

/** softmax(row)[id] in float64, without materialising the softmax. */
export function softmaxAt(row: Float32Array, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if ((row[i] as number) > max) max = row[i] as number;
  return expNonPositive((row[id] as number) - max) / sumExpBelow(row, 0, row.length, max);
}

/** Throws DecodeCancelledError once `signal` has fired; the checkpoint between model runs. */
export function throwIfCancelled(signal: AbortSignal | undefined, where?: string): void {
  if (signal?.aborted !== true) return;
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'cancelled';
  throw new DecodeCancelledError(`the decode was cancelled${where === undefined ? '' : ` ${where}`}: ${why}`);
}

/** The model, with a cancellation checkpoint before every run (searches need no signal of their own). */
function cancellable(model: DecoderModel, signal: AbortSignal | undefined): DecoderModel {
  if (signal === undefined) return model;
  return {
    start: (tokens) => {
      throwIfCancelled(signal);
      return model.start(tokens);
    },
    reorder: (sources) => model.reorder(sources),
    step: (tokens) => {
      throwIfCancelled(signal);
      return model.step(tokens);
    },
    ...(model.extend && model.rewind
      ? {
          extend: (tokens: readonly number[]) => {
            throwIfCancelled(signal);
            return (model.extend as NonNullable<DecoderModel['extend']>)(tokens);
          },
          rewind: (count: number) => (model.rewind as NonNullable<DecoderModel['rewind']>)(count),
        }
      : {}),
  };
}

export async function decodeWindow(decoder: DecoderModel, ctx: DecoderContext, options: DecodeOptions): Promise<DecodingResult> {
  validateDecodeOptions(options, ctx);
  const model = cancellable(decoder, options.signal);
  const initial = initialSequence(options, ctx);
  const room = ctx.maxTargetPositions - initial.tokens.length;
  if (room < 1) {
    throw invalid(
      `The prompt and prefix (${initial.tokens.length} tokens) leave no room in the ${ctx.maxTargetPositions}-token context`,
      'prefixTokens',
    );
  }
  const vocab = ctx.vocabSize;
  const s = ctx.specials;
  const filters = new LogitFilters({
    eot: s.eot,
    suppressTokens: options.suppressTokens,
    blankTokens: options.suppressBlank ? [...ctx.blankTokens, s.eot] : [],
    timestamps: options.withoutTimestamps
      ? null
      : {
          timestampBegin: s.timestampBegin,
          noTimestamps: s.noTimestamps,
          // OpenAI treats 0 as "no limit" (`if options.max_initial_timestamp:`).
          maxInitialTimestampIndex:
            options.maxInitialTimestampInS > 0 ? Math.round(options.maxInitialTimestampInS / ctx.timestampPrecisionInS) : null,
        },
  });
  const threshold = options.compressionRatioThreshold;
  const params: SearchParams = {
    vocabSize: vocab,
    eot: s.eot,
    filters,
    maxSteps: Math.min(options.maxNewTokens, room),
    lengthPenalty: options.lengthPenalty,
    // The driver's own measure on the same text (decoded, trimmed), so a stop here always fails its gate.
    hopeless:
      threshold === undefined || threshold === null
        ? undefined
        : (ids) => compressionRatio(ctx.decodeText(Array.from(ids)).trim()) > threshold,
    draft: options.draftTokens,
    draftStats: options.draftStats,
  };

  const startLogits = await model.start(initial.tokens);
  const rows = initial.tokens.length;
  if (startLogits.length !== rows * vocab) {
    throw new DecodeFailedError(`The decoder returned ${startLogits.length} logits for ${rows} × ${vocab}`, {});
  }
  const noSpeechProb = softmaxAt(startLogits.subarray(initial.sotIndex * vocab, (initial.sotIndex + 1) * vocab), s.noSpeech);
  // A copy: the searches filter their first row in place, and the start logits may be shared.
  const first = startLogits.slice((rows - 1) * vocab, rows * vocab);

  let best: Candidate;
  if (options.temperature > 0) {
    best = await sampleSearch(model, first, params, options.bestOf, options.temperature, options.random);
  } else if (options.beamSize > 1) {
    best = await beamSearch(model, first, params, { beamSize: options.beamSize, patience: options.patience, narrow: options.narrowBeam });
  } else {
    best = await sampleSearch(model, first, params, 1, 0, undefined);
  }

  return {
    tokens: best.tokens,
    text: ctx.decodeText(best.tokens),
    language: options.language,
    temperature: options.temperature,
    sumLogprob: best.sumLogprob,
    avgLogprob: best.sumLogprob / (best.tokens.length + 1),
    noSpeechProb,
    ...(best.stoppedEarly === true ? { stoppedEarly: 'repetition' as const } : {}),
    ...(best.narrowed === true ? { beamNarrowed: true as const } : {}),
  };
}
