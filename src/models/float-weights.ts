/**
 * The float copy of a model's weights that its int8 MatMul weights are requantised from, per output
 * channel (README → Models → Per-channel weights): what a `floatWeights` option names, and finding it.
 *
 * The option (library `floatWeights`, CLI `--float-weights`, env STT_FLOAT_WEIGHTS) is one of:
 * - a path: a CTranslate2 model folder or its model.bin (e.g. a faster-whisper folder the user
 *   already has), used as it is;
 * - `true` (CLI and env: `auto`): the float copy of the model being loaded, found by the model's name
 *   the way the model itself is (manifest.ts `getFloatWeightsSpec`): the cache's
 *   `faster-whisper-<name>/`, then a mirror's, then a download of faster-whisper's own repository
 *   (`Systran/faster-whisper-<name>`) into the cache, resumable and checked like any model file;
 * - `null` or `false` (CLI and env: `none`, or unset): none, the int8 files as they are.
 *
 * Per-channel weights stay opt-in: a default that depended on which files happen to be on disk, or
 * that downloaded 145 MB (base; 3 GB for large-v3) beside the model unasked, would make the same
 * command give other texts on other machines.
 */
import path from 'node:path';

import { InvalidOptionError } from '../errors.js';
import type { FloatWeightsOption, ModelSource } from '../whisper/types.js';
import { getFloatWeightsSpec } from './manifest.js';
import { resolveFileSet, type ResolveOptions } from './resolve.js';


/** The words the CLI and the environment take besides a path. */
const AUTO = 'auto';
const NONE = 'none';

export interface ResolvedFloatWeights {
  readonly name: string;
  readonly source: ModelSource;
  /** The folder (CTranslate2 layout). */
  readonly dir: string;
  /** Its model.bin. */
  readonly path: string;
}

/** A word or a path as the CLI and the environment give it: `auto` → true, `none` or empty → null. */
export function parseFloatWeightsWord(value: string, cwd?: string): string | true | null {
  const word = value.trim();
  if (word === '' || word === NONE) return null;
  if (word === AUTO) return true;
  return cwd === undefined ? value : path.resolve(cwd, value);
}

/** env STT_FLOAT_WEIGHTS, for when the option is not given: a path, `auto`, or unset / empty / `none`. */
export function defaultFloatWeights(env: Readonly<Record<string, string | undefined>> = process.env): string | true | null {
  const value = env['STT_FLOAT_WEIGHTS'];
  return value === undefined ? null : parseFloatWeightsWord(value);
}

/** Throws InvalidOptionError for anything but a non-empty string, a boolean, null or undefined. */
export function checkFloatWeightsOption(value: unknown): void {
  if (value === undefined || value === null || typeof value === 'boolean') return;
  if (typeof value === 'string' && value.trim() !== '') return;
  throw new InvalidOptionError(
    `option floatWeights must be a path (a CTranslate2 model folder or model.bin), true (the model's own float copy) or null, not ${JSON.stringify(value)}`,
    { option: 'floatWeights' },
  );
}

/** The float copy of model `name`: cache → mirror → hub, as resolveModel finds a model (no explicit dir). */
export async function resolveFloatWeights(name: string, options: Omit<ResolveOptions, 'dir' | 'dtype'> = {}): Promise<ResolvedFloatWeights> {
  const spec = getFloatWeightsSpec(name);
  const { source, dir } = await resolveFileSet(spec, options);
  return { name: spec.name, source, dir, path: path.join(dir, spec.weightsPath) };
}

/**
 * The path a model named `modelName` loads its float weights from, for a `floatWeights` option
 * (checkFloatWeightsOption's values): true is resolved (and downloaded when allowed), a path is
 * returned as is (the loader checks it), anything else is null.
 */
export async function floatWeightsPath(
  option: FloatWeightsOption | undefined,
  modelName: string,
  options: Omit<ResolveOptions, 'dir' | 'dtype'> = {},
): Promise<string | null> {
  checkFloatWeightsOption(option);
  if (option === true) return (await resolveFloatWeights(modelName, options)).path;
  return typeof option === 'string' ? option : null;
}
