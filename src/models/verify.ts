/**
 * Checking model files on disk, cheaply enough to run at every start.
 *
 * Integrity policy (the manifest pins no hash today, see manifest.ts; the same rules hold for cache,
 * mirror and explicit-dir files):
 * 1. Download: the streamed sha256 is checked against the manifest's, else the one the server
 *    announces (`X-Linked-Etag`, else an `ETag` that is a sha256: what huggingface_hub trusts), and
 *    the size against the manifest's, else `X-Linked-Size` / Content-Length / Content-Range. The
 *    verified hash is then stamped. A server that announces no hash gets a size check only, and the
 *    hash of what arrived is stamped.
 * 2. Stamps live in `<cacheDir>/.verified.json` (absolute path → size, mtime, sha256, origin), so a
 *    read-only mirror needs no write access. A file whose size and mtime still match its stamp is
 *    trusted without hashing (100 MB is not re-hashed at each start).
 * 3. A stamped file whose size or mtime moved is re-hashed and compared with the stamp's sha256 (a
 *    shorter file is reported as truncated at once): the file changed after it was verified. That is
 *    ModelChecksumError / ModelIncompleteError for a mirror or dir file; a cache file is deleted and
 *    downloaded again when downloads are allowed. Same bytes with a new mtime (a copy, a touch) only
 *    refresh the stamp.
 * 4. A file never stamped and with no known hash (a mirror or dir seen for the first time) is checked
 *    for presence and non-emptiness, and its current hash is stamped: trust on first use.
 * 5. A known manifest sha256, when there is one, always wins over stamps and headers.
 * When the stamp store cannot be written (read-only cache), known hashes are checked at every start
 * and trust on first use repeats at every start: slower, and no change detection, but never a failure.
 * The trade-off of stamps: an in-place edit that keeps both size and mtime goes unnoticed; that takes
 * intent (touch -r), not an interrupted copy or a truncated download.
 */

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ModelChecksumError, ModelIncompleteError } from '../errors.js';
import type { ModelFileSpec } from './manifest.js';

const STAMP_FILE = '.verified.json';
const STAMP_VERSION = 1;

/** Where a stamp's sha256 came from: the manifest, the server's headers, or the file itself (first use). */
export type StampOrigin = 'manifest' | 'server' | 'first-use';

export interface Stamp {
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly sha256: string;
  /** Absent in stamps written before origins were recorded. */
  readonly origin?: StampOrigin;
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

  /** The stamps file's path. */
  get location(): string {
    return this.stampPath;
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

  /** The stamp of a file, if it was ever verified. */
  async get(filePath: string): Promise<Stamp | undefined> {
    return (await this.load()).get(path.resolve(filePath));
  }

  async matches(filePath: string, sizeBytes: number, mtimeMs: number, sha256: string): Promise<boolean> {
    const s = (await this.load()).get(path.resolve(filePath));
    return s !== undefined && s.sizeBytes === sizeBytes && s.mtimeMs === mtimeMs && s.sha256 === sha256;
  }

  /** Records a verified file; false when the store could not be written (the caller just re-hashes next time). */
  async record(filePath: string, sha256: string, origin?: StampOrigin): Promise<boolean> {
    const stamps = await this.load();
    try {
      const st = await stat(filePath);
      stamps.set(path.resolve(filePath), {
        sizeBytes: st.size,
        mtimeMs: st.mtimeMs,
        sha256,
        ...(origin !== undefined ? { origin } : {}),
      });
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
      typeof (s as Stamp).sha256 === 'string' &&
      ((s as Stamp).origin === undefined || ['manifest', 'server', 'first-use'].includes((s as Stamp).origin as string)),
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

/** How a file passed verifyFile. */
export type VerifyOutcome =
  | 'stamp' // size and mtime matched a stamp: not hashed
  | 'manifest' // hashed and equal to the manifest's sha256
  | 'restamped' // size or mtime moved, but the bytes still hash to the stamp's sha256
  | 'first-use'; // never stamped, no known hash: accepted and stamped

function checksumError(filePath: string, actual: string, expected: string, why: string): ModelChecksumError {
  return new ModelChecksumError(`model file ${filePath} has sha256 ${actual}, expected ${expected} (${why})`, {
    path: filePath,
    sha256: actual,
    expectedSha256: expected,
  });
}

/**
 * Checks one present file (see the policy at the top): ModelIncompleteError for an empty file, a
 * size other than the manifest's, or a file shorter than when it was stamped; ModelChecksumError for
 * bytes that differ from the manifest's sha256 or from the stamp's. Hashes only when no stamp matches
 * the file's size and mtime.
 */
export async function verifyFile(filePath: string, spec: ModelFileSpec, stamps: StampStore): Promise<VerifyOutcome> {
  const st = await stat(filePath);
  if (st.size === 0) {
    throw new ModelIncompleteError(`model file ${filePath} is empty (interrupted copy or wrong file)`, {
      path: filePath,
      sizeBytes: 0,
      expectedSizeBytes: spec.sizeBytes,
    });
  }
  if (spec.sizeBytes !== null && st.size !== spec.sizeBytes) {
    throw new ModelIncompleteError(
      `model file ${filePath} has ${st.size} bytes, expected ${spec.sizeBytes} (interrupted copy or wrong file)`,
      { path: filePath, sizeBytes: st.size, expectedSizeBytes: spec.sizeBytes },
    );
  }
  const stamp = await stamps.get(filePath);
  const stampFresh = stamp !== undefined && stamp.sizeBytes === st.size && stamp.mtimeMs === st.mtimeMs;

  if (spec.sha256 !== null) {
    if (stampFresh && stamp.sha256 === spec.sha256) return 'stamp';
    const actual = await sha256File(filePath);
    if (actual !== spec.sha256) throw checksumError(filePath, actual, spec.sha256, 'the manifest\'s hash');
    await stamps.record(filePath, actual, 'manifest');
    return 'manifest';
  }

  if (stamp === undefined) {
    await stamps.record(filePath, await sha256File(filePath), 'first-use');
    return 'first-use';
  }
  if (stampFresh) return 'stamp';
  if (st.size < stamp.sizeBytes) {
    throw new ModelIncompleteError(
      `model file ${filePath} has ${st.size} bytes, ${stamp.sizeBytes} when it was verified (truncated since)`,
      { path: filePath, sizeBytes: st.size, expectedSizeBytes: stamp.sizeBytes },
    );
  }
  const actual = await sha256File(filePath);
  if (actual !== stamp.sha256) {
    throw checksumError(
      filePath,
      actual,
      stamp.sha256,
      'the file changed after it was verified; if the change is intended, delete the stamps file ' +
        `${stamps.location} so the new bytes are trusted`,
    );
  }
  await stamps.record(filePath, actual, stamp.origin);
  return 'restamped';
}
