/**
 * A loopback stand-in for the Hugging Face hub: serves real model folders at
 * `/<repo>/resolve/<revision>/<file>` with HTTP Range support, records every request, and injects
 * the faults the download code must survive (dropped connection, flipped byte, 404, stall, a server
 * that ignores Range).
 */

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
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url);
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
    let start = 0;
    const rm = range !== null && !faults.ignoreRange ? /^bytes=(\d+)-$/.exec(range) : null;
    if (rm?.[1] !== undefined) {
      start = Number(rm[1]);
      if (start >= size) {
        record(file, 416);
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
    }
    const status = rm ? 206 : 200;
    record(file, status);
    const headers: http.OutgoingHttpHeaders = { 'Content-Length': size - start, 'Content-Type': 'application/octet-stream' };
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
