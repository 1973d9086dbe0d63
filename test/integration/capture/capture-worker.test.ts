import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioRingReader, createAudioRing } from '../../../dist/shm/index.js';
import { toMono16k } from '../../../src/audio/resample.js';
import { decodeWav } from '../../../src/audio/wav.js';
import { seededRandom } from '../../../src/whisper/random.js';
import { buildWav, encodeSamples } from '../../unit/audio/wav-fixtures.js';
import { corpusPath } from '../../helpers/paths.js';

type Message = { type: string; [k: string]: unknown };

const WORKER_URL = new URL('../../../dist/workers/capture.worker.js', import.meta.url);
const CHILD = fileURLToPath(new URL('./fixtures/capture-child.mjs', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'stt-capture-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a capture in this process's worker thread; returns its messages and the ring's samples. */
async function captureInThread(source: unknown, capacity = 8192): Promise<{ messages: Message[]; audio: Float32Array }> {
  const ring = createAudioRing(capacity);
  const worker = new Worker(WORKER_URL);
  const messages: Message[] = [];
  let onEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (onEnded = resolve));
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: Message) => {
      messages.push(m);
      if (m.type === 'ready') resolve();
      if (m.type === 'ended') onEnded();
    });
    worker.on('error', reject);
  });
  await ready;
  worker.postMessage({ type: 'start', source, output: ring });
  const reader = new AudioRingReader(ring);
  const parts: Float32Array[] = [];
  const into = new Float32Array(1000); // smaller than the ring: exercises backpressure
  for (;;) {
    const outcome = await reader.waitReadable(20_000);
    if (outcome === 'ended') break;
    expect(outcome).toBe('data');
    parts.push(into.slice(0, reader.read(into)));
  }
  await ended;
  worker.postMessage({ type: 'shutdown' });
  await new Promise((resolve) => worker.once('exit', resolve));
  const audio = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    audio.set(p, at);
    at += p.length;
  }
  return { messages, audio };
}

