/**
 * The real `wyoming` Python client (PyPI 1.10.2, AsyncTcpClient) against `stt-engine serve
 * --wyoming` run as a process: describe → info, then a French clip in non-streaming and streaming
 * mode; SIGTERM then exits 0. The venv comes from scripts/setup-test-python.sh: skipped when it
 * is missing on a dev machine, a failure under CI=true.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeFrench } from '../../../dist/eval/normalize-fr.js';
import { errorRate, wordErrors } from '../../../dist/eval/wer.js';
import { corpusPath, hasShared, REPO_ROOT, WHISPER_BASE_DIR } from '../../helpers/paths.js';

const PYTHON = path.join(REPO_ROOT, '.work', 'pyenv', 'bin', 'python');
const CLIENT = path.join(REPO_ROOT, 'test', 'e2e', 'wyoming', 'wyoming_client.py');
const CLIP = { file: 'fr/fr_cmd_allume_le_premier_etage_en_vert.wav', text: 'allume le premier étage en vert' };

function hasVenv(): boolean {
  const present = existsSync(PYTHON);
  if (!present && process.env['CI']) throw new Error(`CI=true but ${PYTHON} is missing: run scripts/setup-test-python.sh`);
  return present;
}

interface ClientResult {
  readonly info: { name: string; streaming: boolean; models: string[]; fr: boolean };
  readonly events: string[];
  readonly chunks: string[];
  readonly transcript: string | null;
  readonly total_ms: number;
}

describe.skipIf(!hasShared() || !hasVenv())('serve --wyoming with the real Python wyoming client', () => {
  let server: ChildProcess;
  let port = 0;
  let stderr = '';

  beforeAll(async () => {
    server = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'dist', 'main.js'), 'serve', '--wyoming', 'tcp://127.0.0.1:0', '--model-dir', WHISPER_BASE_DIR, '--beam-size', '1', '--threads', '2'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    port = await new Promise<number>((resolve, reject) => {
      server.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        const m = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/u.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`server exited with ${String(code)} before listening: ${stderr}`)));
    });
  });

  afterAll(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  async function run(mode: 'non-streaming' | 'streaming'): Promise<ClientResult> {
    const { stdout } = await promisify(execFile)(PYTHON, [CLIENT, '127.0.0.1', String(port), corpusPath(CLIP.file), mode, 'fr'], { timeout: 90_000 });
    return JSON.parse(stdout) as ClientResult;
  }

  it.each(['non-streaming', 'streaming'] as const)('transcribes a French clip (%s)', async (mode) => {
    const result = await run(mode);
    expect(result.info).toEqual({ name: 'stt-engine', streaming: true, models: ['base'], fr: true });
    expect(result.transcript).not.toBeNull();
    expect(errorRate(wordErrors(normalizeFrench(CLIP.text), normalizeFrench(result.transcript ?? '')))).toBeLessThanOrEqual(0.34);
    expect(result.events[0]).toBe('transcript-start');
    if (mode === 'streaming') {
      expect(result.events.slice(-2)).toEqual(['transcript', 'transcript-stop']);
      expect(result.chunks.join('').split(' ')).toHaveLength((result.transcript ?? '').split(/\s+/u).length);
    }
    process.stderr.write(`wyoming python ${mode}: total ${result.total_ms} ms\n`);
  });

  it('exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('shutting down');
  });
});
