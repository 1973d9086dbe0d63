/**
 * `stt-engine models list|pull`: which models exist and where they are, and fetching one ahead of
 * time (so a later transcription can run offline with downloads disabled).
 */

import path from 'node:path';
import { parseArgs } from 'node:util';

import { SttError } from '../errors.js';
import { resolveFloatWeights } from '../models/float-weights.js';
import { DEFAULT_DTYPE, getFloatWeightsSpec, getModelSpec, MODEL_DTYPES, MODEL_NAMES, isModelDtype } from '../models/manifest.js';
import { createDownloadReporter } from '../models/progress.js';
import { defaultCacheDir, findLocalCopies, findLocalSetCopies, resolveModel, type LocalCopy } from '../models/resolve.js';
import type { ModelDtype, ModelSource } from '../whisper/types.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './io.js';

export const MODELS_USAGE = `Usage: stt-engine models <command> [options]

Commands:
  list            the known models and where each is available locally
  pull <name>     make a model available locally (downloads into the cache unless the
                  cache or the mirror already has it); names: ${MODEL_NAMES.join(', ')}

Options:
  --dtype q8|fp16|fp32   precision of the ONNX files (pull: default q8; list: all)
  --cache DIR            cache folder (default: $STT_MODEL_CACHE, else <package>/models)
  --mirror DIR           read-only folder in the hub layout (default: $STT_MODEL_MIRROR)
  --endpoint URL         hub endpoint (pull; default: $STT_HUB_ENDPOINT, $HF_ENDPOINT, https://huggingface.co)
  --float-weights        pull: also the model's float weights (faster-whisper's CTranslate2 copy,
                         e.g. Systran/faster-whisper-base, into faster-whisper-<name>/), which
                         --float-weights auto requantises the int8 weights from, per output channel
  --json                 list: print JSON instead of a table
  -h, --help             this help

Environment: HF_TOKEN is sent as a bearer token to the hub.
`;

