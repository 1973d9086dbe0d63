/**
 * The log-mel frontend against transformers' WhisperFeatureExtractor on real corpus clips
 * (../shared/golden/mel_<id>.f32, float32 LE [80][3000]).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAudioFile } from '../../../src/audio/load.js';
import { logMelSpectrogram, padOrTrimAudio, type MelOptions } from '../../../src/whisper/mel.js';
import { corpusPath, hasShared, SHARED_GOLDEN, WHISPER_BASE_DIR } from '../../helpers/paths.js';

interface GoldenMel {
  id: string;
  audio: string;
  file: string;
  shape: [number, number];
}

describe.skipIf(!hasShared())('logMelSpectrogram vs the reference features', () => {
  const golden = JSON.parse(readFileSync(path.join(SHARED_GOLDEN, 'golden.json'), 'utf8')) as { mel: GoldenMel[] };
  const pre = JSON.parse(readFileSync(path.join(WHISPER_BASE_DIR, 'preprocessor_config.json'), 'utf8')) as {
    feature_size: number;
    n_fft: number;
    hop_length: number;
    sampling_rate: number;
    n_samples: number;
  };
  const options: MelOptions = { nMels: pre.feature_size, nFft: pre.n_fft, hopLength: pre.hop_length, sampleRate: pre.sampling_rate };

  it('has golden clips', () => expect(golden.mel.length).toBeGreaterThan(0));

  it.each(golden.mel.map((g) => [g.id, g] as const))('%s: max |Δ| ≤ 2e-3, mean |Δ| ≤ 1e-4', async (_id, g) => {
    const audio = await loadAudioFile(corpusPath(g.audio));
    const mel = logMelSpectrogram(padOrTrimAudio(audio.samples, pre.n_samples), options);
    expect([mel.nMels, mel.nFrames]).toEqual(g.shape);
    const bytes = readFileSync(path.join(SHARED_GOLDEN, g.file));
    const expected = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(mel.data.length).toBe(expected.length);
    let maxDiff = 0;
    let sumDiff = 0;
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs((mel.data[i] as number) - (expected[i] as number));
      sumDiff += d;
      if (d > maxDiff) maxDiff = d;
    }
    expect(maxDiff).toBeLessThanOrEqual(2e-3);
    expect(sumDiff / expected.length).toBeLessThanOrEqual(1e-4);
  });
});
