// The float copy of a model's weights found like a model (src/models/float-weights.ts): cache,
// mirror (both layouts), download from a loopback stand-in for the hub. The served model.bin is
// seeded bytes: resolution and download never read it (the loader does; test/e2e covers that).
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { ModelChecksumError, ModelDownloadError, ModelNotFoundError, UnknownModelError } from '../../../src/errors.js';
import { partialPathOf } from '../../../src/models/download.js';
import { floatWeightsPath, resolveFloatWeights } from '../../../src/models/float-weights.js';
import type { ResolveOptions } from '../../../src/models/resolve.js';
import { sha256File } from '../../../src/models/verify.js';
import { scratchFolder } from '../../helpers/scratch.js';
import { withHubServer, type HubFaults, type HubServer } from './hub-server.js';

const REPO = 'Systran/faster-whisper-base';
const BIN_SIZE = 300_001;

const scratch = scratchFolder('stt-float-resolve-');
const freshDir = (label: string): Promise<string> => scratch.fresh(label);
/** A CTranslate2 folder as the hub serves it for base: model.bin, config.json, tokenizer.json, vocabulary.txt. */
let repoDir: string;

beforeAll(async () => {
  repoDir = await freshDir('repo');
  const bytes = new Uint8Array(BIN_SIZE);
  let seed = 11;
  for (let i = 0; i < bytes.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    bytes[i] = seed >>> 23;
  }
  await writeFile(path.join(repoDir, 'model.bin'), bytes);
  await writeFile(path.join(repoDir, 'config.json'), '{"alignment_heads": [], "lang_ids": []}\n');
  await writeFile(path.join(repoDir, 'tokenizer.json'), '{}\n');
  await writeFile(path.join(repoDir, 'vocabulary.txt'), '<|endoftext|>\n');
});

function withServer<T>(faults: HubFaults, fn: (s: HubServer) => Promise<T>): Promise<T> {
  return withHubServer({ [REPO]: repoDir }, faults, fn);
}

/** No ambient environment: a developer's STT_MODEL_MIRROR or STT_FLOAT_WEIGHTS must not leak in. */
function opts(extra: Omit<ResolveOptions, 'dir' | 'dtype'>): Omit<ResolveOptions, 'dir' | 'dtype'> {
  return { env: {}, ...extra };
}

