/**
 * The encoder and decoder graphs as onnxruntime gets them: the hub's files, rewritten at load.
 *
 * 1. How the int8 models quantise their activations (see src/onnx/row-quant.ts for the why):
 * - 'per-row' (default): the encoder quantises each of its 1500 positions with its own scale, and so
 *   does the decoder's projection of the encoder states into cross-attention keys and values (once
 *   per window). The decoder's per-token steps, a few rows each, stay as exported.
 * - 'per-tensor': the graphs exactly as exported (onnxruntime's quantize_dynamic).
 *
 * Only q8 models hold dynamic quantisation; fp16 and fp32 files have nothing to rewrite ('none').
 *
 * 2. Short windows (src/onnx/position-slice.ts): the encoder's positional embedding follows the
 *    input's length, so a caller may encode a short input without padding it to 30 s. Full windows
 *    compute what they did before. Applied with 'per-row' and to fp16 / fp32 files; 'per-tensor'
 *    loads the files exactly as exported, full windows only.
 *
 * 3. The encoder's self-attention fused into onnxruntime's MultiHeadAttention
 *    (src/onnx/attention-fusion.ts): computed block by block instead of through a whole score matrix,
 *    5–9 % of a 20–30 s pass. Applied with 'per-row' and to fp32 files (the CPU kernel is float32 only).
 *
 * 4. Self-attention cache kept by the caller (src/onnx/kv-append.ts): the decoder returns only each
 *    pass's new key/value rows instead of the whole cache, which src/whisper/kv-cache.ts appends to
 *    preallocated buffers. Logits are bit-identical. Applied with 'per-row' and to fp16 / fp32 files.
 *
 * 5. Optional, first: the int8 MatMul weights requantised per output channel from a float copy of the
 *    same weights (a CTranslate2 model.bin, `floatWeights`; src/onnx/weight-requant.ts), as
 *    CTranslate2 quantises them. Same graphs and speed, CTranslate2's numerics: the hub's files
 *    quantise each weight matrix with one scale. Every int8 MatMul weight must match a float matrix
 *    (STT_MODEL_MISMATCH otherwise: those are another model's weights). Applied with 'per-row' only.
 *
 * 6. Constant Reshape targets in the decoder (src/onnx/reshape-targets.ts): the head splits and merges
 *    that the export computes from Shape / Gather / Unsqueeze / Concat at every step get constant
 *    targets (0 copies a dimension), and that shape arithmetic goes: ~150 kernels fewer a step, ~5 %
 *    of a beam-5 step. Logits are bit-identical. Applied wherever step 4 is.
 *
 * 7. The self-attention cache of step 4 laid out sequence-major (src/onnx/kv-sequence-major.ts):
 *    the valid rows are a prefix of the caller's buffer, fed as a view, so the decoder no longer
 *    copies the whole cache out of it at every step; the attention reads it in place through
 *    FusedMatMul's batch transposition. 5–9 % of a beam-5 step, logits bit-identical. Applied with
 *    'per-row' and to fp32 files (onnxruntime's CPU FusedMatMul is float32 only).
 *
 * 8. Only where this CPU's int8 products saturate (src/onnx/saturation-probe.ts: x86 without
 *    AVX-VNNI), every integer MatMul is kept exact (`saturationGuard`):
 *    - the encoder's rows are quantised to 7 bits (step 1 with reducedRange, src/onnx/row-quant.ts):
 *      no pair of u8 × s8 products can overflow, and the int8 weights keep onnxruntime's fast
 *      u8 × s8 kernel ('7-bit-activations'). An encoder pass takes 11–16 % less than with uint8
 *      weights, and the teacher-forced loss moved within what summation order moves (README → Models);
 *    - the decoder's int8 weights are stored as uint8 with zero point 128 (src/onnx/uint8-weights.ts),
 *      so that onnxruntime takes its exact u8 × u8 kernel ('uint8-weights'): its per-step
 *      quantisations stay 8-bit per tensor as exported. So is an encoder that step 1 did not
 *      rewrite whole (an integer MatMul left reading another input).
 *    Applied with 'per-row' (the rewrites' path) on the CPU device (a CUDA session that falls back
 *    to the CPU keeps int8 weights), and part of the cache key.
 *
 * 9. On the CPU device, the rewritten encoder also cut into ENCODER_PIECES runs of layers
 *    (src/onnx/layer-split.ts, `encoderPieces`), which src/whisper/ort.ts runs one after the other, so
 *    that a cancelled encoder pass stops at the next cut instead of running to its end (onnxruntime
 *    cannot stop a run). Outputs bit-identical. The pieces are cached beside the rewrite they were cut
 *    from (and dropped with it).
 *
 * The rewritten graphs are kept in the model cache (`<cache>/derived/`, src/whisper/graph-cache.ts), keyed by the source file's
 * path, size and mtime, the rewrite's version and which rewrite it is: later loads hand onnxruntime that file, so they
 * pay neither the rewrite (~170 ms) nor a second in-memory copy of the model while the sessions load
 * (+200 MiB peak RSS in the engine). Where the cache cannot be written, the bytes stay in memory.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidOptionError, ModelCorruptError, ModelMismatchError } from '../errors.js';
import { locateCtranslate2Model, readCtranslate2Model, type FloatMatrix } from '../models/ctranslate2.js';
import { ProtobufError } from '../onnx/protobuf.js';
import { fuseSelfAttention } from '../onnx/attention-fusion.js';
import { appendOnlySelfAttentionCache } from '../onnx/kv-append.js';
import { constantReshapeTargets } from '../onnx/reshape-targets.js';
import { sequenceMajorSelfAttentionCache } from '../onnx/kv-sequence-major.js';
import { slicePositionalEmbedding } from '../onnx/position-slice.js';
import { quantizeActivationsPerRow, type RowQuantSelector } from '../onnx/row-quant.js';
import { requantizeWeightsPerChannel } from '../onnx/weight-requant.js';
import { int8ProductsSaturate } from '../onnx/saturation-probe.js';
import { shiftWeightsToUint8 } from '../onnx/uint8-weights.js';
import { splitAtLayers } from '../onnx/layer-split.js';
import type { OnnxModelSource } from '../onnx/runtime.js';
import type { ModelDtype, ResolvedModel } from './types.js';
import { cachePathFor, digest, flagsPath, piecePath, readCachedFlags, storeInCache, writeAtomically, type RewriteFlags } from './graph-cache.js';

export const ACTIVATION_QUANTS = ['per-row', 'per-tensor'] as const;
export type ActivationQuant = (typeof ACTIVATION_QUANTS)[number];
export function isActivationQuant(value: unknown): value is ActivationQuant {
  return typeof value === 'string' && (ACTIVATION_QUANTS as readonly string[]).includes(value);
}

/** What the loaded sessions really do: 'none' for a model without dynamic quantisation. */
export type EffectiveActivationQuant = ActivationQuant | 'none';

