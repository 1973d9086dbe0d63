/**
 * Finding a model's files: explicit dir → cache → mirror → hub download into the cache. The same
 * path finds any set of files the manifest describes (FileSetSpec): a model at one dtype, or the
 * float copy of its weights (float-weights.ts).
 *
 * - An explicit `dir` is used alone: missing there is an error, never a fallback, so a typo in a path
 *   does not silently download 100 MB.
 * - The cache (`<cacheDir>/whisper-<name>/`) is ours: a partial model there is completed by download
 *   (resuming `.partial` files), and a file that fails its check is deleted and fetched again when
 *   downloads are allowed.
 * - A mirror is someone else's read-only folder in the hub layout (`<mirror>/whisper-<name>/` or
 *   `<mirror>/onnx-community/whisper-<name>/`), used in place, never copied. A mirror folder holding
 *   one of the dtype's ONNX files has the model: any other required file missing there is an error
 *   naming it. One without them (e.g. only q8 when fp16 is asked) does not, and the hub is next.
 * Only required files are checked at resolution (optional ones are checked when downloaded). The
 * manifest pins no hash (manifest.ts says why): downloads are checked against the hash the hub
 * announces and stamped; local files are checked against their stamps, trusted on first use when
 * never stamped. verify.ts states the whole policy and when hashes are computed.
 */

import { existsSync, readFileSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ModelChecksumError, ModelDownloadError, ModelIncompleteError, ModelNotFoundError } from '../errors.js';
import type { ModelDtype, ModelSource, ResolvedModel } from '../whisper/types.js';
import { downloadFile, type DownloadProgress } from './download.js';
import { DEFAULT_DTYPE, getModelSpec, type FileSetSpec, type ModelFileSpec, type ModelSpec } from './manifest.js';
import { fileState, StampStore, verifyFile } from './verify.js';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface ResolveOptions {
  readonly dtype?: ModelDtype;
  /** An explicit model folder in the hub layout; when given, it is the only source tried. */
  readonly dir?: string;
  /** Default: env STT_MODEL_CACHE, else the package's `models/` folder. */
  readonly cacheDir?: string;
  /** Default: env STT_MODEL_MIRROR. */
  readonly mirror?: string;
  /** Default: env STT_HUB_ENDPOINT, else HF_ENDPOINT, else https://huggingface.co. */
  readonly hubEndpoint?: string;
  /** Default true. */
  readonly allowDownload?: boolean;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Where the STT_* and HF_* defaults are read (default process.env); the CLI passes its own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Abort a download when no byte arrives for this long (default 30 s). */
  readonly idleTimeoutMs?: number;
  readonly fetchImpl?: typeof fetch;
}

let packageRootMemo: string | null = null;

/**
 * The installed package's root, found by walking up from this module to our package.json, so the
 * answer is the same from src/ (tsx, vitest) and from dist/.
 */
export function packageRoot(): string {
  if (packageRootMemo) return packageRootMemo;
  const here = path.dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'stt-engine') break;
      } catch {
        // not ours; keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      dir = path.resolve(here, '..', '..');
      break;
    }
    dir = parent;
  }
  packageRootMemo = dir;
  return dir;
}

type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

export function defaultCacheDir(env: Env = process.env): string {
  return path.resolve(nonEmpty(env['STT_MODEL_CACHE']) ?? path.join(packageRoot(), 'models'));
}

export function defaultHubEndpoint(env: Env = process.env): string {
  return nonEmpty(env['STT_HUB_ENDPOINT']) ?? nonEmpty(env['HF_ENDPOINT']) ?? DEFAULT_HUB_ENDPOINT;
}

/** A local folder that holds at least one ONNX file of the model at the asked dtype. */
export interface LocalCopy {
  readonly source: 'cache' | 'mirror';
  readonly dir: string;
  /** Required files absent there (empty: complete). */
  readonly missing: readonly string[];
}

async function missingRequired(dir: string, spec: FileSetSpec): Promise<ModelFileSpec[]> {
  const missing: ModelFileSpec[] = [];
  for (const f of spec.files) {
    if (f.required && (await fileState(path.join(dir, f.path))) === 'missing') missing.push(f);
  }
  return missing;
}

