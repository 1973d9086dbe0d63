/**
 * One file from the hub to disk, resumable and verified.
 *
 * Bytes go to `<dest>.partial`; a second attempt asks for the rest with `Range: bytes=<have>-` and
 * appends (206), starts over when the server ignores the range (200), or takes the partial as
 * complete (416). The sha256 covers every byte, those already on disk included, and the file is
 * renamed to its final name only once its size and hash are right, so a final name is always a
 * complete file. Network failures keep the partial for the next attempt; a wrong size or hash deletes
 * it (resuming a wrong file would only fail again).
 */

import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { ModelChecksumError, ModelDownloadError, ModelIncompleteError } from '../errors.js';
import { hashFileInto } from './verify.js';

export interface DownloadProgress {
  /** The file's path inside the model folder (or whatever label the caller gave). */
  readonly file: string;
  readonly receivedBytes: number;
  readonly totalBytes: number | null;
  /** True once, after the file passed its checks and took its final name. */
  readonly done: boolean;
}

export interface DownloadFileOptions {
  readonly url: string;
  readonly destPath: string;
  readonly expectedSizeBytes?: number | null;
  readonly expectedSha256?: string | null;
  /** Name in progress events (default: the destination's base name). */
  readonly label?: string;
  /** Sent as `Authorization: Bearer <token>` (resolveModel passes HF_TOKEN). */
  readonly token?: string | null;
  /** Abort when no byte arrives for this long (default 30 s). */
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (progress: DownloadProgress) => void;
  readonly fetchImpl?: typeof fetch;
}

export interface DownloadedFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export function partialPathOf(destPath: string): string {
  return `${destPath}.partial`;
}

async function sizeOrZero(filePath: string): Promise<number> {
  try {
    return (await stat(filePath)).size;
  } catch {
    return 0;
  }
}

/** `bytes 100-199/200` → { start: 100, total: 200 }; total null for `*`. */
function parseContentRange(value: string | null): { start: number; total: number | null } | null {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!m?.[1] || !m[2]) return null;
  return { start: Number(m[1]), total: m[2] === '*' ? null : Number(m[2]) };
}

function downloadError(message: string, url: string, status: number | null, cause?: unknown): ModelDownloadError {
  return new ModelDownloadError(message, { url, status }, cause === undefined ? undefined : { cause });
}

export async function downloadFile(options: DownloadFileOptions): Promise<DownloadedFile> {
  const { url, destPath } = options;
  const label = options.label ?? path.basename(destPath);
  const expectedSize = options.expectedSizeBytes ?? null;
  const fetchImpl = options.fetchImpl ?? fetch;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const partial = partialPathOf(destPath);
  await mkdir(path.dirname(destPath), { recursive: true });

  let have = await sizeOrZero(partial);
  if (expectedSize !== null && have > expectedSize) {
    await rm(partial, { force: true });
    have = 0;
  }
  const hash = createHash('sha256');
  if (expectedSize !== null && have === expectedSize) {
    // Everything is on disk already (an earlier attempt died between the last byte and the rename).
    await hashFileInto(hash, partial);
    return finish(options, label, partial, have, hash);
  }

  const headers: Record<string, string> = {};
  if (have > 0) headers['Range'] = `bytes=${have}-`;
  if (options.token) headers['Authorization'] = `Bearer ${options.token}`;

  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const armTimer = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  };
  armTimer();
  try {
    let res: Response;
    try {
      res = await fetchImpl(url, { headers, signal: abort.signal, redirect: 'follow' });
    } catch (err) {
      throw downloadError(`cannot reach ${url}: ${errorText(abort.signal.reason ?? err)}`, url, null, err);
    }

    let total: number | null;
    let append: boolean;
    if (res.status === 416 && have > 0) {
      // The server has nothing past our bytes: the partial is the whole file, if its hash agrees.
      await res.body?.cancel();
      await hashFileInto(hash, partial);
      return await finish(options, label, partial, have, hash);
    } else if (res.status === 206 && have > 0) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== have) {
        await res.body?.cancel();
        await rm(partial, { force: true });
        throw downloadError(`${url} answered a range that does not continue the ${have} bytes on disk`, url, 206);
      }
      total = range.total;
      append = true;
    } else if (res.status === 200) {
      const length = res.headers.get('content-length');
      total = length === null ? null : Number(length);
      append = false;
      have = 0;
    } else {
      await res.body?.cancel();
      throw downloadError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`.trimEnd(), url, res.status);
    }

    if (total !== null && expectedSize !== null && total !== expectedSize) {
      await res.body?.cancel();
      await rm(partial, { force: true });
      throw new ModelIncompleteError(`${url} serves ${total} bytes, the manifest expects ${expectedSize}`, {
        url,
        sizeBytes: total,
        expectedSizeBytes: expectedSize,
      });
    }
    if (append) await hashFileInto(hash, partial);

    const fh = await open(partial, append ? 'a' : 'w');
    let received = have;
    try {
      options.onProgress?.({ file: label, receivedBytes: received, totalBytes: total, done: false });
      if (res.body) {
        for await (const chunk of res.body) {
          armTimer();
          await fh.write(chunk);
          hash.update(chunk);
          received += chunk.byteLength;
          options.onProgress?.({ file: label, receivedBytes: received, totalBytes: total, done: false });
        }
      }
    } catch (err) {
      throw downloadError(
        `download of ${url} stopped after ${received} bytes: ${errorText(abort.signal.reason ?? err)} (the partial file is kept; retry to resume)`,
        url,
        res.status,
        err,
      );
    } finally {
      await fh.close();
    }
    if (total !== null && received !== total) {
      throw downloadError(`download of ${url} ended after ${received} of ${total} bytes (retry to resume)`, url, res.status);
    }
    return await finish(options, label, partial, received, hash);
  } finally {
    clearTimeout(timer);
  }
}

/** Size and hash checks, then the atomic rename to the final name. */
async function finish(
  options: DownloadFileOptions,
  label: string,
  partial: string,
  sizeBytes: number,
  hash: Hash,
): Promise<DownloadedFile> {
  const expectedSize = options.expectedSizeBytes ?? null;
  if (expectedSize !== null && sizeBytes !== expectedSize) {
    await rm(partial, { force: true });
    throw new ModelIncompleteError(`${options.url} gave ${sizeBytes} bytes, the manifest expects ${expectedSize}`, {
      url: options.url,
      sizeBytes,
      expectedSizeBytes: expectedSize,
    });
  }
  const sha256 = hash.digest('hex');
  const expectedSha = options.expectedSha256 ?? null;
  if (expectedSha !== null && sha256 !== expectedSha) {
    await rm(partial, { force: true });
    throw new ModelChecksumError(`${options.url} has sha256 ${sha256}, expected ${expectedSha} (the download was deleted)`, {
      url: options.url,
      sha256,
      expectedSha256: expectedSha,
    });
  }
  await rename(partial, options.destPath);
  options.onProgress?.({ file: label, receivedBytes: sizeBytes, totalBytes: sizeBytes, done: true });
  return { path: options.destPath, sizeBytes, sha256 };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
