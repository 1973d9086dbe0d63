/** Audio files and buffers → 16 kHz mono Float32, the input every Whisper path takes. */
import { readFile, stat } from 'node:fs/promises';
import { AudioFileNotFoundError } from '../errors.js';
import { toMono16k } from './resample.js';
import { decodeWav } from './wav.js';

export interface LoadedAudio {
  /** 16 kHz mono, floats in [-1, 1]. */
  readonly samples: Float32Array;
  readonly durationMs: number;
  readonly sourceSampleRate: number;
  readonly sourceChannels: number;
  /** As DecodedAudio.format: 'pcm16', 'float32', 'mulaw'… */
  readonly sourceFormat: string;
}

/** Decodes WAV bytes held in memory; `source` names them in error messages. */
export async function decodeAudioBytes(bytes: Uint8Array, source = '<buffer>'): Promise<LoadedAudio> {
  const decoded = decodeWav(bytes, source);
  const samples = await toMono16k(decoded.channels, decoded.sampleRate);
  return {
    samples,
    // From the source's own length, not the resampled one (which may differ by a sample).
    durationMs: ((decoded.channels[0]?.length ?? 0) * 1000) / decoded.sampleRate,
    sourceSampleRate: decoded.sampleRate,
    sourceChannels: decoded.channels.length,
    sourceFormat: decoded.format,
  };
}

/** Reads a whole audio file; a missing path, a directory or an unreadable file is STT_AUDIO_FILE_NOT_FOUND. */
export async function readAudioFileBytes(path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new AudioFileNotFoundError(`${path}: not a file`, { path });
    return await readFile(path);
  } catch (err) {
    if (err instanceof AudioFileNotFoundError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    throw new AudioFileNotFoundError(`${path}: cannot read the audio file (${code})`, { path, errno: code }, { cause: err });
  }
}

export async function loadAudioFile(path: string): Promise<LoadedAudio> {
  return decodeAudioBytes(await readAudioFileBytes(path), path);
}