/** How the int8 MatMul weights are quantised: as exported (one scale per matrix) or per output channel. */
export type WeightQuant = 'per-tensor' | 'per-channel' | 'none';

/** The decoder's input that carries the encoder states (merged Whisper decoder contract). */
const ENCODER_STATES = 'encoder_hidden_states';

/**
 * Step 9: how many runs an encoder pass is cut into on the CPU. A cancel waits for at most one piece
 * (a third of a pass: ≤ 80–180 ms of a 20 s window on a 2-core CPU); each cut costs one more run and
 * a copy of the residual stream (not measurable against this CPU's noise), and each piece's session
 * keeps its own onnxruntime arena (+30–45 MiB RSS in all).
 */
const ENCODER_PIECES = 3;

export interface WhisperGraphs {
  readonly encoder: OnnxModelSource;
  /** What to open for the encoder: its pieces in run order on the CPU (step 9), else [encoder]. */
  readonly encoderPieces: readonly OnnxModelSource[];
  readonly decoder: OnnxModelSource;
  readonly activationQuant: EffectiveActivationQuant;
  readonly weightQuant: WeightQuant;
  /** Whether the encoder accepts windows shorter than a full one. */
  readonly shortWindows: boolean;
  /** How each graph's integer MatMuls are kept exact where this CPU's int8 products saturate (step 8). */
  readonly saturationGuard: SaturationGuards;
}

