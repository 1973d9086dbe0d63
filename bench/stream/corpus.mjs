// The benchmark's input: the short speech clips of ../shared/corpus (fr/ and en/ folders, manifest
// order), laid end to end with a pause after each one (and one before the first, so the VAD starts
// from silence), as one 16 kHz Float32 stream in memory. Each clip's position in the stream is kept,
// so finals can be matched back to clips by audio position.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { clipsFromManifest, selectClips } from '../decode/report.mjs';
import { readWav16k } from '../decode/wav16.mjs';

export const SAMPLE_RATE = 16_000;

/**
 * @typedef {{ id: string, lang: string, reference: string, path: string, samples: Float32Array }} StreamClip
 * @typedef {{ clipIndex: number, rep: number, id: string, lang: string, reference: string,
 *             startSample: number, endSample: number }} Occurrence
 */

/**
 * The speech clips of one language in manifest order (long/ and noise/ are left out: long files are
 * already streams, and noise has no reference), at most `limit` of them.
 * @param {string} corpusDir @param {string} lang @param {number | null} limit
 * @returns {StreamClip[]}
 */
export function loadClips(corpusDir, lang, limit) {
  const manifest = readFileSync(path.join(corpusDir, 'manifest.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
  const clips = selectClips(clipsFromManifest(manifest, corpusDir), [lang], limit);
  if (clips.length === 0) throw new Error(`no ${lang} clips in ${corpusDir}/manifest.jsonl`);
  return clips.map((c) => ({ id: c.id, lang: c.lang, reference: c.reference, path: c.path, samples: readWav16k(c.path) }));
}

/** mulberry32: a tiny seeded PRNG, so every run streams bit-identical pause noise. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fills `out` with white Gaussian noise of the given RMS level (dBFS); -Infinity gives digital silence.
 * @param {Float32Array} out @param {number} levelDbfs @param {() => number} random
 */
function fillNoise(out, levelDbfs, random) {
  if (levelDbfs === Number.NEGATIVE_INFINITY) return;
  const sigma = 10 ** (levelDbfs / 20);
  for (let i = 0; i < out.length; i += 2) {
    // Box–Muller: two independent normals per pair of uniforms (1 - u keeps log away from 0).
    const r = Math.sqrt(-2 * Math.log(1 - random())) * sigma;
    const theta = 2 * Math.PI * random();
    out[i] = r * Math.cos(theta);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
  }
}

/**
 * pause, clip 1, pause, clip 2, pause, … (`repeat` times over the list), one Float32Array.
 * @param {readonly StreamClip[]} clips
 * @param {{ pauseMs: number, noiseDbfs: number, seed: number, repeat: number }} o
 * @returns {{ samples: Float32Array, occurrences: Occurrence[] }}
 */
export function buildStream(clips, o) {
  const pauseSamples = Math.round((o.pauseMs * SAMPLE_RATE) / 1000);
  const speechSamples = clips.reduce((s, c) => s + c.samples.length, 0);
  const total = o.repeat * (speechSamples + clips.length * pauseSamples) + pauseSamples;
  const samples = new Float32Array(total);
  const random = mulberry32(o.seed);
  /** @type {Occurrence[]} */
  const occurrences = [];
  let at = 0;
  const pause = () => {
    fillNoise(samples.subarray(at, at + pauseSamples), o.noiseDbfs, random);
    at += pauseSamples;
  };
  pause();
  for (let rep = 0; rep < o.repeat; rep++) {
    clips.forEach((clip, clipIndex) => {
      samples.set(clip.samples, at);
      occurrences.push({ clipIndex, rep, id: clip.id, lang: clip.lang, reference: clip.reference, startSample: at, endSample: at + clip.samples.length });
      at += clip.samples.length;
      pause();
    });
  }
  return { samples, occurrences };
}
