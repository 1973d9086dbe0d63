import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIO } from '../../../src/cli/io.js';
import { runModelsCommand } from '../../../src/cli/models.js';
import { SHARED_MODELS, WHISPER_BASE_DIR } from '../../helpers/paths.js';
import { startHubServer, type HubServer } from './hub-server.js';

interface Captured {
  readonly io: CliIO;
  stdout(): string;
  stderr(): string;
}

function captureIO(cwd: string, env: Record<string, string> = {}): Captured {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (c: string) => (out += c) },
      stderr: { write: (c: string) => (err += c) },
      env,
      cwd,
      stderrIsTTY: false,
    },
    stdout: () => out,
    stderr: () => err,
  };
}

let tmp: string;
let server: HubServer;
/** Serves a small stand-in for Systran/faster-whisper-base (the CLI never reads model.bin). */
let floatServer: HubServer;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'stt-cli-models-'));
  server = await startHubServer({ 'onnx-community/whisper-base': WHISPER_BASE_DIR });
  const floatRepo = path.join(tmp, 'float-repo');
  await mkdir(floatRepo);
  await writeFile(path.join(floatRepo, 'model.bin'), new Uint8Array(4096).fill(7));
  await writeFile(path.join(floatRepo, 'config.json'), '{}\n');
  floatServer = await startHubServer({ 'Systran/faster-whisper-base': floatRepo });
});
afterAll(async () => {
  await server.close();
  await floatServer.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('stt-engine models', () => {
  it('pull downloads into the cache with one line per file, and list then shows it cached', async () => {
    const cache = path.join(tmp, 'cache');
    const pull = captureIO(tmp);
    const code = await runModelsCommand(['pull', 'base', '--cache', 'cache', '--endpoint', server.url], pull.io);
    expect(pull.stderr()).not.toContain('error');
    expect(code).toBe(EXIT_OK);
    expect(pull.stdout()).toBe(`base (q8): downloaded to the cache: ${path.join(cache, 'whisper-base')}\n`);
    expect(pull.stderr()).toContain('downloaded onnx/decoder_model_merged_quantized.onnx (75.5 MB)\n');
    expect(pull.stderr().trimEnd().split('\n')).toHaveLength(12);

    const again = captureIO(tmp);
    expect(await runModelsCommand(['pull', 'base', '--cache', cache, '--endpoint', server.url], again.io)).toBe(EXIT_OK);
    expect(again.stdout()).toContain('already in the cache');
    expect(again.stderr()).toBe('');

    const list = captureIO(tmp);
    expect(await runModelsCommand(['list', '--cache', cache], list.io)).toBe(EXIT_OK);
    const baseLine = list.stdout().split('\n').find((l) => l.startsWith('base '));
    expect(baseLine).toMatch(/^base\s+onnx-community\/whisper-base\s+q8,fp16,fp32\s+cache \(q8\)\s+not downloaded \(Systran\/faster-whisper-base\)$/);
    expect(list.stdout()).toMatch(/^tiny\s+onnx-community\/whisper-tiny\s+q8,fp16,fp32\s+not downloaded\s+not downloaded \(Systran\/faster-whisper-tiny\)$/m);
  });

  it('pull --float-weights also fetches the float copy, and list shows where it is', async () => {
    const cache = path.join(tmp, 'float-cache');
    const pull = captureIO(tmp, { STT_MODEL_MIRROR: SHARED_MODELS });
    const code = await runModelsCommand(['pull', 'base', '--float-weights', '--cache', cache, '--endpoint', floatServer.url], pull.io);
    expect(pull.stderr()).not.toContain('error');
    expect(code).toBe(EXIT_OK);
    expect(pull.stdout()).toBe(
      `base (q8): already in the mirror: ${WHISPER_BASE_DIR}\n` +
        `base float weights: downloaded to the cache: ${path.join(cache, 'faster-whisper-base')}\n`,
    );
    expect(pull.stderr()).toContain('downloaded model.bin (');
    expect(floatServer.requests.map((r) => r.file)).toContain('model.bin');

    const list = captureIO(tmp);
    expect(await runModelsCommand(['list', '--json', '--dtype', 'q8', '--cache', cache], list.io)).toBe(EXIT_OK);
    const data = JSON.parse(list.stdout()) as { models: { name: string; floatWeights: { repo: string; local: unknown[] } }[] };
    expect(data.models.find((m) => m.name === 'base')?.floatWeights).toEqual({
      repo: 'Systran/faster-whisper-base',
      local: [{ source: 'cache', dir: path.join(cache, 'faster-whisper-base'), complete: true }],
    });
    const text = captureIO(tmp);
    expect(await runModelsCommand(['list', '--cache', cache], text.io)).toBe(EXIT_OK);
    expect(text.stdout()).toMatch(/^base\s+onnx-community\/whisper-base\s+q8,fp16,fp32\s+not downloaded\s+cache$/m);
    expect(text.stdout()).toMatch(/^NAME\s+REPO\s+DTYPES\s+LOCAL\s+FLOAT WEIGHTS$/m);

    const usage = captureIO(tmp);
    expect(await runModelsCommand(['list', '--float-weights'], usage.io)).toBe(EXIT_USAGE);
  });

  it('list --json reports the mirror from STT_MODEL_MIRROR', async () => {
    const c = captureIO(tmp, { STT_MODEL_MIRROR: SHARED_MODELS });
    expect(await runModelsCommand(['list', '--json', '--dtype', 'q8', '--cache', path.join(tmp, 'empty')], c.io)).toBe(
      EXIT_OK,
    );
    const data = JSON.parse(c.stdout()) as { mirror: string; models: { name: string; local: { source: string; dir: string }[] }[] };
    expect(data.mirror).toBe(SHARED_MODELS);
    expect(data.models.map((m) => m.name)).toEqual(['tiny', 'base', 'small', 'medium', 'large-v3', 'large-v3-turbo']);
    expect(data.models.find((m) => m.name === 'base')?.local).toEqual([
      { dtype: 'q8', source: 'mirror', dir: WHISPER_BASE_DIR, complete: true },
    ]);
    expect(data.models.find((m) => m.name === 'small')?.local).toEqual([]);
  });

  it('pull with a mirror that has the model downloads nothing', async () => {
    const before = server.requests.length;
    const c = captureIO(tmp);
    const code = await runModelsCommand(
      ['pull', 'base', '--mirror', SHARED_MODELS, '--cache', path.join(tmp, 'other'), '--endpoint', server.url],
      c.io,
    );
    expect(code).toBe(EXIT_OK);
    expect(c.stdout()).toBe(`base (q8): already in the mirror: ${WHISPER_BASE_DIR}\n`);
    expect(server.requests.length).toBe(before);
  });

  it('prints coded errors and exits 1', async () => {
    const unknown = captureIO(tmp);
    expect(await runModelsCommand(['pull', 'huge'], unknown.io)).toBe(EXIT_FAILURE);
    expect(unknown.stderr()).toMatch(/^error \[STT_MODEL_UNKNOWN\]: unknown model "huge" \(known models: tiny, base/);

    const missing = captureIO(tmp);
    const code = await runModelsCommand(
      ['pull', 'tiny', '--cache', path.join(tmp, 'c404'), '--endpoint', server.url],
      missing.io,
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(missing.stderr()).toContain('error [STT_MODEL_DOWNLOAD]: download of');
    expect(missing.stderr()).toContain('HTTP 404');
  });

  it('answers usage errors with exit 2 and the usage text', async () => {
    const cases: string[][] = [[], ['fetch'], ['pull'], ['pull', 'base', 'tiny'], ['pull', 'base', '--dtype', 'int4'], ['list', '--bogus'], ['list', 'x']];
    for (const argv of cases) {
      const c = captureIO(tmp);
      expect(await runModelsCommand(argv, c.io), argv.join(' ')).toBe(EXIT_USAGE);
      expect(c.stderr()).toContain('Usage: stt-engine models');
      expect(c.stdout()).toBe('');
    }
    const help = captureIO(tmp);
    expect(await runModelsCommand(['--help'], help.io)).toBe(EXIT_OK);
    expect(help.stdout()).toContain('pull <name>');
  });
});
