import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/helpers/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** ../shared beside the checkout (models, corpus, golden); STT_SHARED_DIR overrides. */
export const SHARED_DIR = path.resolve(process.env['STT_SHARED_DIR'] ?? path.join(REPO_ROOT, '..', 'shared'));
export const SHARED_MODELS = path.join(SHARED_DIR, 'models');
export const SHARED_CORPUS = path.join(SHARED_DIR, 'corpus');
export const SHARED_GOLDEN = path.join(SHARED_DIR, 'golden');
export const WHISPER_BASE_DIR = path.join(SHARED_MODELS, 'whisper-base');

export function corpusPath(relative: string): string {
  return path.join(SHARED_CORPUS, relative);
}

/**
 * Whether ../shared (model mirror, corpus, golden files) is beside the checkout. Tests that need it
 * skip on a bare clone; in CI (CI=true) it must be there, so a missing folder fails instead of
 * quietly skipping the real-model tests.
 */
export function hasShared(): boolean {
  const present = existsSync(path.join(WHISPER_BASE_DIR, 'config.json'));
  if (!present && process.env['CI']) {
    throw new Error(`CI=true but ${SHARED_DIR} has no whisper-base model: the e2e tests cannot run`);
  }
  return present;
}

/**
 * whisper-base as a CTranslate2 folder (float16 model.bin): the float weights of the per-channel
 * requantisation. `scripts/fetch-faster-whisper-base.sh` puts it in models/faster-whisper-base (.ci/run
 * does); STT_TEST_FLOAT_WEIGHTS overrides.
 */
export const FLOAT_WEIGHTS_DIR = path.resolve(process.env['STT_TEST_FLOAT_WEIGHTS'] ?? path.join(REPO_ROOT, 'models', 'faster-whisper-base'));

/** Whether FLOAT_WEIGHTS_DIR holds model.bin. In CI it must (.ci/run fetches it): missing fails there. */
export function hasFloatWeights(): boolean {
  const present = existsSync(path.join(FLOAT_WEIGHTS_DIR, 'model.bin'));
  if (!present && process.env['CI']) {
    throw new Error(`CI=true but ${FLOAT_WEIGHTS_DIR} has no model.bin: run scripts/fetch-faster-whisper-base.sh`);
  }
  return present;
}
