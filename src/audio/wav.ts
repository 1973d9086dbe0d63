/**
 * WAV (RIFF/WAVE, RIFX) decoding to float channels. The only importer of `wavefile`.
 *
 * The chunk structure is walked here first, because wavefile silently slices whatever bytes exist
 * (a truncated file decodes as a shorter one) and fails with generic messages on a header cut short
 * or a non-WAV file; here each of those gets its coded error. wavefile
 * then parses the `fmt ` chunk and decodes G.711 (A-law / µ-law). Integer PCM and IEEE float samples
 * are unpacked here with a DataView: wavefile derives the sample type from `audioFormat` only, so a
 * WAVE_FORMAT_EXTENSIBLE float file would come back as 32-bit integers, and its generic unpacker is
 * several times slower than a typed loop.
 */
import wavefile from 'wavefile';
import {
  EmptyAudioError,
  NotAudioError,
  TruncatedAudioError,
  UnsupportedAudioFormatError,
} from '../errors.js';
import { checkFinite, checkSampleRate } from './validate.js';

export interface DecodedAudio {
  /** One array per channel, floats in [-1, 1] (float WAVs may hold louder values; kept as they are). */
  readonly channels: Float32Array[];
  readonly sampleRate: number;
  /** 'pcm8', 'pcm16', 'pcm24', 'pcm32' (or 'pcmN' for N valid bits), 'float32', 'float64', 'alaw', 'mulaw'. */
  readonly format: string;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;
/** Streaming writers (ffmpeg to a pipe) leave the data size at this value: "until the end of the file". */
const UNKNOWN_SIZE = 0xffffffff;

interface ChunkSpan {
  readonly start: number;
  readonly size: number;
}

/** The fields of the `fmt ` chunk as wavefile exposes them (its typings say `object`). */
interface FmtChunk {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  validBitsPerSample: number;
  subformat: number[];
}

export function decodeWav(bytes: Uint8Array, source = '<buffer>'): DecodedAudio {
  const { data, bigEndian } = scanChunks(bytes, source);
  const wav = new wavefile.WaveFile();
  try {
    // Samples are only needed from wavefile for G.711; skipping them avoids copying the data chunk.
    wav.fromBuffer(bytes, false);
  } catch (err) {
    throw new NotAudioError(`${source}: not a readable WAV file (${(err as Error).message})`, { source }, { cause: err });
  }
  const fmt = wav.fmt as FmtChunk;
  const formatCode =
    fmt.audioFormat === FORMAT_EXTENSIBLE && fmt.subformat.length > 0 ? (fmt.subformat[0] ?? 0) : fmt.audioFormat;
  const numChannels = fmt.numChannels;
  if (numChannels < 1) {
    throw new UnsupportedAudioFormatError(`${source}: the WAV header declares ${numChannels} channels`, { source });
  }
  checkSampleRate(fmt.sampleRate, source);

  const bits = fmt.bitsPerSample;
  const containerBytes = formatCode === FORMAT_ALAW || formatCode === FORMAT_MULAW ? 1 : Math.ceil(bits / 8);
  const format = formatName(formatCode, bits, fmt.validBitsPerSample, source);
  if (fmt.blockAlign !== containerBytes * numChannels) {
    throw new UnsupportedAudioFormatError(
      `${source}: block align ${fmt.blockAlign} does not match ${numChannels} channel(s) of ${bits} bits`,
      { source, blockAlign: fmt.blockAlign, numChannels, bitsPerSample: bits },
    );
  }
  // A trailing partial frame (fewer bytes than one sample per channel) holds no complete sample.
  const frames = Math.floor(data.size / fmt.blockAlign);
  if (frames === 0) throw new EmptyAudioError(`${source}: the WAV data chunk holds no samples`, { source });

  const channels = Array.from({ length: numChannels }, () => new Float32Array(frames));
  if (format === 'alaw' || format === 'mulaw') {
    decodeG711(wav, bytes, data, frames * numChannels, format, channels);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset + data.start, frames * fmt.blockAlign);
    unpack(view, formatCode === FORMAT_FLOAT, containerBytes, !bigEndian, channels);
    if (formatCode === FORMAT_FLOAT) checkFinite(channels, fmt.sampleRate, source);
  }
  return { channels, sampleRate: fmt.sampleRate, format };
}