describe('resolveFloatWeights', () => {
  it("downloads faster-whisper's repository into the cache (optional files as the hub has them), then reuses it offline", async () => {
    const cacheDir = await freshDir('cache');
    await withServer({}, async (server) => {
      const got = await resolveFloatWeights('base', opts({ cacheDir, hubEndpoint: server.url }));
      const dir = path.join(cacheDir, 'faster-whisper-base');
      expect(got).toEqual({ name: 'base', source: 'hub', dir, path: path.join(dir, 'model.bin') });
      expect(await sha256File(got.path)).toBe(await sha256File(path.join(repoDir, 'model.bin')));
      expect(await readFile(path.join(dir, 'vocabulary.txt'), 'utf8')).toBe('<|endoftext|>\n');
      // Asked for, absent from this repository (base has vocabulary.txt), skipped.
      await expect(stat(path.join(dir, 'vocabulary.json'))).rejects.toThrow();
      expect(server.requests.find((r) => r.file === 'vocabulary.json')).toMatchObject({ status: 404 });
      expect(server.requests[0]).toMatchObject({ file: 'model.bin', status: 200 });
      // The streamed hash, checked against the server's X-Linked-Etag, is stamped like a model file's.
      const stamps = JSON.parse(await readFile(path.join(cacheDir, '.verified.json'), 'utf8')) as { files: Record<string, { origin: string }> };
      expect(stamps.files[got.path]).toMatchObject({ origin: 'server' });

      const before = server.requests.length;
      const again = await resolveFloatWeights('base', opts({ cacheDir, hubEndpoint: server.url, allowDownload: false }));
      expect(again).toEqual({ ...got, source: 'cache' });
      expect(server.requests.length).toBe(before);
    });
  });

  it('resumes a dropped model.bin with a Range request', async () => {
    const cacheDir = await freshDir('resume');
    const half = Math.floor(BIN_SIZE / 2);
    await withServer({ dropAfterBytes: new Map([['model.bin', half]]) }, async (server) => {
      const err = await resolveFloatWeights('base', opts({ cacheDir, hubEndpoint: server.url })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelDownloadError);
      const bin = path.join(cacheDir, 'faster-whisper-base', 'model.bin');
      const partialSize = (await stat(partialPathOf(bin))).size;
      expect(partialSize).toBeGreaterThan(0);
      expect(partialSize).toBeLessThanOrEqual(half);

      const first = server.requests.length;
      const got = await resolveFloatWeights('base', opts({ cacheDir, hubEndpoint: server.url }));
      expect(got.source).toBe('hub');
      expect(server.requests[first]).toMatchObject({ file: 'model.bin', range: `bytes=${partialSize}-`, status: 206 });
      expect(await sha256File(got.path)).toBe(await sha256File(path.join(repoDir, 'model.bin')));
    });
  });

  it('refuses a corrupted download (STT_MODEL_CHECKSUM) and keeps nothing of it', async () => {
    const cacheDir = await freshDir('flip');
    await withServer({ flipByte: new Set(['model.bin']) }, async (server) => {
      const err = await resolveFloatWeights('base', opts({ cacheDir, hubEndpoint: server.url })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelChecksumError);
      const bin = path.join(cacheDir, 'faster-whisper-base', 'model.bin');
      await expect(stat(bin)).rejects.toThrow();
      await expect(stat(partialPathOf(bin))).rejects.toThrow();
    });
  });

  it('uses a mirror in place, in either layout, and downloads nothing', async () => {
    for (const layout of ['faster-whisper-base', REPO]) {
      const mirror = await freshDir('mirror');
      const dir = path.join(mirror, layout);
      await mkdir(path.dirname(dir), { recursive: true });
      await symlink(repoDir, dir);
      const got = await resolveFloatWeights('base', opts({ cacheDir: await freshDir('c'), env: { STT_MODEL_MIRROR: mirror }, allowDownload: false }));
      expect(got).toEqual({ name: 'base', source: 'mirror', dir, path: path.join(dir, 'model.bin') });
    }
  });

  it('says how to fetch them when nothing has them and downloads are off (STT_MODEL_NOT_FOUND)', async () => {
    const err = await resolveFloatWeights('small', opts({ cacheDir: await freshDir('none'), allowDownload: false })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect((err as ModelNotFoundError).message).toContain('no local copy of float weights of small');
    expect((err as ModelNotFoundError).message).toContain('stt-engine models pull small --float-weights');
    expect((err as ModelNotFoundError).details).toMatchObject({ model: 'small', repo: 'Systran/faster-whisper-small' });
    await expect(resolveFloatWeights('huge', opts({ allowDownload: false }))).rejects.toBeInstanceOf(UnknownModelError);
  });
});

describe('floatWeightsPath', () => {
  it('resolves true, passes a path through, and gives null for none', async () => {
    const mirror = await freshDir('m');
    await symlink(repoDir, path.join(mirror, 'faster-whisper-base'));
    const where = opts({ cacheDir: await freshDir('c'), mirror, allowDownload: false });
    expect(await floatWeightsPath(true, 'base', where)).toBe(path.join(mirror, 'faster-whisper-base', 'model.bin'));
    expect(await floatWeightsPath('/some/ct2-folder', 'base', where)).toBe('/some/ct2-folder');
    for (const none of [null, false, undefined]) expect(await floatWeightsPath(none, 'base', where)).toBeNull();
    await expect(floatWeightsPath(' ', 'base', where)).rejects.toMatchObject({ code: 'STT_INVALID_OPTION', details: { option: 'floatWeights' } });
    await expect(floatWeightsPath(1 as unknown as string, 'base', where)).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
  });
});
