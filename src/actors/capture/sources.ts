/**
 * The file, stdin and push sources. Each converts nothing itself (the actor's StreamResampler does):
 * it only delivers frames at the source's own rate and channel count.
 */
import { read as fsRead } from 'node:fs';
import { readAudioFileBytes } from '../../audio/load.js';
import { WHISPER_SAMPLE_RATE } from '../../audio/resample.js';
import { checkSampleRate } from '../../audio/validate.js';
import { decodeWav } from '../../audio/wav.js';
import { EmptyAudioError, InvalidOptionError, TruncatedAudioError } from '../../errors.js';
import { AudioRingReader } from '../../shm/audio-ring.js';
import type { AudioRingShared } from '../../shm/audio-ring.js';
import type { PcmFormat } from './capture.protocol.js';
import { bytesPerSample, checkPcmFormat, decodePcm } from './pcm.js';
import type { OpenedSource, SourceChunk } from './source.js';

/** Chunk length handed to the resampler: small enough for low latency, large enough to be cheap. */
export const CHUNK_MS = 20;

export async function openWavFile(path: string, realtime: boolean): Promise<OpenedSource> {
  const decoded = decodeWav(await readAudioFileBytes(path), path);
  const length = decoded.channels[0]?.length ?? 0;
  if (length === 0) throw new EmptyAudioError(`${path}: the WAV file holds no samples`, { path });
  const chunkFrames = Math.max(1, Math.round((decoded.sampleRate * CHUNK_MS) / 1000));
  let at = 0;
  return {
    description: `file ${path} (${decoded.format}, ${decoded.sampleRate} Hz, ${decoded.channels.length} ch)`,
    sampleRate: decoded.sampleRate,
    channels: decoded.channels.length,
    live: false,
    realtime,
    read(): Promise<SourceChunk | null> {
      if (at >= length) return Promise.resolve(null);
      const end = Math.min(length, at + chunkFrames);
      // Planar views into the decoded file: nothing is copied until the resampler downmixes.
      const samples = decoded.channels.map((ch) => ch.subarray(at, end));
      const frames = end - at;
      at = end;
      return Promise.resolve({ samples, layout: 'planar', frames });
    },
    resumeAt(writtenSamples: number): number {
      // The frame the ring's 16 kHz position stands for: nothing lost, nothing read twice (to within
      // the resampler's few samples of delay).
      at = Math.min(length, Math.round((writtenSamples * decoded.sampleRate) / WHISPER_SAMPLE_RATE));
      return 0;
    },
    close: () => Promise.resolve(),
  };
}

export interface StdinOptions {
  readonly sampleRate: number;
  readonly channels: number;
  readonly format: PcmFormat;
  /** The descriptor to read (0 in the worker; tests may pass a pipe or file). */
  readonly fd?: number;
}

/** How long to wait before retrying a non-blocking stdin that had nothing (EAGAIN). */
const EAGAIN_RETRY_MS = 10;

/** Raw PCM from fd 0, read with fs.read (a worker has no process.stdin stream of its own). */
export function openRawStdin(options: StdinOptions): OpenedSource {
  const format = checkPcmFormat(options.format);
  checkSampleRate(options.sampleRate, 'stdin');
  if (!Number.isInteger(options.channels) || options.channels < 1 || options.channels > 64) {
    throw new InvalidOptionError(`stdin: ${options.channels} channels is not an integer in [1, 64]`, {
      channels: options.channels,
    });
  }
  const fd = options.fd ?? 0;
  const sampleBytes = bytesPerSample(format);
  const frameBytes = sampleBytes * options.channels;
  const chunkFrames = Math.max(1, Math.round((options.sampleRate * CHUNK_MS) / 1000));
  const bytes = new Uint8Array(chunkFrames * frameBytes);
  const floats = new Float32Array(chunkFrames * options.channels);
  // Bytes of an incomplete frame left at the front of `bytes` by the previous read.
  let carried = 0;
  let totalBytes = 0;

  const readSome = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const attempt = (): void => {
        fsRead(fd, bytes, carried, bytes.length - carried, null, (err, n) => {
          if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
            setTimeout(attempt, EAGAIN_RETRY_MS);
            return;
          }
          if (err && (err as NodeJS.ErrnoException).code === 'EOF') resolve(0);
          else if (err) reject(err);
          else resolve(n);
        });
      };
      attempt();
    });

  return {
    description: `stdin (${format}, ${options.sampleRate} Hz, ${options.channels} ch)`,
    sampleRate: options.sampleRate,
    channels: options.channels,
    live: false,
    realtime: false,
    async read(): Promise<SourceChunk | null> {
      for (;;) {
        const n = await readSome();
        if (n === 0) {
          if (carried > 0) {
            throw new TruncatedAudioError(
              `stdin ended inside a frame: ${carried} trailing byte(s) of a ${frameBytes}-byte frame after ${totalBytes} bytes`,
              { trailingBytes: carried, frameBytes, totalBytes },
            );
          }
          return null;
        }
        totalBytes += n;
        const have = carried + n;
        const frames = Math.floor(have / frameBytes);
        if (frames === 0) {
          carried = have;
          continue;
        }
        decodePcm(bytes, frames * options.channels, format, floats);
        carried = have - frames * frameBytes;
        bytes.copyWithin(0, frames * frameBytes, have);
        return { samples: floats.subarray(0, frames * options.channels), layout: 'interleaved', frames };
      }
    },
    close: () => Promise.resolve(),
  };
}

