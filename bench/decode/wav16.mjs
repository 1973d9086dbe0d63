// Reads the corpus WAVs for the Node runners, exactly as faster_whisper_runner.py does (int16 / 32768 →
// Float32, no resampling), so every system decodes bit-identical samples. The corpus is 16 kHz mono
// 16-bit PCM; anything else is refused rather than converted, since a conversion would differ between
// systems.
import { readFileSync } from 'node:fs';

/**
 * The fmt and data chunks of a RIFF/WAVE buffer. A WAVE_FORMAT_EXTENSIBLE format is resolved to the
 * plain code its sub-format GUID starts with. `data` stops at the buffer's end if the header claims more.
 * @param {Buffer} buf @param {string} name for error messages
 * @returns {{ fmt: { format: number, channels: number, rateHz: number, bits: number }, data: Buffer }}
 */
export function readRiffWave(buf, name) {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${name}: not a RIFF/WAVE file`);
  }
  let fmt = null;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      let format = buf.readUInt16LE(body);
      if (format === 0xfffe && size >= 26) format = buf.readUInt16LE(body + 24);
      fmt = { format, channels: buf.readUInt16LE(body + 2), rateHz: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (fmt === null) throw new Error(`${name}: data chunk before fmt chunk`);
      return { fmt, data: buf.subarray(body, Math.min(body + size, buf.length)) };
    }
    offset = body + size + (size & 1); // chunks are word-aligned
  }
  throw new Error(`${name}: no data chunk`);
}

/** @param {string} path @returns {Float32Array} */
export function readWav16k(path) {
  const { fmt, data } = readRiffWave(readFileSync(path), path);
  if (fmt.format !== 1 || fmt.channels !== 1 || fmt.rateHz !== 16000 || fmt.bits !== 16) {
    throw new Error(`${path}: expected 16 kHz mono 16-bit PCM, got format ${fmt.format}, ${fmt.rateHz} Hz, ${fmt.channels} ch, ${fmt.bits}-bit`);
  }
  const n = Math.floor(data.length / 2);
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) samples[i] = data.readInt16LE(2 * i) / 32768;
  return samples;
}
