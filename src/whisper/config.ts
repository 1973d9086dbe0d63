/**
 * Reads a Whisper model folder (hub layout) into the numbers the frontend and the decoder need.
 * Every token id comes from the files: a different vocabulary (e.g. large-v3 with 128 mels and
 * <|nospeech|>) works without code changes.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelCorruptError, ModelIncompleteError } from '../errors.js';
import type { SpecialTokens } from './types.js';

export interface WhisperConfig {
  readonly nMels: number;
  readonly nFft: number;
  readonly hopLength: number;
  /** Samples in one 30 s window (480000). */
  readonly nSamples: number;
  /** Mel frames in one window (3000). */
  readonly nFrames: number;
  readonly sampleRate: number;
  readonly maxTargetPositions: number;
  readonly vocabSize: number;
  readonly suppressTokens: readonly number[];
  readonly beginSuppressTokens: readonly number[];
  /** ISO code → language token id. */
  readonly langToId: ReadonlyMap<string, number>;
  readonly taskToId: { readonly transcribe: number; readonly translate: number };
  readonly eot: number;
  readonly sot: number;
  readonly noTimestamps: number;
  readonly sotPrev: number;
  readonly noSpeech: number;
  readonly timestampBegin: number;
  readonly specials: SpecialTokens;
}

type Json = Record<string, unknown>;

async function readJson(filePath: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (cause) {
    throw new ModelIncompleteError(`Model file missing or unreadable: ${filePath}`, { path: filePath }, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ModelCorruptError(`Model file is not valid JSON: ${filePath}`, { path: filePath }, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ModelCorruptError(`Model file is not a JSON object: ${filePath}`, { path: filePath });
  }
  return parsed as Json;
}

function corrupt(filePath: string, what: string): ModelCorruptError {
  return new ModelCorruptError(`${filePath}: ${what}`, { path: filePath });
}

function int(json: Json, key: string, filePath: string): number {
  const value = json[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw corrupt(filePath, `"${key}" must be a non-negative integer`);
  }
  return value;
}

function intList(json: Json, key: string, filePath: string): number[] {
  const value = json[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isInteger(v))) {
    throw corrupt(filePath, `"${key}" must be a list of integers`);
  }
  return value as number[];
}

/** Token text → id from added_tokens.json, completed by tokenizer.json's added_tokens when present. */
async function readAddedTokens(dir: string): Promise<Map<string, number>> {
  const byText = new Map<string, number>();
  const addedPath = path.join(dir, 'added_tokens.json');
  const tokenizerPath = path.join(dir, 'tokenizer.json');
  let found = false;
  try {
    const added = await readJson(addedPath);
    found = true;
    for (const [text, id] of Object.entries(added)) {
      if (typeof id !== 'number' || !Number.isInteger(id)) throw corrupt(addedPath, `id of "${text}" is not an integer`);
      byText.set(text, id);
    }
  } catch (err) {
    if (!(err instanceof ModelIncompleteError)) throw err;
  }
  try {
    const tokenizer = await readJson(tokenizerPath);
    found = true;
    const list = tokenizer['added_tokens'];
    if (Array.isArray(list)) {
      for (const entry of list as unknown[]) {
        const e = entry as { content?: unknown; id?: unknown };
        if (typeof e.content === 'string' && typeof e.id === 'number' && !byText.has(e.content)) byText.set(e.content, e.id);
      }
    }
  } catch (err) {
    if (!(err instanceof ModelIncompleteError)) throw err;
  }
  if (!found) {
    throw new ModelIncompleteError(`Model folder has neither added_tokens.json nor tokenizer.json: ${dir}`, { path: dir });
  }
  return byText;
}

/**
 * Promise.all that reports the first failure in list order, not in time order: with a folder missing
 * altogether, the error always names config.json rather than whichever read failed first.
 */
async function allInOrder<T extends readonly unknown[]>(work: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(work);
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

export async function loadWhisperConfig(dir: string): Promise<WhisperConfig> {
  const configPath = path.join(dir, 'config.json');
  const generationPath = path.join(dir, 'generation_config.json');
  const preprocessorPath = path.join(dir, 'preprocessor_config.json');
  const [config, generation, preprocessor, added] = await allInOrder([
    readJson(configPath),
    readJson(generationPath),
    readJson(preprocessorPath),
    readAddedTokens(dir),
  ] as const);

  const special = (text: string, alternatives: readonly string[] = []): number => {
    for (const t of [text, ...alternatives]) {
      const id = added.get(t);
      if (id !== undefined) return id;
    }
    throw new ModelCorruptError(`Token ${text} not found in added_tokens.json or tokenizer.json of ${dir}`, { path: dir });
  };

  const langRaw = generation['lang_to_id'];
  if (typeof langRaw !== 'object' || langRaw === null) throw corrupt(generationPath, '"lang_to_id" missing');
  const langToId = new Map<string, number>();
  for (const [token, id] of Object.entries(langRaw as Json)) {
    const code = /^<\|(.+)\|>$/.exec(token)?.[1];
    if (code === undefined || typeof id !== 'number') throw corrupt(generationPath, `bad lang_to_id entry "${token}"`);
    langToId.set(code, id);
  }
  const taskRaw = generation['task_to_id'];
  if (typeof taskRaw !== 'object' || taskRaw === null) throw corrupt(generationPath, '"task_to_id" missing');
  const taskJson = taskRaw as Json;
  const transcribe = int(taskJson, 'transcribe', generationPath);
  const translate = int(taskJson, 'translate', generationPath);

  const eot = int(generation, 'eos_token_id', generationPath);
  const sot = int(generation, 'decoder_start_token_id', generationPath);
  const noTimestamps = int(generation, 'no_timestamps_token_id', generationPath);
  const sotPrev = special('<|startofprev|>');
  // Newer vocabularies (large-v3) renamed <|nocaptions|> to <|nospeech|>.
  const noSpeech = special('<|nocaptions|>', ['<|nospeech|>']);
  const timestampBegin = special('<|0.00|>');

  const nMels = int(preprocessor, 'feature_size', preprocessorPath);
  const configMels = config['num_mel_bins'];
  if (typeof configMels === 'number' && configMels !== nMels) {
    throw corrupt(configPath, `num_mel_bins ${configMels} differs from preprocessor feature_size ${nMels}`);
  }

  const specials: SpecialTokens = {
    eot,
    sot,
    sotPrev,
    noSpeech,
    noTimestamps,
    timestampBegin,
    transcribe,
    translate,
    languages: langToId,
  };
  const suppressFromGeneration = generation['suppress_tokens'];
  return {
    nMels,
    nFft: int(preprocessor, 'n_fft', preprocessorPath),
    hopLength: int(preprocessor, 'hop_length', preprocessorPath),
    nSamples: int(preprocessor, 'n_samples', preprocessorPath),
    nFrames: int(preprocessor, 'nb_max_frames', preprocessorPath),
    sampleRate: int(preprocessor, 'sampling_rate', preprocessorPath),
    maxTargetPositions: int(config, 'max_target_positions', configPath),
    vocabSize: int(config, 'vocab_size', configPath),
    suppressTokens:
      suppressFromGeneration === undefined
        ? intList(config, 'suppress_tokens', configPath)
        : intList(generation, 'suppress_tokens', generationPath),
    beginSuppressTokens: intList(generation, 'begin_suppress_tokens', generationPath),
    langToId,
    taskToId: { transcribe, translate },
    eot,
    sot,
    noTimestamps,
    sotPrev,
    noSpeech,
    timestampBegin,
    specials,
  };
}