/** Validates the RIFF structure and finds the data chunk, so nothing is read past the bytes we hold. */
function scanChunks(bytes: Uint8Array, source: string): { data: ChunkSpan; bigEndian: boolean } {
  const magic = ascii(bytes, 0, 4);
  const isRiff = magic === 'RIFF' || magic === 'RIFX';
  if (bytes.length === 0) throw new EmptyAudioError(`${source}: the file is empty (0 bytes)`, { source });
  if (bytes.length < 12) {
    if ('RIFF'.startsWith(magic) || 'RIFX'.startsWith(magic)) {
      throw new TruncatedAudioError(`${source}: the file ends inside the RIFF header (${bytes.length} bytes)`, {
        source,
        bytes: bytes.length,
      });
    }
    throw new NotAudioError(`${source}: not a WAV file (${bytes.length} bytes, no RIFF header)`, { source });
  }
  if (magic === 'RF64') {
    throw new UnsupportedAudioFormatError(`${source}: RF64 (64-bit RIFF) WAV files are not supported`, { source });
  }
  if (!isRiff || ascii(bytes, 8, 4) !== 'WAVE') {
    throw new NotAudioError(`${source}: not a WAV file (no RIFF/WAVE signature)`, { source });
  }
  const bigEndian = magic === 'RIFX';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: ChunkSpan | null = null;
  let data: ChunkSpan | null = null;
  let offset = 12;
  // The RIFF size field is not trusted (many writers get it wrong); the chunks and the bytes present are.
  while (offset + 8 <= bytes.length && (fmt === null || data === null)) {
    const id = ascii(bytes, offset, 4);
    const size = view.getUint32(offset + 4, !bigEndian);
    const start = offset + 8;
    if (id === 'data' && size === UNKNOWN_SIZE) {
      data = { start, size: bytes.length - start };
      break;
    }
    if (start + size > bytes.length) {
      throw new TruncatedAudioError(
        id === 'data'
          ? `${source}: the WAV header declares ${size} bytes of audio but only ${bytes.length - start} are present`
          : `${source}: the file ends inside the WAV '${id.trim()}' chunk`,
        { source, chunk: id, declaredBytes: size, availableBytes: bytes.length - start },
      );
    }
    if (id === 'fmt ') {
      if (size < 16) throw new NotAudioError(`${source}: WAV fmt chunk too short (${size} bytes)`, { source });
      fmt = { start, size };
    } else if (id === 'data') {
      data = { start, size };
    }
    offset = start + size + (size % 2); // chunks are word-aligned
  }
  if (fmt !== null && data !== null) return { data, bigEndian };
  throw new TruncatedAudioError(
    `${source}: the file ends before the WAV ${fmt === null ? 'fmt' : 'data'} chunk (${bytes.length} bytes)`,
    { source, bytes: bytes.length },
  );
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, Math.min(start + length, bytes.length)));
}

function formatName(formatCode: number, bits: number, validBits: number, source: string): string {
  if (formatCode === FORMAT_PCM && bits >= 8 && bits <= 32) {
    return `pcm${validBits > 0 && validBits < bits ? validBits : bits}`;
  }
  if (formatCode === FORMAT_FLOAT && (bits === 32 || bits === 64)) return `float${bits}`;
  if (formatCode === FORMAT_ALAW && bits === 8) return 'alaw';
  if (formatCode === FORMAT_MULAW && bits === 8) return 'mulaw';
  throw new UnsupportedAudioFormatError(
    `${source}: unsupported WAV encoding (format code ${formatCode}, ${bits} bits per sample); ` +
      'convert it to PCM or float WAV',
    { source, formatCode, bitsPerSample: bits },
  );
}

/**
 * Integer PCM is left-justified in its container (WAVE_FORMAT_EXTENSIBLE 20-in-24 and friends), so
 * scaling by the container's full scale is right whatever the valid bits; 8-bit PCM is unsigned.
 */
function unpack(view: DataView, isFloat: boolean, bytesPer: number, le: boolean, channels: Float32Array[]): void {
  const numChannels = channels.length;
  const frames = channels[0]?.length ?? 0;
  for (let c = 0; c < numChannels; c++) {
    const out = channels[c] as Float32Array;
    let pos = c * bytesPer;
    const step = numChannels * bytesPer;
    if (isFloat && bytesPer === 4) for (let i = 0; i < frames; i++, pos += step) out[i] = view.getFloat32(pos, le);
    else if (isFloat) for (let i = 0; i < frames; i++, pos += step) out[i] = view.getFloat64(pos, le);
    else if (bytesPer === 1) for (let i = 0; i < frames; i++, pos += step) out[i] = (view.getUint8(pos) - 128) / 128;
    else if (bytesPer === 2) for (let i = 0; i < frames; i++, pos += step) out[i] = view.getInt16(pos, le) / 32768;
    else if (bytesPer === 4) for (let i = 0; i < frames; i++, pos += step) out[i] = view.getInt32(pos, le) / 2147483648;
    else {
      for (let i = 0; i < frames; i++, pos += step) {
        const lo = le ? view.getUint16(pos, true) : view.getUint16(pos + 1, false);
        const hi = le ? view.getInt8(pos + 2) : view.getInt8(pos);
        out[i] = (hi * 65536 + lo) / 8388608;
      }
    }
  }
}

function decodeG711(
  wav: InstanceType<typeof wavefile.WaveFile>,
  bytes: Uint8Array,
  data: ChunkSpan,
  count: number,
  format: 'alaw' | 'mulaw',
  channels: Float32Array[],
): void {
  // wavefile decodes from its own copy of the data chunk; give it exactly the whole frames.
  (wav.data as { samples: Uint8Array }).samples = bytes.slice(data.start, data.start + count);
  if (format === 'alaw') wav.fromALaw('16');
  else wav.fromMuLaw('16');
  const interleaved = wav.getSamples(true, Int16Array) as unknown as Int16Array;
  const numChannels = channels.length;
  for (let c = 0; c < numChannels; c++) {
    const out = channels[c] as Float32Array;
    for (let i = 0, j = c; i < out.length; i++, j += numChannels) out[i] = (interleaved[j] ?? 0) / 32768;
  }
}
