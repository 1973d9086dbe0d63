/**
 * Wyoming audio (integer PCM of any rate, width and channel count, cut into chunks at any byte)
 * → the engine's 16 kHz mono Float32, through the project's StreamResampler. A chunk may end
 * inside a frame: the leftover bytes wait for the next chunk.
 */
import { StreamResampler } from '../audio/resample.js';
import { wyomingError } from './codec.js';
import type { AudioFormat, WyomingData } from './protocol.js';

const MAX_CHANNELS = 32;

/** rate / width / channels of an audio-start or audio-chunk; throws 'bad-audio-format'. */
export function parseAudioFormat(data: WyomingData, event: string): AudioFormat {
  const { rate, width, channels } = data;
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1000 || rate > 384_000) {
    throw wyomingError('bad-audio-format', `${event}: rate must be an integer in [1000, 384000] Hz, got ${JSON.stringify(rate)}`);
  }
  if (width !== 1 && width !== 2 && width !== 3 && width !== 4) {
    throw wyomingError('bad-audio-format', `${event}: width must be 1, 2, 3 or 4 bytes, got ${JSON.stringify(width)}`);
  }
  if (typeof channels !== 'number' || !Number.isInteger(channels) || channels < 1 || channels > MAX_CHANNELS) {
    throw wyomingError('bad-audio-format', `${event}: channels must be an integer in [1, ${MAX_CHANNELS}], got ${JSON.stringify(channels)}`);
  }
  return { rate, width, channels };
}

export function sameFormat(a: AudioFormat, b: AudioFormat): boolean {
  return a.rate === b.rate && a.width === b.width && a.channels === b.channels;
}

/** Interleaved little-endian PCM (unsigned for width 1, as WAV and audioop) → Float32 in [-1, 1). */
export function pcmToFloat32(bytes: Buffer, width: number): Float32Array {
  const n = Math.floor(bytes.length / width);
  const out = new Float32Array(n);
  switch (width) {
    case 1:
      for (let i = 0; i < n; i++) out[i] = ((bytes[i] as number) - 128) / 128;
      break;
    case 2:
      for (let i = 0; i < n; i++) out[i] = bytes.readInt16LE(2 * i) / 32768;
      break;
    case 3:
      for (let i = 0; i < n; i++) out[i] = bytes.readIntLE(3 * i, 3) / 8_388_608;
      break;
    case 4:
      for (let i = 0; i < n; i++) out[i] = bytes.readInt32LE(4 * i) / 2_147_483_648;
      break;
    default:
      throw wyomingError('bad-audio-format', `width ${width} is not supported`);
  }
  return out;
}

/** One request's conversion of one audio format to 16 kHz mono. */
export class AudioConverter {
  readonly format: AudioFormat;
  readonly #resampler: StreamResampler;
  readonly #frameBytes: number;
  #leftover: Buffer = Buffer.alloc(0);

  private constructor(format: AudioFormat, resampler: StreamResampler) {
    this.format = format;
    this.#resampler = resampler;
    this.#frameBytes = format.width * format.channels;
  }

  static async create(format: AudioFormat): Promise<AudioConverter> {
    return new AudioConverter(format, await StreamResampler.create({ inputRate: format.rate, channels: format.channels }));
  }

  /** Converts a payload; returns the 16 kHz mono samples now final (a fresh array). */
  push(payload: Buffer): Float32Array {
    const bytes = this.#leftover.length > 0 ? Buffer.concat([this.#leftover, payload]) : payload;
    const whole = bytes.length - (bytes.length % this.#frameBytes);
    this.#leftover = Buffer.from(bytes.subarray(whole));
    if (whole === 0) return new Float32Array(0);
    return this.#resampler.push(pcmToFloat32(bytes.subarray(0, whole), this.format.width)).slice();
  }

  /** End of this format's audio: the resampler's tail (a trailing partial frame is dropped). */
  flush(): Float32Array {
    this.#leftover = Buffer.alloc(0);
    return this.#resampler.flush().slice();
  }

  close(): void {
    this.#resampler.close();
  }
}
