/**
 * `stt-engine [live] [options]`: the real-time engine on a microphone (default), a WAV file or raw
 * PCM on stdin. Text mode prints finals (and, on a TTY, the partial being spoken, overwritten in
 * place); --jsonl prints one JSON event per line. Ctrl-C flushes what is in flight, then exits 0.
 */
import { parseArgs } from 'node:util';
import type { PcmFormat } from '../actors/capture/capture.protocol.js';
import { createEngine, listAudioDevices, type Engine, type EngineInput, type EngineOptions } from '../engine.js';
import { parseBeamNarrowAfter } from '../engine/options.js';
import { serializeError } from '../errors.js';
import { parseFloatWeightsWord } from '../models/float-weights.js';
import { LiveObservers } from '../observe/live-observers.js';
import { INSPECT_OPTIONS, INSPECT_USAGE, inspectFlags, type InspectFlags } from '../inspector/live-flags.js';
import { startInspector, type Inspector } from '../inspector/server.js';
import { createEngineMetrics, PROMETHEUS_CONTENT_TYPE, type EngineMetricsExporter } from '../observe/metrics.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './io.js';

export const LIVE_USAGE = `Usage: stt-engine [live] [options]

Real-time transcription (microphone by default).

Input:
  --input FILE          a WAV file instead of the microphone (as fast as possible)
  --realtime            pace --input at the speed of its audio
  --stdin               raw PCM on stdin (with --rate, --channels, --format)
  --rate HZ             stdin sample rate (default 16000)
  --channels N          stdin channels (default 1)
  --format F            s16le | s32le | f32le | u8 (default s16le)
  --mic NAME|ID         microphone by id or (part of its) name
  --list-devices        list input devices and exit
Model:
  --model NAME          model from the manifest (default: base)
  --model-dir DIR       a model folder in the hub layout
  --float-weights W     int8 weights requantised per output channel from a float copy: DIR (a
                        faster-whisper model folder), auto (the model's own: cache, mirror or
                        hub download) or none (default: env STT_FLOAT_WEIGHTS)
  --language fr|auto|…  default fr
  --device DEV          cpu, cuda or cuda:N (default: cpu)
  --strict-device       fail instead of falling back to the CPU
  --threads N           decode threads
  --beam N              beam size of finals (default 5)
  --beam-narrow-after MS|off
                        a final still in its beam search after MS of decoding finishes greedy,
                        to come sooner on a slow CPU (default 700; off: never)
  --no-drafts           decode each utterance without checking its latest decode's words as a
                        draft (more decoder passes; README → Models → Drafts)
  --full-windows        pad every utterance to a 30 s window (default: its audio + 4 s; ~2× faster)
  --no-warm-up          start 1–2 s sooner (2 cores), without the decoder's warm-up (the first
                        utterance then pays the cold start, ~100–200 ms, and the first full
                        30 s window the growth of onnxruntime's memory)
Output:
  --jsonl               one JSON event per line (final, partial, rejected, error, metrics)
  --no-partials         no partial results
Observe:
  --trace FILE          record the session as JSON Lines (every actor event, command, state change
                        and output); \`stt-engine replay FILE\` re-runs it
  --trace-audio         with --trace: each final's audio too (float32, base64), for replay --redecode
  --metrics-port N      Prometheus metrics at http://127.0.0.1:N/metrics (0: a free port, on stderr)
${INSPECT_USAGE}  -h, --help            this help
`;