/** How long one wait on the push ring lasts before re-checking (only bounds a lost wake-up). */
const PUSH_WAIT_MS = 1000;

/** Float32 interleaved frames the main thread writes into a ring (engine.pushAudio). */
export function openPushRing(ring: AudioRingShared, sampleRate: number, channels: number): OpenedSource {
  checkSampleRate(sampleRate, 'pushed audio');
  if (!Number.isInteger(channels) || channels < 1 || channels > 64) {
    throw new InvalidOptionError(`pushed audio: ${channels} channels is not an integer in [1, 64]`, { channels });
  }
  const reader = new AudioRingReader(ring);
  const buffer = new Float32Array(Math.max(channels, Math.round((sampleRate * CHUNK_MS) / 1000) * channels));
  // What read() hands out: reused, as the contract allows (valid until the next read). A fresh array
  // per 20 ms chunk outlived young-generation collections while it waited for ring space, and the
  // worker's old generation grew by the audio rate until a full GC (RSS +0.15 MB/s in bench:stream).
  const chunkOut = new Float32Array(buffer.length);
  // Samples of an incomplete frame kept at the front of `buffer` (the ring does not know frames).
  let carried = 0;
  // After a crash: the rest of a frame the dead worker had half read, dropped to realign channels.
  let misaligned = 0;
  return {
    description: `pushed audio (${sampleRate} Hz, ${channels} ch)`,
    sampleRate,
    channels,
    live: false,
    realtime: false,
    async read(): Promise<SourceChunk | null> {
      for (;;) {
        const outcome = await reader.waitReadable(PUSH_WAIT_MS);
        if (outcome === 'timed-out') continue;
        if (outcome === 'ended') {
          if (carried > 0) {
            throw new TruncatedAudioError(`pushed audio ended inside a frame (${carried} of ${channels} samples)`, {
              trailingSamples: carried,
              channels,
            });
          }
          return null;
        }
        let n = reader.read(buffer.subarray(carried));
        if (misaligned > 0) {
          const drop = Math.min(misaligned, n);
          buffer.copyWithin(carried, carried + drop, carried + n);
          n -= drop;
          misaligned -= drop;
        }
        const have = carried + n;
        const frames = Math.floor(have / channels);
        if (frames === 0) {
          carried = have;
          continue;
        }
        const used = frames * channels;
        // Copy out before compacting: the chunk must stay intact until the caller's next read().
        chunkOut.set(buffer.subarray(0, used));
        carried = have - used;
        buffer.copyWithin(0, used, have);
        return { samples: chunkOut.subarray(0, used), layout: 'interleaved', frames };
      }
    },
    resumeAt(writtenSamples: number): number {
      // The ring counts what its reader took: what the dead worker took but never wrote is lost.
      const consumed = reader.stats().readSamples;
      misaligned = (channels - (consumed % channels)) % channels;
      const frames = Math.ceil(consumed / channels);
      return Math.max(0, Math.round((frames * WHISPER_SAMPLE_RATE) / sampleRate) - writtenSamples);
    },
    close: () => Promise.resolve(),
  };
}
