/**
 * How the int8 Whisper models quantise their activations (see src/onnx/row-quant.ts for the why).
 *
 * - 'per-row' (default): the encoder quantises each of its 1500 positions with its own scale, and so
 *   does the decoder's projection of the encoder states into cross-attention keys and values (once
 *   per window). The decoder's per-token steps, a few rows each, stay as exported.
 * - 'per-tensor': the graphs exactly as exported (onnxruntime's quantize_dynamic).
 *
 * Only q8 models hold dynamic quantisation; fp16 and fp32 files are loaded as they are ('none').
 */
import { readFile } from 'node:fs/promises';
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

export interface WhisperGraphs {
  readonly encoder: OnnxModelSource;
  readonly decoder: OnnxModelSource;
  readonly activationQuant: EffectiveActivationQuant;
}

async function rewrite(path: string, select: RowQuantSelector): Promise<{ source: OnnxModelSource; rewritten: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    // Unreadable: onnxruntime reports it with the usual coded error when it opens the path.
    return { source: path, rewritten: 0 };
  }
  try {
    const result = quantizeActivationsPerRow(bytes, select);
    return { source: result.rewritten > 0 ? { path, bytes: result.bytes } : path, rewritten: result.rewritten };
  } catch (cause) {
    if (!(cause instanceof ProtobufError)) throw cause;
    throw new ModelCorruptError(`${path} is not a readable ONNX model: ${cause.message}`, { path }, { cause });
  }
}

/** The encoder and decoder to open, rewritten for per-row activation quantisation when asked. */
export async function prepareWhisperGraphs(model: ResolvedModel, mode: ActivationQuant): Promise<WhisperGraphs> {
  if (model.dtype !== 'q8') return { encoder: model.encoderPath, decoder: model.decoderPath, activationQuant: 'none' };
  if (mode === 'per-tensor') return { encoder: model.encoderPath, decoder: model.decoderPath, activationQuant: 'per-tensor' };
  const [encoder, decoder] = await Promise.all([
    rewrite(model.encoderPath, () => true),
    rewrite(model.decoderPath, (input) => input === ENCODER_STATES),
  ]);
  return {
    encoder: encoder.source,
    decoder: decoder.source,
    activationQuant: encoder.rewritten + decoder.rewritten > 0 ? 'per-row' : 'per-tensor',
  };
}