/** Step 8 for one graph: nothing to guard, 7-bit per-row activations, or weights stored as uint8. */
export type SaturationGuard = 'none' | '7-bit-activations' | 'uint8-weights';

export interface SaturationGuards {
  readonly encoder: SaturationGuard;
  readonly decoder: SaturationGuard;
}

const UNGUARDED: SaturationGuards = { encoder: 'none', decoder: 'none' };

function guardOf(flags: RewriteFlags): SaturationGuard {
  return flags.reducedRange ? '7-bit-activations' : flags.uint8Weights ? 'uint8-weights' : 'none';
}

interface Rewrite extends RewriteFlags {
  readonly bytes: Uint8Array;
}

/** A rewrite of one file, named (the name keys the cache) so that different rewrites never share an entry. */
interface RewriteSpec {
  readonly tag: string;
  /**
   * The middle word of the cached file's name. A new rewrite replaces the older ones of its kind only, so
   * loads with and without float weights (two kinds) do not evict each other's entry at every switch.
   */
  readonly kind: 'rewritten' | 'per-channel';
  readonly apply: (bytes: Uint8Array) => Rewrite | Promise<Rewrite>;
}

interface Rewritten extends RewriteFlags {
  readonly source: OnnxModelSource;
  /** Whether `source` is a file of the model cache (where derived files may be written beside it). */
  readonly cached: boolean;
}

