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
import { startHubServer, type HubFaults, type HubServer } from './hub-server.js';

const REPO = 'onnx-community/whisper-base';
const spec = getModelSpec('base', 'q8');
const DECODER = spec.decoderPath;
const ENCODER = spec.encoderPath;
const DECODER_SIZE = 79208649;
const REQUIRED = spec.files.filter((f) => f.required).map((f) => f.path);

let tmp: string;
let n = 0;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'stt-resolve-'));
});
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

async function withServer<T>(faults: HubFaults, fn: (s: HubServer) => Promise<T>): Promise<T> {
  const server = await startHubServer({ [REPO]: WHISPER_BASE_DIR }, faults);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
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
      expect(await sha256File(model.decoderPath)).toBe(spec.files.find((f) => f.path === DECODER)?.sha256);
      for (const f of REQUIRED) expect((await stat(path.join(dir, f))).isFile()).toBe(true);
      // Optional files: fetched when the hub has them, skipped on 404.
      expect((await stat(path.join(dir, 'vocab.json'))).size).toBe(1036584);
      await expect(stat(path.join(dir, 'merges.txt'))).rejects.toThrow();
      expect((await readdir(path.join(dir, 'onnx'))).sort()).toEqual(
        ['decoder_model_merged_quantized.onnx', 'encoder_model_quantized.onnx'],
      );
      expect(server.requests.every((r) => r.authorization === 'Bearer hf_t')).toBe(true);
      // The streamed hashes were stamped: the next start trusts size + mtime instead of re-hashing.
      const stamps = JSON.parse(await readFile(path.join(cacheDir, '.verified.json'), 'utf8')) as {
        files: Record<string, { sha256: string }>;
      };
      expect(stamps.files[model.encoderPath]?.sha256).toBe(spec.files.find((f) => f.path === ENCODER)?.sha256);

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
      expect(await sha256File(decoderPath)).toBe(spec.files.find((f) => f.path === DECODER)?.sha256);
      await expect(stat(partialPathOf(decoderPath))).rejects.toThrow();
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

  it('replaces a corrupt cached file by downloading only that file', async () => {
    const cacheDir = await freshDir('heal');
    const modelDir = path.join(cacheDir, 'whisper-base');
    await linkedModel(modelDir, { copy: ['config.json'] });
    const configPath = path.join(modelDir, 'config.json');
    const bytes = await readFile(configPath);
    bytes[10] = (bytes[10] ?? 0) ^ 0xff;
    await writeFile(configPath, bytes);

    const offline = await resolveModel('base', opts({ cacheDir, allowDownload: false })).catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(ModelChecksumError);

    await withServer({}, async (server) => {
      const model = await resolveModel('base', opts({ cacheDir, hubEndpoint: server.url }));
      expect(model.source).toBe('hub');
      expect(server.requests.map((r) => r.file)).toEqual(['config.json']);
      expect(await readFile(configPath)).toEqual(await readFile(path.join(WHISPER_BASE_DIR, 'config.json')));
    });
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
    const stamps = JSON.parse(await readFile(path.join(cacheDir, '.verified.json'), 'utf8')) as { files: object };
    expect(Object.keys(stamps.files)).toContain(first.decoderPath);

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

  it('reports a truncated file in a mirror as incomplete', async () => {
    const mirror = await freshDir('mirror-short');
    const modelDir = path.join(mirror, 'whisper-base');
    await linkedModel(modelDir, { omit: ['preprocessor_config.json'] });
    await writeFile(path.join(modelDir, 'preprocessor_config.json'), '{}');
    const err = await resolveModel('base', opts({ mirror, cacheDir: await freshDir('c') })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelIncompleteError);
    expect((err as ModelIncompleteError).details).toMatchObject({ sizeBytes: 2, expectedSizeBytes: 339 });
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
