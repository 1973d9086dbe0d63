import { describe, expect, it } from 'vitest';
import { GRAPH, MODEL, NODE, OPSET } from '../../../src/onnx/onnx-fields.js';
import { findField, ProtobufError, readFields, stringValue, varintValue } from '../../../src/onnx/protobuf.js';
import { quantizeActivationsPerRow } from '../../../src/onnx/row-quant.js';
import { createOnnxSession, float32Data, float32Tensor, boolTensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { int8ProductsSaturate } from '../../../src/onnx/saturation-probe.js';
import { dynamicQuantMatMul, ELEM, f32, graph, graphAttr, model, node, tensor, value } from '../../helpers/onnx-model.js';

/**
 * A MatMul as onnxruntime's quantize_dynamic writes it: the input quantised per tensor at run time,
 * int8 weights with one scale. Y = A · (Wq × wScale).
 */
const K = 4;
const N = 3;
const W_Q = [12, -40, 7, 127, 3, -90, -128, 64, 25, 33, -7, 100];
const W_SCALE = 0.02;

const WEIGHTS = [
  tensor('Wq', ELEM.int8, [K, N], new Uint8Array(Int8Array.from(W_Q).buffer)),
  tensor('Wzp', ELEM.int8, [], Uint8Array.of(0)),
  tensor('Wscale', ELEM.float, [], f32([W_SCALE])),
];

function matMulModel(opset: number, extraOutputs: ReturnType<typeof value>[] = []): Uint8Array {
  return model(
    graph('g', dynamicQuantMatMul('', 'A', 'Y'), [
      ...WEIGHTS,
      value(11, 'A', ELEM.float, ['rows', K]),
      value(12, 'Y', ELEM.float, ['rows', N]),
      ...extraOutputs,
    ]),
    opset,
  );
}

/** Row 0 is 10 000 times quieter than row 1: one scale for both leaves row 0 no levels at all. */
const A = [0.001, -0.002, 0.0015, 0.0005, 10, -8, 6, 9];

function reference(a: readonly number[]): number[] {
  const rows = a.length / K;
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += (a[r * K + k] as number) * (W_Q[k * N + n] as number) * W_SCALE;
      y.push(sum);
    }
  }
  return y;
}

