import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ModelChecksumError, ModelDownloadError, ModelIncompleteError } from '../../../src/errors.js';
import { downloadFile, partialPathOf, type DownloadProgress } from '../../../src/models/download.js';
import { sha256File } from '../../../src/models/verify.js';
import { WHISPER_BASE_DIR } from '../../helpers/paths.js';
import { startHubServer, type HubServer } from './hub-server.js';

const REPO = 'onnx-community/whisper-base';
const ENCODER = 'onnx/encoder_model_quantized.onnx';
const fixture = new Map<string, { size: number; sha256: string }>();
/** Size and sha256 of the served fixture file (what the test server announces for it). */
function known(file: string): { size: number; sha256: string } {
  const f = fixture.get(file);
  if (!f) throw new Error(`fixture ${file} not hashed`);
  return f;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'stt-dl-'));
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'config.json', ENCODER]) {
    const p = path.join(WHISPER_BASE_DIR, file);
    fixture.set(file, { size: (await stat(p)).size, sha256: await sha256File(p) });
  }
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

function pick(k: { size: number; sha256: string }): { sizeBytes: number; sha256: string } {
  return { sizeBytes: k.size, sha256: k.sha256 };
}

function urlOf(server: HubServer, file: string): string {
  return `${server.url}/${REPO}/resolve/main/${file}`;
}

describe('downloadFile', () => {
  it('downloads, verifies against the server\'s ETag and renames atomically, with progress and a bearer token', async () => {
    await withServer({}, async (server) => {
      const dest = path.join(tmp, 'a', 'tokenizer.json');
      const events: DownloadProgress[] = [];
      const { size, sha256 } = known('tokenizer.json');
      const got = await downloadFile({
        url: urlOf(server, 'tokenizer.json'),
        destPath: dest,
        label: 'tokenizer.json',
        token: 'hf_secret',
        onProgress: (p) => events.push(p),
      });
      expect(got).toEqual({ path: dest, sizeBytes: size, sha256, sha256Source: 'server' });
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
      expect(got).toMatchObject({ sizeBytes: size, sha256Source: 'expected' });
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
      const got = await downloadFile({ url: urlOf(server, 'vocab.json'), destPath: dest });
      expect(got).toMatchObject({ sha256, sizeBytes: size, sha256Source: 'server' });
      expect(server.requests.at(-1)).toMatchObject({ range: 'bytes=1000-', status: 200 });
    });
  });

  it('deletes the download and throws ModelChecksumError when the body differs from the announced hash', async () => {
    // flipByte keeps the true file's headers: the ETag announces the right sha256, the body is wrong.
    await withServer({ flipByte: new Set(['merges.txt', ENCODER]) }, async (server) => {
      for (const file of ['merges.txt', ENCODER]) {
        const dest = path.join(tmp, 'd', file);
        const err = await downloadFile({ url: urlOf(server, file), destPath: dest }).catch((e: unknown) => e);
        expect(err, file).toBeInstanceOf(ModelChecksumError);
        expect((err as ModelChecksumError).details['expectedSha256']).toBe(known(file).sha256);
        expect((err as Error).message).toContain('the server announced');
        expect(await readdir(path.dirname(dest))).toEqual([]);
      }
    });
  });

  it('a caller\'s expected sha256 wins over the server\'s', async () => {
    await withServer({}, async (server) => {
      const dest = path.join(tmp, 'd2', 'config.json');
      const wrong = 'ab'.repeat(32);
      const err = await downloadFile({ url: urlOf(server, 'config.json'), destPath: dest, expectedSha256: wrong }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelChecksumError);
      expect((err as ModelChecksumError).details).toMatchObject({ expectedSha256: wrong, sha256: known('config.json').sha256 });
      expect(await readdir(path.dirname(dest))).toEqual([]);
    });
  });

  it('takes an LFS file\'s sha256 from X-Linked-Etag, not from its md5 ETag', async () => {
    await withServer({}, async (server) => {
      const dest = path.join(tmp, 'lfs', 'encoder.onnx');
      const got = await downloadFile({ url: urlOf(server, ENCODER), destPath: dest });
      expect(got).toEqual({ path: dest, ...pick(known(ENCODER)), sha256Source: 'server' });
    });
  });

  it('follows the hub\'s LFS redirect, keeping the X-Linked-* headers of the resolve answer', async () => {
    await withServer({ lfsRedirect: true, flipByte: new Set([ENCODER]) }, async (server) => {
      const dest = path.join(tmp, 'lfs-redirect', 'encoder.onnx');
      // The CDN leg only has an md5 ETag: the flipped body is caught by the sha256 the 302 announced.
      const err = await downloadFile({ url: urlOf(server, ENCODER), destPath: dest, token: 'hf_x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelChecksumError);
      expect((err as ModelChecksumError).details['expectedSha256']).toBe(known(ENCODER).sha256);
      expect(server.requests.map((r) => r.status)).toEqual([302, 200]);
      // Same origin here, so the token follows the redirect.
      expect(server.requests.every((r) => r.authorization === 'Bearer hf_x')).toBe(true);
    });
    await withServer({ lfsRedirect: true }, async (server) => {
      const dest = path.join(tmp, 'lfs-redirect-ok', 'encoder.onnx');
      const got = await downloadFile({ url: urlOf(server, ENCODER), destPath: dest });
      expect(got).toMatchObject({ ...pick(known(ENCODER)), sha256Source: 'server' });
    });
  });

  it('accepts a weak sha256 ETag, and ignores a git sha1 ETag (size check only)', async () => {
    await withServer({ smallFileEtag: 'weak-sha256' }, async (server) => {
      const got = await downloadFile({ url: urlOf(server, 'config.json'), destPath: path.join(tmp, 'weak', 'config.json') });
      expect(got).toMatchObject({ sha256: known('config.json').sha256, sha256Source: 'server' });
    });
    await withServer({ smallFileEtag: 'git-sha1' }, async (server) => {
      const got = await downloadFile({ url: urlOf(server, 'config.json'), destPath: path.join(tmp, 'git', 'config.json') });
      expect(got).toMatchObject({ sha256: known('config.json').sha256, sha256Source: null });
    });
  });

  it('without any hash header: size check only, and a short body is not taken as the file', async () => {
    await withServer({ noHashHeaders: true }, async (server) => {
      const dest = path.join(tmp, 'nohash', 'merges.txt');
      const got = await downloadFile({ url: urlOf(server, 'merges.txt'), destPath: dest });
      expect(got).toEqual({ path: dest, ...pick(known('merges.txt')), sha256Source: null });
    });
    await withServer({ noHashHeaders: true, dropAfterBytes: new Map([['vocab.json', 1000]]) }, async (server) => {
      const dest = path.join(tmp, 'nohash-short', 'vocab.json');
      const err = await downloadFile({ url: urlOf(server, 'vocab.json'), destPath: dest }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelDownloadError);
      await expect(stat(dest)).rejects.toThrow();
      expect((await stat(partialPathOf(dest))).size).toBeLessThanOrEqual(1000);
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
