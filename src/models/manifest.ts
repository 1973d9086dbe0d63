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

export interface ModelSpec {
  readonly name: ModelName;
  readonly dtype: ModelDtype;
  /** Hub repository, e.g. `onnx-community/whisper-base`. */
  readonly repo: string;
  readonly revision: string;
  /** Folder name in the cache and in a mirror, e.g. `whisper-base`. */
  readonly folder: string;
  readonly encoderPath: string;
  readonly decoderPath: string;
  /** Required files first (small configs, then encoder, then decoder), then optional ones. */
  readonly files: readonly ModelFileSpec[];
}

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
    name,
    dtype: dtypeChecked,
    repo: `onnx-community/whisper-${name}`,
    revision: MODEL_REVISION,
    folder: `whisper-${name}`,
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
