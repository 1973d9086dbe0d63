// Wyoming benchmark orchestrator (`npm run bench:wyoming`, which builds dist/ first).
//
// wyoming-faster-whisper (the peer: CTranslate2 int8 on the same whisper-base weights) and this engine's
// `serve --wyoming` are each started as a subprocess on a free port, with the same settings (French, beam 5,
// 2 threads), and measured one after the other by the unmodified `wyoming-bench stt` on the French clips of
// ../shared/corpus. See bench/wyoming/README.md for the method.
//
// Flags:
//   --clips N            only the first N French clips (quick check; written to bench/.work/results)
//   --only ours|peer     one server only (also a quick check: no target comparison)
//   --rounds N           timed rounds per clip per mode (default 3, wyoming-bench's default)
//   --realtime-rounds N  rounds of the extra streaming pass paced at real time (default 1; 0 = skip it)
//   --interleave N       then N rounds with both servers up, one non-streaming pass each per round, the first
//                        server alternating (default 4; 0 = skip; both servers only): a ratio that this
//                        machine's drift over minutes does not move (interleave.mjs)
//   --beam-narrow-after MS|off  passed to ours (serve --beam-narrow-after; default: the engine's)
//   --no-drafts          passed to ours (serve --no-drafts: decodes do not check a request's latest decode)
//   --skip-setup         do not (re)run setup.sh
//   --out DIR            where the result files go (default bench/results for a full run)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { clipsFromManifest, selectClips } from '../decode/report.mjs';
import { writeCorpus } from './corpus.mjs';
import { parseBenchOutput } from './parse.mjs';
import { checkTargets, renderMarkdown, summarize, TOTAL_RATIO_TARGET } from './report.mjs';
import { interleaveOrder, renderInterleaved, summarizeInterleaved } from './interleave.mjs';
import { freePort, killOnExit, startServer, stopServer } from './servers.mjs';
import { describeMachine, machineInfo } from '../machine.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '../..');
const SHARED_DIR = path.resolve(process.env['STT_SHARED_DIR'] ?? path.join(REPO_ROOT, '..', 'shared'));
const CORPUS_DIR = path.join(SHARED_DIR, 'corpus');
const WORK_DIR = path.join(REPO_ROOT, 'bench', '.work');
const VENV_BIN = path.join(WORK_DIR, 'wyoming-venv', 'bin');
const CT2_MODEL_DIR = path.join(WORK_DIR, 'ct2-whisper-base');
const HOST = '127.0.0.1';
const LANGUAGE = 'fr';
const BEAM_SIZE = 5;
const THREADS = 2;
// wyoming-bench's defaults, written out so the settings are on record and the real-time pace matches them.
const CHUNK_SAMPLES = 1024;
const RATE_HZ = 16000;
const START_TIMEOUT_MS = 180_000;
const NAMES = { peer: 'wyoming-faster-whisper', ours: 'ours (serve --wyoming)' };

function usage(message) {
  process.stderr.write(`bench:wyoming: ${message}\n`);
  process.exit(2);
}

function parseFlags() {
  let v;
  try {
    v = parseArgs({
      options: {
        clips: { type: 'string' },
        only: { type: 'string' },
        rounds: { type: 'string', default: '3' },
        'realtime-rounds': { type: 'string', default: '1' },
        interleave: { type: 'string', default: '4' },
        'skip-setup': { type: 'boolean', default: false },
        'beam-narrow-after': { type: 'string' },
        'no-drafts': { type: 'boolean', default: false },
        out: { type: 'string' },
      },
    }).values;
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
  const int = (name, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer ≥ ${min}, got '${value}'`);
    return n;
  };
  const clips = v.clips === undefined ? null : int('clips', v.clips, 1);
  if (v.only !== undefined && v.only !== 'ours' && v.only !== 'peer') usage(`--only must be ours or peer, got '${v.only}'`);
  const systems = v.only === undefined ? ['peer', 'ours'] : [v.only];
  const full = clips === null && systems.length === 2;
  const outDir = path.resolve(v.out ?? (full ? path.join(REPO_ROOT, 'bench', 'results') : path.join(WORK_DIR, 'results')));
  return {
    clips,
    systems,
    rounds: int('rounds', v.rounds, 1),
    realtimeRounds: int('realtime-rounds', v['realtime-rounds'], 0),
    interleave: systems.length === 2 ? int('interleave', v.interleave, 0) : 0,
    skipSetup: v['skip-setup'],
    /** Extra flags of ours: `serve` checks the value itself. */
    oursArgs: [...(v['beam-narrow-after'] === undefined ? [] : ['--beam-narrow-after', v['beam-narrow-after']]), ...(v['no-drafts'] ? ['--no-drafts'] : [])],
    outDir,
    full,
  };
}

function runProcess(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args[0] ?? ''} exited with ${signal ?? code}`))));
  });
}

