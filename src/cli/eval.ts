/**
 * `stt-engine eval --manifest clips.jsonl …`: transcribe every clip of a manifest, write one JSON
 * line per clip (--out), print a JSON summary (WER/CER per language, words emitted on non-speech,
 * RTF) and optionally a markdown report. A clip that fails is recorded with its error code and the
 * run goes on; the exit code is non-zero at the end if any clip failed.
 */

import { open, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { SttError, serializeError } from '../errors.js';
import { loadManifest } from '../eval/manifest.js';
import { renderReport } from '../eval/report.js';
import { hypothesisLine, runEval, selectEntries, type EvalTranscriber } from '../eval/run.js';
import { summarize } from '../eval/summary.js';
import { parseFloatWeightsWord } from '../models/float-weights.js';
import { ACTIVATION_QUANTS, isActivationQuant, type ActivationQuant } from '../whisper/graphs.js';
import type { TranscribeOptions, TranscriberOptions } from '../whisper/types.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './io.js';

export const EVAL_USAGE = `Usage: stt-engine eval --manifest <manifest.jsonl> [options]

Options:
  --manifest FILE        JSON Lines: id, lang (fr, en, none…), audio (relative to the manifest), text
  --out FILE             write one JSON line per clip: {"id","text","language","decodeMs"}
  --report FILE          write a markdown report (summary table and per-clip table)
  --model NAME           model name (default: base)
  --model-dir DIR        an explicit model folder in the hub layout
  --float-weights W      int8 weights requantised per output channel from a float copy: DIR (a
                         faster-whisper model folder), auto (the model's own: cache, mirror or
                         hub download) or none (default: env STT_FLOAT_WEIGHTS)
  --language MODE        from-manifest (default: each clip's lang, 'none' clips get auto), auto, or a code (fr, en…)
  --beam N               beam size (default: the transcriber's)
  --threads N            ORT intra-op threads
  --activation-quant M   q8 activations: per-row (default) or per-tensor
  --full-windows         pad every window to 30 s (default: a shorter clip is encoded as its audio + 4 s)
  --device D             cpu, cuda or cuda:N (default cpu)
  --limit N              only the first N clips (after --ids)
  --ids a,b              only these clip ids
  -h, --help             this help
`;

const OPTIONS = {
  manifest: { type: 'string' },
  out: { type: 'string' },
  report: { type: 'string' },
  model: { type: 'string' },
  'model-dir': { type: 'string' },
  'float-weights': { type: 'string' },
  language: { type: 'string' },
  beam: { type: 'string' },
  threads: { type: 'string' },
  'activation-quant': { type: 'string' },
  'full-windows': { type: 'boolean' },
  device: { type: 'string' },
  limit: { type: 'string' },
  ids: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What eval needs to build: a transcriber it can close. Injected so the command is testable. */
export type EvalTranscriberFactory = (
  options: TranscriberOptions,
  env: Readonly<Record<string, string | undefined>>,
) => Promise<EvalTranscriber & { close(): Promise<void> }>;

/** The real factory; imported lazily so `eval --help` and argument errors never load onnxruntime. */
const createRealTranscriber: EvalTranscriberFactory = async (options, env) => {
  const { createTranscriber } = await import('../transcriber.js');
  return createTranscriber(options, { env });
};

class UsageError extends Error {}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/u.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

function languageArg(value: string | undefined): string {
  if (value === undefined) return 'from-manifest';
  if (value === 'from-manifest' || value === 'auto' || /^[a-z]{2,3}$/u.test(value)) return value;
  throw new UsageError(`--language must be from-manifest, auto or a language code such as fr, got "${value}"`);
}

export function createEvalCommand(factory: EvalTranscriberFactory): CliCommand {
  return async (argv, io) => {
    let values;
    try {
      ({ values } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false, strict: true }));
    } catch (err) {
      return usage(io, err instanceof Error ? err.message : String(err));
    }
    if (values.help) {
      io.stdout.write(EVAL_USAGE);
      return EXIT_OK;
    }
    let beam: number | undefined;
    let threads: number | undefined;
    let limit: number | undefined;
    let language: string;
    let activationQuant: ActivationQuant | undefined;
    try {
      if (values.manifest === undefined) throw new UsageError('--manifest is required');
      beam = positiveInt('beam', values.beam);
      threads = positiveInt('threads', values.threads);
      limit = positiveInt('limit', values.limit);
      language = languageArg(values.language);
      const quant = values['activation-quant'];
      if (quant !== undefined && !isActivationQuant(quant)) {
        throw new UsageError(`--activation-quant must be ${ACTIVATION_QUANTS.join(' or ')}, got "${quant}"`);
      }
      activationQuant = quant;
    } catch (err) {
      if (err instanceof UsageError) return usage(io, err.message);
      throw err;
    }
    const ids = values.ids?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const model = values.model ?? 'base';
    const device = values.device ?? 'cpu';

    let out: FileHandle | null = null;
    let transcriber: (EvalTranscriber & { close(): Promise<void> }) | null = null;
    try {
      const entries = selectEntries(await loadManifest(path.resolve(io.cwd, values.manifest)), {
        ...(ids !== undefined ? { ids } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      // Open the outputs before the slow part, so a bad --out path fails in a second, not an hour.
      if (values.out !== undefined) out = await open(path.resolve(io.cwd, values.out), 'w');
      const reportPath = values.report !== undefined ? path.resolve(io.cwd, values.report) : null;
      if (reportPath !== null) await writeFile(reportPath, '');

      transcriber = await factory(
        {
          model,
          device,
          ...(values['model-dir'] !== undefined ? { modelDir: path.resolve(io.cwd, values['model-dir']) } : {}),
          ...(values['float-weights'] !== undefined ? { floatWeights: parseFloatWeightsWord(values['float-weights'], io.cwd) } : {}),
          ...(threads !== undefined ? { intraOpThreads: threads } : {}),
          ...(activationQuant !== undefined ? { activationQuant } : {}),
          onWarning: (w) => io.stderr.write(`warning ${w.code}: ${w.message}\n`),
        },
        io.env,
      );
      const transcribe: Omit<TranscribeOptions, 'language'> = {
        ...(beam !== undefined ? { beamSize: beam } : {}),
        ...(values['full-windows'] ? { shortWindowMarginMs: null } : {}),
      };
      const handle = out;
      const clips = await runEval(entries, transcriber, {
        language,
        transcribe,
        onClip: async (clip, index, count) => {
          if (handle !== null) await handle.write(`${hypothesisLine(clip)}\n`);
          const score = clip.error !== null ? clip.error.code : clip.scores !== null ? `WER ${(clip.scores.wer * 100).toFixed(1)} %` : `${clip.wordsEmitted} words`;
          io.stderr.write(`[${index + 1}/${count}] ${clip.id}: ${score}\n`);
        },
      });
      const summary = summarize(clips, model, { language, beam: beam ?? null, threads: threads ?? null, device, limit: limit ?? null, ids: values.ids ?? null });
      io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      if (reportPath !== null) await writeFile(reportPath, renderReport(summary, clips));
      return summary.failed > 0 ? EXIT_FAILURE : EXIT_OK;
    } catch (err) {
      const { code, message } = serializeError(err);
      io.stderr.write(`eval: ${err instanceof SttError ? `${code}: ` : ''}${message}\n`);
      return EXIT_FAILURE;
    } finally {
      await out?.close();
      await transcriber?.close();
    }
  };
}

function usage(io: CliIO, message: string): number {
  io.stderr.write(`eval: ${message}\n\n${EVAL_USAGE}`);
  return EXIT_USAGE;
}

export const runEvalCommand: CliCommand = createEvalCommand(createRealTranscriber);
