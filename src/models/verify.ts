/**
 * Checking model files on disk against the manifest, cheaply enough to run at every start.
 *
 * Policy (the same for cache, mirror and explicit-dir files):
 * - presence and, when the manifest knows it, the size are checked at every resolution (one stat);
 * - a known sha256 is checked by hashing the file once; the result is remembered in a stamp store
 *   (`<cacheDir>/.verified.json`, keyed by absolute path, holding size + mtime + sha256). Later
 *   resolutions trust a file whose size and mtime still match its stamp, so 100 MB is not re-hashed
 *   at each start. Read-only mirrors therefore need no write access: their stamps live in the cache.
 * - when the stamp store cannot be written (read-only cache), files are hashed at every resolution:
 *   slower but still correct.
 * The trade-off: an in-place edit that keeps both size and mtime goes unnoticed; that takes intent
 * (touch -r), not an interrupted copy or a truncated download.
 */

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ModelChecksumError, ModelIncompleteError } from '../errors.js';
import type { ModelFileSpec } from './manifest.js';

const STAMP_FILE = '.verified.json';
const STAMP_VERSION = 1;

interface Stamp {
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}

/** Feeds a file's bytes into a running hash (a resumed download continues from the bytes on disk). */
export async function hashFileInto(hash: Hash, filePath: string): Promise<void> {
  for await (const chunk of createReadStream(filePath, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
}

export async function sha256File(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(hash, filePath);
  return hash.digest('hex');
}

/** Remembered hashes; loaded lazily, written atomically (tmp + rename) so concurrent readers never see half a file. */
export class StampStore {
  private readonly stampPath: string;
  private stamps: Map<string, Stamp> | null = null;

  constructor(cacheDir: string) {
    this.stampPath = path.join(cacheDir, STAMP_FILE);
  }

  private async load(): Promise<Map<string, Stamp>> {
    if (this.stamps) return this.stamps;
    this.stamps = new Map();
    try {
      const data = JSON.parse(await readFile(this.stampPath, 'utf8')) as unknown;
      if (isStampFile(data)) {
        for (const [file, s] of Object.entries(data.files)) this.stamps.set(file, s);
      }
    } catch {
      // A missing or unreadable store only costs a re-hash; it is rebuilt on the next write.
    }
    return this.stamps;
  }

  async matches(filePath: string, sizeBytes: number, mtimeMs: number, sha256: string): Promise<boolean> {
    const s = (await this.load()).get(path.resolve(filePath));
    return s !== undefined && s.sizeBytes === sizeBytes && s.mtimeMs === mtimeMs && s.sha256 === sha256;
  }

  /** Records a verified file; false when the store could not be written (the caller just re-hashes next time). */
  async record(filePath: string, sha256: string): Promise<boolean> {
    const stamps = await this.load();
    try {
      const st = await stat(filePath);
      stamps.set(path.resolve(filePath), { sizeBytes: st.size, mtimeMs: st.mtimeMs, sha256 });
      // Re-read before writing so a second process's stamps are merged rather than overwritten.
      const merged = new Map(stamps);
      try {
        const onDisk = JSON.parse(await readFile(this.stampPath, 'utf8')) as unknown;
        if (isStampFile(onDisk)) {
          for (const [file, s] of Object.entries(onDisk.files)) if (!merged.has(file)) merged.set(file, s);
        }
      } catch {
        // nothing on disk yet
      }
      await mkdir(path.dirname(this.stampPath), { recursive: true });
      const tmp = `${this.stampPath}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ version: STAMP_VERSION, files: Object.fromEntries(merged) }, null, 1));
      await rename(tmp, this.stampPath);
      return true;
    } catch {
      return false;
    }
  }
}

function isStampFile(data: unknown): data is { version: number; files: Record<string, Stamp> } {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as { version?: unknown; files?: unknown };
  if (d.version !== STAMP_VERSION || typeof d.files !== 'object' || d.files === null) return false;
  return Object.values(d.files).every(
    (s: unknown) =>
      typeof s === 'object' &&
      s !== null &&
      typeof (s as Stamp).sizeBytes === 'number' &&
      typeof (s as Stamp).mtimeMs === 'number' &&
      typeof (s as Stamp).sha256 === 'string',
  );
}

export type FileState = 'missing' | 'present';

/** One stat: whether the file exists (a directory or a dangling link counts as missing). */
export async function fileState(filePath: string): Promise<FileState> {
  try {
    return (await stat(filePath)).isFile() ? 'present' : 'missing';
  } catch {
    return 'missing';
  }
}

/**
 * Checks one present file: size always (ModelIncompleteError), sha256 when known (ModelChecksumError),
 * hashing only when the stamp store has no matching stamp.
 */
export async function verifyFile(filePath: string, spec: ModelFileSpec, stamps: StampStore): Promise<void> {
  const st = await stat(filePath);
  if (spec.sizeBytes !== null && st.size !== spec.sizeBytes) {
    throw new ModelIncompleteError(
      `model file ${filePath} has ${st.size} bytes, expected ${spec.sizeBytes} (interrupted copy or wrong file)`,
      { path: filePath, sizeBytes: st.size, expectedSizeBytes: spec.sizeBytes },
    );
  }
  if (spec.sha256 === null) return;
  if (await stamps.matches(filePath, st.size, st.mtimeMs, spec.sha256)) return;
  const actual = await sha256File(filePath);
  if (actual !== spec.sha256) {
    throw new ModelChecksumError(`model file ${filePath} has sha256 ${actual}, expected ${spec.sha256}`, {
      path: filePath,
      sha256: actual,
      expectedSha256: spec.sha256,
    });
  }
  await stamps.record(filePath, actual);
}
