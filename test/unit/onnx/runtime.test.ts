import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOnnxSession,
  createOnnxSessions,
  float32Tensor,
  int64Tensor,
  type OnnxSession,
} from '../../../src/onnx/runtime.js';
import type { EngineWarning } from '../../../src/whisper/types.js';
import { WHISPER_BASE_DIR, hasShared } from '../../helpers/paths.js';

const ENCODER = path.join(WHISPER_BASE_DIR, 'onnx', 'encoder_model_quantized.onnx');
const CPU_2 = { device: { kind: 'cpu' }, intraOpThreads: 2, interOpThreads: 1 } as const;

describe('a file onnxruntime cannot load', () => {
  let dir: string;
  let garbage: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'onnx-runtime-'));
    garbage = path.join(dir, 'model.onnx');
    await writeFile(garbage, Buffer.from('not a protobuf at all '.repeat(40)));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is STT_MODEL_CORRUPT with its path on the cpu', async () => {
    await expect(createOnnxSession(garbage, CPU_2)).rejects.toMatchObject({
      code: 'STT_MODEL_CORRUPT',
      details: { path: garbage },
    });
  });

  it('is STT_MODEL_CORRUPT, not a device problem, when cuda was asked for', async () => {
    const warnings: EngineWarning[] = [];
    await expect(
      createOnnxSession(garbage, { ...CPU_2, device: { kind: 'cuda', index: 0 }, onWarning: (w) => warnings.push(w) }),
    ).rejects.toMatchObject({ code: 'STT_MODEL_CORRUPT' });
    expect(warnings).toEqual([]);
  });
});

describe.skipIf(!hasShared())('sessions on a real model (whisper-base encoder)', () => {
  let session: OnnxSession;
  beforeAll(async () => {
    session = await createOnnxSession(ENCODER, CPU_2);
  });
  afterAll(async () => {
    await session.release();
  });

  it('exposes the declared inputs and outputs', () => {
    expect(session.device).toEqual({ kind: 'cpu' });
    expect(session.inputNames).toEqual(['input_features']);
    expect(session.outputNames).toEqual(['last_hidden_state']);
    expect(session.inputs[0]).toEqual({ name: 'input_features', type: 'float32', shape: ['batch_size', 80, 3000] });
  });

  it('runs, and writes a preallocated output in place', async () => {
    const mel = new Float32Array(80 * 3000).fill(-0.5);
    const out = await session.run({ input_features: float32Tensor(mel, [1, 80, 3000]) }, ['last_hidden_state']);
    const hidden = out['last_hidden_state'];
    expect(hidden?.dims).toEqual([1, 1500, 512]);
    expect(hidden?.data).toBeInstanceOf(Float32Array);

    const target = new Float32Array(1500 * 512).fill(Number.NaN);
    await session.run({ input_features: float32Tensor(mel, [1, 80, 3000]) }, {
      last_hidden_state: float32Tensor(target, [1, 1500, 512]),
    });
    expect(Array.from(target.subarray(0, 8))).toEqual(Array.from((hidden?.data as Float32Array).subarray(0, 8)));
    expect(target.some(Number.isNaN)).toBe(false);
  });

  it('leaves no worker busy-waiting once a run has returned', async () => {
    // ORT's default keeps the pool spinning ~40 ms after each run (35–43 ms of CPU in the 50 ms
    // after one, measured), a core taken from the other session and from the search's JavaScript.
    const mel = float32Tensor(new Float32Array(80 * 3000).fill(-0.5), [1, 80, 3000]);
    const idleCpuMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      await session.run({ input_features: mel }, ['last_hidden_state']);
      const before = process.cpuUsage();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const used = process.cpuUsage(before);
      idleCpuMs.push((used.user + used.system) / 1000);
    }
    expect(Math.min(...idleCpuMs)).toBeLessThan(15);
  });

  it('writes an ORT profile when asked (here with spinning off, as the VAD opens its session)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'onnx-profile-'));
    try {
      const profiled = await createOnnxSession(ENCODER, {
        ...CPU_2,
        allowSpinning: false,
        profileFilePrefix: path.join(dir, 'encoder'),
      });
      await profiled.run({ input_features: float32Tensor(new Float32Array(80 * 3000), [1, 80, 3000]) });
      profiled.endProfiling();
      await profiled.release();
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      const events = JSON.parse(await readFile(path.join(dir, files[0] as string), 'utf8')) as { name: string }[];
      expect(events.some((e) => e.name === 'model_run')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('turns a run failure into STT_DECODE_FAILED', async () => {
    const wrongType = int64Tensor(new BigInt64Array(80 * 3000), [1, 80, 3000]);
    await expect(session.run({ input_features: wrongType }, ['last_hidden_state'])).rejects.toMatchObject({
      code: 'STT_DECODE_FAILED',
    });
  });

  // This suite runs where onnxruntime-node's CUDA provider is not installed (.npmrc skips it).
  it('falls back to the cpu once for a group when cuda is unusable, or refuses with strictDevice', async () => {
    const warnings: EngineWarning[] = [];
    const cuda = { ...CPU_2, device: { kind: 'cuda', index: 1 }, onWarning: (w: EngineWarning) => warnings.push(w) } as const;
    const group = await createOnnxSessions([ENCODER, ENCODER], cuda);
    try {
      expect(group.map((s) => s.device)).toEqual([{ kind: 'cpu' }, { kind: 'cpu' }]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.code).toBe('STT_WARN_DEVICE_FALLBACK');
      expect(warnings[0]?.message).toContain('cuda:1');
    } finally {
      await Promise.all(group.map((s) => s.release()));
    }
    await expect(createOnnxSession(ENCODER, { ...cuda, strictDevice: true })).rejects.toMatchObject({
      code: 'STT_DEVICE_UNAVAILABLE',
      details: { device: 'cuda:1' },
    });
  });
});
