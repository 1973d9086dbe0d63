import { describe, expect, it } from 'vitest';

import { InvalidOptionError, UnknownModelError } from '../../../src/errors.js';
import { getModelSpec, isModelDtype, MODEL_DTYPES, MODEL_NAMES, parseDtype } from '../../../src/models/manifest.js';

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

  it('knows sizes and hashes only for whisper-base (ONNX: q8 only) and never invents others', () => {
    const q8 = getModelSpec('base', 'q8');
    expect(q8.files.every((f) => f.sha256 !== null && f.sizeBytes !== null)).toBe(true);
    expect(q8.files.find((f) => f.path === q8.decoderPath)).toMatchObject({
      sizeBytes: 79208649,
      sha256: '030aa69c774e2a15eec0dee84b2fa91faa5d9f48f49094c1d849de09b587a40f',
    });
    const fp16 = getModelSpec('base', 'fp16');
    expect(fp16.files.find((f) => f.path === fp16.encoderPath)).toMatchObject({ sizeBytes: null, sha256: null });
    expect(fp16.files.find((f) => f.path === 'tokenizer.json')?.sha256).toBe(
      '27fc476bfe7f17299480be2273fc0608e4d5a99aba2ab5dec5374b4482d1a566',
    );
    for (const name of MODEL_NAMES.filter((m) => m !== 'base')) {
      expect(getModelSpec(name).files.every((f) => f.sha256 === null && f.sizeBytes === null)).toBe(true);
    }
    for (const f of q8.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
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

  it('defaults to q8', () => {
    expect(getModelSpec('tiny').dtype).toBe('q8');
  });
});
