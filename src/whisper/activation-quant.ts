/**
 * How the int8 Whisper models quantise their activations (see src/onnx/row-quant.ts for the why).
 *
 * - 'per-row' (default): the encoder quantises each of its 1500 positions with its own scale, and so
 *   does the decoder's projection of the encoder states into cross-attention keys and values (once
 *   per window). The decoder's per-token steps, a few rows each, stay as exported.
 * - 'per-tensor': the graphs exactly as exported (onnxruntime's quantize_dynamic).
 *
 * Only q8 models hold dynamic quantisation; fp16 and fp32 files are loaded as they are ('none').
 *
 * The rewritten graphs are kept in the model cache (`<cache>/derived/`), keyed by the source file's
 * path, size and mtime and the rewrite's version: later loads hand onnxruntime that file, so they
 * pay neither the rewrite (~170 ms) nor a second in-memory copy of the model while the sessions load
 * (+200 MiB peak RSS in the engine). Where the cache cannot be written, the bytes stay in memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelCorruptError } from '../errors.js';
import { ProtobufError } from '../onnx/protobuf.js';
import { quantizeActivationsPerRow, type RowQuantSelector } from '../onnx/row-quant.js';
import type { OnnxModelSource } from '../onnx/runtime.js';
import type { ResolvedModel } from './types.js';

export const ACTIVATION_QUANTS = ['per-row', 'per-tensor'] as const;
export type ActivationQuant = (typeof ACTIVATION_QUANTS)[number];
export function isActivationQuant(value: unknown): value is ActivationQuant {
  return typeof value === 'string' && (ACTIVATION_QUANTS as readonly string[]).includes(value);
}

/** What the loaded sessions really do: 'none' for a model without dynamic quantisation. */
export type EffectiveActivationQuant = ActivationQuant | 'none';

/** The decoder's input that carries the encoder states (merged Whisper decoder contract). */
const ENCODER_STATES = 'encoder_hidden_states';

/** Bump when the rewrite's output changes, so that graphs cached by an older version are not reused. */
const REWRITE_VERSION = 1;

export interface WhisperGraphs {
  readonly encoder: OnnxModelSource;
  readonly decoder: OnnxModelSource;
  readonly activationQuant: EffectiveActivationQuant;
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Where the rewrite of `file` lives in the cache: one folder per source file, one name per version of it. */
async function cachePathFor(cacheDir: string, file: string, selector: string): Promise<string> {
  const source = path.resolve(file);
  const info = await stat(source);
  const folder = path.join(cacheDir, 'derived', digest(source));
  return path.join(folder, `${path.basename(source, '.onnx')}.per-row.${digest([info.size, info.mtimeMs, REWRITE_VERSION, selector])}.onnx`);
}

/** Writes atomically (a reader never sees half a file) and drops older rewrites of the same source. */
async function storeInCache(target: string, bytes: Uint8Array): Promise<void> {
  const folder = path.dirname(target);
  await mkdir(folder, { recursive: true });
  const temporary = `${target}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, target);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  for (const name of await readdir(folder)) {
    if (name !== path.basename(target) && name.endsWith('.onnx')) await unlink(path.join(folder, name)).catch(() => undefined);
  }
}

interface Rewritten {
  readonly source: OnnxModelSource;
  /** Whether the graph quantises any activation per row (a cached rewrite always does). */
  readonly perRow: boolean;
}

async function rewrite(file: string, select: RowQuantSelector, selector: string, cacheDir: string | null): Promise<Rewritten> {
  let cached: string | null = null;
  if (cacheDir !== null) {
    try {
      cached = await cachePathFor(cacheDir, file, selector);
      await access(cached);
      return { source: cached, perRow: true };
    } catch {
      // Not cached yet (or the source cannot be read: onnxruntime reports that below).
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    // Unreadable: onnxruntime reports it with the usual coded error when it opens the path.
    return { source: file, perRow: false };
  }
  let result;
  try {
    result = quantizeActivationsPerRow(bytes, select);
  } catch (cause) {
    if (!(cause instanceof ProtobufError)) throw cause;
    throw new ModelCorruptError(`${file} is not a readable ONNX model: ${cause.message}`, { path: file }, { cause });
  }
  if (result.rewritten === 0) return { source: file, perRow: false };
  if (cached !== null) {
    try {
      await storeInCache(cached, result.bytes);
      return { source: cached, perRow: true };
    } catch {
      // A read-only or full cache: load from memory this time.
    }
  }
  return { source: { path: file, bytes: result.bytes }, perRow: true };
}

/**
 * The encoder and decoder to open, rewritten for per-row activation quantisation when asked.
 * `cacheDir`: the model cache that keeps rewritten graphs (null: rewrite in memory at every load).
 */
export async function prepareWhisperGraphs(model: ResolvedModel, mode: ActivationQuant, cacheDir: string | null): Promise<WhisperGraphs> {
  if (model.dtype !== 'q8') return { encoder: model.encoderPath, decoder: model.decoderPath, activationQuant: 'none' };
  if (mode === 'per-tensor') return { encoder: model.encoderPath, decoder: model.decoderPath, activationQuant: 'per-tensor' };
  // One after the other: two models' bytes in memory at once would raise the peak for nothing.
  const encoder = await rewrite(model.encoderPath, () => true, 'all', cacheDir);
  const decoder = await rewrite(model.decoderPath, (input) => input === ENCODER_STATES, ENCODER_STATES, cacheDir);
  return {
    encoder: encoder.source,
    decoder: decoder.source,
    activationQuant: encoder.perRow || decoder.perRow ? 'per-row' : 'per-tensor',
  };
}