/**
 * Whether a folder holds this set: one of its marker files is there (for a model, one of its ONNX
 * files at the asked dtype; see FileSetSpec.markers).
 */
async function holds(dir: string, spec: FileSetSpec): Promise<boolean> {
  for (const marker of spec.markers) if ((await fileState(path.join(dir, marker))) === 'present') return true;
  return false;
}

/** The mirror folder that holds the set, in either accepted layout. */
async function findMirrorDir(mirror: string, spec: FileSetSpec): Promise<string | null> {
  for (const dir of [path.join(mirror, spec.folder), path.join(mirror, spec.repo)]) {
    if (await holds(dir, spec)) return dir;
  }
  return null;
}

/** Where the model lies locally, by presence of files only (no hashing): for `models list`. */
export async function findLocalCopies(
  name: string,
  options: Pick<ResolveOptions, 'dtype' | 'cacheDir' | 'mirror' | 'env'> = {},
): Promise<LocalCopy[]> {
  return findLocalSetCopies(getModelSpec(name, options.dtype ?? DEFAULT_DTYPE), options);
}

/** findLocalCopies for any file set (a model, or its float weights). */
export async function findLocalSetCopies(
  spec: FileSetSpec,
  options: Pick<ResolveOptions, 'cacheDir' | 'mirror' | 'env'> = {},
): Promise<LocalCopy[]> {
  const env = options.env ?? process.env;
  const copies: LocalCopy[] = [];
  const cacheModelDir = path.join(path.resolve(options.cacheDir ?? defaultCacheDir(env)), spec.folder);
  if (await holds(cacheModelDir, spec)) {
    const missing = await missingRequired(cacheModelDir, spec);
    copies.push({ source: 'cache', dir: cacheModelDir, missing: missing.map((f) => f.path) });
  }
  const mirror = options.mirror ?? nonEmpty(env['STT_MODEL_MIRROR']);
  if (mirror) {
    const dir = await findMirrorDir(path.resolve(mirror), spec);
    if (dir) copies.push({ source: 'mirror', dir, missing: (await missingRequired(dir, spec)).map((f) => f.path) });
  }
  return copies;
}

function resolved(spec: ModelSpec, source: ModelSource, dir: string): ResolvedModel {
  return {
    name: spec.name,
    dtype: spec.dtype,
    source,
    dir,
    encoderPath: path.join(dir, spec.encoderPath),
    decoderPath: path.join(dir, spec.decoderPath),
  };
}

/** A folder we do not own: every required file must be there and pass its checks. */
async function useInPlace(dir: string, spec: FileSetSpec, stamps: StampStore, source: 'dir' | 'mirror'): Promise<void> {
  const missing = await missingRequired(dir, spec);
  const first = missing[0];
  if (first) {
    throw new ModelIncompleteError(
      `${source === 'dir' ? 'model folder' : 'mirror folder'} ${dir} lacks ${first.path}` +
        (missing.length > 1 ? ` (and ${missing.length - 1} more: ${missing.slice(1).map((f) => f.path).join(', ')})` : ''),
      { dir, missing: first.path, source },
    );
  }
  for (const f of spec.files) if (f.required) await verifyFile(path.join(dir, f.path), f, stamps);
}

/**
 * Checks the cache's required files; a bad one is deleted (to be downloaded again) when `heal`,
 * thrown otherwise. Returns the required files still missing.
 */
async function checkCache(dir: string, spec: FileSetSpec, stamps: StampStore, heal: boolean): Promise<ModelFileSpec[]> {
  const missing: ModelFileSpec[] = [];
  for (const f of spec.files) {
    if (!f.required) continue;
    const p = path.join(dir, f.path);
    if ((await fileState(p)) === 'missing') {
      missing.push(f);
      continue;
    }
    try {
      await verifyFile(p, f, stamps);
    } catch (err) {
      if (!heal || !(err instanceof ModelIncompleteError || err instanceof ModelChecksumError)) throw err;
      await rm(p, { force: true });
      missing.push(f);
    }
  }
  return missing;
}