function runChild(
  config: object,
  options: { stdinPath?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ messages: Message[]; audio: Float32Array }> {
  const outPath = path.join(tmp, `out-${Math.random().toString(36).slice(2)}.f32`);
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [CHILD, JSON.stringify({ ...config, outPath })],
      { env: { ...process.env, ...options.env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${err.message}\n${stderr}`));
        const { messages } = JSON.parse(stdout.trim().split('\n').at(-1) as string) as { messages: Message[] };
        const bytes = readFileSync(outPath);
        resolve({ messages, audio: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) });
      },
    );
    if (options.stdinPath) child.stdin?.end(readFileSync(options.stdinPath));
    else child.stdin?.end();
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe('capture worker (real thread, from dist)', () => {
  it('converts a 44.1 kHz stereo WAV to 16 kHz: every sample, in order, the right count', async () => {
    const rand = seededRandom(42);
    const frames = 44_100 * 2 + 123;
    const left = new Float32Array(frames);
    const right = new Float32Array(frames);
    for (let i = 0; i < frames; i++) {
      left[i] = 0.4 * Math.sin((2 * Math.PI * 300 * i) / 44_100) + 0.1 * (rand() - 0.5);
      right[i] = 0.4 * Math.sin((2 * Math.PI * 1700 * i) / 44_100) + 0.1 * (rand() - 0.5);
    }
    const wavPath = path.join(tmp, 'stereo-44k.wav');
    writeFileSync(wavPath, buildWav({ formatCode: 3, bitsPerSample: 32, channels: 2, sampleRate: 44_100, data: encodeSamples([Array.from(left), Array.from(right)], 'float32') }));
    const expected = await toMono16k([left, right], 44_100);

    const { messages, audio } = await captureInThread({ kind: 'file', path: wavPath, realtime: false });
    expect(messages.find((m) => m.type === 'started')).toMatchObject({ sourceSampleRate: 44_100, sourceChannels: 2 });
    expect(Math.abs(audio.length - expected.length)).toBeLessThanOrEqual(1);
    expect(maxAbsDiff(audio, expected, Math.min(audio.length, expected.length) - 1)).toBeLessThan(1e-6);
    expect(messages.at(-1)).toEqual({ type: 'ended', writtenSamples: audio.length, reason: 'end-of-input' });
    const progress = messages.filter((m) => m.type === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(Math.floor(audio.length / 1600));
  });

  it('reports a non-WAV file with its STT_AUDIO_* code, then ended', async () => {
    const bad = path.join(tmp, 'not-a.wav');
    writeFileSync(bad, 'this is not audio at all, just text pretending');
    const { messages, audio } = await captureInThread({ kind: 'file', path: bad, realtime: false });
    expect(audio.length).toBe(0);
    const types = messages.map((m) => m.type);
    expect(types).toEqual(['ready', 'error', 'ended']);
    expect((messages[1] as unknown as { error: { code: string } }).error.code).toBe('STT_AUDIO_NOT_AUDIO');
    expect(messages[2]).toMatchObject({ reason: 'error', writtenSamples: 0 });

    const missing = await captureInThread({ kind: 'file', path: path.join(tmp, 'nope.wav'), realtime: false });
    expect((missing.messages[1] as unknown as { error: { code: string } }).error.code).toBe('STT_AUDIO_FILE_NOT_FOUND');
  });
});

describe('capture worker in a child process', () => {
  it('reads raw s16le stereo 48 kHz from stdin (fd 0)', async () => {
    const frames = 48_000 + 77;
    const pcm = new Int16Array(frames * 2);
    const left = new Float32Array(frames);
    const right = new Float32Array(frames);
    for (let i = 0; i < frames; i++) {
      const l = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48_000));
      const r = Math.round(4000 * Math.sin((2 * Math.PI * 2500 * i) / 48_000));
      pcm[2 * i] = l;
      pcm[2 * i + 1] = r;
      left[i] = l / 32768;
      right[i] = r / 32768;
    }
    const rawPath = path.join(tmp, 'stdin.raw');
    writeFileSync(rawPath, new Uint8Array(pcm.buffer));
    const expected = await toMono16k([left, right], 48_000);
    const { messages, audio } = await runChild(
      { source: { kind: 'stdin', sampleRate: 48_000, channels: 2, format: 's16le' }, capacity: 4096 },
      { stdinPath: rawPath },
    );
    expect(Math.abs(audio.length - expected.length)).toBeLessThanOrEqual(1);
    expect(maxAbsDiff(audio, expected, Math.min(audio.length, expected.length) - 1)).toBeLessThan(1e-6);
    expect(messages.at(-1)).toMatchObject({ type: 'ended', reason: 'end-of-input', writtenSamples: audio.length });
  });

  it('captures from a microphone: an ALSA `file` PCM replaying a corpus clip through PortAudio', async () => {
    const clip = decodeWav(readFileSync(corpusPath('fr/fr_cmd_allume_la_lumiere.wav')));
    expect(clip.sampleRate).toBe(16_000);
    const mono = clip.channels[0] as Float32Array;
    const raw = new Int16Array(mono.length);
    for (let i = 0; i < mono.length; i++) raw[i] = Math.max(-32768, Math.min(32767, Math.round((mono[i] as number) * 32768)));
    const rawPath = path.join(tmp, 'mic-input.raw');
    writeFileSync(rawPath, new Uint8Array(raw.buffer));
    // ALSA_CONFIG_PATH replaces the whole configuration: define the null sink ourselves.
    const conf = path.join(tmp, 'asound.conf');
    writeFileSync(
      conf,
      `pcm.sttnull { type null }
pcm.sttraw { type file slave.pcm "sttnull" file "/dev/null" infile "${rawPath}" format "raw" }
pcm.sttfile {
  type plug
  slave { pcm "sttraw" format S16_LE rate 16000 channels 1 }
  hint { show on description "STT test microphone" }
}
pcm.!default pcm.sttfile
`,
    );
    const { messages, audio } = await runChild(
      { source: { kind: 'microphone', device: 'STTFILE', sampleRate: null, channels: null }, capacity: 160_000, stopAfterSamples: 32_000 },
      { env: { ALSA_CONFIG_PATH: conf } },
    );
    expect(messages.find((m) => m.type === 'started')).toMatchObject({ sourceKind: 'microphone', sourceSampleRate: 16_000 });
    expect(messages.at(-1)).toMatchObject({ type: 'ended', reason: 'stopped' });
    expect(audio.length).toBeGreaterThanOrEqual(32_000);
    // The null slave is not clocked, so the device runs faster than real time: compare the ~2 s
    // captured with the clip by normalised cross-correlation, allowing a small start offset.
    const n = 30_000;
    let best = 0;
    let bestLag = 0;
    for (let lag = 0; lag <= 800; lag++) {
      let xy = 0;
      let xx = 0;
      let yy = 0;
      for (let i = 0; i < n; i++) {
        const x = audio[i + lag] as number;
        const y = mono[i] as number;
        xy += x * y;
        xx += x * x;
        yy += y * y;
      }
      const r = xy / Math.sqrt(xx * yy + 1e-12);
      if (r > best) [best, bestLag] = [r, lag];
    }
    expect(best, `best correlation at lag ${bestLag}`).toBeGreaterThan(0.95);
  });
});
