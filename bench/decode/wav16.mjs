// Reads the corpus WAVs for the Node runners, exactly as faster_whisper_runner.py does (int16 / 32768 →
// Float32, no resampling), so every system decodes bit-identical samples. The corpus is 16 kHz mono
// 16-bit PCM; anything else is refused rather than converted, since a conversion would differ between
// systems.
import { readFileSync } from 'node:fs';

/** @param {string} path @returns {Float32Array} */
export function readWav16k(path) {
  const buf = readFileSync(path);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${path}: not a RIFF/WAVE file`);
  }
  let fmt = null;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        rateHz: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (fmt === null) throw new Error(`${path}: data chunk before fmt chunk`);
      // 1 = PCM, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (PCM subformat in practice for this corpus).
      if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.channels !== 1 || fmt.rateHz !== 16000 || fmt.bits !== 16) {
        throw new Error(
          `${path}: expected 16 kHz mono 16-bit PCM, got format ${fmt.format}, ${fmt.rateHz} Hz, ${fmt.channels} ch, ${fmt.bits}-bit`,
        );
      }
      const end = Math.min(body + size, buf.length);
      const n = Math.floor((end - body) / 2);
      const samples = new Float32Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(body + 2 * i) / 32768;
      return samples;
    }
    offset = body + size + (size & 1); // chunks are word-aligned
  }
  throw new Error(`${path}: no data chunk`);
}
