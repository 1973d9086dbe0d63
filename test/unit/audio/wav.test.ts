import { describe, expect, it } from 'vitest';
import { decodeWav } from '../../../src/audio/wav.js';
import { SttError } from '../../../src/errors.js';
import { aLawToLinear, buildWav, encodeSamples, muLawToLinear } from './wav-fixtures.js';

const SRC = 'clip.wav';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SttError);
    expect((err as Error).message).toContain(SRC);
    return (err as SttError).code;
  }
  throw new Error('expected an error');
}

function expectClose(actual: Float32Array | undefined, expected: readonly number[], tol = 1e-7): void {
  expect(actual).toBeDefined();
  expect(actual?.length).toBe(expected.length);
  expected.forEach((v, i) => expect(Math.abs((actual?.[i] ?? NaN) - v)).toBeLessThanOrEqual(tol));
}

describe('decodeWav: formats', () => {
  it('decodes 8-bit unsigned PCM', () => {
    const wav = buildWav({ formatCode: 1, bitsPerSample: 8, channels: 1, sampleRate: 8000, data: encodeSamples([[-128, 0, 64, 127]], 'pcm8') });
    const out = decodeWav(wav, SRC);
    expect(out.format).toBe('pcm8');
    expect(out.sampleRate).toBe(8000);
    expectClose(out.channels[0], [-1, 0, 0.5, 127 / 128]);
  });

  it('decodes 16-bit PCM, full scale to [-1, 1)', () => {
    const wav = buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16000, data: encodeSamples([[-32768, -16384, 0, 1, 32767]], 'pcm16') });
    const out = decodeWav(wav, SRC);
    expect(out.format).toBe('pcm16');
    expectClose(out.channels[0], [-1, -0.5, 0, 1 / 32768, 32767 / 32768]);
  });

  it('decodes 24-bit PCM including negative values', () => {
    const wav = buildWav({ formatCode: 1, bitsPerSample: 24, channels: 1, sampleRate: 44100, data: encodeSamples([[-8388608, -1, 0, 4194304, 8388607]], 'pcm24') });
    const out = decodeWav(wav, SRC);
    expect(out.format).toBe('pcm24');
    expectClose(out.channels[0], [-1, -1 / 8388608, 0, 0.5, 8388607 / 8388608]);
  });

  it('decodes 32-bit PCM', () => {
    const wav = buildWav({ formatCode: 1, bitsPerSample: 32, channels: 1, sampleRate: 48000, data: encodeSamples([[-2147483648, 1073741824, 2147483647]], 'pcm32') });
    const out = decodeWav(wav, SRC);
    expect(out.format).toBe('pcm32');
    expectClose(out.channels[0], [-1, 0.5, 2147483647 / 2147483648]);
  });

  it('decodes 32- and 64-bit float, keeping values beyond ±1 as they are', () => {
    const values = [-1, -0.25, 0, 0.125, 1.5];
    const f32 = decodeWav(buildWav({ formatCode: 3, bitsPerSample: 32, channels: 1, sampleRate: 16000, data: encodeSamples([values], 'float32') }), SRC);
    expect(f32.format).toBe('float32');
    expectClose(f32.channels[0], values);
    const f64 = decodeWav(buildWav({ formatCode: 3, bitsPerSample: 64, channels: 1, sampleRate: 16000, data: encodeSamples([values], 'float64') }), SRC);
    expect(f64.format).toBe('float64');
    expectClose(f64.channels[0], values);
  });

  it('de-interleaves stereo and many-channel files', () => {
    const left = [100, 200, 300];
    const right = [-100, -200, -300];
    const stereo = decodeWav(buildWav({ formatCode: 1, bitsPerSample: 16, channels: 2, sampleRate: 44100, data: encodeSamples([left, right], 'pcm16') }), SRC);
    expect(stereo.channels).toHaveLength(2);
    expectClose(stereo.channels[0], left.map((v) => v / 32768));
    expectClose(stereo.channels[1], right.map((v) => v / 32768));
    const six = Array.from({ length: 6 }, (_, c) => [c * 1000, -c * 1000]);
    const surround = decodeWav(buildWav({ formatCode: 1, bitsPerSample: 16, channels: 6, sampleRate: 48000, data: encodeSamples(six, 'pcm16') }), SRC);
    expect(surround.channels).toHaveLength(6);
    six.forEach((ch, c) => expectClose(surround.channels[c], ch.map((v) => v / 32768)));
  });

  it('reads WAVE_FORMAT_EXTENSIBLE PCM and float from the subformat', () => {
    const ext24 = decodeWav(buildWav({ formatCode: 1, bitsPerSample: 24, channels: 2, sampleRate: 96000, extensible: true, data: encodeSamples([[4194304], [-4194304]], 'pcm24') }), SRC);
    expect(ext24.format).toBe('pcm24');
    expectClose(ext24.channels[0], [0.5]);
    expectClose(ext24.channels[1], [-0.5]);
    // 20 valid bits in a 24-bit container are left-justified: the container's full scale applies.
    const ext20 = decodeWav(buildWav({ formatCode: 1, bitsPerSample: 24, validBits: 20, channels: 1, sampleRate: 48000, extensible: true, data: encodeSamples([[-8388608, 2097152]], 'pcm24') }), SRC);
    expect(ext20.format).toBe('pcm20');
    expectClose(ext20.channels[0], [-1, 0.25]);
    const extFloat = decodeWav(buildWav({ formatCode: 3, bitsPerSample: 32, channels: 1, sampleRate: 48000, extensible: true, data: encodeSamples([[0.75, -0.5]], 'float32') }), SRC);
    expect(extFloat.format).toBe('float32');
    expectClose(extFloat.channels[0], [0.75, -0.5]);
  });

  it('decodes big-endian RIFX files', () => {
    const out = decodeWav(buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 22050, bigEndian: true, data: encodeSamples([[1234, -5678]], 'pcm16', true) }), SRC);
    expectClose(out.channels[0], [1234 / 32768, -5678 / 32768]);
  });

  it('decodes A-law and µ-law per G.711', () => {
    const codes = [0x00, 0x55, 0xd5, 0x2a, 0xaa, 0x7f, 0x80, 0xff, 0x13];
    const data = Uint8Array.from(codes);
    const alaw = decodeWav(buildWav({ formatCode: 6, bitsPerSample: 8, channels: 1, sampleRate: 8000, data }), SRC);
    expect(alaw.format).toBe('alaw');
    expectClose(alaw.channels[0], codes.map((c) => aLawToLinear(c) / 32768));
    const mulaw = decodeWav(buildWav({ formatCode: 7, bitsPerSample: 8, channels: 1, sampleRate: 8000, data }), SRC);
    expect(mulaw.format).toBe('mulaw');
    expectClose(mulaw.channels[0], codes.map((c) => muLawToLinear(c) / 32768));
  });

  it('skips odd-sized chunks between fmt and data (word alignment)', () => {
    const wav = buildWav({
      formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16000,
      extraChunks: [{ id: 'LIST', body: new Uint8Array([1, 2, 3]) }, { id: 'junk', body: new Uint8Array(10) }],
      data: encodeSamples([[16384]], 'pcm16'),
    });
    expectClose(decodeWav(wav, SRC).channels[0], [0.5]);
  });

  it('accepts a fmt chunk placed after the data chunk', () => {
    const normal = buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16000, data: encodeSamples([[8192, -8192]], 'pcm16') });
    const reordered = new Uint8Array(normal.length);
    reordered.set(normal.subarray(0, 12));
    reordered.set(normal.subarray(36), 12); // data chunk (8 + 4 bytes)
    reordered.set(normal.subarray(12, 36), 12 + normal.length - 36); // fmt chunk
    expectClose(decodeWav(reordered, SRC).channels[0], [0.25, -0.25]);
  });

  it('reads to the end of the file when the data size is the streaming placeholder 0xFFFFFFFF', () => {
    const wav = buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16000, declaredDataSize: 0xffffffff, data: encodeSamples([[1, 2, 3]], 'pcm16') });
    expect(decodeWav(wav, SRC).channels[0]).toHaveLength(3);
  });
});

