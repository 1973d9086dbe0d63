/**
 * `stt-engine serve --wyoming tcp://HOST:PORT|unix://PATH`: a Wyoming speech-to-text server (Home
 * Assistant, Rhasspy, wyoming-bench). Options follow wyoming-faster-whisper's where they overlap
 * (--uri, --beam-size, --initial-prompt, --cpu-threads, --vad-endpointing, --zeroconf [NAME]).
 * Prints `listening on URI` on stderr once ready (port 0: the real port); SIGINT / SIGTERM let
 * open requests finish, close every engine and exit 0.
 */
import { parseArgs } from 'node:util';
import { parseBeamNarrowAfter } from '../engine/options.js';
import { serializeError } from '../errors.js';
import { parseFloatWeightsWord } from '../models/float-weights.js';
import { EngineBackend } from '../wyoming/backend.js';
import { buildInfo, whisperLanguage } from '../wyoming/info.js';
import { parseWyomingUri, WyomingServer } from '../wyoming/server.js';
import { announceWyoming, type ZeroconfAnnouncement } from '../wyoming/zeroconf.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './io.js';

export const SERVE_USAGE = `Usage: stt-engine serve --wyoming URI [options]

A Wyoming speech-to-text server: describe → info, transcribe + audio-start/chunk/stop → transcript,
with streaming partials (transcript-start/chunk/stop). Audio of any rate, width and channel count.

Server:
  --wyoming URI           tcp://HOST:PORT (port 0: any free port) or unix://PATH (alias: --uri)
  --zeroconf [NAME]       announce _wyoming._tcp over mDNS (tcp only; default name: stt-engine)
  --vad-endpoint          end each request at the end of speech, without waiting for audio-stop
  --vad-endpointing S     the same, after S seconds of silence (wyoming-faster-whisper's flag)
  --no-partials           no transcript-chunk while audio arrives (transcript only at the end)
Model:
  --model NAME            model from the manifest (default: base)
  --model-dir DIR         a model folder in the hub layout
  --float-weights W       int8 weights requantised per output channel from a float copy: DIR (a
                          faster-whisper model folder), auto (the model's own: cache, mirror or
                          hub download) or none (default: env STT_FLOAT_WEIGHTS)
  --language fr|auto|…    default language when a request names none (default: fr)
  --beam-size N           beam size of finals (default 5; alias: --beam)
  --beam-narrow-after MS|off
                          a request still in its beam search after MS of decoding finishes
                          greedy, to come sooner on a slow CPU (default off, unlike live's 700:
                          it cost words on whole recordings)
  --no-drafts             decode without checking a request's latest decode (a partial) as a
                          draft (README → Models → Drafts)
  --initial-prompt TEXT   prompt for every utterance (names, vocabulary)
  --full-windows          pad every request to a 30 s window, as wyoming-faster-whisper does
                          (default: its audio + 4 s; ~2× faster)
  --device DEV            cpu, cuda or cuda:N (default: cpu)
  --strict-device         fail instead of falling back to the CPU
  --threads N             decode threads (alias: --cpu-threads)
  --no-warm-up            listen 1–2 s sooner (2 cores), without the decoder's warm-up (the first
                          request then pays the cold start, ~100–200 ms, and the first full
                          30 s window the growth of onnxruntime's memory)
  -h, --help              this help
`;