async function run(bytes: Uint8Array, feeds: Record<string, OnnxTensor>): Promise<number[]> {
  const session = await createOnnxSession({ path: 'test.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const out = await session.run(feeds, ['Y']);
    return [...float32Data(out['Y']!, 'Y')];
  } finally {
    await session.release();
  }
}

/** Largest error of a row, relative to that row's largest reference magnitude. */
function rowErrors(y: readonly number[], ref: readonly number[]): number[] {
  const errors: number[] = [];
  for (let r = 0; r < ref.length / N; r++) {
    let scale = 0;
    let err = 0;
    for (let n = 0; n < N; n++) {
      scale = Math.max(scale, Math.abs(ref[r * N + n] as number));
      err = Math.max(err, Math.abs((y[r * N + n] as number) - (ref[r * N + n] as number)));
    }
    errors.push(err / scale);
  }
  return errors;
}

describe('per-row activation quantisation', () => {
  const feeds = (): Record<string, OnnxTensor> => ({ A: float32Tensor(Float32Array.from(A), [2, K]) });

  it.each([17, 18])('gives every row its own scale (opset %i)', async (opset) => {
    const original = matMulModel(opset);
    const rewritten = quantizeActivationsPerRow(original, () => true);
    expect(rewritten.rewritten).toBe(1);
    expect(rewritten.skipped).toBe(0);
    const ref = reference(A);

    const perTensor = rowErrors(await run(original, feeds()), ref);
    const perRow = rowErrors(await run(rewritten.bytes, feeds()), ref);
    // Per tensor, the quiet row rounds to the zero point: its output is all error.
    expect(perTensor[0]).toBeGreaterThan(0.5);
    // Per row, both rows keep int8 precision (half a level of 127 per input, summed over K).
    expect(perRow[0]).toBeLessThan(0.02);
    expect(perRow[1]).toBeLessThan(0.02);
  });

  it('writes the fused MatMulIntegerToFloat itself (onnxruntime no longer finds the pattern once the scale is constant)', () => {
    const rewritten = quantizeActivationsPerRow(matMulModel(17), () => true);
    const fields = readFields(rewritten.bytes);
    const nodes = readFields(findField(fields, MODEL.graph)!.data)
      .filter((f) => f.no === GRAPH.node)
      .map((f) => readFields(f.data));
    const ops = nodes.map((n) => stringValue(findField(n, NODE.opType)!));
    expect(ops).not.toContain('MatMulInteger');
    expect(ops).not.toContain('Cast');
    expect(ops.filter((op) => op === 'Mul')).toHaveLength(1); // the row scale
    const fused = nodes.find((n) => stringValue(findField(n, NODE.opType)!) === 'MatMulIntegerToFloat')!;
    expect(stringValue(findField(fused, NODE.domain)!)).toBe('com.microsoft');
    const imports = fields.filter((f) => f.no === MODEL.opsetImport).map((f) => readFields(f.data));
    expect(imports.map((o) => [stringValue(findField(o, OPSET.domain)!), Number(varintValue(findField(o, OPSET.version)!))])).toEqual([
      ['', 17],
      ['com.microsoft', 1],
    ]);
  });

  it('handles an all-zero row (the scale floor keeps it finite)', async () => {
    const rewritten = quantizeActivationsPerRow(matMulModel(17), () => true);
    const y = await run(rewritten.bytes, { A: float32Tensor(Float32Array.from([0, 0, 0, 0, 1, 2, 3, 4]), [2, K]) });
    expect(y.slice(0, N)).toEqual([0, 0, 0]);
    expect(rowErrors(y.slice(N), reference([1, 2, 3, 4]))[0]).toBeLessThan(0.02);
  });

  it('leaves the model untouched when the selector declines', () => {
    const original = matMulModel(17);
    const result = quantizeActivationsPerRow(original, (input) => input !== 'A');
    // The MatMul still reads the quantisation as exported.
    expect(result).toEqual({ bytes: original, rewritten: 0, skipped: 0, unrewrittenIntegerMatMuls: 1 });
  });

  it('skips a quantisation whose outputs are used outside the pattern', () => {
    const original = matMulModel(17, [value(12, 'q', ELEM.uint8, ['rows', K])]);
    const result = quantizeActivationsPerRow(original, () => true);
    expect(result.rewritten).toBe(0);
    expect(result.skipped).toBe(1);
    expect(result.unrewrittenIntegerMatMuls).toBe(1);
    expect(result.bytes).toBe(original);
  });

  it('counts the integer MatMuls it leaves reading another input, and not the ones it rewrote', () => {
    const two = model(
      graph('g', [...dynamicQuantMatMul('a_', 'A', 'Y'), ...dynamicQuantMatMul('b_', 'B', 'Z')], [
        ...WEIGHTS,
        value(11, 'A', ELEM.float, ['rows', K]),
        value(11, 'B', ELEM.float, ['rows', K]),
        value(12, 'Y', ELEM.float, ['rows', N]),
        value(12, 'Z', ELEM.float, ['rows', N]),
      ]),
      17,
    );
    expect(quantizeActivationsPerRow(two, () => true)).toMatchObject({ rewritten: 2, unrewrittenIntegerMatMuls: 0 });
    expect(quantizeActivationsPerRow(two, (input) => input === 'A')).toMatchObject({ rewritten: 1, unrewrittenIntegerMatMuls: 1 });
  });

  it('rewrites inside If branches, reading the outer input', async () => {
    const branch = (name: string, prefix: string) =>
      graph(name, dynamicQuantMatMul(prefix, 'A', `${prefix}Y`), [value(12, `${prefix}Y`, ELEM.float, ['rows', N])]);
    const original = model(
      graph('g', [node('If', ['cond'], ['Y'], [graphAttr('then_branch', branch('then', 't_')), graphAttr('else_branch', branch('else', 'e_'))])], [
        ...WEIGHTS,
        value(11, 'A', ELEM.float, ['rows', K]),
        value(11, 'cond', ELEM.bool, [1]),
        value(12, 'Y', ELEM.float, ['rows', N]),
      ]),
      17,
    );
    const result = quantizeActivationsPerRow(original, (input) => input === 'A');
    expect(result.rewritten).toBe(2);
    const ref = reference(A);
    for (const cond of [0, 1]) {
      const y = await run(result.bytes, { ...feeds(), cond: boolTensor(Uint8Array.of(cond), [1]) });
      expect(Math.max(...rowErrors(y, ref))).toBeLessThan(0.02);
    }
  });

  it('rejects bytes that are not a model', () => {
    expect(() => quantizeActivationsPerRow(Uint8Array.of(0x3a, 0x10, 0x01), () => true)).toThrow(ProtobufError);
    expect(() => quantizeActivationsPerRow(new Uint8Array(0), () => true)).toThrow(ProtobufError);
  });
});

/**
 * Weights at both ends of the int8 range and rows loud enough that, at 8 bits (zero point 128), pairs
 * of u8 × s8 products overflow int16: where VPMADDUBSW (x86 without VNNI) saturates.
 */
describe('per-row activations in 7 bits (reduced range)', () => {
  const KL = 8;
  const NL = 2;
  const W_LOUD = Array.from({ length: KL * NL }, (_, i) => (i % 2 === 0 ? 127 : -128 + (i % 5)));
  // No value falls on a half step (x · levels / max), where float rounding could pick either level.
  const LOUD = [1, 1, 1, 1, 1, 1, 1, -0.1, 0.55, -1, 0.3, 1, -0.75, 1, 0.9, -0.6];
  const loudModel = (): Uint8Array =>
    model(
      graph(
        'g',
        dynamicQuantMatMul('', 'A', 'Y'),
        [
          tensor('Wq', ELEM.int8, [KL, NL], new Uint8Array(Int8Array.from(W_LOUD).buffer)),
          tensor('Wzp', ELEM.int8, [], Uint8Array.of(0)),
          tensor('Wscale', ELEM.float, [], f32([W_SCALE])),
          value(11, 'A', ELEM.float, ['rows', KL]),
          value(12, 'Y', ELEM.float, ['rows', NL]),
        ],
      ),
      17,
    );
  const loudFeeds = (): Record<string, OnnxTensor> => ({ A: float32Tensor(Float32Array.from(LOUD), [2, KL]) });

  /** What the rewritten MatMul computes with exact integer products: q = round(a / rs), rs = max|row| / levels. */
  function exactPerRow(levels: number): number[] {
    const y: number[] = [];
    for (let r = 0; r < LOUD.length / KL; r++) {
      const row = LOUD.slice(r * KL, (r + 1) * KL);
      const rs = Math.max(...row.map(Math.abs)) / levels;
      const q = row.map((x) => Math.round(x / rs));
      for (let n = 0; n < NL; n++) y.push(q.reduce((sum, v, k) => sum + v * (W_LOUD[k * NL + n] as number), 0) * rs * W_SCALE);
    }
    return y;
  }

  it('writes levels 63 and zero point 64, and its products are exact on every CPU', async () => {
    const reduced = quantizeActivationsPerRow(loudModel(), () => true, { reducedRange: true });
    expect(reduced).toMatchObject({ rewritten: 1, skipped: 0, unrewrittenIntegerMatMuls: 0 });
    const y = await run(reduced.bytes, loudFeeds());
    const exact = exactPerRow(63);
    exact.forEach((r, i) => expect(Math.abs((y[i] as number) - r), `output ${i}`).toBeLessThan(1e-5 * Math.abs(r)));
  });

  it('is the fix where 8-bit rows saturate: those come out off exactly where the probe says so', async () => {
    const full = quantizeActivationsPerRow(loudModel(), () => true);
    const y = await run(full.bytes, loudFeeds());
    const exact = exactPerRow(127);
    const off = exact.some((r, i) => Math.abs((y[i] as number) - r) > 1e-3 * Math.abs(r));
    expect(off).toBe(await int8ProductsSaturate());
    // 7 bits cost precision against the float product, and stay within a 7-bit step per input.
    const float = [0, 1].flatMap((r) =>
      [0, 1].map((n) => LOUD.slice(r * KL, (r + 1) * KL).reduce((sum, x, k) => sum + x * (W_LOUD[k * NL + n] as number) * W_SCALE, 0)),
    );
    const reduced = await run(quantizeActivationsPerRow(loudModel(), () => true, { reducedRange: true }).bytes, loudFeeds());
    float.forEach((f, i) => expect(Math.abs((reduced[i] as number) - f)).toBeLessThan((KL * 128 * W_SCALE) / 63));
  });
});

