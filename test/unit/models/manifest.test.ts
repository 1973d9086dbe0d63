import { describe, expect, it } from 'vitest';

import { InvalidOptionError, UnknownModelError } from '../../../src/errors.js';
import { getFloatWeightsSpec, getModelSpec, isModelDtype, MODEL_DTYPES, MODEL_NAMES, parseDtype } from '../../../src/models/manifest.js';

describe('model manifest', () => {
  it('maps every model and dtype to the hub repo and ONNX file names', () => {
    const suffix = { q8: '_quantized', fp16: '_fp16', fp32: '' } as const;
    for (const name of MODEL_NAMES) {
      for (const dtype of MODEL_DTYPES) {
        const spec = getModelSpec(name, dtype);
        expect(spec.repo).toBe(`onnx-community/whisper-${name}`);
        expect(spec.revision).toBe('main');
        expect(spec.folder).toBe(`whisper-${name}`);
        expect(spec.encoderPath).toBe(`onnx/encoder_model${suffix[dtype]}.onnx`);
        expect(spec.decoderPath).toBe(`onnx/decoder_model_merged${suffix[dtype]}.onnx`);
        expect(spec.files.filter((f) => f.required).map((f) => f.path)).toEqual([
          'config.json',
          'generation_config.json',
          'preprocessor_config.json',
          'tokenizer.json',
          'tokenizer_config.json',
          spec.encoderPath,
          spec.decoderPath,
        ]);
        expect(spec.files.filter((f) => !f.required).map((f) => f.path)).toEqual([
          'added_tokens.json',
          'special_tokens_map.json',
          'vocab.json',
          'merges.txt',
          'normalizer.json',
        ]);
      }
    }
  });

  it('pins no size or hash: the reference mirror is a local rebuild, not the hub\'s bytes', () => {
    // SOURCES.md: the shared int8 ONNX files were built locally and the configs come from a GitHub
    // copy, so their hashes say nothing about what onnx-community serves.
    for (const name of MODEL_NAMES) {
      for (const dtype of MODEL_DTYPES) {
        for (const f of getModelSpec(name, dtype).files) expect(f).toMatchObject({ sizeBytes: null, sha256: null });
      }
    }
  });

  it('rejects unknown names and dtypes with coded errors', () => {
    expect(() => getModelSpec('large-v2')).toThrow(UnknownModelError);
    expect(() => getModelSpec('Base')).toThrow(/known models: tiny, base, small, medium, large-v3, large-v3-turbo/);
    expect(() => getModelSpec('base', 'int4' as never)).toThrow(InvalidOptionError);
    expect(() => parseDtype('fp64')).toThrow(/expected one of: q8, fp16, fp32/);
    expect(parseDtype('fp16')).toBe('fp16');
    expect(isModelDtype('q8')).toBe(true);
    expect(isModelDtype('q4')).toBe(false);
  });

  it('defaults to q8, and names the pull command of other dtypes', () => {
    expect(getModelSpec('tiny').dtype).toBe('q8');
    expect(getModelSpec('tiny').pullCommand).toBe('stt-engine models pull tiny');
    expect(getModelSpec('small', 'fp16').pullCommand).toBe('stt-engine models pull small --dtype fp16');
    // A folder holds a dtype when one of its ONNX files is there (configs are shared by every dtype).
    expect(getModelSpec('base', 'fp32').markers).toEqual(['onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx']);
  });

  it("maps every model to faster-whisper's own float copy: model.bin required, the rest as the repository has it", () => {
    const repos = MODEL_NAMES.map((name) => getFloatWeightsSpec(name).repo);
    expect(repos).toEqual([
      'Systran/faster-whisper-tiny',
      'Systran/faster-whisper-base',
      'Systran/faster-whisper-small',
      'Systran/faster-whisper-medium',
      'Systran/faster-whisper-large-v3',
      'mobiuslabsgmbh/faster-whisper-large-v3-turbo',
    ]);
    const spec = getFloatWeightsSpec('base');
    expect(spec).toMatchObject({
      name: 'base',
      folder: 'faster-whisper-base',
      revision: 'main',
      weightsPath: 'model.bin',
      markers: ['model.bin'],
      pullCommand: 'stt-engine models pull base --float-weights',
    });
    expect(spec.files.filter((f) => f.required).map((f) => f.path)).toEqual(['model.bin']);
    expect(spec.files.filter((f) => !f.required).map((f) => f.path)).toEqual([
      'config.json',
      'tokenizer.json',
      'vocabulary.txt',
      'vocabulary.json',
      'preprocessor_config.json',
    ]);
    for (const f of spec.files) expect(f).toMatchObject({ sizeBytes: null, sha256: null });
    expect(() => getFloatWeightsSpec('large-v2')).toThrow(UnknownModelError);
  });
});
