// The loop both Node runners share with faster_whisper_runner.py: read every WAV first (file I/O is
// outside decodeMs for every system), one untimed warm-up decode of the first clip, then each clip timed
// around the whole transcribe call, one JSON line per clip, and a summary with load time and peak RSS.
import { readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readWav16k } from './wav16.mjs';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Version of this repository's package (the engine under test). */
export function engineVersion() {
  return JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')).version;
}

/** Installed version of a dependency (read from disk: some packages do not export ./package.json). */
export function packageVersion(/** @type {string} */ name) {
  return JSON.parse(readFileSync(`${REPO_ROOT}node_modules/${name}/package.json`, 'utf8')).version;
}

/**
 * @typedef {{ id: string, lang: string, path: string }} Clip
 * @typedef {{ name: string, beamSize: number, bestOf: number, temperatures: number[],
 *             withoutTimestamps: boolean, conditionOnPreviousText: boolean, threads: number }} BenchConfig
 * @typedef {{ transcribe: (samples: Float32Array, lang: string) => Promise<string>,
 *             summary: Record<string, unknown> }} LoadedSystem
 */

/** @param {(config: BenchConfig) => Promise<LoadedSystem>} load */
export async function runBenchmark(load) {
  const { values } = parseArgs({
    options: {
      clips: { type: 'string' },
      config: { type: 'string' },
      out: { type: 'string' },
      summary: { type: 'string' },
    },
  });
  for (const key of /** @type {const} */ (['clips', 'config', 'out', 'summary'])) {
    if (values[key] === undefined) throw new Error(`missing --${key}`);
  }
  /** @type {Clip[]} */
  const clips = JSON.parse(readFileSync(/** @type {string} */ (values.clips), 'utf8'));
  /** @type {BenchConfig} */
  const config = JSON.parse(readFileSync(/** @type {string} */ (values.config), 'utf8'));
  if (clips.length === 0) throw new Error('empty clip list');

  const t0 = performance.now();
  const system = await load(config);
  const loadMs = performance.now() - t0;

  const audios = clips.map((clip) => ({ clip, samples: readWav16k(clip.path) }));
  const first = /** @type {{ clip: Clip, samples: Float32Array }} */ (audios[0]);
  const w0 = performance.now();
  await system.transcribe(first.samples, first.clip.lang);
  const warmupMs = performance.now() - w0;

  const fd = openSync(/** @type {string} */ (values.out), 'w');
  try {
    for (const { clip, samples } of audios) {
      const c0 = performance.now();
      const text = await system.transcribe(samples, clip.lang);
      const decodeMs = performance.now() - c0;
      writeSync(fd, `${JSON.stringify({ id: clip.id, text: text.trim(), decodeMs })}\n`);
    }
  } finally {
    closeSync(fd);
  }

  const summary = {
    ...system.summary,
    config: config.name,
    loadMs,
    warmupMs,
    // resourceUsage().maxRSS is getrusage's ru_maxrss in KiB: the same measure as the Python runner's.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    peakRssMethod: 'getrusage(RUSAGE_SELF).ru_maxrss',
  };
  writeFileSync(/** @type {string} */ (values.summary), JSON.stringify(summary, null, 2));
}
