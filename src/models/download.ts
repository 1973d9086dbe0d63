/**
 * One file from the hub to disk, resumable and verified.
 *
 * Bytes go to `<dest>.partial`; a second attempt asks for the rest with `Range: bytes=<have>-` and
 * appends (206), starts over when the server ignores the range (200), or takes the partial as
 * complete (416). The sha256 covers every byte, those already on disk included, and the file is
 * renamed to its final name only once its size and hash are right, so a final name is always a
 * complete file. Network failures keep the partial for the next attempt; a wrong size or hash deletes
 * it (resuming a wrong file would only fail again).
 *
 * What the bytes are checked against, as huggingface_hub does: the caller's expected sha256 and size
 * when it has them (a pinned manifest entry), otherwise what the server announces. For files stored
 * in git LFS (the ONNX weights) the hub sends the file's sha256 in `X-Linked-Etag` and its size in
 * `X-Linked-Size`, on the `resolve` answer itself, which may be a redirect to a CDN whose own ETag is
 * something else: redirects are therefore followed here, hop by hop, keeping the first announced
 * values. Failing `X-Linked-Etag`, an `ETag` that is a 64-hex sha256 (quotes and `W/` stripped) is
 * used; the hub's ETag for a small git file is its git blob sha1, which is not, so such a file gets a
 * size check only (`X-Linked-Size`, else Content-Length, else a 206's Content-Range total).
 * The bearer token is sent to the original host only, never to a CDN on another origin.
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
  /**
   * What the sha256 was checked against: the caller's expected value, the server's announced one, or
   * nothing (null: the server announced no hash; only the size was checked).
   */
  readonly sha256Source: 'expected' | 'server' | null;
}

/** What the server said about the whole file (not the transferred range). */
export interface ServerClaims {
  readonly sha256: string | null;
  readonly sizeBytes: number | null;
}

const MAX_REDIRECTS = 10;

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

/** An ETag-style value (`"…"`, `W/"…"`) that is a sha256, lower-cased; null otherwise. */
export function sha256FromEtag(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  let v = value.trim();
  if (v.startsWith('W/')) v = v.slice(2);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return /^[0-9a-fA-F]{64}$/.test(v) ? v.toLowerCase() : null;
}

function parseByteCount(value: string | null): number | null {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * The hash and size a chain of responses (redirects included, first first) announces: `X-Linked-Etag`
 * of any hop, else a sha256 `ETag` of any hop; `X-Linked-Size` of any hop. The earliest hop wins.
 */
export function serverClaims(hops: readonly Headers[]): ServerClaims {
  const first = <T>(pick: (h: Headers) => T | null): T | null => {
    for (const h of hops) {
      const v = pick(h);
      if (v !== null) return v;
    }
    return null;
  };
  return {
    sha256: first((h) => sha256FromEtag(h.get('x-linked-etag'))) ?? first((h) => sha256FromEtag(h.get('etag'))),
    sizeBytes: first((h) => parseByteCount(h.get('x-linked-size'))),
  };
}

function downloadError(message: string, url: string, status: number | null, cause?: unknown): ModelDownloadError {
  return new ModelDownloadError(message, { url, status }, cause === undefined ? undefined : { cause });
}

interface Fetched {
  readonly res: Response;
  readonly claims: ServerClaims;
}

/** GET with redirects followed by hand, so the headers of every hop are seen (see the top). */
async function fetchFollowing(
  fetchImpl: typeof fetch,
  url: string,
  headers: Readonly<Record<string, string>>,
  token: string | null,
  signal: AbortSignal,
): Promise<Fetched> {
  const origin = new URL(url).origin;
  const hops: Headers[] = [];
  let current = url;
  for (let i = 0; ; i++) {
    const h: Record<string, string> = { ...headers };
    if (token && new URL(current).origin === origin) h['Authorization'] = `Bearer ${token}`;
    const res = await fetchImpl(current, { headers: h, signal, redirect: 'manual' });
    hops.push(res.headers);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || res.status === 304 || location === null) {
      return { res, claims: serverClaims(hops) };
    }
    await res.body?.cancel();
    if (i >= MAX_REDIRECTS) {
      throw downloadError(`${url} redirected more than ${MAX_REDIRECTS} times`, url, res.status);
    }
    current = new URL(location, current).toString();
  }
}

