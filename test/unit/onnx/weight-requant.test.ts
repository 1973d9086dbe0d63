import { describe, expect, it } from 'vitest';
import type { FloatMatrix } from '../../../src/models/ctranslate2.js';
import { GRAPH, MODEL, TENSOR, tensorDims } from '../../../src/onnx/onnx-fields.js';
import { findField, ProtobufError, readFields, stringValue } from '../../../src/onnx/protobuf.js';
import { quantizeActivationsPerRow } from '../../../src/onnx/row-quant.js';
import { createOnnxSession, boolTensor, float32Data, float32Tensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { int8ProductsSaturate } from '../../../src/onnx/saturation-probe.js';
import { shiftWeightsToUint8 } from '../../../src/onnx/uint8-weights.js';
import { requantizeWeightsPerChannel } from '../../../src/onnx/weight-requant.js';
import { dynamicQuantMatMul, ELEM, f32, graph, graphAttr, intAttr, model, node, tensor, value } from '../../helpers/onnx-model.js';

/**
 * Float weights W [K, N] whose last output channel is ~1000 times smaller than the others: with one
 * scale for the matrix (max|W| / 127 = 0.01) every weight of that channel rounds to 0.
 */
const K = 4;
const N = 3;
const W = [
  [0.9, -1.27, 0.0011],
  [-0.35, 0.6, -0.0013],
  [1.1, 0.05, 0.0007],
  [0.2, -0.8, 0.0009],
];
const SCALE = Math.fround(1.27 / 127);
const W_Q = W.flat().map((w) => Math.round(w / SCALE));

/** W as CTranslate2 stores a Dense weight: [N, K] (out, in), row-major. */
const W_T = Array.from({ length: N }, (_, n) => W.map((row) => row[n] as number)).flat();

function matrix(name: string, rows: number, values: readonly number[], relativePrecision = 2 ** -24): FloatMatrix {
  const data = Float32Array.from(values);
  return {
    name,
    rows,
    cols: K,
    relativePrecision,
    row(r, into) {
      into.set(data.subarray(r * K, (r + 1) * K));
      return into;
    },
  };
}

const WEIGHT = tensor('Wq', ELEM.int8, [K, N], new Uint8Array(Int8Array.from(W_Q).buffer));
const ZERO_POINT = tensor('Wzp', ELEM.int8, [], Uint8Array.of(0));
const SCALE_TENSOR = tensor('Wscale', ELEM.float, [], f32([SCALE]));
const IO = [value(11, 'A', ELEM.float, ['rows', K]), value(12, 'Y', ELEM.float, ['rows', N])];

function matMulModel(extra: { nodes?: ReturnType<typeof node>[]; outputs?: ReturnType<typeof value>[] } = {}): Uint8Array {
  return model(graph('g', [...dynamicQuantMatMul('', 'A', 'Y'), ...(extra.nodes ?? [])], [WEIGHT, ZERO_POINT, SCALE_TENSOR, ...IO, ...(extra.outputs ?? [])]), 17);
}

const A = [0.5, -0.25, 1, 0.75];

function reference(a: readonly number[]): number[] {
  return Array.from({ length: N }, (_, n) => a.reduce((sum, x, k) => sum + x * (W[k]?.[n] as number), 0));
}

/**
 * Runs the model as the engine would on this CPU: where onnxruntime's u8 × s8 products saturate
 * (x86 without VNNI), graphs.ts stores the weights as uint8 first (src/onnx/uint8-weights.ts).
 */
async function run(bytes: Uint8Array, feeds: Record<string, OnnxTensor> = {}): Promise<number[]> {
  if (await int8ProductsSaturate()) bytes = shiftWeightsToUint8(bytes).bytes;
  const session = await createOnnxSession({ path: 'test.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const out = await session.run({ A: float32Tensor(Float32Array.from(A), [1, K]), ...feeds }, ['Y']);
    return [...float32Data(out['Y']!, 'Y')];
  } finally {
    await session.release();
  }
}

/** Each output channel's error relative to its own magnitude. */
function channelErrors(y: readonly number[], ref: readonly number[]): number[] {
  return ref.map((r, n) => Math.abs((y[n] as number) - r) / Math.abs(r));
}

/** An initializer of the main graph, by name: dims and float or int8 values. */
function initializer(bytes: Uint8Array, name: string): { dims: number[]; raw: Uint8Array } {
  const graphFields = readFields(findField(readFields(bytes), MODEL.graph)!.data);
  for (const f of graphFields) {
    if (f.no !== GRAPH.initializer) continue;
    const t = readFields(f.data);
    if (stringValue(findField(t, TENSOR.name)!) === name) return { dims: tensorDims(t), raw: findField(t, TENSOR.rawData)!.data };
  }
  throw new Error(`no initializer ${name}`);
}

describe('per-channel weight requantisation', () => {
  it('gives every output channel its own scale, from the float weights the int8 ones were quantised from', async () => {
    const original = matMulModel();
    const result = requantizeWeightsPerChannel(original, [matrix('ffn/linear_0/weight', N, W_T)]);
    expect(result).toMatchObject({ weights: 1, requantized: 1, unmatched: [], skipped: [] });

    const scales = initializer(result.bytes, 'Wscale');
    expect(scales.dims).toEqual([N]);
    const perChannel = [...new Float32Array(scales.raw.slice().buffer)];
    [1.1, 1.27, 0.0013].forEach((max, n) => expect(perChannel[n]).toBeCloseTo(max / 127, 9));
    const q = initializer(result.bytes, 'Wq');
    expect(q.dims).toEqual([K, N]);
    // The small channel now spans the whole int8 range instead of rounding to 0.
    expect([...new Int8Array(q.raw.slice().buffer)].filter((_, i) => i % N === 2)).toEqual([107, -127, 68, 88]);

    const ref = reference(A);
    const before = channelErrors(await run(original), ref);
    const after = channelErrors(await run(result.bytes), ref);
    expect(before[2]).toBeGreaterThan(0.5);
    expect(Math.max(...after)).toBeLessThan(0.02);
  });

  it('finds the weight inside a fused projection (CTranslate2 stores q, k and v as one [3N, K] matrix)', () => {
    const other = W_T.map((w) => w * 0.5 + 0.01);
    const result = requantizeWeightsPerChannel(matMulModel(), [matrix('self_attention/linear_0/weight', 2 * N, [...other, ...W_T])]);
    expect(result.requantized).toBe(1);
  });

  it('leaves a weight no float matrix matches, and says which', () => {
    const original = matMulModel();
    // One value a whole quantisation step away: not the weights these int8 values came from.
    const off = W_T.map((w, i) => (i === 5 ? w + SCALE : w));
    const result = requantizeWeightsPerChannel(original, [matrix('w', N, off), matrix('wrong shape', 2, W_T.slice(0, 2 * K))]);
    expect(result).toMatchObject({ weights: 1, requantized: 0, unmatched: ['Wq'], skipped: [] });
    expect(result.bytes).toBe(original);
  });

  it("allows for the float copy's own rounding (a float16 copy of float32 weights)", () => {
    // Past half a step by 0.4 × |w| × 2^-11: a float16 copy may be that far, a float32 one may not.
    const dequantized = (W_Q[0] as number) * SCALE;
    const nudged = W_T.map((w, i) => (i === 0 ? dequantized + 0.5 * SCALE * 1.001 + 1e-7 + 0.4 * Math.abs(w) * 2 ** -11 : w));
    expect(requantizeWeightsPerChannel(matMulModel(), [matrix('w', N, nudged, 2 ** -11)]).requantized).toBe(1);
    expect(requantizeWeightsPerChannel(matMulModel(), [matrix('w', N, nudged, 2 ** -24)]).unmatched).toEqual(['Wq']);
  });

  it('skips a weight the graph also reads some other way', () => {
    const original = matMulModel({ nodes: [node('Cast', ['Wq'], ['Wf'], [intAttr('to', ELEM.float)])], outputs: [value(12, 'Wf', ELEM.float, [K, N])] });
    const result = requantizeWeightsPerChannel(original, [matrix('w', N, W_T)]);
    expect(result).toMatchObject({ requantized: 0, skipped: ['Wq'] });
    expect(result.bytes).toBe(original);
  });

  it('rewrites an outer weight and the scale each If branch holds for it (as merged decoders do)', async () => {
    const branch = (name: string, prefix: string) =>
      graph(name, dynamicQuantMatMul(prefix, 'A', `${prefix}Y`), [SCALE_TENSOR, value(12, `${prefix}Y`, ELEM.float, ['rows', N])]);
    const original = model(
      graph('g', [node('If', ['cond'], ['Y'], [graphAttr('then_branch', branch('then', 't_')), graphAttr('else_branch', branch('else', 'e_'))])], [
        WEIGHT,
        ZERO_POINT,
        ...IO,
        value(11, 'cond', ELEM.bool, [1]),
      ]),
      17,
    );
    const result = requantizeWeightsPerChannel(original, [matrix('w', N, W_T)]);
    expect(result).toMatchObject({ weights: 1, requantized: 1 });
    const ref = reference(A);
    for (const cond of [0, 1]) {
      const y = await run(result.bytes, { cond: boolTensor(Uint8Array.of(cond), [1]) });
      expect(Math.max(...channelErrors(y, ref)), `branch ${cond}`).toBeLessThan(0.02);
    }
  });

  it('composes with per-row activations (the per-column scale reaches MatMulIntegerToFloat)', async () => {
    const requantized = requantizeWeightsPerChannel(matMulModel(), [matrix('w', N, W_T)]);
    const both = quantizeActivationsPerRow(requantized.bytes, () => true);
    expect(both.rewritten).toBe(1);
    expect(Math.max(...channelErrors(await run(both.bytes), reference(A)))).toBeLessThan(0.02);
  });

  it('returns the model untouched without float weights, and rejects bytes that are not a model', () => {
    const original = matMulModel();
    expect(requantizeWeightsPerChannel(original, [])).toMatchObject({ bytes: original, requantized: 0, unmatched: ['Wq'] });
    expect(() => requantizeWeightsPerChannel(new Uint8Array(0), [])).toThrow(ProtobufError);
  });
});
