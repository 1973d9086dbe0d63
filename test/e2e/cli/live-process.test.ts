/**
 * `node dist/main.js` (live) as a real child process: raw PCM on stdin, and Ctrl-C (SIGINT) while
 * transcribing a file and while reading a still-open stdin (a live source). Skipped when the shared
 * models are absent.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { normalizeFrench } from '../../../dist/eval/normalize-fr.js';
import { corpusPath, hasShared, REPO_ROOT, WHISPER_BASE_DIR } from '../../helpers/paths.js';

type LiveEvent = Record<string, unknown> & { type: string };

const SESSION = corpusPath('long/long_fr_cmd_session_public.wav');
/** The session file holds 22 commands. */
const SESSION_COMMANDS = 22;
const MODEL_ARGS = ['--model-dir', WHISPER_BASE_DIR, '--beam', '1', '--no-partials', '--jsonl'];

function spawnLive(args: readonly string[], stdin: 'ignore' | 'pipe') {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'main.js'), ...args], {
    cwd: REPO_ROOT,
    // --model-dir only: no mirror, no hub.
    env: { ...process.env, STT_MODEL_MIRROR: '' },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  const { stdout, stderr: errors } = child;
  if (!stdout || !errors) throw new Error('spawn gave no stdout/stderr pipes');
  const lines: string[] = [];
  let tail = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (tail + chunk).split('\n');
    tail = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
    for (const listener of [...listeners]) listener();
  });
  errors.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const waitForType = (type: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!lines.some((l) => l.includes(`"type":"${type}"`))) return;
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      check();
      void exited.then(({ code, signal }) => {
        if (listeners.delete(check)) reject(new Error(`exited (${code ?? signal}) before a ${type} line; stderr: ${stderr.slice(-2000)}`));
      });
    });
  return { child, lines, unterminated: () => tail, stderr: () => stderr, exited, waitForType };
}

/** Every stdout line as JSON; fails on the first that is not. */
function parseLines(lines: readonly string[]): LiveEvent[] {
  return lines.map((l, i) => {
    try {
      return JSON.parse(l) as LiveEvent;
    } catch {
      throw new Error(`stdout line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
    }
  });
}

/** Utterances with a speechStart line but neither a final nor a rejected one. */
function unfinished(events: readonly LiveEvent[]): unknown[] {
  const ended = new Set(events.filter((e) => e.type === 'final' || e.type === 'rejected').map((e) => e['utteranceId']));
  return events.filter((e) => e.type === 'speechStart' && !ended.has(e['utteranceId'])).map((e) => e['utteranceId']);
}

/** The output of an interrupted run: clean JSONL, metrics last, nothing started left without an end. */
function expectCleanEnd(run: ReturnType<typeof spawnLive>): LiveEvent[] {
  expect(run.unterminated()).toBe('');
  const events = parseLines(run.lines);
  expect(events.at(-1)?.type).toBe('metrics');
  const metrics = events.at(-1) as LiveEvent & { utterances: number; finals: number; rejected: number };
  expect(metrics.finals + metrics.rejected).toBe(metrics.utterances);
  expect(events.filter((e) => e.type === 'final').length).toBe(metrics.finals);
  expect(unfinished(events)).toEqual([]);
  expect(events.filter((e) => e.type === 'error')).toEqual([]);
  return events;
}

async function s16le(file: string): Promise<Buffer> {
  const { samples } = await loadAudioFile(file);
  const pcm = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round((samples[i] ?? 0) * 32768))), 2 * i);
  return pcm;
}

describe.skipIf(!hasShared())('stt-engine live as a process', () => {
  it('--stdin: raw s16le 16 kHz piped in comes out as a final with the words', async () => {
    const pcm = await s16le(corpusPath('fr/fr_cmd_allume_la_lumiere.wav'));
    const run = spawnLive(['--stdin', '--rate', '16000', '--format', 's16le', ...MODEL_ARGS], 'pipe');
    run.child.stdin!.end(pcm);
    const { code } = await run.exited;
    expect(code, run.stderr()).toBe(0);
    const events = expectCleanEnd(run);
    const finals = events.filter((e) => e.type === 'final');
    expect(finals.length).toBe(1);
    const words = normalizeFrench(String(finals[0]!['text'])).split(' ');
    expect(words).toEqual(expect.arrayContaining(['allume', normalizeFrench('lumière')]));
  }, 60_000);

  it('SIGINT during --input: exits 0, clean JSONL, every started utterance ended', async () => {
    const run = spawnLive(['--input', SESSION, ...MODEL_ARGS], 'ignore');
    await run.waitForType('final');
    const sentAt = Date.now();
    run.child.kill('SIGINT');
    const { code, signal } = await run.exited;
    expect(signal).toBeNull();
    expect(code, run.stderr()).toBe(0);
    const events = expectCleanEnd(run);
    console.log(
      `[live SIGINT --input] exited ${Date.now() - sentAt} ms after SIGINT with ${events.filter((e) => e.type === 'final').length} finals ` +
        `(of ${SESSION_COMMANDS} commands in the file)`,
    );
  }, 90_000);

  it('SIGINT while stdin is still open (a live source): stops reading, flushes, exits 0', async () => {
    const pcm = await s16le(SESSION);
    const run = spawnLive(['--stdin', '--rate', '16000', '--format', 's16le', ...MODEL_ARGS], 'pipe');
    const stdin = run.child.stdin!;
    // The child closes its end on exit while we may still be writing: EPIPE is expected then.
    stdin.on('error', () => undefined);
    // 100 ms of audio every 25 ms: 4× real time, and the pipe stays open until the child exits.
    const bytesPerTick = 3_200;
    let offset = 0;
    const feeder = setInterval(() => {
      if (offset >= pcm.length || stdin.destroyed) return;
      stdin.write(pcm.subarray(offset, offset + bytesPerTick));
      offset += bytesPerTick;
    }, 25);
    try {
      await run.waitForType('final');
      const sentAt = Date.now();
      run.child.kill('SIGINT');
      const { code, signal } = await run.exited;
      const exitMs = Date.now() - sentAt;
      expect(signal).toBeNull();
      expect(code, run.stderr()).toBe(0);
      const events = expectCleanEnd(run);
      // Interrupted, not run to the end of the audio: the input was still flowing when it exited.
      expect(offset).toBeLessThan(pcm.length);
      expect(events.filter((e) => e.type === 'speechStart').length).toBeLessThan(SESSION_COMMANDS);
      console.log(`[live SIGINT --stdin] exited ${exitMs} ms after SIGINT, ${(offset / 32_000).toFixed(1)} s of audio written`);
    } finally {
      clearInterval(feeder);
      stdin.destroy();
    }
  }, 90_000);
});
