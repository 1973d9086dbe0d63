/**
 * The Whisper models the engine knows: the hub's ONNX exports `onnx-community/whisper-<name>`, their
 * files per precision, and the sizes and sha256 we can vouch for.
 *
 * A `null` size or sha256 means "unknown" (today: every file, see KNOWN_FILES): a download is then
 * checked against the sha256 and size the server announces, and a local file against its stamp
 * (verify.ts). Hashes may be listed only where someone recorded them for the exact bytes the hub
 * serves; none are guessed.
 */

import { InvalidOptionError, UnknownModelError } from '../errors.js';
import type { ModelDtype } from '../whisper/types.js';

export const MODEL_NAMES = ['tiny', 'base', 'small', 'medium', 'large-v3', 'large-v3-turbo'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export const MODEL_DTYPES: readonly ModelDtype[] = ['q8', 'fp16', 'fp32'];
export const DEFAULT_DTYPE: ModelDtype = 'q8';

/** Hub revision every model is fetched at. */
export const MODEL_REVISION = 'main';

const DTYPE_SUFFIX: { readonly [D in ModelDtype]: string } = { q8: '_quantized', fp16: '_fp16', fp32: '' };

export interface ModelFileSpec {
  /** Path inside the model folder, `/`-separated as on the hub. */
  readonly path: string;
  /** Optional files are fetched when the hub has them and never make a model incomplete. */
  readonly required: boolean;
  readonly sizeBytes: number | null;
  /** Lower-case hex; null when unknown (then the server's announced hash, or the stamp, is the reference). */
  readonly sha256: string | null;
}

/** A set of files fetched from one hub repository into one folder (a model, or its float weights). */
export interface FileSetSpec {
  readonly name: ModelName;
  /** A model's precision; absent for sets that have none (float weights). */
  readonly dtype?: ModelDtype;
  /** For messages: `model base (q8)`, `float weights of base`. */
  readonly label: string;
  /** Hub repository, e.g. `onnx-community/whisper-base`. */
  readonly repo: string;
  readonly revision: string;
  /** Folder name in the cache and in a mirror, e.g. `whisper-base`. */
  readonly folder: string;
  /**
   * Files whose presence says a folder holds this set, one being enough (a model's ONNX files at its
   * dtype: config files are shared by every dtype, so they alone say nothing about, say, fp16).
   */
  readonly markers: readonly string[];
  /** Required files first, then optional ones. */
  readonly files: readonly ModelFileSpec[];
  /** The command that fetches this set ahead of time, for error messages. */
  readonly pullCommand: string;
}

export interface ModelSpec extends FileSetSpec {
  readonly dtype: ModelDtype;
  readonly encoderPath: string;
  readonly decoderPath: string;
}

/**
 * The float copy of a model's weights that its int8 MatMul weights are requantised from, per output
 * channel (README → Models → Per-channel weights): the CTranslate2 conversion faster-whisper downloads
 * for the same OpenAI checkpoint, float16. Only `model.bin` is read; the other files are fetched when
 * the repository has them, so the folder is also a faster-whisper model.
 */
export interface FloatWeightsSpec extends FileSetSpec {
  /** `model.bin`, inside the folder. */
  readonly weightsPath: string;
}

/** faster-whisper's own table (faster_whisper/utils.py `_MODELS`) for the names we know. */
const FLOAT_WEIGHTS_REPOS: { readonly [N in ModelName]: string } = {
  tiny: 'Systran/faster-whisper-tiny',
  base: 'Systran/faster-whisper-base',
  small: 'Systran/faster-whisper-small',
  medium: 'Systran/faster-whisper-medium',
  'large-v3': 'Systran/faster-whisper-large-v3',
  'large-v3-turbo': 'mobiuslabsgmbh/faster-whisper-large-v3-turbo',
};
const FLOAT_WEIGHTS_OPTIONAL = ['config.json', 'tokenizer.json', 'vocabulary.txt', 'vocabulary.json', 'preprocessor_config.json'] as const;

const CONFIG_FILES = [
  'config.json',
  'generation_config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
] as const;
const OPTIONAL_FILES = ['added_tokens.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'normalizer.json'] as const;

/**
 * No model file has a size or sha256 here, on purpose. The only recorded hashes we have
 * (../shared/models/SOURCES.md) describe the reference mirror, and SOURCES.md says that mirror is a
 * local rebuild: its int8 ONNX files were exported with optimum from CTranslate2 weights and
 * quantized locally, and its config/tokenizer files come from a GitHub copy of Xenova/whisper-base.
 * None of them is known to be byte-identical to what `onnx-community/whisper-<name>` serves, so
 * pinning those values would make every genuine hub download fail its check. Downloads are verified
 * against the sha256 and size the hub announces (X-Linked-Etag / X-Linked-Size, see download.ts),
 * and local files against the stamps recorded when they were first verified (see verify.ts).
 * Put a value here only for bytes someone hashed at the source they are fetched from.
 */
const KNOWN_FILES: { readonly [N in ModelName]?: Readonly<Record<string, { sizeBytes: number; sha256: string }>> } = {};

export function isModelName(value: string): value is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(value);
}

export function isModelDtype(value: string): value is ModelDtype {
  return (MODEL_DTYPES as readonly string[]).includes(value);
}

/** Throws InvalidOptionError for anything but q8, fp16, fp32. */
export function parseDtype(value: string): ModelDtype {
  if (!isModelDtype(value)) {
    throw new InvalidOptionError(`unknown model dtype "${value}" (expected one of: ${MODEL_DTYPES.join(', ')})`, {
      dtype: value,
    });
  }
  return value;
}

/** The files and checks of one model at one precision; UnknownModelError for a name not in MODEL_NAMES. */
export function getModelSpec(name: string, dtype: ModelDtype = DEFAULT_DTYPE): ModelSpec {
  if (!isModelName(name)) {
    throw new UnknownModelError(`unknown model "${name}" (known models: ${MODEL_NAMES.join(', ')})`, { model: name });
  }
  const dtypeChecked = parseDtype(dtype);
  const suffix = DTYPE_SUFFIX[dtypeChecked];
  const encoderPath = `onnx/encoder_model${suffix}.onnx`;
  const decoderPath = `onnx/decoder_model_merged${suffix}.onnx`;
  const known = KNOWN_FILES[name] ?? {};
  const spec = (path: string, required: boolean): ModelFileSpec => {
    const k = known[path];
    return { path, required, sizeBytes: k?.sizeBytes ?? null, sha256: k?.sha256 ?? null };
  };
  return {
    label: `model ${name} (${dtypeChecked})`,
    name,
    dtype: dtypeChecked,
    repo: `onnx-community/whisper-${name}`,
    revision: MODEL_REVISION,
    folder: `whisper-${name}`,
    markers: [encoderPath, decoderPath],
    pullCommand: `stt-engine models pull ${name}${dtypeChecked === DEFAULT_DTYPE ? '' : ` --dtype ${dtypeChecked}`}`,
    encoderPath,
    decoderPath,
    files: [
      ...CONFIG_FILES.map((f) => spec(f, true)),
      spec(encoderPath, true),
      spec(decoderPath, true),
      ...OPTIONAL_FILES.map((f) => spec(f, false)),
    ],
  };
}

/** The float copy of a model's weights (FloatWeightsSpec); UnknownModelError for a name not in MODEL_NAMES. */
export function getFloatWeightsSpec(name: string): FloatWeightsSpec {
  if (!isModelName(name)) {
    throw new UnknownModelError(`unknown model "${name}" (known models: ${MODEL_NAMES.join(', ')})`, { model: name });
  }
  const weightsPath = 'model.bin';
  // No size or hash pinned, as for the ONNX files (KNOWN_FILES says why): the hub announces both.
  const spec = (path: string, required: boolean): ModelFileSpec => ({ path, required, sizeBytes: null, sha256: null });
  return {
    label: `float weights of ${name}`,
    name,
    repo: FLOAT_WEIGHTS_REPOS[name],
    revision: MODEL_REVISION,
    folder: `faster-whisper-${name}`,
    markers: [weightsPath],
    pullCommand: `stt-engine models pull ${name} --float-weights`,
    weightsPath,
    files: [spec(weightsPath, true), ...FLOAT_WEIGHTS_OPTIONAL.map((f) => spec(f, false))],
  };
}
