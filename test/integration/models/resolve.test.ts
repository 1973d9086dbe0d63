import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ModelChecksumError,
  ModelDownloadError,
  ModelIncompleteError,
  ModelNotFoundError,
  UnknownModelError,
} from '../../../src/errors.js';
import { partialPathOf } from '../../../src/models/download.js';
import { getModelSpec } from '../../../src/models/manifest.js';
import { resolveModel, type ResolveOptions } from '../../../src/models/resolve.js';
import { sha256File } from '../../../src/models/verify.js';
import { SHARED_MODELS, WHISPER_BASE_DIR } from '../../helpers/paths.js';
import { withHubServer, type HubFaults, type HubServer } from './hub-server.js';

const REPO = 'onnx-community/whisper-base';
const spec = getModelSpec('base', 'q8');
const DECODER = spec.decoderPath;
const ENCODER = spec.encoderPath;
const DECODER_SIZE = 79208649;
const REQUIRED = spec.files.filter((f) => f.required).map((f) => f.path);

let tmp: string;
let n = 0;
/** sha256 of the served fixture files (what the test server announces for them). */
const fixtureSha = new Map<string, string>();
function shaOf(file: string): string {
  const sha = fixtureSha.get(file);
  if (sha === undefined) throw new Error(`fixture ${file} not hashed`);
  return sha;
}
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'stt-resolve-'));
  for (const f of REQUIRED) fixtureSha.set(f, await sha256File(path.join(WHISPER_BASE_DIR, f)));
});