function notFound(spec: FileSetSpec, cacheDir: string, mirror: string | undefined): ModelNotFoundError {
  return new ModelNotFoundError(
    `no local copy of ${spec.label}: not in the cache ${cacheDir}` +
      (mirror ? ` nor in the mirror ${mirror}` : ' (no mirror set)') +
      `, and downloading is disabled. Run \`${spec.pullCommand}\`` +
      ' or set STT_MODEL_MIRROR to a folder with the hub layout.',
    { model: spec.name, ...(spec.dtype !== undefined ? { dtype: spec.dtype } : {}), files: spec.label, repo: spec.repo, cacheDir, mirror: mirror ?? null },
  );
}

export async function resolveModel(name: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  const spec = getModelSpec(name, options.dtype ?? DEFAULT_DTYPE);
  const { source, dir } = await resolveFileSet(spec, options);
  return resolved(spec, source, dir);
}

/**
 * Finds a file set (a model, or its float weights) locally or downloads it: explicit dir → cache →
 * mirror → hub, as the module comment says. Returns where it lies once every required file passed.
 */
export async function resolveFileSet(spec: FileSetSpec, options: ResolveOptions = {}): Promise<{ source: ModelSource; dir: string }> {
  const env = options.env ?? process.env;
  const cacheDir = path.resolve(options.cacheDir ?? defaultCacheDir(env));
  const stamps = new StampStore(cacheDir);
  const allowDownload = options.allowDownload ?? true;

  if (options.dir !== undefined) {
    const dir = path.resolve(options.dir);
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) {
      throw new ModelNotFoundError(`model folder ${dir} does not exist or is not a folder`, { dir });
    }
    await useInPlace(dir, spec, stamps, 'dir');
    return { source: 'dir', dir };
  }

  const cacheModelDir = path.join(cacheDir, spec.folder);
  const cacheMissing = await checkCache(cacheModelDir, spec, stamps, allowDownload);
  if (cacheMissing.length === 0) return { source: 'cache', dir: cacheModelDir };

  const mirror = options.mirror ?? nonEmpty(env['STT_MODEL_MIRROR']);
  if (mirror) {
    const mirrorDir = await findMirrorDir(path.resolve(mirror), spec);
    if (mirrorDir) {
      await useInPlace(mirrorDir, spec, stamps, 'mirror');
      return { source: 'mirror', dir: mirrorDir };
    }
  }

  if (!allowDownload) {
    const first = cacheMissing[0];
    if (first && (await holds(cacheModelDir, spec))) {
      throw new ModelIncompleteError(
        `the cached ${spec.label} in ${cacheModelDir} lacks ${first.path} and downloading is disabled;` +
          ` run \`${spec.pullCommand}\` to complete it`,
        { dir: cacheModelDir, missing: first.path, source: 'cache' },
      );
    }
    throw notFound(spec, cacheDir, mirror);
  }

  await downloadFiles(spec, cacheModelDir, stamps, options, env);
  return { source: 'hub', dir: cacheModelDir };
}

/** Fetches every required file not yet in the cache, then the optional ones the hub has. */
async function downloadFiles(spec: FileSetSpec, dir: string, stamps: StampStore, options: ResolveOptions, env: Env): Promise<void> {
  const endpoint = (options.hubEndpoint ?? defaultHubEndpoint(env)).replace(/\/+$/, '');
  const token = nonEmpty(env['HF_TOKEN']) ?? null;
  for (const f of spec.files) {
    const dest = path.join(dir, f.path);
    // Required files present here passed checkCache; optional ones are kept as they are.
    if ((await fileState(dest)) === 'present') continue;
    try {
      const got = await downloadFile({
        url: `${endpoint}/${spec.repo}/resolve/${spec.revision}/${f.path}`,
        destPath: dest,
        expectedSizeBytes: f.sizeBytes,
        expectedSha256: f.sha256,
        label: f.path,
        token,
        ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
      });
      // Stamp the streamed hash, verified or (server announced none) as received: the next start trusts
      // size + mtime instead of hashing again, and a later change of the file is caught against it.
      const origin = got.sha256Source === 'expected' ? 'manifest' : got.sha256Source === 'server' ? 'server' : 'first-use';
      await stamps.record(dest, got.sha256, origin);
    } catch (err) {
      if (!f.required && err instanceof ModelDownloadError && err.details['status'] === 404) continue;
      throw err;
    }
  }
}
