/**
 * The model cache's derived files (`<cache>/derived/`): where a rewritten graph lives, how it is written
 * (atomically, older rewrites of its kind dropped) and the flags kept beside it. The rewrites themselves
 * are src/whisper/graphs.ts's.
 */
import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Bump when the rewrite's output changes, so that graphs cached by an older version are not reused. */
const REWRITE_VERSION = 8;

/** What the rewrite of one file did (also kept beside a cached rewrite, as JSON). */
export interface RewriteFlags {
  readonly perRow: boolean;
  readonly perChannel: boolean;
  readonly shortWindows: boolean;
  /** graphs.ts step 8: the per-row activations are quantised to 7 bits. */
  readonly reducedRange: boolean;
  /** graphs.ts step 8: the int8 weights are stored as uint8. */
  readonly uint8Weights: boolean;
}

/** A short stable hash of a JSON value: cache folder and key names. */
export function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Where the rewrite of `file` lives in the cache: one folder per source file, one name per kind and version of it. */
export async function cachePathFor(cacheDir: string, file: string, kind: string, tag: string): Promise<string> {
  const source = path.resolve(file);
  const info = await stat(source);
  const folder = path.join(cacheDir, 'derived', digest(source));
  return path.join(folder, `${path.basename(source, '.onnx')}.${kind}.${digest([info.size, info.mtimeMs, REWRITE_VERSION, tag])}.onnx`);
}

/** Cached rewrites are named `<base>.<kind>.<key>.onnx`; the flags they were written with sit beside them. */
export function flagsPath(cached: string): string {
  return `${cached.slice(0, -'.onnx'.length)}.json`;
}

/** Writes `bytes` to `target` atomically: a reader never sees half a file. */
export async function writeAtomically(target: string, bytes: Uint8Array): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, target);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * Writes a rewrite atomically and drops older rewrites of the same source and kind, with what was
 * derived from them (step 9's pieces, named after their rewrite).
 */
export async function storeInCache(target: string, bytes: Uint8Array): Promise<void> {
  await writeAtomically(target, bytes);
  const folder = path.dirname(target);
  const keep = new Set([path.basename(target), path.basename(flagsPath(target))]);
  // `<base>.<kind>.`: the name up to its key.
  const sameKind = path.basename(target).replace(/[^.]+\.onnx$/u, '');
  for (const name of await readdir(folder)) {
    if (!keep.has(name) && name.startsWith(sameKind) && (name.endsWith('.onnx') || name.endsWith('.json'))) await unlink(path.join(folder, name)).catch(() => undefined);
  }
}

export async function readCachedFlags(cached: string): Promise<RewriteFlags | null> {
  try {
    await access(cached);
    const flags: unknown = JSON.parse(await readFile(flagsPath(cached), 'utf8'));
    if (typeof flags !== 'object' || flags === null) return null;
    const { perRow, perChannel, shortWindows, reducedRange, uint8Weights } = flags as Record<string, unknown>;
    if (typeof perRow !== 'boolean' || typeof perChannel !== 'boolean' || typeof shortWindows !== 'boolean') return null;
    if (typeof reducedRange !== 'boolean' || typeof uint8Weights !== 'boolean') return null;
    return { perRow, perChannel, shortWindows, reducedRange, uint8Weights };
  } catch {
    return null;
  }
}

/** Step 9's piece `index` (0-based) of a cached encoder rewrite: `<base>.<kind>.<key>.piece-<i>-of-<n>.onnx`. */
export function piecePath(cached: string, index: number, count: number): string {
  return `${cached.slice(0, -'.onnx'.length)}.piece-${index + 1}-of-${count}.onnx`;
}