interface StampJson {
  files: Record<string, { sizeBytes: number; mtimeMs: number; sha256: string; origin?: string }>;
}
async function readStamps(cacheDir: string): Promise<StampJson> {
  return JSON.parse(await readFile(path.join(cacheDir, '.verified.json'), 'utf8')) as StampJson;
}
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function freshDir(label: string): Promise<string> {
  const dir = path.join(tmp, `${label}-${n++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A model folder of links to the shared files, minus `omit`, with `copy` files as writable copies. */
async function linkedModel(dir: string, opts: { omit?: string[]; copy?: string[] } = {}): Promise<void> {
  for (const f of spec.files) {
    if (opts.omit?.includes(f.path)) continue;
    const dest = path.join(dir, f.path);
    await mkdir(path.dirname(dest), { recursive: true });
    if (opts.copy?.includes(f.path)) await copyFile(path.join(WHISPER_BASE_DIR, f.path), dest);
    else await symlink(path.join(WHISPER_BASE_DIR, f.path), dest);
  }
}

function withServer<T>(faults: HubFaults, fn: (s: HubServer) => Promise<T>): Promise<T> {
  return withHubServer({ [REPO]: WHISPER_BASE_DIR }, faults, fn);
}

/** Options that see no ambient environment (no STT_MODEL_MIRROR from the developer's shell). */
function opts(extra: ResolveOptions): ResolveOptions {
  return { env: {}, ...extra };
}

describe('resolveModel from the hub', () => {
  it('downloads base q8 into the cache, then reuses the cache without network', async () => {
    const cacheDir = await freshDir('cache');
    await withServer({ notFound: new Set(['merges.txt']) }, async (server) => {
      const model = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url, env: { HF_TOKEN: 'hf_t' } }));
      const dir = path.join(cacheDir, 'whisper-base');
      expect(model).toEqual({
        name: 'base',
        dtype: 'q8',
        source: 'hub',
        dir,
        encoderPath: path.join(dir, ENCODER),
        decoderPath: path.join(dir, DECODER),
      });
      expect(await sha256File(model.decoderPath)).toBe(shaOf(DECODER));
      for (const f of REQUIRED) expect((await stat(path.join(dir, f))).isFile()).toBe(true);
      // Optional files: fetched when the hub has them, skipped on 404.
      expect((await stat(path.join(dir, 'vocab.json'))).size).toBe(1036584);
      await expect(stat(path.join(dir, 'merges.txt'))).rejects.toThrow();
      expect((await readdir(path.join(dir, 'onnx'))).sort()).toEqual(
        ['decoder_model_merged_quantized.onnx', 'encoder_model_quantized.onnx'],
      );
      expect(server.requests.every((r) => r.authorization === 'Bearer hf_t')).toBe(true);
      // The streamed hashes, verified against the server's headers, were stamped: the next start
      // trusts size + mtime instead of re-hashing.
      const stamps = await readStamps(cacheDir);
      for (const f of REQUIRED) {
        expect(stamps.files[path.join(dir, f)], f).toMatchObject({ sha256: shaOf(f), origin: 'server' });
      }

      const before = server.requests.length;
      const again = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url }));
      expect(again.source).toBe('cache');
      expect(again.decoderPath).toBe(model.decoderPath);
      const offline = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url, allowDownload: false }));
      expect(offline.source).toBe('cache');
      expect(server.requests.length).toBe(before);
    });
  });

  it('resumes a dropped download with a Range request', async () => {
    const cacheDir = await freshDir('resume');
    const half = Math.floor(DECODER_SIZE / 2);
    await withServer({ dropAfterBytes: new Map([[DECODER, half]]) }, async (server) => {
      const err = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelDownloadError);
      const decoderPath = path.join(cacheDir, 'whisper-base', DECODER);
      const partialSize = (await stat(partialPathOf(decoderPath))).size;
      expect(partialSize).toBeGreaterThan(0);
      expect(partialSize).toBeLessThanOrEqual(half);
      await expect(stat(decoderPath)).rejects.toThrow();

      const firstCount = server.requests.length;
      const model = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url }));
      expect(model.source).toBe('hub');
      const retried = server.requests.slice(firstCount);
      // Only the decoder was missing among the required files; it was asked for from where it stopped.
      expect(retried[0]).toMatchObject({ file: DECODER, range: `bytes=${partialSize}-`, status: 206 });
      expect(await sha256File(decoderPath)).toBe(shaOf(DECODER));
      await expect(stat(partialPathOf(decoderPath))).rejects.toThrow();
    });
  });

  it('a resumed download is checked over the whole file, the bytes kept on disk included', async () => {
    const cacheDir = await freshDir('resume-bad');
    const cut = 4_000_000;
    await withServer({ dropAfterBytes: new Map([[ENCODER, cut]]) }, async (server) => {
      await expect(resolveModel('base', opts({ cacheDir, hubEndpoint: server.url }))).rejects.toBeInstanceOf(ModelDownloadError);
      const encoderPath = path.join(cacheDir, 'whisper-base', ENCODER);
      const partial = partialPathOf(encoderPath);
      const kept = await readFile(partial);
      expect(kept.length).toBeGreaterThan(1000);
      // Damage a byte the resumed request will not send again.
      kept[500] = (kept[500] ?? 0) ^ 0xff;
      await writeFile(partial, kept);

      const before = server.requests.length;
      const err = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url })).catch((e: unknown) => e);
      expect(server.requests[before]).toMatchObject({ file: ENCODER, range: `bytes=${kept.length}-`, status: 206 });
      expect(err).toBeInstanceOf(ModelChecksumError);
      expect((err as ModelChecksumError).details['expectedSha256']).toBe(shaOf(ENCODER));
      await expect(stat(partial)).rejects.toThrow();
      await expect(stat(encoderPath)).rejects.toThrow();

      // The next attempt starts over and succeeds.
      const model = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url }));
      expect(await sha256File(model.encoderPath)).toBe(shaOf(ENCODER));
    });
  });

  it('a server that announces no hash: size check only, and the download is stamped', async () => {
    const cacheDir = await freshDir('nohash');
    await withServer({ noHashHeaders: true }, async (server) => {
      const model = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url }));
      expect(model.source).toBe('hub');
      expect(await sha256File(model.decoderPath)).toBe(shaOf(DECODER));
      const stamps = await readStamps(cacheDir);
      for (const f of REQUIRED) {
        expect(stamps.files[path.join(model.dir, f)], f).toMatchObject({ sha256: shaOf(f), origin: 'first-use' });
      }
      // The stamp is now the reference: a later change of the file is caught offline.
      const configPath = path.join(model.dir, 'config.json');
      const bytes = await readFile(configPath);
      bytes[3] = (bytes[3] ?? 0) ^ 0xff;
      await writeFile(configPath, bytes);
      await utimes(configPath, 1_000_000, 1_000_000);
      const err = await resolveModel('base', opts({ cacheDir, allowDownload: false })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelChecksumError);
      expect((err as ModelChecksumError).details['expectedSha256']).toBe(shaOf('config.json'));
    });
  });

  it('rejects a file whose sha256 differs and leaves nothing at its final path', async () => {
    const cacheDir = await freshDir('flip');
    await withServer({ flipByte: new Set(['tokenizer.json']) }, async (server) => {
      const err = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelChecksumError);
      const dest = path.join(cacheDir, 'whisper-base', 'tokenizer.json');
      await expect(stat(dest)).rejects.toThrow();
      await expect(stat(partialPathOf(dest))).rejects.toThrow();
      expect(server.requests.some((r) => r.file === ENCODER)).toBe(false);
    });
  });

  it('fails with ModelDownloadError when a required file is 404', async () => {
    const cacheDir = await freshDir('404');
    await withServer({ notFound: new Set(['preprocessor_config.json']) }, async (server) => {
      const err = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelDownloadError);
      expect((err as ModelDownloadError).details['status']).toBe(404);
      expect(String((err as ModelDownloadError).details['url'])).toContain('/preprocessor_config.json');
    });
  });

  it('replaces a cached file changed after it was stamped by downloading only that file', async () => {
    const cacheDir = await freshDir('heal');
    const modelDir = path.join(cacheDir, 'whisper-base');
    await linkedModel(modelDir, { copy: ['config.json', 'tokenizer_config.json'] });
    // First use stamps every required file (no hash is pinned, nothing to compare with yet).
    expect((await resolveModel('base', opts({ cacheDir, allowDownload: false }))).source).toBe('cache');
    expect((await readStamps(cacheDir)).files[path.join(modelDir, 'config.json')]).toMatchObject({
      sha256: shaOf('config.json'),
      origin: 'first-use',
    });

    const configPath = path.join(modelDir, 'config.json');
    const bytes = await readFile(configPath);
    bytes[10] = (bytes[10] ?? 0) ^ 0xff;
    await writeFile(configPath, bytes);
    await utimes(configPath, 1_000_000, 1_000_000);
    // And an emptied file: caught without any stamp or hash.
    await writeFile(path.join(modelDir, 'tokenizer_config.json'), '');

    const offline = await resolveModel('base', opts({ cacheDir, allowDownload: false })).catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(ModelChecksumError);
    expect((offline as Error).message).toContain('changed after it was verified');

    await withServer({}, async (server) => {
      const model = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url }));
      expect(model.source).toBe('hub');
      expect(server.requests.map((r) => r.file)).toEqual(['config.json', 'tokenizer_config.json']);
      expect(await readFile(configPath)).toEqual(await readFile(path.join(WHISPER_BASE_DIR, 'config.json')));
      expect((await readStamps(cacheDir)).files[configPath]).toMatchObject({ sha256: shaOf('config.json'), origin: 'server' });
    });
    expect((await resolveModel('base', opts({ cacheDir, allowDownload: false }))).source).toBe('cache');
  });
});

describe('resolveModel from local sources', () => {
  it('uses the shared mirror in place, hashing once and then trusting the stamp', async () => {
    const cacheDir = await freshDir('mirror');
    const t0 = performance.now();
    const first = await resolveModel('base', opts({ cacheDir, mirror: SHARED_MODELS, allowDownload: false }));
    const firstMs = performance.now() - t0;
    expect(first).toMatchObject({ source: 'mirror', dir: WHISPER_BASE_DIR });
    expect(first.decoderPath).toBe(path.join(WHISPER_BASE_DIR, DECODER));
    const stamps = await readStamps(cacheDir);
    // Trust on first use: the mirror's own bytes are what later resolutions are compared with.
    expect(stamps.files[first.decoderPath]).toMatchObject({ sha256: shaOf(DECODER), origin: 'first-use' });

    const t1 = performance.now();
    const second = await resolveModel('base', opts({ cacheDir, mirror: SHARED_MODELS, allowDownload: false }));
    const secondMs = performance.now() - t1;
    expect(second).toEqual(first);
    expect(secondMs).toBeLessThan(100);
    console.log(`mirror resolve: first ${firstMs.toFixed(0)} ms (hashes 110 MB), second ${secondMs.toFixed(1)} ms`);
    // Nothing was copied into the cache.
    expect(await readdir(cacheDir)).toEqual(['.verified.json']);
  });

  it('accepts the onnx-community/<repo> mirror layout and reads STT_MODEL_MIRROR', async () => {
    const mirror = await freshDir('mirror-layout');
    await linkedModel(path.join(mirror, REPO));
    const model = await resolveModel('base', { env: { STT_MODEL_MIRROR: mirror }, cacheDir: await freshDir('c'), allowDownload: false });
    expect(model).toMatchObject({ source: 'mirror', dir: path.join(mirror, REPO) });
  });

  it('names the missing file of an incomplete mirror', async () => {
    const mirror = await freshDir('mirror-missing');
    await linkedModel(path.join(mirror, 'whisper-base'), { omit: [DECODER] });
    const err = await resolveModel('base', opts({ mirror, cacheDir: await freshDir('c') })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelIncompleteError);
    expect((err as Error).message).toContain(DECODER);
    expect((err as ModelIncompleteError).details['missing']).toBe(DECODER);
  });

  it('a mirror holding only another dtype does not count as having the model', async () => {
    const err = await resolveModel(
      'base',
      opts({ dtype: 'fp16', mirror: SHARED_MODELS, cacheDir: await freshDir('c'), allowDownload: false }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
  });

  it('checks an explicit dir: missing folder, missing file, stamp trusted until the mtime moves', async () => {
    const cacheDir = await freshDir('c');
    const nowhere = path.join(tmp, 'does-not-exist');
    await expect(resolveModel('base', opts({ dir: nowhere, cacheDir }))).rejects.toBeInstanceOf(ModelNotFoundError);

    const partialDir = await freshDir('dir-partial');
    await linkedModel(partialDir, { omit: ['tokenizer.json'] });
    const err = await resolveModel('base', opts({ dir: partialDir, cacheDir })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelIncompleteError);
    expect((err as Error).message).toContain('tokenizer.json');

    const dir = await freshDir('dir');
    await linkedModel(dir, { copy: ['generation_config.json'] });
    const file = path.join(dir, 'generation_config.json');
    // Whole seconds, so that utimes can put back exactly the mtime the stamp saw.
    const mtimeInS = Math.floor(Date.now() / 1000) - 60;
    await utimes(file, mtimeInS, mtimeInS);
    expect((await resolveModel('base', opts({ dir, cacheDir }))).source).toBe('dir');
    const bytes = await readFile(file);
    bytes[5] = (bytes[5] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    // Same size and mtime as stamped: trusted without hashing (the documented trade-off).
    await utimes(file, mtimeInS, mtimeInS);
    expect((await resolveModel('base', opts({ dir, cacheDir }))).source).toBe('dir');
    // A new mtime invalidates the stamp: the file is hashed again and the flip is caught.
    await utimes(file, mtimeInS + 5, mtimeInS + 5);
    await expect(resolveModel('base', opts({ dir, cacheDir }))).rejects.toBeInstanceOf(ModelChecksumError);
  });

  it('reports a mirror file truncated or emptied after it was stamped as incomplete', async () => {
    const cacheDir = await freshDir('c');
    const mirror = await freshDir('mirror-short');
    const modelDir = path.join(mirror, 'whisper-base');
    await linkedModel(modelDir, { copy: ['preprocessor_config.json'] });
    expect((await resolveModel('base', opts({ mirror, cacheDir }))).source).toBe('mirror');
    const file = path.join(modelDir, 'preprocessor_config.json');
    await writeFile(file, '{}');
    const err = await resolveModel('base', opts({ mirror, cacheDir })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelIncompleteError);
    expect((err as ModelIncompleteError).details).toMatchObject({ sizeBytes: 2, expectedSizeBytes: 339 });
    expect((err as Error).message).toContain('truncated');

    await writeFile(file, '');
    const empty = await resolveModel('base', opts({ mirror, cacheDir: await freshDir('c') })).catch((e: unknown) => e);
    expect(empty).toBeInstanceOf(ModelIncompleteError);
    expect((empty as Error).message).toContain('is empty');
  });

  it('a mirror file modified after it was stamped is a ModelChecksumError; a mere touch is not', async () => {
    const cacheDir = await freshDir('c');
    const mirror = await freshDir('mirror-modified');
    const modelDir = path.join(mirror, 'whisper-base');
    await linkedModel(modelDir, { copy: ['tokenizer_config.json'] });
    const file = path.join(modelDir, 'tokenizer_config.json');
    expect((await resolveModel('base', opts({ mirror, cacheDir, allowDownload: false }))).source).toBe('mirror');

    // Same bytes, new mtime (a copy, a touch): re-hashed, equal to the stamp, re-stamped.
    await utimes(file, 2_000_000, 2_000_000);
    expect((await resolveModel('base', opts({ mirror, cacheDir, allowDownload: false }))).source).toBe('mirror');
    expect((await readStamps(cacheDir)).files[file]).toMatchObject({ sha256: shaOf('tokenizer_config.json'), mtimeMs: 2_000_000_000 });

    // Same size, other bytes.
    const bytes = await readFile(file);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    await utimes(file, 3_000_000, 3_000_000);
    const err = await resolveModel('base', opts({ mirror, cacheDir, allowDownload: false })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelChecksumError);
    expect((err as ModelChecksumError).details).toMatchObject({ path: file, expectedSha256: shaOf('tokenizer_config.json') });
    // Still refused on the next start (the bad bytes are never stamped), downloads allowed or not.
    await withServer({}, async (server) => {
      await expect(resolveModel('base', opts({ mirror, cacheDir, hubEndpoint: server.url }))).rejects.toBeInstanceOf(
        ModelChecksumError,
      );
      expect(server.requests).toEqual([]);
    });
  });

  it('without any source and downloads disabled: ModelNotFoundError with a hint', async () => {
    const err = await resolveModel('base', opts({ cacheDir: await freshDir('empty'), allowDownload: false })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect((err as Error).message).toContain('models pull base');
    expect((err as Error).message).toContain('STT_MODEL_MIRROR');
  });

  it('an incomplete cache with downloads disabled names the missing file', async () => {
    const cacheDir = await freshDir('cache-partial');
    await linkedModel(path.join(cacheDir, 'whisper-base'), { omit: [ENCODER] });
    const err = await resolveModel('base', opts({ cacheDir, allowDownload: false })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelIncompleteError);
    expect((err as Error).message).toContain(ENCODER);
    expect((err as Error).message).toContain('models pull base');
  });

  it('rejects an unknown model name, listing the known ones', async () => {
    const err = await resolveModel('huge', opts({ cacheDir: await freshDir('c') })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownModelError);
    expect((err as Error).message).toContain('tiny, base, small, medium, large-v3, large-v3-turbo');
  });
});
