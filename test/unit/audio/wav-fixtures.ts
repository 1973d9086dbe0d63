/**
 * Builds WAV files byte by byte for the decoder tests, independently of the decoder (and of
 * wavefile), so malformed variants (cut headers, lying sizes, odd chunks) are easy to make.
 */

export interface WavSpec {
  /** 1 PCM, 3 float, 6 A-law, 7 µ-law, 2 MS-ADPCM…; with `extensible` it goes into the subformat GUID. */
  readonly formatCode: number;
  readonly bitsPerSample: number;
  readonly channels: number;
  readonly sampleRate: number;
  /** The interleaved sample bytes, already encoded. */
  readonly data: Uint8Array;
  readonly extensible?: boolean;
  readonly validBits?: number;
  readonly bigEndian?: boolean;
  /** Overrides the data chunk's declared size (to lie about it). */
  readonly declaredDataSize?: number;
  /** Extra chunks placed between fmt and data. */
  readonly extraChunks?: readonly { id: string; body: Uint8Array }[];
}

export function buildWav(spec: WavSpec): Uint8Array {
  const le = !spec.bigEndian;
  const containerBytes = Math.ceil(spec.bitsPerSample / 8);
  const fmtSize = spec.extensible ? 40 : 16;
  const extras = (spec.extraChunks ?? []).reduce((n, c) => n + 8 + c.body.length + (c.body.length % 2), 0);
  const total = 12 + 8 + fmtSize + extras + 8 + spec.data.length;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i);
  };
  ascii(0, spec.bigEndian ? 'RIFX' : 'RIFF');
  view.setUint32(4, total - 8, le);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, fmtSize, le);
  view.setUint16(20, spec.extensible ? 0xfffe : spec.formatCode, le);
  view.setUint16(22, spec.channels, le);
  view.setUint32(24, spec.sampleRate, le);
  view.setUint32(28, spec.sampleRate * spec.channels * containerBytes, le);
  view.setUint16(32, spec.channels * containerBytes, le);
  view.setUint16(34, spec.bitsPerSample, le);
  let offset = 36;
  if (spec.extensible) {
    view.setUint16(36, 22, le);
    view.setUint16(38, spec.validBits ?? spec.bitsPerSample, le);
    view.setUint32(40, spec.channels === 2 ? 0x3 : 0x4, le);
    // KSDATAFORMAT_SUBTYPE_*: {000000XX-0000-0010-8000-00AA00389B71}
    view.setUint32(44, spec.formatCode, le);
    bytes.set([0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 48);
    offset = 60;
  }
  for (const chunk of spec.extraChunks ?? []) {
    ascii(offset, chunk.id);
    view.setUint32(offset + 4, chunk.body.length, le);
    bytes.set(chunk.body, offset + 8);
    offset += 8 + chunk.body.length + (chunk.body.length % 2);
  }
  ascii(offset, 'data');
  view.setUint32(offset + 4, spec.declaredDataSize ?? spec.data.length, le);
  bytes.set(spec.data, offset + 8);
  return bytes;
}

/** Interleaves per-channel values and encodes them as integer PCM or IEEE float. */
export function encodeSamples(
  channels: readonly (readonly number[])[],
  kind: 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64',
  bigEndian = false,
): Uint8Array {
  const bytesPer = { pcm8: 1, pcm16: 2, pcm24: 3, pcm32: 4, float32: 4, float64: 8 }[kind];
  const frames = channels[0]?.length ?? 0;
  const out = new Uint8Array(frames * channels.length * bytesPer);
  const view = new DataView(out.buffer);
  const le = !bigEndian;
  let pos = 0;
  for (let i = 0; i < frames; i++) {
    for (const ch of channels) {
      const v = ch[i] ?? 0;
      if (kind === 'pcm8') view.setUint8(pos, v + 128);
      else if (kind === 'pcm16') view.setInt16(pos, v, le);
      else if (kind === 'pcm24') {
        const u = v < 0 ? v + 0x1000000 : v;
        const b = [u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff];
        out.set(le ? b : b.reverse(), pos);
      } else if (kind === 'pcm32') view.setInt32(pos, v, le);
      else if (kind === 'float32') view.setFloat32(pos, v, le);
      else view.setFloat64(pos, v, le);
      pos += bytesPer;
    }
  }
  return out;
}

/** ITU-T G.711 decoders written from the standard, to check the decoder's A-law and µ-law output. */
export function muLawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

export function aLawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}
