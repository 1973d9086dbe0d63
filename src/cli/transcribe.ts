/**
 * `stt-engine transcribe <files…>`: load the model once, transcribe each WAV, print text (with
 * timestamps) or one JSON line per file. A bad file is reported with its code and skipped, so one
 * corrupt recording never costs the others; the exit code says whether anything failed.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

import { parseFloatWeightsWord } from '../models/float-weights.js';
import { isModelDtype } from '../models/manifest.js';
import { createDownloadReporter } from '../models/progress.js';
import { serializeError } from '../errors.js';
import { createTranscriber } from '../transcriber.js';
import { ACTIVATION_QUANTS, isActivationQuant, type ActivationQuant } from '../whisper/graphs.js';
import type { Segment, TranscribeOptions, Transcriber, TranscriptionResult } from '../whisper/types.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './io.js';

export const TRANSCRIBE_USAGE = `Usage: stt-engine transcribe <files…> [options]

Transcribes WAV files (any rate, channels and PCM/float encoding) with Whisper.

Options:
  --model NAME          model from the manifest (default: base)
  --model-dir DIR       a model folder in the hub layout instead of resolving by name
  --float-weights W     int8 weights requantised per output channel from a float copy: DIR (a
                        faster-whisper model folder), auto (the model's own: cache, mirror or
                        hub download) or none (default: env STT_FLOAT_WEIGHTS)
  --dtype q8|fp16|fp32  precision of the ONNX files (default: q8)
  --activation-quant M  q8 activations: per-row (default) or per-tensor (the export as is)
  --language CODE       fr, en, … or auto (default: auto, detected on the first 30 s)
  --beam N              beam size at temperature 0; 1 = greedy (default: 5)
  --best-of N           candidates sampled at temperature > 0 (default: 5)
  --temperature T       decode at this one temperature only (disables the fallback)
  --seed N              seed of the sampling at temperature > 0 (default: 0)
  --prompt TEXT         initial prompt (vocabulary, spelling, style)
  --hotwords TEXT       words to favour, placed in every window's prompt
  --no-condition        do not condition a window on the previous window's text
  --no-timestamps       plain text, one segment per 30 s window
  --full-windows        pad every window to 30 s, as OpenAI and faster-whisper do (default:
                        a shorter input is encoded as its audio + 4 s; ~2× faster)
  --device DEV          cpu, cuda or cuda:N (default: cpu)
  --strict-device       fail instead of falling back to the CPU
  --threads N           ONNX Runtime intra-op threads (default: 2)
  --json                one JSON object per file per line
  -h, --help            this help
`;

const OPTIONS = {
  model: { type: 'string' },
  'model-dir': { type: 'string' },
  'float-weights': { type: 'string' },
  dtype: { type: 'string' },
  'activation-quant': { type: 'string' },
  language: { type: 'string' },
  beam: { type: 'string' },
  'best-of': { type: 'string' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  prompt: { type: 'string' },
  hotwords: { type: 'string' },
  'no-condition': { type: 'boolean' },
  'no-timestamps': { type: 'boolean' },
  'full-windows': { type: 'boolean' },
  device: { type: 'string' },
  'strict-device': { type: 'boolean' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function usageError(io: CliIO, message: string): number {
  io.stderr.write(`error: ${message}\nRun \`stt-engine transcribe --help\` for the options.\n`);
  return EXIT_USAGE;
}

function integerArg(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${flag} must be an integer ≥ ${min}, got "${value}"`);
  }
  return n;
}

function activationQuantArg(value: string | undefined): ActivationQuant | undefined {
  if (value === undefined) return undefined;
  if (!isActivationQuant(value)) throw new UsageError(`--activation-quant must be ${ACTIVATION_QUANTS.join(' or ')}, got "${value}"`);
  return value;
}

function temperatureArg(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--temperature must be a number ≥ 0, got "${value}"`);
  }
  return n;
}

/** 62.5 s → "01:02.500"; an hour or more → "1:01:02.500". */
export function formatTimestamp(ms: number): string {
  const totalMs = Math.max(0, Math.round(ms));
  const hours = Math.floor(totalMs / 3_600_000);
  const minutes = Math.floor((totalMs % 3_600_000) / 60_000);
  const secondsMs = totalMs % 60_000;
  const ss = `${String(Math.floor(secondsMs / 1000)).padStart(2, '0')}.${String(secondsMs % 1000).padStart(3, '0')}`;
  const mm = String(minutes).padStart(2, '0');
  return hours > 0 ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

function jsonLine(file: string, r: TranscriptionResult): string {
  const segments = r.segments.map((s: Segment) => ({
    id: s.id,
    startMs: s.startMs,
    endMs: s.endMs,
    text: s.text.trim(),
    avgLogprob: s.avgLogprob,
    noSpeechProb: s.noSpeechProb,
    compressionRatio: s.compressionRatio,
    temperature: s.temperature,
  }));
  return `${JSON.stringify({
    file,
    text: r.text,
    language: r.language,
    languageProbability: r.languageProbability,
    durationMs: r.durationMs,
    segments,
    timings: r.timings,
  })}\n`;
}

function textBlock(r: TranscriptionResult, withTimestamps: boolean): string {
  if (!withTimestamps) return `${r.text}\n`;
  return r.segments.map((s) => `[${formatTimestamp(s.startMs)} --> ${formatTimestamp(s.endMs)}] ${s.text.trim()}\n`).join('');
}

/** `error [CODE]: file: message`, without repeating the path when the message already starts with it. */
function reportFileError(io: CliIO, file: string, resolved: string, err: unknown): void {
  const e = serializeError(err);
  let message = e.message;
  for (const prefix of [`${resolved}: `, `${file}: `]) {
    if (message.startsWith(prefix)) message = message.slice(prefix.length);
  }
  io.stderr.write(`error [${e.code}]: ${file}: ${message}\n`);
}

export const runTranscribeCommand: CliCommand = async (argv, io) => {
  let values;
  let files: string[];
  let transcribeOptions: TranscribeOptions;
  let threads: number | undefined;
  let activationQuant: ActivationQuant | undefined;
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values;
    files = parsed.positionals;
    if (values.help) {
      io.stdout.write(TRANSCRIBE_USAGE);
      return EXIT_OK;
    }
    if (files.length === 0) throw new UsageError('no input file');
    if (values.dtype !== undefined && !isModelDtype(values.dtype)) {
      throw new UsageError(`--dtype must be q8, fp16 or fp32, got "${values.dtype}"`);
    }
    activationQuant = activationQuantArg(values['activation-quant']);
    threads = integerArg('threads', values.threads, 1);
    const beamSize = integerArg('beam', values.beam, 1);
    const bestOf = integerArg('best-of', values['best-of'], 1);
    const seed = integerArg('seed', values.seed, 0);
    const temperature = temperatureArg(values.temperature);
    transcribeOptions = {
      language: values.language ?? 'auto',
      ...(beamSize !== undefined ? { beamSize } : {}),
      ...(bestOf !== undefined ? { bestOf } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(temperature !== undefined ? { temperatures: [temperature] } : {}),
      ...(values.prompt !== undefined ? { initialPrompt: values.prompt } : {}),
      ...(values.hotwords !== undefined ? { hotwords: values.hotwords } : {}),
      conditionOnPreviousText: !values['no-condition'],
      withoutTimestamps: values['no-timestamps'] ?? false,
      ...(values['full-windows'] ? { shortWindowMarginMs: null } : {}),
    };
  } catch (err) {
    return usageError(io, err instanceof Error ? err.message : String(err));
  }

  const reporter = createDownloadReporter(io.stderr, io.stderrIsTTY);
  let transcriber: Transcriber;
  try {
    const mirror = io.env['STT_MODEL_MIRROR'];
    transcriber = await createTranscriber(
      {
        ...(values.model !== undefined ? { model: values.model } : {}),
        ...(values['model-dir'] !== undefined ? { modelDir: path.resolve(io.cwd, values['model-dir']) } : {}),
        ...(values['float-weights'] !== undefined ? { floatWeights: parseFloatWeightsWord(values['float-weights'], io.cwd) } : {}),
        ...(values.dtype !== undefined && isModelDtype(values.dtype) ? { dtype: values.dtype } : {}),
        ...(mirror !== undefined && mirror !== '' ? { mirror: path.resolve(io.cwd, mirror) } : {}),
        ...(values.device !== undefined ? { device: values.device } : {}),
        ...(values['strict-device'] ? { strictDevice: true } : {}),
        ...(threads !== undefined ? { intraOpThreads: threads } : {}),
        ...(activationQuant !== undefined ? { activationQuant } : {}),
        onWarning: (w) => io.stderr.write(`warning [${w.code}]: ${w.message}\n`),
      },
      { env: io.env, onProgress: reporter.onProgress },
    );
  } catch (err) {
    const e = serializeError(err);
    io.stderr.write(`error [${e.code}]: ${e.message}\n`);
    return EXIT_FAILURE;
  } finally {
    reporter.close();
  }

  try {
    // Checked once here rather than failing identically for every file.
    const language = transcribeOptions.language ?? 'auto';
    if (language !== 'auto' && !transcriber.backend.tokenizer.specials.languages.has(language.toLowerCase())) {
      return usageError(io, `unknown language "${language}" (expected an ISO code such as fr, or auto)`);
    }
    let failed = false;
    const withHeaders = files.length > 1 && !values.json;
    for (const [index, file] of files.entries()) {
      const resolved = path.resolve(io.cwd, file);
      try {
        const result = await transcriber.transcribeFile(resolved, transcribeOptions);
        if (values.json) {
          io.stdout.write(jsonLine(file, result));
        } else {
          const header = withHeaders ? `${index > 0 ? '\n' : ''}==> ${file} <==\n` : '';
          io.stdout.write(header + textBlock(result, !transcribeOptions.withoutTimestamps));
        }
      } catch (err) {
        failed = true;
        reportFileError(io, file, resolved, err);
      }
    }
    return failed ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await transcriber.close();
  }
};