const OPTIONS = {
  input: { type: 'string' },
  realtime: { type: 'boolean' },
  stdin: { type: 'boolean' },
  rate: { type: 'string' },
  channels: { type: 'string' },
  format: { type: 'string' },
  mic: { type: 'string' },
  'list-devices': { type: 'boolean' },
  model: { type: 'string' },
  'model-dir': { type: 'string' },
  'float-weights': { type: 'string' },
  language: { type: 'string' },
  device: { type: 'string' },
  'strict-device': { type: 'boolean' },
  threads: { type: 'string' },
  beam: { type: 'string' },
  'beam-narrow-after': { type: 'string' },
  'full-windows': { type: 'boolean' },
  jsonl: { type: 'boolean' },
  'no-partials': { type: 'boolean' },
  'no-drafts': { type: 'boolean' },
  'no-warm-up': { type: 'boolean' },
  trace: { type: 'string' },
  'trace-audio': { type: 'boolean' },
  'metrics-port': { type: 'string' },
  ...INSPECT_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

const FORMATS: readonly PcmFormat[] = ['s16le', 's32le', 'f32le', 'u8'];

class UsageError extends Error {}

function intArg(flag: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be an integer ≥ 1, got "${value}"`);
  return n;
}


/** Extra process hooks, injected so tests can raise a fake SIGINT. */
export interface LiveHooks {
  readonly onSigint?: (handler: () => void) => () => void;
}

function processSigint(handler: () => void): () => void {
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

export function runLive(hooks: LiveHooks = {}): CliCommand {
  return async (argv: readonly string[], io: CliIO): Promise<number> => {
    let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false; args: string[] }>>['values'];
    let input: EngineInput;
    let options: EngineOptions;
    let inspect: InspectFlags | null;
    try {
      ({ values } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false }));
      if (values.help) {
        io.stdout.write(LIVE_USAGE);
        return EXIT_OK;
      }
      if (values['list-devices']) {
        const devices = await listAudioDevices();
        for (const d of devices) io.stdout.write(values.jsonl ? `${JSON.stringify(d)}\n` : `${d.id}\t${d.name}${d.isDefault ? ' (default)' : ''}\t${d.maxInputChannels} ch\t${d.defaultSampleRate} Hz\n`);
        if (devices.length === 0) io.stderr.write('no input device found\n');
        return EXIT_OK;
      }
      if (values.input !== undefined && values.stdin) throw new UsageError('--input and --stdin cannot be combined');
      if (values.input !== undefined) input = { kind: 'file', path: values.input, realtime: values.realtime ?? false };
      else if (values.stdin) {
        const format = (values.format ?? 's16le') as PcmFormat;
        if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
        input = { kind: 'stdin', sampleRate: intArg('rate', values.rate, 16_000) ?? 16_000, channels: intArg('channels', values.channels, 1) ?? 1, format };
      } else {
        const mic = values.mic;
        input = { kind: 'microphone', device: mic === undefined ? null : /^\d+$/u.test(mic) ? Number(mic) : mic };
      }
      if (values['trace-audio'] && values.trace === undefined) throw new UsageError('--trace-audio needs --trace FILE');
      const metricsPort = values['metrics-port'];
      if (metricsPort !== undefined && !(/^\d{1,5}$/u.test(metricsPort) && Number(metricsPort) <= 65_535)) throw new UsageError(`--metrics-port must be a port number, got "${metricsPort}"`);
      const flags = inspectFlags(values, io.env);
      if (typeof flags === 'string') throw new UsageError(flags);
      inspect = flags;
      const threads = intArg('threads', values.threads, undefined);
      const beamSize = intArg('beam', values.beam, undefined);
      const narrowAfter = parseBeamNarrowAfter(values['beam-narrow-after'], (m) => new UsageError(m));
      options = {
        input,
        env: io.env,
        partials: { enabled: !values['no-partials'] },
        ...(values.model !== undefined ? { model: values.model } : {}),
        ...(values['model-dir'] !== undefined ? { modelDir: values['model-dir'] } : {}),
        ...(values['float-weights'] !== undefined ? { floatWeights: parseFloatWeightsWord(values['float-weights'], io.cwd) } : {}),
        ...(values.language !== undefined ? { language: values.language } : {}),
        ...(values.device !== undefined ? { device: values.device } : {}),
        ...(values['strict-device'] ? { strictDevice: true } : {}),
        ...(threads !== undefined ? { threads } : {}),
        ...(beamSize !== undefined ? { beamSize } : {}),
        ...(narrowAfter !== undefined ? { finalBeamNarrowAfterMs: narrowAfter } : {}),
        ...(values['no-drafts'] ? { drafts: false } : {}),
        ...(values['full-windows'] ? { shortWindowMarginMs: null } : {}),
        ...(values['no-warm-up'] ? { warmUp: false } : {}),
        // Periodic `metrics` events only feed a trace here (the inspector and --metrics-port read
        // metrics() themselves, --jsonl prints the last one): without one, no 1 s timer and no
        // event-loop monitor run while the assistant listens (src/observe/event-loop.ts).
        metricsIntervalMs: values.trace !== undefined ? 1000 : 0,
      };
    } catch (err) {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        io.stderr.write(`error: ${(err as Error).message}\nRun \`stt-engine live --help\` for the options.\n`);
        return EXIT_USAGE;
      }
      throw err;
    }

    let engine: Engine;
    let observers: LiveObservers | null = null;
    let inspector: Inspector | null = null;
    let pageMetrics: EngineMetricsExporter | null = null;
    try {
      const metricsPort = values['metrics-port'] === undefined ? undefined : Number(values['metrics-port']);
      // Before the engine, so the page (and a token or bind error) comes first and shows the model loading.
      // The page's /metrics: the same exporter as --metrics-port, once the engine exists.
      inspector = inspect
        ? await startInspector({
            ...inspect,
            metrics: {
              contentType: PROMETHEUS_CONTENT_TYPE,
              render: async () => (pageMetrics ? pageMetrics.render() : '# the engine is starting\n'),
            },
          })
        : null;
      if (inspector) io.stderr.write(`inspector: ${inspector.url}\n`);
      observers = new LiveObservers({ ...(values.trace !== undefined ? { trace: values.trace } : {}), traceAudio: values['trace-audio'] ?? false, ...(metricsPort !== undefined ? { metricsPort } : {}) });
      const traceSinks = [observers.onTrace, inspector?.onTrace].filter((f) => f !== undefined);
      engine = await createEngine({ ...options, ...(traceSinks.length > 0 ? { onTrace: (r) => traceSinks.forEach((f) => f(r)) } : {}) });
    } catch (err) {
      await inspector?.close().catch(() => undefined);
      await observers?.close().catch(() => undefined);
      const e = serializeError(err);
      io.stderr.write(`error [${e.code}]: ${e.message}\n`);
      if (input.kind === 'microphone' && observers) io.stderr.write('hint: no usable microphone? Use `--input file.wav` or `--stdin` (raw PCM), or `--list-devices`.\n');
      return EXIT_FAILURE;
    }
    try {
      const url = await observers.attach(engine);
      if (url !== null) io.stderr.write(`metrics: ${url}\n`);
      inspector?.attach(engine, { subscribe: false });
      if (inspector) pageMetrics = createEngineMetrics(engine);
      const code = await runEngine(engine, values.jsonl ?? false, io, hooks);
      if (inspector && inspect?.keep) await keepServing(inspector, io, hooks);
      return code;
    } catch (err) {
      await engine.close();
      const e = serializeError(err);
      io.stderr.write(`error [${e.code}]: ${e.message}\n`);
      return EXIT_FAILURE;
    } finally {
      await inspector?.close().catch(() => undefined);
      pageMetrics?.close();
      await observers.close().catch((err: unknown) => io.stderr.write(`error [${serializeError(err).code}]: ${serializeError(err).message}\n`));
    }
  };
}