const OPTIONS = {
  wyoming: { type: 'string' },
  uri: { type: 'string' },
  zeroconf: { type: 'string' },
  'vad-endpoint': { type: 'boolean' },
  'vad-endpointing': { type: 'string' },
  'no-partials': { type: 'boolean' },
  'no-drafts': { type: 'boolean' },
  model: { type: 'string' },
  'model-dir': { type: 'string' },
  'float-weights': { type: 'string' },
  language: { type: 'string' },
  'beam-size': { type: 'string' },
  beam: { type: 'string' },
  'beam-narrow-after': { type: 'string' },
  'initial-prompt': { type: 'string' },
  'full-windows': { type: 'boolean' },
  device: { type: 'string' },
  'strict-device': { type: 'boolean' },
  threads: { type: 'string' },
  'cpu-threads': { type: 'string' },
  'no-warm-up': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const DEFAULT_ZEROCONF_NAME = 'stt-engine';


class UsageError extends Error {}

function intArg(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be an integer ≥ 1, got "${value}"`);
  return n;
}

/** `--zeroconf` takes an optional name (as wyoming-faster-whisper's nargs='?'): make it explicit for parseArgs. */
function expandZeroconf(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg !== '--zeroconf') out.push(arg);
    else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-')) {
        out.push(`--zeroconf=${next}`);
        i++;
      } else out.push(`--zeroconf=${DEFAULT_ZEROCONF_NAME}`);
    }
  }
  return out;
}

/** Process hooks, injected so tests can raise a fake signal. */
export interface ServeHooks {
  readonly onSignal?: (handler: () => void) => () => void;
}

function processSignals(handler: () => void): () => void {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

export function runServe(hooks: ServeHooks = {}): CliCommand {
  return async (argv: readonly string[], io: CliIO): Promise<number> => {
    let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false; args: string[] }>>['values'];
    let uri: string;
    let language: string;
    let endpointSilenceMs: number | undefined;
    try {
      ({ values } = parseArgs({ args: expandZeroconf(argv), options: OPTIONS, allowPositionals: false }));
      if (values.help) {
        io.stdout.write(SERVE_USAGE);
        return EXIT_OK;
      }
      const given = values.wyoming ?? values.uri;
      if (given === undefined) throw new UsageError('--wyoming tcp://HOST:PORT or unix://PATH is required');
      uri = given;
      const address = (() => {
        try {
          return parseWyomingUri(uri);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      })();
      if (values.zeroconf !== undefined && address.kind !== 'tcp') throw new UsageError('--zeroconf needs a tcp:// URI');
      const lang = values.language ?? 'fr';
      const known = whisperLanguage(lang);
      if (known === null || known !== lang.toLowerCase()) throw new UsageError(`--language must be 'auto' or a Whisper language code, got "${lang}"`);
      language = known;
      const seconds = values['vad-endpointing'];
      if (seconds !== undefined) {
        const s = Number(seconds);
        if (seconds.trim() === '' || !Number.isFinite(s) || s <= 0) throw new UsageError(`--vad-endpointing must be a number of seconds > 0, got "${seconds}"`);
        endpointSilenceMs = Math.round(s * 1000);
      }
      intArg('beam-size', values['beam-size'] ?? values.beam);
      parseBeamNarrowAfter(values['beam-narrow-after'], (m) => new UsageError(m));
      intArg('threads', values.threads ?? values['cpu-threads']);
    } catch (err) {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        io.stderr.write(`error: ${(err as Error).message}\nRun \`stt-engine serve --help\` for the options.\n`);
        return EXIT_USAGE;
      }
      throw err;
    }
    const log = (line: string): void => void io.stderr.write(`wyoming: ${line}\n`);
    const beamSize = intArg('beam-size', values['beam-size'] ?? values.beam);
    const narrowAfter = parseBeamNarrowAfter(values['beam-narrow-after'], (m) => new UsageError(m));
    const threads = intArg('threads', values.threads ?? values['cpu-threads']);
    const vadEndpoint = Boolean(values['vad-endpoint']) || endpointSilenceMs !== undefined;

    let server: WyomingServer;
    let backend: EngineBackend | null = null;
    try {
      backend = await EngineBackend.create({
        decoder: {
          env: io.env,
          ...(values.model !== undefined ? { model: values.model } : {}),
          ...(values['model-dir'] !== undefined ? { modelDir: values['model-dir'] } : {}),
          ...(values['float-weights'] !== undefined ? { floatWeights: parseFloatWeightsWord(values['float-weights'], io.cwd) } : {}),
          ...(values.device !== undefined ? { device: values.device } : {}),
          ...(values['strict-device'] ? { strictDevice: true } : {}),
          ...(threads !== undefined ? { threads } : {}),
          ...(values['no-warm-up'] ? { warmUp: false } : {}),
        },
        language,
        // With server-side endpointing the engine's VAD ends the request; otherwise the client did.
        segmentation: vadEndpoint ? 'vad' : 'external',
        partials: !values['no-partials'],
        ...(beamSize !== undefined ? { beamSize } : {}),
        ...(narrowAfter !== undefined ? { finalBeamNarrowAfterMs: narrowAfter } : {}),
        ...(values['no-drafts'] ? { drafts: false } : {}),
        ...(values['initial-prompt'] !== undefined ? { initialPrompt: values['initial-prompt'] } : {}),
        ...(endpointSilenceMs !== undefined ? { endpointSilenceMs } : {}),
        ...(values['full-windows'] ? { shortWindowMarginMs: null } : {}),
        log,
      });
      // The decode worker's description of what it loaded (e.g. the model folder's name).
      const loaded = backend.decoderInfo['model'];
      const warmUpMs = backend.decoderInfo['warmUpMs'];
      const perChannel = backend.decoderInfo['weights'] === 'per-channel' ? ' (int8 weights per channel)' : '';
      log(`decoder ${String(loaded)} on ${String(backend.decoderInfo['device'])}${perChannel}, ${typeof warmUpMs === 'number' ? `warmed up in ${warmUpMs} ms` : 'no warm-up'}`);
      const info = buildInfo({ modelName: backend.modelName, modelVersion: typeof loaded === 'string' ? loaded : null, language, vadEndpoint });
      server = await WyomingServer.listen({ uri, backend, info, vadEndpoint, log });
    } catch (err) {
      await backend?.close().catch(() => undefined);
      const e = serializeError(err);
      io.stderr.write(`error [${e.code}]: ${e.message}\n`);
      return EXIT_FAILURE;
    }
    const address = server.address;
    let zeroconf: ZeroconfAnnouncement | null = null;
    if (values.zeroconf !== undefined && address.kind === 'tcp') {
      zeroconf = announceWyoming(values.zeroconf, address.port, log);
      log(`announced as ${values.zeroconf}._wyoming._tcp.local on port ${address.port}`);
    }
    io.stderr.write(`listening on ${server.uri}\n`);

    await new Promise<void>((resolve) => {
      const off = (hooks.onSignal ?? processSignals)(() => {
        off();
        resolve();
      });
    });
    io.stderr.write('shutting down: finishing open requests\n');
    try {
      await zeroconf?.close();
      await server.close();
    } catch (err) {
      const e = serializeError(err);
      io.stderr.write(`error [${e.code}]: ${e.message}\n`);
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  };
}

export const runServeCommand: CliCommand = runServe();
