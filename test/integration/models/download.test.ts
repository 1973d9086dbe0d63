import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ModelChecksumError, ModelDownloadError, ModelIncompleteError } from '../../../src/errors.js';
import { downloadFile, partialPathOf, type DownloadProgress } from '../../../src/models/download.js';
import { getModelSpec } from '../../../src/models/manifest.js';
import { sha256File } from '../../../src/models/verify.js';
import { WHISPER_BASE_DIR } from '../../helpers/paths.js';
import { startHubServer, type HubServer } from './hub-server.js';

const REPO = 'onnx-community/whisper-base';
const spec = getModelSpec('base', 'q8');
function known(file: string): { size: number; sha256: string } {
  const f = spec.files.find((x) => x.path === file);
  if (!f || f.sizeBytes === null || f.sha256 === null) throw new Error(`no manifest entry for ${file}`);
  return { size: f.sizeBytes, sha256: f.sha256 };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'stt-dl-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function withServer<T>(faults: Parameters<typeof startHubServer>[1], fn: (s: HubServer) => Promise<T>): Promise<T> {
  const server = await startHubServer({ [REPO]: WHISPER_BASE_DIR }, faults);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

function urlOf(server: HubServer, file: string): string {
  return `${server.url}/${REPO}/resolve/main/${file}`;
}

describe('downloadFile', () => {
  it('downloads, verifies and renames atomically, with progress and a bearer token', async () => {
    await withServer({}, async (server) => {
      const dest = path.join(tmp, 'a', 'tokenizer.json');
      const events: DownloadProgress[] = [];
      const { size, sha256 } = known('tokenizer.json');
      const got = await downloadFile({
        url: urlOf(server, 'tokenizer.json'),
        destPath: dest,
        expectedSizeBytes: size,
        expectedSha256: sha256,
        label: 'tokenizer.json',
        token: 'hf_secret',
        onProgress: (p) => events.push(p),
      });
      expect(got).toEqual({ path: dest, sizeBytes: size, sha256 });
      expect(await sha256File(dest)).toBe(sha256);
      expect(await readdir(path.dirname(dest))).toEqual(['tokenizer.json']);
      expect(server.requests).toEqual([{ file: 'tokenizer.json', range: null, authorization: 'Bearer hf_secret', status: 200 }]);
      const last = events.at(-1);
      expect(last).toEqual({ file: 'tokenizer.json', receivedBytes: size, totalBytes: size, done: true });
      expect(events.filter((e) => e.done)).toHaveLength(1);
      const received = events.map((e) => e.receivedBytes);
      expect(received).toEqual([...received].sort((a, b) => a - b));
    });
  });

  it('treats 416 on a full partial as complete and verifies it', async () => {
    await withServer({}, async (server) => {
      const dest = path.join(tmp, 'b', 'tokenizer_config.json');
      const { size, sha256 } = known('tokenizer_config.json');
      await downloadFile({ url: urlOf(server, 'tokenizer_config.json'), destPath: dest });
      // Put the complete bytes back as a partial: the size is not given, so the server must be asked.
      await copyFile(dest, partialPathOf(dest));
      await rm(dest);
      const got = await downloadFile({ url: urlOf(server, 'tokenizer_config.json'), destPath: dest, expectedSha256: sha256 });
      expect(got.sizeBytes).toBe(size);
      expect(server.requests.at(-1)).toMatchObject({ range: `bytes=${size}-`, status: 416 });
      expect(await sha256File(dest)).toBe(sha256);
    });
  });

  it('starts over when the server ignores the Range header', async () => {
    await withServer({ ignoreRange: true }, async (server) => {
      const dest = path.join(tmp, 'c', 'vocab.json');
      const { size, sha256 } = known('vocab.json');
      await mkdir(path.dirname(dest), { recursive: true });
      // 1000 garbage bytes in the partial: a 200 answer must truncate them, not append.
      await writeFile(partialPathOf(dest), Buffer.alloc(1000, 7));
      const got = await downloadFile({
        url: urlOf(server, 'vocab.json'),
        destPath: dest,
        expectedSizeBytes: size,
        expectedSha256: sha256,
      });
      expect(got.sha256).toBe(sha256);
      expect(server.requests.at(-1)).toMatchObject({ range: 'bytes=1000-', status: 200 });
    });
  });

  it('deletes the download and throws ModelChecksumError on a wrong hash', async () => {
    await withServer({ flipByte: new Set(['merges.txt']) }, async (server) => {
      const dest = path.join(tmp, 'd', 'merges.txt');
      const { size, sha256 } = known('merges.txt');
      const err = await downloadFile({
        url: urlOf(server, 'merges.txt'),
        destPath: dest,
        expectedSizeBytes: size,
        expectedSha256: sha256,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelChecksumError);
      expect((err as ModelChecksumError).details['expectedSha256']).toBe(sha256);
      expect(await readdir(path.dirname(dest))).toEqual([]);
    });
  });

  it('throws ModelIncompleteError before downloading when the server announces another size', async () => {
    await withServer({}, async (server) => {
      const dest = path.join(tmp, 'e', 'config.json');
      const err = await downloadFile({ url: urlOf(server, 'config.json'), destPath: dest, expectedSizeBytes: 12 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelIncompleteError);
      expect(await readdir(path.dirname(dest))).toEqual([]);
    });
  });

  it('maps 404 to ModelDownloadError with the status and URL', async () => {
    await withServer({}, async (server) => {
      const url = urlOf(server, 'no-such-file.json');
      const err = await downloadFile({ url, destPath: path.join(tmp, 'f', 'x.json') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelDownloadError);
      expect((err as ModelDownloadError).details).toMatchObject({ status: 404, url });
      expect((err as Error).message).toContain('404');
    });
  });

  it('maps a refused connection to ModelDownloadError', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const url = `http://127.0.0.1:${port}/${REPO}/resolve/main/config.json`;
    const err = await downloadFile({ url, destPath: path.join(tmp, 'g', 'config.json') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect((err as ModelDownloadError).details).toMatchObject({ status: null, url });
  });

  it('gives up on a stalled body after the idle timeout and keeps the partial', async () => {
    await withServer({ stall: new Set(['config.json']) }, async (server) => {
      const dest = path.join(tmp, 'h', 'config.json');
      const t0 = performance.now();
      const err = await downloadFile({ url: urlOf(server, 'config.json'), destPath: dest, idleTimeoutMs: 300 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelDownloadError);
      expect((err as Error).message).toContain('no data for 300 ms');
      expect(performance.now() - t0).toBeLessThan(5000);
      expect((await stat(partialPathOf(dest))).size).toBe(0);
    });
  });
});