async function rewrite(file: string, spec: RewriteSpec, cacheDir: string | null): Promise<Rewritten> {
  let cached: string | null = null;
  if (cacheDir !== null) {
    try {
      cached = await cachePathFor(cacheDir, file, spec.kind, spec.tag);
      const flags = await readCachedFlags(cached);
      if (flags !== null) return { source: cached, cached: true, ...flags };
    } catch {
      // The source cannot be read: onnxruntime reports that below.
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    // Unreadable: onnxruntime reports it with the usual coded error when it opens the path.
    return { source: file, cached: false, perRow: false, perChannel: false, shortWindows: false, reducedRange: false, uint8Weights: false };
  }
  let result: Rewrite;
  try {
    result = await spec.apply(bytes);
  } catch (cause) {
    if (!(cause instanceof ProtobufError)) throw cause;
    throw new ModelCorruptError(`${file} is not a readable ONNX model: ${cause.message}`, { path: file }, { cause });
  }
  const { perRow, perChannel, shortWindows, reducedRange, uint8Weights } = result;
  const flags: RewriteFlags = { perRow, perChannel, shortWindows, reducedRange, uint8Weights };
  if (result.bytes === bytes) return { source: file, cached: false, ...flags };
  if (cached !== null) {
    try {
      // The flags first: a rewrite is only taken from the cache with its flags beside it.
      await mkdir(path.dirname(cached), { recursive: true });
      await writeFile(flagsPath(cached), JSON.stringify(flags));
      await storeInCache(cached, result.bytes);
      return { source: cached, cached: true, ...flags };
    } catch {
      // A read-only or full cache: load from memory this time.
    }
  }
  return { source: { path: file, bytes: result.bytes }, cached: false, ...flags };
}

/**
 * Step 9: the encoder cut into ENCODER_PIECES runs of layers, or itself when it cannot be cut cleanly.
 * Beside a cached rewrite the pieces are cached too (written once, opened by path: no copy of the
 * model in memory, no cut at later loads); otherwise they are cut in memory.
 */
async function encoderPieces(encoder: Rewritten): Promise<OnnxModelSource[]> {
  const source = encoder.source;
  const file = typeof source === 'string' ? source : source.path;
  if (encoder.cached && typeof source === 'string') {
    const paths = Array.from({ length: ENCODER_PIECES }, (_, i) => piecePath(source, i, ENCODER_PIECES));
    const present = await Promise.all(paths.map((p) => access(p).then(() => true, () => false)));
    if (present.every(Boolean)) return paths;
  }
  let bytes: Uint8Array;
  try {
    bytes = typeof source === 'string' ? await readFile(source) : source.bytes;
  } catch {
    return [source]; // onnxruntime's load reports an unreadable file with the usual coded error
  }
  let split: ReturnType<typeof splitAtLayers>;
  try {
    split = splitAtLayers(bytes, ENCODER_PIECES);
  } catch (cause) {
    if (cause instanceof ProtobufError) return [source]; // and a corrupt one
    throw cause;
  }
  if (split === null) return [source];
  if (encoder.cached && typeof source === 'string' && split.pieces.length === ENCODER_PIECES) {
    try {
      const paths = split.pieces.map((_, i) => piecePath(source, i, ENCODER_PIECES));
      for (const [i, piece] of split.pieces.entries()) await writeAtomically(paths[i] as string, piece);
      return paths;
    } catch {
      // A full or read-only cache: open the pieces from memory this time.
    }
  }
  return split.pieces.map((piece) => ({ path: file, bytes: piece }));
}

/** The float weights a rewrite requantises from, read once (only when a rewrite is not cached). */
interface FloatWeights {
  readonly path: string;
  /** Identifies the file's content for the cache key: path, size and mtime. */
  readonly identity: string;
  readonly matrices: () => Promise<readonly FloatMatrix[]>;
}

type Quantized = Omit<Rewrite, 'shortWindows' | 'uint8Weights'>;

/** How step 1 quantises a file's rows, and whether step 8 may rely on that (`reducedRange`). */
interface RowQuantPlan {
  readonly select: RowQuantSelector;
  /** Ask for 7-bit rows (step 8 on a saturating CPU). */
  readonly reducedRange: boolean;
}

/** Step 8 on a rewritten graph; throws ModelCorruptError when the weights are not in a form it can shift. */
function uint8WeightsRewrite(bytes: Uint8Array, file: string): { bytes: Uint8Array; uint8Weights: boolean } {
  const shifted = shiftWeightsToUint8(bytes);
  if (shifted.reason !== null) {
    // A file in another layout: it would run with saturating products, which is wrong, not slower.
    throw new ModelCorruptError(`${file}: its int8 weights cannot be stored as uint8 for this CPU (${shifted.reason})`, { path: file });
  }
  return { bytes: shifted.bytes, uint8Weights: shifted.shifted > 0 };
}

/** Step 5 then step 1 of the module comment, on one file. */
async function quantizeRewrite(bytes: Uint8Array, file: string, plan: RowQuantPlan, floatWeights: FloatWeights | null): Promise<Quantized> {
  let perChannel = false;
  if (floatWeights !== null) {
    const requant = requantizeWeightsPerChannel(bytes, await floatWeights.matrices());
    const missing = requant.unmatched[0];
    if (missing !== undefined) {
      throw new ModelMismatchError(
        `the float weights in ${floatWeights.path} are not those of ${file}: ${requant.unmatched.length} of its ${requant.weights} int8 MatMul weights ` +
          `(${missing} first) match no float matrix there`,
        { path: floatWeights.path, model: file, unmatched: requant.unmatched.length, weights: requant.weights },
      );
    }
    bytes = requant.bytes;
    perChannel = requant.requantized > 0;
  }
  const rows = quantizeActivationsPerRow(bytes, plan.select, { reducedRange: plan.reducedRange });
  // 7-bit rows guard the products only when they feed every integer MatMul of the file.
  const reducedRange = plan.reducedRange && rows.rewritten > 0 && rows.unrewrittenIntegerMatMuls === 0;
  if (plan.reducedRange && !reducedRange && rows.rewritten > 0) {
    // Some MatMul still reads 8-bit input: take the 8-bit rows, and step 8 stores the weights as uint8.
    const full = quantizeActivationsPerRow(bytes, plan.select);
    return { bytes: full.bytes, perRow: true, perChannel, reducedRange: false };
  }
  return { bytes: rows.bytes, perRow: rows.rewritten > 0, perChannel, reducedRange };
}

const asIs = (bytes: Uint8Array): Quantized => ({ bytes, perRow: false, perChannel: false, reducedRange: false });

function floatTag(floatWeights: FloatWeights | null): string {
  return floatWeights === null ? '' : `:per-channel:${floatWeights.identity}`;
}

function encoderRewrite(file: string, quantize: boolean, fuseAttention: boolean, nFrames: number, floatWeights: FloatWeights | null, saturates: boolean): RewriteSpec {
  const shape = { positions: nFrames / 2, frames: nFrames };
  return {
    tag: `encoder:${quantize ? 'per-row' : 'as-is'}:short-windows:${nFrames}${fuseAttention ? ':mha' : ''}${floatTag(floatWeights)}${saturates ? ':exact-products' : ''}`,
    kind: floatWeights === null ? 'rewritten' : 'per-channel',
    apply: async (bytes) => {
      const quantized = quantize ? await quantizeRewrite(bytes, file, { select: () => true, reducedRange: saturates }, floatWeights) : asIs(bytes);
      const sliced = slicePositionalEmbedding(quantized.bytes, shape);
      const fused = fuseAttention ? fuseSelfAttention(sliced.bytes).bytes : sliced.bytes;
      const weights = saturates && !quantized.reducedRange ? uint8WeightsRewrite(fused, file) : { bytes: fused, uint8Weights: false };
      const { perRow, perChannel, reducedRange } = quantized;
      return { bytes: weights.bytes, perRow, perChannel, shortWindows: sliced.sliced, reducedRange, uint8Weights: weights.uint8Weights };
    },
  };
}

const SELF_ATTENTION_PAST = /^past_key_values\.\d+\.decoder\.(key|value)$/;

function decoderRewrite(file: string, quantize: boolean, sequenceMajor: boolean, floatWeights: FloatWeights | null, saturates: boolean): RewriteSpec {
  return {
    tag: `decoder:${quantize ? `per-row:${ENCODER_STATES}` : 'as-is'}:kv-append:reshape-targets${sequenceMajor ? ':seq-major' : ''}${floatTag(floatWeights)}${saturates ? ':u8-weights' : ''}`,
    kind: floatWeights === null ? 'rewritten' : 'per-channel',
    apply: async (bytes) => {
      // The decoder's per-step quantisations stay 8-bit per tensor: step 8 stores its weights as uint8.
      const plan: RowQuantPlan = { select: (input) => input === ENCODER_STATES, reducedRange: false };
      const quantized = quantize ? await quantizeRewrite(bytes, file, plan, floatWeights) : asIs(bytes);
      const appended = appendOnlySelfAttentionCache(quantized.bytes, (input) => SELF_ATTENTION_PAST.test(input));
      const reshaped = constantReshapeTargets(appended.bytes);
      const isPast = (input: string): boolean => SELF_ATTENTION_PAST.test(input);
      const laidOut = sequenceMajor ? sequenceMajorSelfAttentionCache(reshaped.bytes, isPast).bytes : reshaped.bytes;
      const weights = saturates ? uint8WeightsRewrite(laidOut, file) : { bytes: laidOut, uint8Weights: false };
      return { bytes: weights.bytes, perRow: quantized.perRow, perChannel: quantized.perChannel, shortWindows: false, reducedRange: false, uint8Weights: weights.uint8Weights };
    },
  };
}

/**
 * Float weights requantise the int8 graphs with per-row activations only: InvalidOptionError for
 * another dtype or 'per-tensor' (checked before a float copy is fetched, and again at load).
 */
export function checkFloatWeightsApply(dtype: ModelDtype, mode: ActivationQuant): void {
  if (dtype === 'q8' && mode === 'per-row') return;
  throw new InvalidOptionError(
    dtype === 'q8'
      ? "floatWeights requantises the int8 graphs, which activationQuant 'per-tensor' loads exactly as exported: use 'per-row'"
      : `floatWeights applies to int8 (q8) models; this one is ${dtype}`,
    { option: 'floatWeights' },
  );
}

/** The float weights at `file` (a CTranslate2 model folder or its model.bin), read lazily and once. */
async function floatWeightsAt(file: string): Promise<FloatWeights> {
  const bin = await locateCtranslate2Model(file);
  let loaded: Promise<readonly FloatMatrix[]> | null = null;
  return {
    path: bin.path,
    identity: digest([bin.path, bin.size, bin.mtimeMs]),
    matrices: () => (loaded ??= readCtranslate2Model(bin.path).then((w) => w.matrices)),
  };
}

/**
 * The encoder and decoder to open, rewritten as the module comment says. `nFrames`: mel frames of a
 * full window (preprocessor_config.json). `cacheDir`: the model cache that keeps rewritten graphs
 * (null: rewrite in memory at every load).
 */
export async function prepareWhisperGraphs(
  model: ResolvedModel,
  mode: ActivationQuant,
  cacheDir: string | null,
  nFrames: number,
  floatWeightsPath: string | null = null,
  /** Whether the graphs run on the CPU, where steps 8 and 9 apply (CUDA's integer MatMul takes int8 weights only; a GPU's encoder pass is too short to need cuts). */
  onCpu = true,
): Promise<WhisperGraphs> {
  const quantized = model.dtype === 'q8';
  if (floatWeightsPath !== null) checkFloatWeightsApply(model.dtype, mode);
  if (quantized && mode === 'per-tensor') {
    return { encoder: model.encoderPath, encoderPieces: [model.encoderPath], decoder: model.decoderPath, activationQuant: 'per-tensor', weightQuant: 'per-tensor', shortWindows: false, saturationGuard: UNGUARDED };
  }
  const saturates = quantized && onCpu && (await int8ProductsSaturate());
  const floatWeights = floatWeightsPath === null ? null : await floatWeightsAt(floatWeightsPath);
  // One after the other: two models' bytes in memory at once would raise the peak for nothing.
  // onnxruntime's CPU MultiHeadAttention is float32 only: an fp16 encoder keeps its attention as exported.
  const encoder = await rewrite(model.encoderPath, encoderRewrite(model.encoderPath, quantized, model.dtype !== 'fp16', nFrames, floatWeights, saturates), cacheDir);
  const decoder = await rewrite(model.decoderPath, decoderRewrite(model.decoderPath, quantized, model.dtype !== 'fp16', floatWeights, saturates), cacheDir);
  return {
    encoder: encoder.source,
    encoderPieces: onCpu ? await encoderPieces(encoder) : [encoder.source],
    decoder: decoder.source,
    activationQuant: !quantized ? 'none' : encoder.perRow || decoder.perRow ? 'per-row' : 'per-tensor',
    weightQuant: !quantized ? 'none' : encoder.perChannel && decoder.perChannel ? 'per-channel' : 'per-tensor',
    shortWindows: encoder.shortWindows,
    saturationGuard: { encoder: guardOf(encoder), decoder: guardOf(decoder) },
  };
}
