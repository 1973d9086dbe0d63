// The wyoming-bench corpus: the French clips of ../shared/corpus as a folder of <id>.wav + <id>.txt pairs,
// which is the layout `wyoming-bench stt --corpus DIR` reads. The WAVs are rewritten as plain 16-bit PCM
// (rate and channels kept): the venv's Python `wave` module reads only WAVE_FORMAT_PCM, so an extensible or
// float file would be skipped by wyoming-bench instead of benchmarked. The corpus is 16 kHz mono 16-bit
// already; the conversion only matters if the corpus changes.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readRiffWave } from '../decode/wav16.mjs';

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;

/**
 * A RIFF/WAVE file as canonical 16-bit PCM (44-byte header, fmt + data only). Accepts integer PCM of 8, 16,
 * 24 or 32 bits and 32-bit float, plain or WAVE_FORMAT_EXTENSIBLE; anything else is refused.
 * @param {Buffer} buf @param {string} name for error messages
 * @returns {{ wav: Buffer, rateHz: number, channels: number, durationInS: number, converted: boolean }}
 */
export function toPcm16Wav(buf, name) {
  const { fmt, data } = readRiffWave(buf, name);
  return encode(fmt, data, name);
}

/** @param {{ format: number, channels: number, rateHz: number, bits: number }} fmt @param {Buffer} data @param {string} name */
function encode(fmt, data, name) {
  const { format, channels, rateHz, bits } = fmt;
  if (channels < 1 || rateHz < 1) throw new Error(`${name}: ${channels} channels at ${rateHz} Hz`);
  const read = sampleReader(format, bits);
  if (read === null) throw new Error(`${name}: unsupported sample format ${format} with ${bits} bits (expected integer PCM or 32-bit float)`);
  const inBytes = bits / 8;
  const n = Math.floor(data.length / (inBytes * channels)) * channels;
  const out = Buffer.alloc(44 + 2 * n);
  if (format === WAVE_FORMAT_PCM && bits === 16) {
    data.copy(out, 44, 0, 2 * n);
  } else {
    for (let i = 0; i < n; i++) out.writeInt16LE(read(data, i * inBytes), 44 + 2 * i);
  }
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + 2 * n, 4);
  out.write('WAVEfmt ', 8, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(rateHz, 24);
  out.writeUInt32LE(rateHz * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(2 * n, 40);
  return { wav: out, rateHz, channels, durationInS: n / channels / rateHz, converted: !(format === WAVE_FORMAT_PCM && bits === 16) };
}

/** One sample at a byte offset as int16, or null for an unsupported format. */
function sampleReader(format, bits) {
  const clamp = (x) => Math.max(-32768, Math.min(32767, Math.round(x)));
  if (format === WAVE_FORMAT_PCM) {
    if (bits === 8) return (b, o) => (b.readUInt8(o) - 128) << 8; // 8-bit WAV is unsigned
    if (bits === 16) return (b, o) => b.readInt16LE(o);
    if (bits === 24) return (b, o) => b.readIntLE(o, 3) >> 8;
    if (bits === 32) return (b, o) => b.readInt32LE(o) >> 16;
  }
  if (format === WAVE_FORMAT_IEEE_FLOAT && bits === 32) return (b, o) => clamp(b.readFloatLE(o) * 32768);
  return null;
}

/**
 * Writes the pairs into `dir`, and removes any other .wav / .txt there: wyoming-bench benchmarks every pair
 * it finds, so a file left from a bigger selection would silently join the run. Files already identical are
 * not rewritten.
 * @param {string} dir
 * @param {readonly { id: string, path: string, reference: string }[]} clips
 * @returns {{ clips: number, audioInS: number, converted: string[] }}
 */
export function writeCorpus(dir, clips) {
  mkdirSync(dir, { recursive: true });
  const keep = new Set();
  let audioInS = 0;
  const converted = [];
  for (const clip of clips) {
    if (!/^[\w.-]+$/u.test(clip.id)) throw new Error(`clip id '${clip.id}' is not a safe file name`);
    const { wav, durationInS, converted: wasConverted } = toPcm16Wav(readFileSync(clip.path), clip.path);
    audioInS += durationInS;
    if (wasConverted) converted.push(clip.id);
    writeIfChanged(path.join(dir, `${clip.id}.wav`), wav);
    writeIfChanged(path.join(dir, `${clip.id}.txt`), Buffer.from(`${clip.reference.trim()}\n`, 'utf8'));
    keep.add(`${clip.id}.wav`).add(`${clip.id}.txt`);
  }
  for (const name of readdirSync(dir)) {
    if (/\.(wav|txt)$/iu.test(name) && !keep.has(name)) rmSync(path.join(dir, name));
  }
  return { clips: clips.length, audioInS, converted };
}

function writeIfChanged(file, bytes) {
  if (existsSync(file) && readFileSync(file).equals(bytes)) return;
  writeFileSync(file, bytes);
}
