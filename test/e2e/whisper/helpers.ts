import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SHARED_GOLDEN, WHISPER_BASE_DIR } from '../../helpers/paths.js';
import type { DecodeOptions, DecodingResult, EncodedAudio, ResolvedModel, WhisperBackend } from '../../../src/whisper/types.js';
import { plainDecodeOptions } from '../../unit/whisper/decode-options.js';
import type { Whisper } from '../../../src/whisper/whisper.js';

export const BASE_MODEL: ResolvedModel = {
  name: 'base',
  dtype: 'q8',
  source: 'dir',
  dir: WHISPER_BASE_DIR,
  encoderPath: path.join(WHISPER_BASE_DIR, 'onnx', 'encoder_model_quantized.onnx'),
  decoderPath: path.join(WHISPER_BASE_DIR, 'onnx', 'decoder_model_merged_quantized.onnx'),
};

export interface GoldenGreedy {
  readonly id: string;
  readonly audio: string;
  readonly lang: string;
  readonly prompt: readonly number[];
  readonly tokens: readonly number[];
  readonly text: string;
}

export function readGolden(): { greedy: GoldenGreedy[] } {
  return JSON.parse(readFileSync(path.join(SHARED_GOLDEN, 'golden.json'), 'utf8')) as { greedy: GoldenGreedy[] };
}

/** The reference log-mel of a golden clip: float32 LE, row-major [80][3000]. */
export function readGoldenMel(id: string): Float32Array {
  const bytes = readFileSync(path.join(SHARED_GOLDEN, `mel_${id}.f32`));
  const mel = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < mel.length; i++) mel[i] = view.getFloat32(i * 4, true);
  return mel;
}

/** The golden settings: greedy, no timestamps, generation_config suppression, blank suppression. */
export function greedyOptions(whisper: Whisper, language: string, overrides: Partial<DecodeOptions> = {}): DecodeOptions {
  return plainDecodeOptions({
    language,
    suppressTokens: whisper.defaultSuppressTokens,
    suppressBlank: true,
    maxNewTokens: Math.floor(whisper.maxTargetPositions / 2),
    ...overrides,
  });
}

/** A Whisper as a WhisperBackend that records the length of every window it encoded and every decode it ran. */
export function recordingBackend(whisper: Whisper): {
  backend: WhisperBackend;
  frames: number[];
  decodes: { options: DecodeOptions; result: DecodingResult }[];
} {
  const frames: number[] = [];
  const decodes: { options: DecodeOptions; result: DecodingResult }[] = [];
  const backend: WhisperBackend = {
    modelName: whisper.modelName,
    device: whisper.device,
    nMels: whisper.nMels,
    hopLength: whisper.hopLength,
    nFrames: whisper.nFrames,
    maxTargetPositions: whisper.maxTargetPositions,
    defaultSuppressTokens: whisper.defaultSuppressTokens,
    tokenizer: whisper.tokenizer,
    shortWindows: whisper.shortWindows,
    encode: (mel, n) => {
      frames.push(n ?? whisper.nFrames);
      return whisper.encode(mel, n);
    },
    detectLanguage: (audio) => whisper.detectLanguage(audio),
    decode: async (audio: EncodedAudio, options: DecodeOptions) => {
      const result = await whisper.decode(audio, options);
      decodes.push({ options, result });
      return result;
    },
    release: (audio) => whisper.release(audio),
    close: () => whisper.close(),
  };
  return { backend, frames, decodes };
}
