import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { int8ProductsSaturate } from '../../../src/onnx/saturation-probe.js';
import { createOnnxSession, float32Data, float32Tensor, type OnnxModelSource } from '../../../src/onnx/runtime.js';
import { prepareWhisperGraphs } from '../../../src/whisper/graphs.js';
import type { ResolvedModel } from '../../../src/whisper/types.js';
import { dynamicQuantMatMul, ELEM, f32, graph, model, tensor, value } from '../../helpers/onnx-model.js';

/**
 * graphs.ts step 8 on miniature int8 graphs (quantize_dynamic's pattern, no Whisper layers, so steps
 * 2–4, 6, 7 and 9 find nothing to do): where this CPU's int8 products saturate, an encoder whose every
 * integer MatMul step 1 rewrites gets 7-bit rows and keeps its int8 weights; one with a MatMul left
 * reading another input gets 8-bit rows and uint8 weights instead; the decoder always the latter.
 */
const K = 8;
const N = 2;
/** Weights at both ends of the int8 range: with 8-bit rows around 128, pairs of u8 × s8 products overflow int16. */
const W_Q = Array.from({ length: K * N }, (_, i) => (i % 2 === 0 ? 127 : -128 + (i % 5)));
const W_SCALE = 0.01;
/** No value on a half step at 63 or 127 levels (x · levels / max), where float rounding could pick either level. */
const A = [1, 1, 1, 1, 1, 1, 1, -0.1];

/** Y = A · W, quantised at run time; with `leftAlone`, a second MatMul whose quantisation is also a graph output (step 1 skips it). */
function toyModel(input: string, leftAlone: boolean): Uint8Array {
  return model(
    graph('g', [...dynamicQuantMatMul('a_', input, 'Y'), ...(leftAlone ? dynamicQuantMatMul('b_', input, 'Z') : [])], [
      tensor('Wq', ELEM.int8, [K, N], new Uint8Array(Int8Array.from(W_Q).buffer)),
      tensor('Wzp', ELEM.int8, [], Uint8Array.of(0)),
      tensor('Wscale', ELEM.float, [], f32([W_SCALE])),
      value(11, input, ELEM.float, ['rows', K]),
      value(12, 'Y', ELEM.float, ['rows', N]),
      ...(leftAlone ? [value(12, 'Z', ELEM.float, ['rows', N]), value(12, 'b_q', ELEM.uint8, ['rows', K])] : []),
    ]),
    17,
  );
}

/** The rewritten MatMul with exact integer products: q = round(a / rs), rs = max|a| / levels. */
function exactPerRow(levels: number): number[] {
  const rs = Math.max(...A.map(Math.abs)) / levels;
  const q = A.map((x) => Math.round(x / rs));
  return Array.from({ length: N }, (_, n) => q.reduce((sum, v, k) => sum + v * (W_Q[k * N + n] as number), 0) * rs * W_SCALE);
}

async function runY(source: OnnxModelSource, input: string): Promise<Float32Array> {
  const session = await createOnnxSession(source, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const out = await session.run({ [input]: float32Tensor(Float32Array.from(A), [1, K]) }, ['Y']);
    return float32Data(out['Y']!, 'Y');
  } finally {
    await session.release();
  }
}

describe('graphs.ts step 8: exact integer products where the CPU saturates them', () => {
  let dir: string;
  let saturates: boolean;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stt-graphs-sat-'));
    saturates = await int8ProductsSaturate();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A toy model folder (written once per name) prepared with its own cache. */
  async function prepare(name: string, leftAlone: boolean) {
    const folder = path.join(dir, name);
    const encoderPath = path.join(folder, 'encoder_model_quantized.onnx');
    const decoderPath = path.join(folder, 'decoder_model_merged_quantized.onnx');
    if (!(await access(encoderPath).then(() => true, () => false))) {
      await mkdir(folder, { recursive: true });
      await writeFile(encoderPath, toyModel('input_features', leftAlone));
      await writeFile(decoderPath, toyModel('encoder_hidden_states', false));
    }
    const resolved: ResolvedModel = { name: 'toy', dtype: 'q8', source: 'dir', dir: folder, encoderPath, decoderPath };
    return prepareWhisperGraphs(resolved, 'per-row', path.join(folder, 'cache'), 3000);
  }

  it('7-bit rows and int8 weights in an encoder rewritten whole; the decoder’s weights as uint8', async () => {
    const graphs = await prepare('whole', false);
    expect(graphs.saturationGuard).toEqual(saturates ? { encoder: '7-bit-activations', decoder: 'uint8-weights' } : { encoder: 'none', decoder: 'none' });
    const encoder = graphs.encoderPieces[0]!;
    const y = await runY(encoder, 'input_features');
    exactPerRow(saturates ? 63 : 127).forEach((r, n) => expect(Math.abs((y[n] as number) - r), `output ${n}`).toBeLessThan(1e-5 * Math.abs(r)));
    // The decoder (its one quantisation reads the encoder states, so step 1 rewrites it at 8 bits).
    const d = await runY(graphs.decoder, 'encoder_hidden_states');
    exactPerRow(127).forEach((r, n) => expect(Math.abs((d[n] as number) - r), `decoder output ${n}`).toBeLessThan(1e-5 * Math.abs(r)));
    // Cached with its flags: a second load takes the same files.
    expect(typeof encoder).toBe('string');
    expect(JSON.parse(await readFile(`${(encoder as string).slice(0, -'.onnx'.length)}.json`, 'utf8'))).toMatchObject({ reducedRange: saturates, uint8Weights: false });
    expect(await prepare('whole', false)).toEqual(graphs);
  });

  it('8-bit rows and uint8 weights in an encoder with an integer MatMul that step 1 leaves alone', async () => {
    const graphs = await prepare('partly', true);
    expect(graphs.saturationGuard.encoder).toBe(saturates ? 'uint8-weights' : 'none');
    const y = await runY(graphs.encoderPieces[0]!, 'input_features');
    exactPerRow(127).forEach((r, n) => expect(Math.abs((y[n] as number) - r), `output ${n}`).toBeLessThan(1e-5 * Math.abs(r)));
  });
});