const OPTIONS = {
  dtype: { type: 'string' },
  cache: { type: 'string' },
  mirror: { type: 'string' },
  endpoint: { type: 'string' },
  'float-weights': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

export const runModelsCommand: CliCommand = async (argv, io) => {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usage(io, err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(MODELS_USAGE);
    return EXIT_OK;
  }
  const [sub, ...rest] = positionals;
  try {
    const cacheDir = values.cache !== undefined ? path.resolve(io.cwd, values.cache) : defaultCacheDir(io.env);
    const mirror = values.mirror !== undefined ? path.resolve(io.cwd, values.mirror) : nonEmpty(io.env['STT_MODEL_MIRROR']);
    switch (sub) {
      case 'list': {
        if (rest.length > 0) throw new UsageError(`models list takes no argument (got "${rest.join(' ')}")`);
        if (values.endpoint !== undefined) throw new UsageError('--endpoint applies to models pull only');
        if (values['float-weights']) throw new UsageError('--float-weights applies to models pull only (list always shows them)');
        const dtypes = values.dtype !== undefined ? [dtypeArg(values.dtype)] : MODEL_DTYPES;
        return await list(io, { cacheDir, mirror, dtypes, json: values.json ?? false });
      }
      case 'pull': {
        const name = rest[0];
        if (name === undefined) throw new UsageError('models pull needs a model name');
        if (rest.length > 1) throw new UsageError(`models pull takes one model name (got "${rest.join(' ')}")`);
        if (values.json) throw new UsageError('--json applies to models list only');
        const dtype = values.dtype !== undefined ? dtypeArg(values.dtype) : DEFAULT_DTYPE;
        return await pull(io, name, { cacheDir, mirror, dtype, endpoint: values.endpoint, floatWeights: values['float-weights'] ?? false });
      }
      case undefined:
        throw new UsageError('missing command: list or pull');
      default:
        throw new UsageError(`unknown models command "${sub}" (expected list or pull)`);
    }
  } catch (err) {
    if (err instanceof UsageError) return usage(io, err.message);
    if (err instanceof SttError) {
      io.stderr.write(`error [${err.code}]: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    throw err;
  }
};

function usage(io: CliIO, message: string): number {
  io.stderr.write(`error: ${message}\n\n${MODELS_USAGE}`);
  return EXIT_USAGE;
}

function dtypeArg(value: string): ModelDtype {
  if (!isModelDtype(value)) throw new UsageError(`--dtype must be one of ${MODEL_DTYPES.join(', ')} (got "${value}")`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

interface ListOptions {
  readonly cacheDir: string;
  readonly mirror: string | undefined;
  readonly dtypes: readonly ModelDtype[];
  readonly json: boolean;
}

interface ListedCopy {
  readonly dtype: ModelDtype;
  readonly source: LocalCopy['source'];
  readonly dir: string;
  readonly complete: boolean;
}

interface ListedFloatWeights {
  readonly repo: string;
  readonly local: readonly { readonly source: LocalCopy['source']; readonly dir: string; readonly complete: boolean }[];
}

async function list(io: CliIO, options: ListOptions): Promise<number> {
  const rows: { name: string; repo: string; dtypes: readonly ModelDtype[]; local: ListedCopy[]; floatWeights: ListedFloatWeights }[] = [];
  const where = { cacheDir: options.cacheDir, env: io.env, ...(options.mirror !== undefined ? { mirror: options.mirror } : {}) };
  for (const name of MODEL_NAMES) {
    const local: ListedCopy[] = [];
    for (const dtype of options.dtypes) {
      const copies = await findLocalCopies(name, {
        dtype,
        cacheDir: options.cacheDir,
        env: io.env,
        ...(options.mirror !== undefined ? { mirror: options.mirror } : {}),
      });
      for (const c of copies) local.push({ dtype, source: c.source, dir: c.dir, complete: c.missing.length === 0 });
    }
    const floatSpec = getFloatWeightsSpec(name);
    const floatCopies = await findLocalSetCopies(floatSpec, where);
    const floatWeights = { repo: floatSpec.repo, local: floatCopies.map((c) => ({ source: c.source, dir: c.dir, complete: c.missing.length === 0 })) };
    rows.push({ name, repo: getModelSpec(name).repo, dtypes: MODEL_DTYPES, local, floatWeights });
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ cacheDir: options.cacheDir, mirror: options.mirror ?? null, models: rows }, null, 2)}\n`);
    return EXIT_OK;
  }
  const table = [
    ['NAME', 'REPO', 'DTYPES', 'LOCAL', 'FLOAT WEIGHTS'],
    ...rows.map((r) => [r.name, r.repo, r.dtypes.join(','), describeLocal(r.local), describeFloat(r.floatWeights)]),
  ];
  const widths = [0, 1, 2, 3].map((col) => Math.max(...table.map((row) => (row[col] ?? '').length)));
  for (const row of table) {
    io.stdout.write(`${row.map((cell, col) => (col < 4 ? cell.padEnd(widths[col] ?? 0) : cell)).join('  ')}\n`);
  }
  io.stdout.write(`\ncache: ${options.cacheDir}\nmirror: ${options.mirror ?? '(none; set STT_MODEL_MIRROR or --mirror)'}\n`);
  return EXIT_OK;
}

/** `cache (q8, fp32), mirror (q8)`, with `incomplete` marked; `not downloaded` when nothing is local. */
function describeLocal(copies: readonly ListedCopy[]): string {
  if (copies.length === 0) return 'not downloaded';
  const bySource = new Map<string, string[]>();
  for (const c of copies) {
    const entries = bySource.get(c.source) ?? [];
    entries.push(c.complete ? c.dtype : `${c.dtype} incomplete`);
    bySource.set(c.source, entries);
  }
  return [...bySource].map(([source, entries]) => `${source} (${entries.join(', ')})`).join(', ');
}

/** `cache`, `mirror (incomplete)`…; `not downloaded (Systran/faster-whisper-base)` when nothing is local. */
function describeFloat(floatWeights: ListedFloatWeights): string {
  if (floatWeights.local.length === 0) return `not downloaded (${floatWeights.repo})`;
  return floatWeights.local.map((c) => (c.complete ? c.source : `${c.source} (incomplete)`)).join(', ');
}

interface PullOptions {
  readonly cacheDir: string;
  readonly mirror: string | undefined;
  readonly dtype: ModelDtype;
  readonly endpoint: string | undefined;
  /** Also the model's float weights (float-weights.ts). */
  readonly floatWeights: boolean;
}

async function pull(io: CliIO, name: string, options: PullOptions): Promise<number> {
  // Validates the name before any output, so a typo gets the list of known names at once.
  getModelSpec(name, options.dtype);
  const reporter = createDownloadReporter(io.stderr, io.stderrIsTTY);
  const sources = {
    cacheDir: options.cacheDir,
    env: io.env,
    allowDownload: true,
    onProgress: reporter.onProgress,
    ...(options.mirror !== undefined ? { mirror: options.mirror } : {}),
    ...(options.endpoint !== undefined ? { hubEndpoint: options.endpoint } : {}),
  };
  const how = (source: ModelSource): string => (source === 'hub' ? 'downloaded to the cache' : `already in the ${source}`);
  try {
    const model = await resolveModel(name, { ...sources, dtype: options.dtype });
    reporter.close();
    io.stdout.write(`${name} (${model.dtype}): ${how(model.source)}: ${model.dir}\n`);
    if (options.floatWeights) {
      const floatWeights = await resolveFloatWeights(name, sources);
      reporter.close();
      io.stdout.write(`${name} float weights: ${how(floatWeights.source)}: ${floatWeights.dir}\n`);
    }
    return EXIT_OK;
  } finally {
    reporter.close();
  }
}
