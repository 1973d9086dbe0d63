/**
 * Raw interleaved PCM bytes → Float32 samples in [-1, 1], for stdin. Conversions follow the usual
 * conventions (s16 / 32768, u8 centred on 128) so a sox/ffmpeg `-f s16le` pipe sounds as its WAV.
 */
import { InvalidOptionError } from '../../errors.js';
import type { PcmFormat } from './capture.protocol.js';

export function bytesPerSample(format: PcmFormat): number {
  switch (format) {
    case 'u8':
      return 1;
    case 's16le':
      return 2;
    case 's32le':
    case 'f32le':
      return 4;
    default:
      return assertNever(format);
  }
}

/** Decodes `sampleCount` samples from `bytes` (little-endian) into `out` (from index 0). */
export function decodePcm(bytes: Uint8Array, sampleCount: number, format: PcmFormat, out: Float32Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (format) {
    case 'u8':
      for (let i = 0; i < sampleCount; i++) out[i] = ((bytes[i] as number) - 128) / 128;
      return;
    case 's16le':
      for (let i = 0; i < sampleCount; i++) out[i] = view.getInt16(i * 2, true) / 32768;
      return;
    case 's32le':
      for (let i = 0; i < sampleCount; i++) out[i] = view.getInt32(i * 4, true) / 2147483648;
      return;
    case 'f32le':
      for (let i = 0; i < sampleCount; i++) out[i] = view.getFloat32(i * 4, true);
      return;
    default:
      assertNever(format);
  }
}

export function checkPcmFormat(format: string): PcmFormat {
  if (format === 's16le' || format === 's32le' || format === 'f32le' || format === 'u8') return format;
  throw new InvalidOptionError(`unknown PCM format "${format}" (expected s16le, s32le, f32le or u8)`, { format });
}

function assertNever(value: never): never {
  throw new Error(`unknown PCM format ${JSON.stringify(value)}`);
}