export async function downloadFile(options: DownloadFileOptions): Promise<DownloadedFile> {
  const { url, destPath } = options;
  const label = options.label ?? path.basename(destPath);
  const pinnedSize = options.expectedSizeBytes ?? null;
  const pinnedSha = options.expectedSha256 ?? null;
  const fetchImpl = options.fetchImpl ?? fetch;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const partial = partialPathOf(destPath);
  await mkdir(path.dirname(destPath), { recursive: true });

  let have = await sizeOrZero(partial);
  if (pinnedSize !== null && have > pinnedSize) {
    await rm(partial, { force: true });
    have = 0;
  }
  const hash = createHash('sha256');
  if (pinnedSize !== null && have === pinnedSize) {
    // Everything is on disk already (an earlier attempt died between the last byte and the rename).
    await hashFileInto(hash, partial);
    return finish(options, label, partial, have, hash, { sizeBytes: pinnedSize, sha256: pinnedSha, server: false });
  }

  // identity: Content-Length must count the file's bytes, and the hash must cover them, not a gzip of them.
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
  if (have > 0) headers['Range'] = `bytes=${have}-`;

  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const armTimer = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  };
  armTimer();
  try {
    let fetched: Fetched;
    try {
      fetched = await fetchFollowing(fetchImpl, url, headers, options.token ?? null, abort.signal);
    } catch (err) {
      if (err instanceof ModelDownloadError) throw err;
      throw downloadError(`cannot reach ${url}: ${errorText(abort.signal.reason ?? err)}`, url, null, err);
    }
    const { res, claims } = fetched;
    const expectedSha = pinnedSha ?? claims.sha256;
    const checks = (sizeBytes: number | null): Expected => ({
      sizeBytes: pinnedSize ?? claims.sizeBytes ?? sizeBytes,
      sha256: expectedSha,
      server: pinnedSha === null && claims.sha256 !== null,
    });

    /** Bytes of this response's body when complete (Content-Length or the 206's range). */
    let transferTotal: number | null;
    /** The whole file's size as this response tells it. */
    let fileTotal: number | null;
    let append: boolean;
    if (res.status === 416 && have > 0) {
      // The server has nothing past our bytes: the partial is the whole file, if its size and hash agree.
      await res.body?.cancel();
      const total = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range')?.trim() ?? '')?.[1];
      await hashFileInto(hash, partial);
      return await finish(options, label, partial, have, hash, checks(total === undefined ? null : Number(total)));
    } else if (res.status === 206 && have > 0) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== have) {
        await res.body?.cancel();
        await rm(partial, { force: true });
        throw downloadError(`${url} answered a range that does not continue the ${have} bytes on disk`, url, 206);
      }
      fileTotal = range.total;
      transferTotal = range.total;
      append = true;
    } else if (res.status === 200) {
      transferTotal = parseByteCount(res.headers.get('content-length'));
      fileTotal = transferTotal;
      append = false;
      have = 0;
    } else {
      await res.body?.cancel();
      throw downloadError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`.trimEnd(), url, res.status);
    }

    const expected = checks(fileTotal);
    if (fileTotal !== null && expected.sizeBytes !== null && fileTotal !== expected.sizeBytes) {
      await res.body?.cancel();
      await rm(partial, { force: true });
      const whose = pinnedSize !== null ? 'the manifest expects' : 'X-Linked-Size announces';
      throw new ModelIncompleteError(`${url} serves ${fileTotal} bytes, ${whose} ${expected.sizeBytes}`, {
        url,
        sizeBytes: fileTotal,
        expectedSizeBytes: expected.sizeBytes,
      });
    }
    if (append) await hashFileInto(hash, partial);

    const fh = await open(partial, append ? 'a' : 'w');
    let received = have;
    const totalBytes = expected.sizeBytes;
    try {
      options.onProgress?.({ file: label, receivedBytes: received, totalBytes, done: false });
      if (res.body) {
        for await (const chunk of res.body) {
          armTimer();
          await fh.write(chunk);
          hash.update(chunk);
          received += chunk.byteLength;
          options.onProgress?.({ file: label, receivedBytes: received, totalBytes, done: false });
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
    if (transferTotal !== null && received !== transferTotal) {
      throw downloadError(`download of ${url} ended after ${received} of ${transferTotal} bytes (retry to resume)`, url, res.status);
    }
    return await finish(options, label, partial, received, hash, expected);
  } finally {
    clearTimeout(timer);
  }
}

interface Expected {
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  /** True when sha256 came from the server's headers rather than the caller. */
  readonly server: boolean;
}

/** Size and hash checks, then the atomic rename to the final name. */
async function finish(
  options: DownloadFileOptions,
  label: string,
  partial: string,
  sizeBytes: number,
  hash: Hash,
  expected: Expected,
): Promise<DownloadedFile> {
  if (expected.sizeBytes !== null && sizeBytes !== expected.sizeBytes) {
    await rm(partial, { force: true });
    throw new ModelIncompleteError(
      `${options.url} gave ${sizeBytes} bytes, expected ${expected.sizeBytes} (the download was deleted)`,
      { url: options.url, sizeBytes, expectedSizeBytes: expected.sizeBytes },
    );
  }
  const sha256 = hash.digest('hex');
  if (expected.sha256 !== null && sha256 !== expected.sha256) {
    await rm(partial, { force: true });
    const whose = expected.server ? 'the server announced' : 'expected';
    throw new ModelChecksumError(
      `${options.url} has sha256 ${sha256}, ${whose} ${expected.sha256} (the download was deleted)`,
      { url: options.url, sha256, expectedSha256: expected.sha256 },
    );
  }
  await rename(partial, options.destPath);
  options.onProgress?.({ file: label, receivedBytes: sizeBytes, totalBytes: sizeBytes, done: true });
  const sha256Source = expected.sha256 === null ? null : expected.server ? 'server' : 'expected';
  return { path: options.destPath, sizeBytes, sha256, sha256Source };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