async function runEngine(engine: Engine, jsonl: boolean, io: CliIO, hooks: LiveHooks): Promise<number> {
  const tty = Boolean((io.stdout as { isTTY?: boolean }).isTTY);
  let partialShown = false;
  const clearPartial = (): void => {
    if (partialShown) io.stdout.write('\r\x1b[2K');
    partialShown = false;
  };
  const line = (type: string, payload: object): void => {
    io.stdout.write(`${JSON.stringify({ type, ...payload })}\n`);
  };
  engine.on('final', (f) => {
    if (jsonl) return line('final', f);
    clearPartial();
    io.stdout.write(`${f.text}\n`);
  });
  engine.on('partial', (p) => {
    if (jsonl) return line('partial', p);
    if (!tty) return;
    io.stdout.write(`\r\x1b[2K${p.stable}${p.unstable ? ` \x1b[2m${p.unstable}\x1b[22m` : ''}`);
    partialShown = true;
  });
  engine.on('rejected', (r) => jsonl && line('rejected', r));
  engine.on('speechStart', (s) => jsonl && line('speechStart', s));
  engine.on('speechEnd', (s) => jsonl && line('speechEnd', s));
  engine.on('warning', (w) => (jsonl ? line('warning', w) : io.stderr.write(`warning [${w.code}]: ${w.message}\n`)));
  engine.on('error', (e) => {
    const s = serializeError(e.error);
    if (jsonl) line('error', { code: s.code, message: s.message, utteranceId: e.utteranceId, source: e.source });
    else io.stderr.write(`error [${s.code}]: ${s.message}\n`);
  });

  const onSigint = hooks.onSigint ?? processSigint;
  let interrupted = false;
  const off = onSigint(() => {
    if (interrupted) return;
    interrupted = true;
    void engine.flush().catch(() => undefined);
  });
  let code = EXIT_OK;
  try {
    const metrics = await engine.done();
    if (jsonl) line('metrics', metrics);
  } catch (err) {
    const e = serializeError(err);
    if (jsonl) line('error', { code: e.code, message: e.message, utteranceId: null, source: 'engine' });
    else io.stderr.write(`error [${e.code}]: ${e.message}\n`);
    code = EXIT_FAILURE;
  } finally {
    off();
    clearPartial();
    await engine.close();
  }
  return code;
}

/** --inspect-keep: the session is over, its page stays up until Ctrl-C. */
function keepServing(inspector: Inspector, io: CliIO, hooks: LiveHooks): Promise<void> {
  io.stderr.write(`inspector: input ended, still serving ${inspector.url} (Ctrl-C to exit)\n`);
  return new Promise((resolve) => {
    const off = (hooks.onSigint ?? processSigint)(() => {
      off();
      resolve();
    });
  });
}

export const runLiveCommand: CliCommand = runLive();