/** Runs wyoming-bench, echoing its output (progress) to stderr; resolves with stdout and the exit code. */
function runBench(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(VENV_BIN, 'wyoming-bench'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (t) => {
      stdout += t;
      process.stderr.write(t);
    });
    child.stderr.setEncoding('utf8').on('data', (t) => process.stderr.write(t));
    child.on('error', reject);
    // wyoming-bench exits 1 when nothing was measured, e.g. a pass whose only mode the server does not
    // support: the parsed report says what happened, so the code is recorded rather than thrown.
    child.on('exit', (code, signal) => resolve({ stdout, exitCode: signal ?? code }));
  });
}

function gitRevision() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return null;
  }
}

function pythonVersion() {
  try {
    return execFileSync(path.join(VENV_BIN, 'python'), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** The command line of each server, identical settings on both sides. */
function serverSpec(system, port, logLine) {
  const env = { ...process.env, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) };
  if (system === 'peer') {
    return {
      name: NAMES.peer,
      cmd: path.join(VENV_BIN, 'wyoming-faster-whisper'),
      // --data-dir is required by its CLI; with --model a directory and --local-files-only nothing is read there.
      args: [
        '--uri', `tcp://${HOST}:${port}`, '--model', CT2_MODEL_DIR, '--data-dir', path.join(WORK_DIR, 'wyoming-data'),
        '--local-files-only', '--compute-type', 'int8', '--beam-size', String(BEAM_SIZE), '--cpu-threads', String(THREADS),
        '--language', LANGUAGE,
      ],
      env,
      host: HOST,
      port,
      startTimeoutMs: START_TIMEOUT_MS,
      logLine,
    };
  }
  return {
    name: NAMES.ours,
    cmd: process.execPath,
    args: [
      path.join(REPO_ROOT, 'dist', 'main.js'), 'serve', '--wyoming', `tcp://${HOST}:0`, '--language', LANGUAGE,
      '--beam-size', String(BEAM_SIZE), '--threads', String(THREADS), '--model', 'base',
      // The peer's own CTranslate2 file as float weights: int8 weights requantised per channel, as it quantises them.
      '--float-weights', CT2_MODEL_DIR,
      ...oursArgs,
    ],
    env: { ...env, STT_MODEL_MIRROR: process.env['STT_MODEL_MIRROR'] ?? path.join(SHARED_DIR, 'models') },
    host: HOST,
    portFromLine: (line) => {
      const m = /listening on tcp:\/\/[^\s:]+:(\d+)/u.exec(line);
      return m ? Number(m[1]) : null;
    },
    startTimeoutMs: START_TIMEOUT_MS,
    logLine,
  };
}

/** What a server says about its ASR programs, minus the 100-language lists. */
function asrInfo(info) {
  const programs = Array.isArray(info['asr']) ? info['asr'] : [];
  return programs.map((p) => ({
    name: p.name,
    version: p.version ?? null,
    supportsTranscriptStreaming: p.supports_transcript_streaming ?? null,
    models: (p.models ?? []).map((m) => ({ name: m.name, version: m.version ?? null, languages: (m.languages ?? []).length })),
  }));
}

/**
 * One `wyoming-bench stt` pass against the server on `port` (`passArgs`: mode and rounds): its stdout is kept
 * in `outFile`, and its report for that server parsed; a pass that printed none stops the run.
 */
async function benchPass(port, corpusDir, passArgs, outFile) {
  const args = ['stt', `${HOST}:${port}`, '--corpus', corpusDir, '--config', JSON.stringify({ language: LANGUAGE }),
    '--chunk-samples', String(CHUNK_SAMPLES), '-v', ...passArgs];
  const started = performance.now();
  const { stdout, exitCode } = await runBench(args);
  writeFileSync(outFile, stdout);
  const parsed = parseBenchOutput(stdout);
  const output = parsed.servers.find((s) => s.label.startsWith(`${HOST}:${port}`)) ?? null;
  if (output === null) throw new Error(`wyoming-bench printed no report for ${HOST}:${port} (exit ${exitCode}); see ${outFile}`);
  return { args, exitCode, wallMs: performance.now() - started, benchVersion: parsed.version, corpus: parsed.corpus, output };
}

/**
 * Both servers up at once, then `flags.interleave` rounds of one non-streaming pass each (wyoming-bench
 * `--rounds 1`, its own warm-up request first), the first server alternating (interleave.mjs). An idle server
 * holds memory, not the cores: neither one works while the other is measured.
 */
async function benchInterleaved(flags, corpusDir, runDir) {
  const logs = { peer: [], ours: [] };
  const up = {};
  const passes = [];
  try {
    for (const system of ['peer', 'ours']) {
      const port = system === 'peer' ? await freePort() : undefined;
      up[system] = await startServer(serverSpec(system, port, (line) => logs[system].push(line)));
    }
    process.stderr.write(`bench:wyoming: interleaved rounds, peer on ${up.peer.port}, ours on ${up.ours.port}\n`);
    for (let round = 0; round < flags.interleave; round++) {
      for (const system of interleaveOrder(round)) {
        process.stderr.write(`bench:wyoming: interleaved round ${round + 1}/${flags.interleave}, ${NAMES[system]}\n`);
        const pass = await benchPass(up[system].port, corpusDir, ['--mode', 'non_streaming', '--rounds', '1'], path.join(runDir, `interleaved-${round}-${system}.txt`));
        passes.push({ round, system, exitCode: pass.exitCode, wallMs: pass.wallMs, output: pass.output });
      }
    }
  } finally {
    for (const system of ['peer', 'ours']) {
      if (up[system] === undefined) continue;
      await stopServer(up[system]);
      writeFileSync(path.join(runDir, `interleaved-${system}-server.log`), `${logs[system].join('\n')}\n`);
    }
  }
  return passes;
}

/** Starts one server, runs the passes against it, stops it. */
async function benchSystem(system, flags, corpusDir, runDir) {
  const logPath = path.join(runDir, `${system}-server.log`);
  const log = [];
  const port = system === 'peer' ? await freePort() : undefined;
  process.stderr.write(`bench:wyoming: starting ${NAMES[system]}…\n`);
  const server = await startServer(serverSpec(system, port, (line) => log.push(line)));
  process.stderr.write(`bench:wyoming: ${NAMES[system]} ready on port ${server.port} after ${Math.round(server.readyMs)} ms\n`);
  const passes = [];
  let peakRssBytes = null;
  try {
    const plan = [{ pass: 'burst', modes: ['non_streaming', 'streaming'], args: ['--mode', 'both', '--rounds', String(flags.rounds)] }];
    if (flags.realtimeRounds > 0) {
      plan.push({
        pass: 'realtime',
        modes: ['streaming'],
        args: ['--mode', 'streaming', '--rounds', String(flags.realtimeRounds), '--chunk-delay', String(CHUNK_SAMPLES / RATE_HZ)],
      });
    }
    for (const step of plan) {
      const prior = passes.find((p) => p.pass === 'burst');
      if (step.pass === 'realtime' && prior?.output?.notSupported['streaming'] !== undefined) {
        continue; // the paced pass only measures streaming, which this server just declined
      }
      process.stderr.write(`bench:wyoming: ${NAMES[system]}, ${step.pass} pass: wyoming-bench ${step.args.join(' ')}\n`);
      const pass = await benchPass(server.port, corpusDir, step.args, path.join(runDir, `${system}-${step.pass}.txt`));
      passes.push({ pass: step.pass, modes: step.modes, ...pass });
    }
  } finally {
    peakRssBytes = server.peakRssBytes(); // before stopping: VmHWM goes with the process
    const exit = await stopServer(server);
    writeFileSync(logPath, `${log.join('\n')}\n`);
    process.stderr.write(`bench:wyoming: ${NAMES[system]} stopped (${exit})\n`);
  }
  return { system, name: NAMES[system], command: serverSpec(system, port ?? 0, () => {}).args, asr: asrInfo(server.info), readyMs: server.readyMs, peakRssBytes, passes };
}

/** parseFlags().oursArgs, for serverSpec. */
let oursArgs = [];

async function main() {
  const flags = parseFlags();
  oursArgs = flags.oursArgs;
  if (flags.systems.includes('ours') && !existsSync(path.join(REPO_ROOT, 'dist', 'main.js'))) {
    usage('dist/main.js is missing: run `npm run build` (npm run bench:wyoming does it)');
  }
  if (!flags.skipSetup) await runProcess('bash', [path.join(HERE, 'setup.sh')]);

  const manifest = readFileSync(path.join(CORPUS_DIR, 'manifest.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  const clips = selectClips(clipsFromManifest(manifest, CORPUS_DIR), ['fr'], flags.clips);
  const corpusDir = path.join(WORK_DIR, flags.clips === null ? 'wyoming-corpus' : `wyoming-corpus-${flags.clips}`);
  const corpus = writeCorpus(corpusDir, clips);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(WORK_DIR, `wyoming-run-${stamp}`);
  mkdirSync(runDir, { recursive: true });
  process.stderr.write(`bench:wyoming: ${corpus.clips} clips, ${corpus.audioInS.toFixed(1)} s of audio in ${corpusDir}; logs in ${runDir}\n`);

  const loadAtStart = loadavg();
  const servers = [];
  for (const system of flags.systems) servers.push(await benchSystem(system, flags, corpusDir, runDir));

  const interleavedPasses = flags.interleave > 0 ? await benchInterleaved(flags, corpusDir, runDir) : null;
  const interleaved = interleavedPasses === null ? null : summarizeInterleaved(interleavedPasses, TOTAL_RATIO_TARGET);

  const rows = summarize(servers.map((s) => ({ system: s.system, passes: s.passes })));
  const targets = checkTargets(rows);
  const date = new Date().toISOString().slice(0, 10);
  const report = {
    date,
    full: flags.full,
    engine: gitRevision(),
    selection: { language: LANGUAGE, clips: corpus.clips, audioInS: corpus.audioInS, ids: clips.map((c) => c.id), convertedToPcm16: corpus.converted },
    machine: { ...machineInfo(), loadAverage: { start: loadAtStart, end: loadavg() } },
    versions: {
      node: process.version,
      python: pythonVersion(),
      pins: readFileSync(path.join(WORK_DIR, 'wyoming-venv', '.pins'), 'utf8').trim(),
      wyomingBench: servers[0]?.passes[0]?.benchVersion ?? null,
    },
    settings: {
      language: LANGUAGE, beamSize: BEAM_SIZE, threads: THREADS, peerComputeType: 'int8', rounds: flags.rounds, warmup: 1,
      realtimeRounds: flags.realtimeRounds, interleaveRounds: flags.interleave, chunkSamples: CHUNK_SAMPLES, realtimeChunkDelayInS: CHUNK_SAMPLES / RATE_HZ,
      trailingSilenceInS: 0.5, transcribeConfig: { language: LANGUAGE },
    },
    rows,
    targets,
    interleaved,
    servers,
    interleavedPasses,
  };
  const table = renderMarkdown({ rows, targets, names: NAMES }) + (interleaved === null ? '' : `\n\n${renderInterleaved(interleaved)}`);
  mkdirSync(flags.outDir, { recursive: true });
  writeFileSync(path.join(flags.outDir, `wyoming-${date}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const header = [
    `# Wyoming benchmark, ${date}`,
    '',
    `\`wyoming-bench stt\` ${report.versions.wyomingBench ?? '?'} on ${corpus.clips} French clips of ../shared/corpus ` +
      `(${corpus.audioInS.toFixed(1)} s of audio${flags.full ? '' : ', a quick check'}), ${flags.rounds} round(s) after 1 warm-up, ` +
      `language fr, beam 5, 2 threads for both servers; real-time pass: ${flags.realtimeRounds} round(s), ${CHUNK_SAMPLES}-sample chunks ` +
      `every ${(1000 * CHUNK_SAMPLES) / RATE_HZ} ms. ${describeMachine(report.machine)}, ` +
      `load average ${load(loadAtStart)} at the start, ${load(report.machine.loadAverage.end)} at the end. ` +
      `Raw numbers: wyoming-${date}.json; method: bench/wyoming/README.md.`,
    '',
    ...servers.map(
      (s) =>
        `${s.name}: ready (answering describe) ${Math.round(s.readyMs)} ms after spawn` +
        `${s.peakRssBytes === null ? '' : `, peak RSS ${Math.round(s.peakRssBytes / 1048576)} MiB`}.`,
    ),
    '',
  ];
  writeFileSync(path.join(flags.outDir, 'wyoming-latest.md'), `${header.join('\n')}\n${table}\n`);
  process.stdout.write(`${table}\n\nwritten to ${flags.outDir}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:wyoming: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
