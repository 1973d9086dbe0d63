import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ModelChecksumError, ModelDownloadError, ModelIncompleteError } from '../../../src/errors.js';
import { downloadFile, serverClaims, sha256FromEtag } from '../../../src/models/download.js';

const SHA = 'a'.repeat(40) + '0123456789abcdef01234567';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'stt-dlh-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('server hash headers', () => {
  it('reads a sha256 out of ETag-style values', () => {
    expect(sha256FromEtag(`"${SHA}"`)).toBe(SHA);
    expect(sha256FromEtag(`W/"${SHA.toUpperCase()}"`)).toBe(SHA);
    expect(sha256FromEtag(SHA)).toBe(SHA);
    expect(sha256FromEtag('"d41d8cd98f00b204e9800998ecf8427e"')).toBeNull(); // md5
    expect(sha256FromEtag('"da39a3ee5e6b4b0d3255bfef95601890afd80709"')).toBeNull(); // git sha1
    expect(sha256FromEtag(`"${SHA}-3"`)).toBeNull();
    expect(sha256FromEtag(null)).toBeNull();
  });

  it('prefers X-Linked-Etag over ETag, the earliest hop first, and reads X-Linked-Size', () => {
    const other = 'b'.repeat(64);
    expect(serverClaims([new Headers({ etag: `"${other}"`, 'x-linked-etag': `"${SHA}"`, 'x-linked-size': '42' })])).toEqual({
      sha256: SHA,
      sizeBytes: 42,
    });
    // ETag of the first hop loses to X-Linked-Etag of a later one; the first X-Linked-Size wins.
    expect(
      serverClaims([
        new Headers({ etag: `"${other}"`, 'x-linked-size': '7' }),
        new Headers({ 'x-linked-etag': SHA, 'x-linked-size': '9' }),
      ]),
    ).toEqual({ sha256: SHA, sizeBytes: 7 });
    expect(serverClaims([new Headers({ etag: '"abc"', 'x-linked-size': 'lots' })])).toEqual({ sha256: null, sizeBytes: null });
  });
});

describe('downloadFile redirects (fake fetch)', () => {
  const body = Buffer.from('hello model bytes');
  const NOT_BODY_SHA = 'c'.repeat(64);

  function fakeHub(opts: { linkedEtag: string; linkedSize: number }): {
    fetchImpl: typeof fetch;
    calls: { url: string; auth: string | null; redirect: RequestInit['redirect']; encoding: string | null }[];
  } {
    const calls: { url: string; auth: string | null; redirect: RequestInit['redirect']; encoding: string | null }[] = [];
    const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      const h = new Headers(init?.headers);
      calls.push({ url, auth: h.get('authorization'), redirect: init?.redirect, encoding: h.get('accept-encoding') });
      if (url.startsWith('https://hub.example/')) {
        return new Response(null, {
          status: 302,
          headers: {
            location: 'https://cdn.example/blob/1',
            'x-linked-etag': `"${opts.linkedEtag}"`,
            'x-linked-size': String(opts.linkedSize),
          },
        });
      }
      return new Response(body, { status: 200, headers: { 'content-length': String(body.length), etag: '"md5ish"' } });
    }) as typeof fetch;
    return { fetchImpl, calls };
  }

  it('verifies against the redirect\'s X-Linked-Etag and keeps the token on the hub\'s origin', async () => {
    const sha = createHash('sha256').update(body).digest('hex');
    const hub = fakeHub({ linkedEtag: sha, linkedSize: body.length });
    const dest = path.join(tmp, 'ok', 'f.bin');
    const got = await downloadFile({ url: 'https://hub.example/r/resolve/main/f.bin', destPath: dest, token: 'hf_s', fetchImpl: hub.fetchImpl });
    expect(got).toEqual({ path: dest, sizeBytes: body.length, sha256: sha, sha256Source: 'server' });
    expect(await readFile(dest)).toEqual(body);
    expect(hub.calls).toEqual([
      { url: 'https://hub.example/r/resolve/main/f.bin', auth: 'Bearer hf_s', redirect: 'manual', encoding: 'identity' },
      { url: 'https://cdn.example/blob/1', auth: null, redirect: 'manual', encoding: 'identity' },
    ]);
  });

  it('rejects a body whose hash or size differs from the redirect\'s announcement', async () => {
    const wrongHash = fakeHub({ linkedEtag: NOT_BODY_SHA, linkedSize: body.length });
    const err = await downloadFile({
      url: 'https://hub.example/r/resolve/main/f.bin',
      destPath: path.join(tmp, 'bad', 'f.bin'),
      fetchImpl: wrongHash.fetchImpl,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelChecksumError);

    const wrongSize = fakeHub({ linkedEtag: NOT_BODY_SHA, linkedSize: body.length + 1 });
    const err2 = await downloadFile({
      url: 'https://hub.example/r/resolve/main/f.bin',
      destPath: path.join(tmp, 'bad2', 'f.bin'),
      fetchImpl: wrongSize.fetchImpl,
    }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(ModelIncompleteError);
    expect((err2 as ModelIncompleteError).details).toMatchObject({ sizeBytes: body.length, expectedSizeBytes: body.length + 1 });
  });

  it('gives up on a redirect loop with ModelDownloadError', async () => {
    const fetchImpl = (async () =>
      new Response(null, { status: 302, headers: { location: '/again' } })) as unknown as typeof fetch;
    const err = await downloadFile({ url: 'https://hub.example/x', destPath: path.join(tmp, 'loop', 'x'), fetchImpl }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect((err as Error).message).toContain('redirected more than 10 times');
  });
});
