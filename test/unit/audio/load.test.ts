import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAudioBytes, loadAudioFile } from '../../../src/audio/load.js';
import { SttError } from '../../../src/errors.js';
import { corpusPath, hasShared, SHARED_CORPUS } from '../../helpers/paths.js';
import { buildWav, encodeSamples } from './wav-fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'stt-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function codeOf(fn: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SttError);
    return { code: (err as SttError).code, message: (err as Error).message };
  }
  throw new Error('expected an error');
}

interface ManifestEntry {
  id: string;
  audio: string;
  duration_s: number;
}

describe('loadAudioFile', () => {
  it('reports a missing path and a directory as file-not-found', async () => {
    const missing = path.join(tmp, 'nope.wav');
    expect(await codeOf(() => loadAudioFile(missing))).toEqual({ code: 'STT_AUDIO_FILE_NOT_FOUND', message: expect.stringContaining(missing) });
    expect((await codeOf(() => loadAudioFile(tmp))).code).toBe('STT_AUDIO_FILE_NOT_FOUND');
  });

  it('names the file when its content is bad', async () => {
    const text = path.join(tmp, 'notes.wav');
    writeFileSync(text, 'not audio at all');
    expect(await codeOf(() => loadAudioFile(text))).toEqual({ code: 'STT_AUDIO_NOT_AUDIO', message: expect.stringContaining(text) });
    const good = buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16000, data: encodeSamples([[1, 2, 3, 4]], 'pcm16') });
    const cut = path.join(tmp, 'cut.wav');
    writeFileSync(cut, good.subarray(0, good.length - 3));
    expect((await codeOf(() => loadAudioFile(cut))).code).toBe('STT_AUDIO_TRUNCATED');
  });

  it('loads a 44.1 kHz stereo 24-bit file as 16 kHz mono with its source facts', async () => {
    const rate = 44100;
    const frames = rate; // 1 s
    const left = Array.from({ length: frames }, (_, i) => Math.round(4_000_000 * Math.sin((2 * Math.PI * 500 * i) / rate)));
    const file = path.join(tmp, 'stereo.wav');
    writeFileSync(file, buildWav({ formatCode: 1, bitsPerSample: 24, channels: 2, sampleRate: rate, data: encodeSamples([left, left], 'pcm24') }));
    const audio = await loadAudioFile(file);
    expect(audio.sourceSampleRate).toBe(44100);
    expect(audio.sourceChannels).toBe(2);
    expect(audio.sourceFormat).toBe('pcm24');
    expect(audio.durationMs).toBe(1000);
    expect(Math.abs(audio.samples.length - 16000)).toBeLessThanOrEqual(1);
    const peak = audio.samples.subarray(2000, 14000).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeCloseTo(4_000_000 / 8_388_608, 2);
  });

  it('decodes bytes held in memory the same way', async () => {
    const bytes = buildWav({ formatCode: 3, bitsPerSample: 32, channels: 1, sampleRate: 16000, data: encodeSamples([[0.5, -0.5, 0.25]], 'float32') });
    const audio = await decodeAudioBytes(bytes, 'mem');
    expect(Array.from(audio.samples)).toEqual([0.5, -0.5, 0.25]);
    expect(audio.sourceFormat).toBe('float32');
  });
});

describe.skipIf(!hasShared())('loadAudioFile on the corpus', () => {
  const manifest = readFileSync(path.join(SHARED_CORPUS, 'manifest.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ManifestEntry);

  it('has clips to check', () => expect(manifest.length).toBeGreaterThan(10));

  it('loads every clip with the duration manifest.jsonl gives', async () => {
    for (const entry of manifest) {
      const audio = await loadAudioFile(corpusPath(entry.audio));
      // duration_s has two decimals: within half a hundredth, plus a sample.
      expect(Math.abs(audio.durationMs - entry.duration_s * 1000), entry.id).toBeLessThanOrEqual(5.1);
      expect(audio.samples.length).toBe(Math.round((audio.durationMs * 16000) / 1000));
      expect(audio.sourceSampleRate).toBe(16000);
    }
  });
});
