/**
 * A loopback stand-in for the Hugging Face hub: serves real model folders at
 * `/<repo>/resolve/<revision>/<file>` with HTTP Range support, records every request, and injects
 * the faults the download code must survive (dropped connection, flipped byte, 404, stall, a server
 * that ignores Range).
 *
 * Headers as the real hub sends them, computed from the served files: an LFS file (here: `*.onnx` and `*.bin`)
 * carries its sha256 in `X-Linked-Etag: "<sha256>"` and its size in `X-Linked-Size`, with an ETag that
 * is not a sha256 (the CDN's md5); a small file carries an ETag (by default its sha256, quoted; see
 * `smallFileEtag`). Faults that damage the body keep the headers of the true file, so the client's
 * hash check is what must catch them.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface RecordedRequest {
  readonly file: string;
  readonly range: string | null;
  readonly authorization: string | null;
  readonly status: number;
}

export interface HubFaults {
  /** file → bytes sent before the socket is destroyed, on the first request for that file only. */
  readonly dropAfterBytes?: ReadonlyMap<string, number>;
  /** Files served with one byte (in the middle) inverted. */
  readonly flipByte?: ReadonlySet<string>;
  readonly notFound?: ReadonlySet<string>;
  /** Files whose response sends headers and then never a byte. */
  readonly stall?: ReadonlySet<string>;
  /** Answer 200 with the whole file even to a Range request. */
  readonly ignoreRange?: boolean;
  /** Send no hash or linked-size header at all (no ETag, no X-Linked-*): a size-only server. */
  readonly noHashHeaders?: boolean;
  /**
   * ETag of the small (non-LFS) files: their sha256 quoted (default), weak (`W/"<sha256>"`), or the
   * git blob sha1 the real hub sends for files kept in git (not a sha256, so unusable as one).
   */
  readonly smallFileEtag?: 'sha256' | 'weak-sha256' | 'git-sha1';
  /**
   * Like the real hub: `resolve` for an LFS file answers 302 with the X-Linked-* headers and a
   * Location on a "CDN" path (`/cdn/<repo>/<file>`) whose answer has only an md5 ETag.
   */
  readonly lfsRedirect?: boolean;
}

interface FileDigests {
  readonly size: number;
  readonly sha256: string;
  readonly md5: string;
  readonly gitSha1: string;
}

const digestMemo = new Map<string, Promise<FileDigests>>();

/** sha256, md5 and git blob sha1 of a file, computed once per file version for the whole test file. */
function digestsOf(filePath: string, size: number, mtimeMs: number): Promise<FileDigests> {
  const key = `${filePath}:${size}:${mtimeMs}`;
  let p = digestMemo.get(key);
  if (!p) {
    p = (async () => {
      const sha256 = createHash('sha256');
      const md5 = createHash('md5');
      const git = createHash('sha1').update(`blob ${size}\0`);
      for await (const chunk of createReadStream(filePath, { highWaterMark: 1 << 20 })) {
        sha256.update(chunk as Buffer);
        md5.update(chunk as Buffer);
        git.update(chunk as Buffer);
      }
      return { size, sha256: sha256.digest('hex'), md5: md5.digest('hex'), gitSha1: git.digest('hex') };
    })();
    digestMemo.set(key, p);
  }
  return p;
}

function isLfs(file: string): boolean {
  return file.endsWith('.onnx') || file.endsWith('.bin');
}

export interface HubServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** repos: repo name (e.g. `onnx-community/whisper-base`) → local folder holding its files. */
export async function startHubServer(repos: Readonly<Record<string, string>>, faults: HubFaults = {}): Promise<HubServer> {
  const requests: RecordedRequest[] = [];
  const dropped = new Set<string>();
  const server = http.createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const cdn = /^\/cdn\/(.+?\/.+?)\/(.+)$/.exec(url);
    const m = cdn ? (['', cdn[1], 'main', cdn[2]] as const) : /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const range = req.headers.range ?? null;
    const authorization = req.headers.authorization ?? null;
    const record = (file: string, status: number): void => {
      requests.push({ file, range, authorization, status });
    };
    const root = m?.[1] !== undefined ? repos[m[1]] : undefined;
    const file = m?.[3] ?? url;
    if (!m || root === undefined || m[2] !== 'main' || faults.notFound?.has(file)) {
      record(file, 404);
      res.writeHead(404).end('Entry not found');
      return;
    }
    const filePath = path.join(root, file);
    const st = await stat(filePath).catch(() => null);
    if (!st?.isFile()) {
      record(file, 404);
      res.writeHead(404).end('Entry not found');
      return;
    }
    const size = st.size;
    const digests = await digestsOf(filePath, size, st.mtimeMs);
    const hashHeaders: http.OutgoingHttpHeaders = {};
    const lfs = isLfs(file);
    if (!faults.noHashHeaders) {
      if (lfs) {
        if (!cdn) {
          hashHeaders['X-Linked-Etag'] = `"${digests.sha256}"`;
          hashHeaders['X-Linked-Size'] = String(size);
        }
        hashHeaders['ETag'] = `"${digests.md5}"`;
      } else {
        const kind = faults.smallFileEtag ?? 'sha256';
        hashHeaders['ETag'] =
          kind === 'sha256' ? `"${digests.sha256}"` : kind === 'weak-sha256' ? `W/"${digests.sha256}"` : `"${digests.gitSha1}"`;
      }
    }
    if (lfs && faults.lfsRedirect && !cdn) {
      record(file, 302);
      res.writeHead(302, { ...hashHeaders, Location: `/cdn/${m[1]}/${file}`, 'Content-Length': 0 }).end();
      return;
    }
    let start = 0;
    const rm = range !== null && !faults.ignoreRange ? /^bytes=(\d+)-$/.exec(range) : null;
    if (rm?.[1] !== undefined) {
      start = Number(rm[1]);
      if (start >= size) {
        record(file, 416);
        res.writeHead(416, { ...hashHeaders, 'Content-Range': `bytes */${size}` }).end();
        return;
      }
    }
    const status = rm ? 206 : 200;
    record(file, status);
    const headers: http.OutgoingHttpHeaders = {
      ...hashHeaders,
      'Content-Length': size - start,
      'Content-Type': 'application/octet-stream',
    };
    if (rm) headers['Content-Range'] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(status, headers);

    if (faults.stall?.has(file)) {
      res.flushHeaders();
      return; // the client's idle timeout must end this
    }
    if (faults.flipByte?.has(file)) {
      const bytes = await readFile(filePath);
      const mid = Math.floor(bytes.length / 2);
      bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
      res.end(bytes.subarray(start));
      return;
    }
    const dropAt = faults.dropAfterBytes?.get(file);
    if (dropAt !== undefined && !dropped.has(file)) {
      dropped.add(file);
      const partial = createReadStream(filePath, { start, end: start + dropAt - 1 });
      partial.pipe(res, { end: false });
      partial.on('end', () => {
        // Let the bytes leave before cutting the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 50);
      });
      return;
    }
    createReadStream(filePath, { start }).pipe(res);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs `fn` against a hub server for `repos` with `faults`, and closes the server whatever happens. */
export async function withHubServer<T>(repos: Readonly<Record<string, string>>, faults: HubFaults, fn: (s: HubServer) => Promise<T>): Promise<T> {
  const server = await startHubServer(repos, faults);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}
