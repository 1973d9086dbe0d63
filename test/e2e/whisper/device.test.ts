import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineWarning } from '../../../src/whisper/types.js';
import { Whisper } from '../../../src/whisper/whisper.js';
import { BASE_MODEL } from './helpers.js';

// This suite runs where onnxruntime-node's CUDA provider is not installed (the default: .npmrc skips it).
describe('devices and broken model files', () => {
  it('cuda:1 without the CUDA provider falls back to cpu with a warning', async () => {
    const warnings: EngineWarning[] = [];
    const whisper = await Whisper.load(BASE_MODEL, { device: 'cuda:1', onWarning: (w) => warnings.push(w) });
    try {
      expect(whisper.device).toEqual({ kind: 'cpu' });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.code).toBe('STT_WARN_DEVICE_FALLBACK');
      expect(warnings[0]?.message).toContain('cuda:1');
    } finally {
      await whisper.close();
    }
  });

  it('strictDevice turns the fallback into STT_DEVICE_UNAVAILABLE', async () => {
    await expect(Whisper.load(BASE_MODEL, { device: 'cuda', strictDevice: true })).rejects.toMatchObject({
      code: 'STT_DEVICE_UNAVAILABLE',
    });
  });

  it('an unknown device is STT_DEVICE_UNKNOWN', async () => {
    await expect(Whisper.load(BASE_MODEL, { device: 'tpu' })).rejects.toMatchObject({ code: 'STT_DEVICE_UNKNOWN' });
  });

  it('bad thread counts are STT_INVALID_OPTION', async () => {
    await expect(Whisper.load(BASE_MODEL, { intraOpThreads: 0 })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
  });

  it.each(['cpu', 'cuda:0'])('a garbage ONNX file is STT_MODEL_CORRUPT with its path (%s)', async (device) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'whisper-corrupt-'));
    const garbage = path.join(dir, 'encoder_model_quantized.onnx');
    try {
      await writeFile(garbage, Buffer.from('this is not an onnx protobuf, just garbage bytes'.repeat(20)));
      await expect(Whisper.load({ ...BASE_MODEL, encoderPath: garbage }, { device })).rejects.toMatchObject({
        code: 'STT_MODEL_CORRUPT',
        details: { path: garbage },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
