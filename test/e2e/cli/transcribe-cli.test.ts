import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTimestamp, runTranscribeCommand } from '../../../src/cli/transcribe.js';
import type { CliIO } from '../../../src/cli/io.js';
import { corpusPath, WHISPER_BASE_DIR } from '../../helpers/paths.js';

interface Captured {
  readonly io: CliIO;
  stdout(): string;
  stderr(): string;
}

function captureIO(env: Record<string, string | undefined> = {}): Captured {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (chunk: string) => (out += chunk) },
      stderr: { write: (chunk: string) => (err += chunk) },
      env,
      cwd: process.cwd(),
      stderrIsTTY: false,
    },
    stdout: () => out,
    stderr: () => err,
  };
}

async function run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = captureIO();
  const code = await runTranscribeCommand(argv, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** A RIFF/WAVE header for 16 kHz mono PCM16 whose data chunk announces `dataBytes`. */
function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(16_000, 24);
  h.writeUInt32LE(32_000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

const FR = corpusPath('fr/fr_cmd_eteins_la_lumiere.wav');
const EN = corpusPath('en/en_cmd_what_time_is_it.wav');
const MODEL = ['--model-dir', WHISPER_BASE_DIR, '--beam', '1'];

describe('stt-engine transcribe', () => {
  let dir: string;
  let bad: { missing: string; text: string; truncated: string; empty: string };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stt-cli-'));
    const real = readFileSync(FR);
    bad = {
      missing: path.join(dir, 'missing.wav'),
      text: path.join(dir, 'notes.wav'),
      truncated: path.join(dir, 'truncated.wav'),
      empty: path.join(dir, 'empty.wav'),
    };
    writeFileSync(bad.text, 'allume la lumière, ceci est un fichier texte\n'.repeat(20));
    writeFileSync(bad.truncated, real.subarray(0, Math.floor(real.length * 0.6)));
    writeFileSync(bad.empty, wavHeader(0));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints one JSON line per file and reports each bad file with its code', async () => {
    const r = await run([FR, bad.missing, bad.text, bad.truncated, bad.empty, EN, '--json', '--language', 'auto', ...MODEL]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const [fr, en] = lines.map(
      (l) =>
        JSON.parse(l) as {
          file: string;
          text: string;
          language: string;
          languageProbability: number;
          durationMs: number;
          segments: { id: number; startMs: number; endMs: number; text: string; compressionRatio: number }[];
          timings: { totalMs: number };
        },
    );
    expect(fr?.file).toBe(FR);
    expect(fr?.language).toBe('fr');
    expect(fr?.text.toLowerCase()).toContain('lumière');
    expect(fr?.segments[0]).toMatchObject({ id: 0, startMs: 0 });
    expect(fr?.segments[0]?.compressionRatio).toBeGreaterThan(0);
    expect(fr?.timings.totalMs).toBeGreaterThan(0);
    expect(en?.file).toBe(EN);
    expect(en?.text.toLowerCase()).toContain('time');

    const errors = r.stderr.trim().split('\n');
    expect(errors).toEqual([
      expect.stringMatching(new RegExp(`^error \\[STT_AUDIO_FILE_NOT_FOUND\\]: ${bad.missing}: .+`)),
      expect.stringMatching(new RegExp(`^error \\[STT_AUDIO_NOT_AUDIO\\]: ${bad.text}: .+`)),
      expect.stringMatching(new RegExp(`^error \\[STT_AUDIO_TRUNCATED\\]: ${bad.truncated}: .+`)),
      expect.stringMatching(new RegExp(`^error \\[STT_AUDIO_EMPTY\\]: ${bad.empty}: .+`)),
    ]);
  });

  it('prints timestamped lines, with a header per file when there are several', async () => {
    const r = await run([FR, EN, '--language', 'fr', ...MODEL]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout.split('\n');
    expect(out[0]).toBe(`==> ${FR} <==`);
    expect(out[1]).toMatch(/^\[00:00\.000 --> 00:0\d\.\d{3}\] \S/);
    expect(out).toContain(`==> ${EN} <==`);
  });

  it('prints plain text with --no-timestamps and a single temperature', async () => {
    const r = await run([FR, '--no-timestamps', '--temperature', '0', '--language', 'fr', ...MODEL]);
    expect(r.code).toBe(0);
    expect(r.stdout.toLowerCase()).toMatch(/^[^\n[]*lumière[^\n]*\n$/);
  });

  it.each([
    [['--model', 'gigantic', FR], 'STT_MODEL_UNKNOWN'],
    [['--model-dir', WHISPER_BASE_DIR, '--device', 'gpu', FR], 'STT_DEVICE_UNKNOWN'],
    [['--model-dir', path.join(tmpdir(), 'no-such-model-dir-xyz'), FR], 'STT_MODEL_NOT_FOUND'],
    [['--model-dir', WHISPER_BASE_DIR, '--device', 'cuda:7', '--strict-device', FR], 'STT_DEVICE_UNAVAILABLE'],
  ])('fails with a coded error before any file: %j', async (argv, code) => {
    const r = await run(argv);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error \\[${code}\\]: .+\\n$`));
  });

  it('warns and falls back to the CPU when the device cannot be used', async () => {
    const r = await run([FR, '--device', 'cuda:7', '--language', 'fr', '--no-timestamps', ...MODEL]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning \[STT_WARN_DEVICE_FALLBACK\]: .+\n$/);
    expect(r.stdout.toLowerCase()).toContain('lumière');
  });

  it('rejects an unknown language once, as a usage error', async () => {
    const r = await run([FR, '--language', 'klingon', ...MODEL]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown language');
    expect(r.stdout).toBe('');
  });

  it.each([
    [['--frobnicate', FR]],
    [[]],
    [['--beam', '0', FR]],
    [['--beam', 'five', FR]],
    [['--threads', '1.5', FR]],
    [['--temperature=-1', FR]],
    [['--temperature', '-1', FR]],
    [['--dtype', 'int4', FR]],
  ])('exits 2 with a usage hint for %j', async (argv) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: [^\n]+\n(?:[^\n]*\n)*Run `stt-engine transcribe --help` for the options\.\n$/);
  });

  it('prints its help on stdout', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: stt-engine transcribe');
    expect(r.stdout).toContain('--no-timestamps');
  });
});

describe('formatTimestamp', () => {
  it('formats minutes, seconds and milliseconds, and hours when needed', () => {
    expect(formatTimestamp(0)).toBe('00:00.000');
    expect(formatTimestamp(62_500)).toBe('01:02.500');
    expect(formatTimestamp(3_723_004)).toBe('1:02:03.004');
  });
});
