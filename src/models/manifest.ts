/**
 * The Whisper models the engine knows: the hub's ONNX exports `onnx-community/whisper-<name>`, their
 * files per precision, and the sizes and sha256 we can vouch for.
 *
 * A `null` size or sha256 means "unknown": the file is then checked only for presence (and for the
 * size the server announced while downloading). Hashes are listed only where someone recorded them
 * for the exact bytes (see ../shared/models/SOURCES.md); none are guessed.
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
  /** Lower-case hex; null when unknown (size-only check). */
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

interface KnownFile {
  readonly sizeBytes: number;
  readonly sha256: string;
}

/**
 * whisper-base: values from ../shared/models/SOURCES.md. The config and tokenizer files are shared by
 * every dtype of the model (same folder), so their entries apply to all three; the ONNX entries are the
 * int8 build only.
 */
const KNOWN_BASE_FILES: Readonly<Record<string, KnownFile>> = {
  'config.json': { sizeBytes: 2248, sha256: 'd1d347fdb422e6347c2f843a90d375aa67ea3f4b3e20d2c3075f9a9f6243685b' },
  'generation_config.json': {
    sizeBytes: 3776,
    sha256: '3bba359e33fdd6dc1c10f71846a477d339b0242f462f70ea1dd73274caa38d05',
  },
  'preprocessor_config.json': {
    sizeBytes: 339,
    sha256: 'a6a76d28c93edb273669eb9e0b0636a2bddbb1272c3261e47b7ca6dfdbac1b8d',
  },
  'tokenizer.json': { sizeBytes: 2480466, sha256: '27fc476bfe7f17299480be2273fc0608e4d5a99aba2ab5dec5374b4482d1a566' },
  'tokenizer_config.json': {
    sizeBytes: 282683,
    sha256: '2a4c4281cf9f51ac6ccc406fdc711a087afe6530f671fa7b80953edc498275ce',
  },
  'added_tokens.json': { sizeBytes: 2082, sha256: 'ce949fe720c14311cb6c446e69cfe340dc669d7b006077a6feed6ae571dd7e88' },
  'special_tokens_map.json': {
    sizeBytes: 2194,
    sha256: 'e67ae3a0aaa99abcd9f187138e12db1f65c16a14761c50ef10eef2c174a7a691',
  },
  'vocab.json': { sizeBytes: 1036584, sha256: '50d6a919f0a0601d56a04eb583c780d18553aa388254ba3158eb6a00f13e2c1a' },
  'merges.txt': { sizeBytes: 493869, sha256: '2df2990a395e35e8dfbc7511e08c12d56018d8d04691e0133e5d63b21e154dc6' },
  'normalizer.json': { sizeBytes: 52666, sha256: 'bf1c507dc8724ca9cf9903640dacfb69dae2f00edee4f21ceba106a7392f26dd' },
  'onnx/encoder_model_quantized.onnx': {
    sizeBytes: 25871578,
    sha256: '6f1f5ff12995978c9d1158c5e8e12659286d2073693bda053d2e784898e3f92e',
  },
  'onnx/decoder_model_merged_quantized.onnx': {
    sizeBytes: 79208649,
    sha256: '030aa69c774e2a15eec0dee84b2fa91faa5d9f48f49094c1d849de09b587a40f',
  },
};

const KNOWN_FILES: { readonly [N in ModelName]?: Readonly<Record<string, KnownFile>> } = { base: KNOWN_BASE_FILES };

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