describe('decodeWav: bad input gets a coded error naming the file', () => {
  const good = buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16000, data: encodeSamples([[1, 2, 3, 4]], 'pcm16') });

  it('rejects text and MP3 bytes as not audio', () => {
    expect(codeOf(() => decodeWav(new TextEncoder().encode('hello, this is a text file\n'), SRC))).toBe('STT_AUDIO_NOT_AUDIO');
    const mp3 = Uint8Array.from([0x49, 0x44, 0x33, 0x04, 0, 0, 0, 0, 0, 0x21, 0xff, 0xfb, 0x90, 0x64]);
    expect(codeOf(() => decodeWav(mp3, SRC))).toBe('STT_AUDIO_NOT_AUDIO');
    expect(codeOf(() => decodeWav(Uint8Array.from([1, 2]), SRC))).toBe('STT_AUDIO_NOT_AUDIO');
  });

  it('reports headers cut short and data shorter than declared as truncated', () => {
    for (const cut of [3, 11, 20, 36, 43]) {
      expect(codeOf(() => decodeWav(good.subarray(0, cut), SRC))).toBe('STT_AUDIO_TRUNCATED');
    }
    expect(codeOf(() => decodeWav(good.subarray(0, good.length - 2), SRC))).toBe('STT_AUDIO_TRUNCATED');
  });

  it('reports an empty data chunk and an empty file as empty', () => {
    const empty = buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: 16000, data: new Uint8Array(0) });
    expect(codeOf(() => decodeWav(empty, SRC))).toBe('STT_AUDIO_EMPTY');
    expect(codeOf(() => decodeWav(new Uint8Array(0), SRC))).toBe('STT_AUDIO_EMPTY');
  });

  it('rejects NaN and infinite float samples', () => {
    const nan = buildWav({ formatCode: 3, bitsPerSample: 32, channels: 1, sampleRate: 16000, data: encodeSamples([[0, NaN]], 'float32') });
    expect(codeOf(() => decodeWav(nan, SRC))).toBe('STT_AUDIO_INVALID_SAMPLES');
    const inf = buildWav({ formatCode: 3, bitsPerSample: 64, channels: 2, sampleRate: 16000, data: encodeSamples([[0], [-Infinity]], 'float64') });
    expect(codeOf(() => decodeWav(inf, SRC))).toBe('STT_AUDIO_INVALID_SAMPLES');
  });

  it('rejects sample rates of 0 and absurd ones', () => {
    for (const rate of [0, 999, 384_001, 4_000_000_000]) {
      const wav = buildWav({ formatCode: 1, bitsPerSample: 16, channels: 1, sampleRate: rate, data: encodeSamples([[1]], 'pcm16') });
      expect(codeOf(() => decodeWav(wav, SRC))).toBe('STT_AUDIO_BAD_SAMPLE_RATE');
    }
  });

  it('rejects codecs and layouts it cannot decode', () => {
    const cases = [
      { formatCode: 2, bitsPerSample: 4, channels: 1 }, // MS-ADPCM
      { formatCode: 0x55, bitsPerSample: 0, channels: 1 }, // MP3 in WAV
      { formatCode: 3, bitsPerSample: 16, channels: 1 }, // half floats
      { formatCode: 1, bitsPerSample: 16, channels: 0 },
    ];
    for (const c of cases) {
      const wav = buildWav({ ...c, sampleRate: 16000, data: new Uint8Array(8) });
      expect(codeOf(() => decodeWav(wav, SRC))).toBe('STT_AUDIO_UNSUPPORTED_FORMAT');
    }
  });
});
