import { describe, expect, it } from 'vitest';
import { GRAPH, MODEL, TENSOR, tensorDims } from '../../../src/onnx/onnx-fields.js';
import { findField, ProtobufError, readFields, stringValue, varintValue } from '../../../src/onnx/protobuf.js';
import { quantizeActivationsPerRow } from '../../../src/onnx/row-quant.js';
import { createOnnxSession, boolTensor, float32Data, float32Tensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { EXACT_PROBE_VALUE, int8ProductsSaturate, saturationProbeModel } from '../../../src/onnx/saturation-probe.js';
import { shiftWeightsToUint8 } from '../../../src/onnx/uint8-weights.js';
import { dynamicQuantMatMul, ELEM, f32, graph, graphAttr, intAttr, model, node, tensor, value } from '../../helpers/onnx-model.js';

/**
 * A MatMul as quantize_dynamic writes it, K = 8 inputs to N = 2 outputs, with weights at the ends of
 * the int8 range: with activations near the top of uint8, pairs of u8 × s8 products overflow int16,
 * which is where VPMADDUBSW (x86 without VNNI) saturates.
 */
const K = 8;
const N = 2;
const W_Q = Array.from({ length: K * N }, (_, i) => (i % 2 === 0 ? 127 : -126 + (i % 5)));
const SCALE = 0.01;

const WEIGHT = tensor('Wq', ELEM.int8, [K, N], new Uint8Array(Int8Array.from(W_Q).buffer));
const ZERO_POINT = tensor('Wzp', ELEM.int8, [], Uint8Array.of(0));
const SCALE_TENSOR = tensor('Wscale', ELEM.float, [], f32([SCALE]));
const IO = [value(11, 'A', ELEM.float, ['rows', K]), value(12, 'Y', ELEM.float, ['rows', N])];

function matMulModel(options: { zeroPoint?: readonly ReturnType<typeof tensor>[]; withoutZeroPoint?: boolean; extra?: ReturnType<typeof node>[]; outputs?: ReturnType<typeof value>[] } = {}): Uint8Array {
  const zp = options.zeroPoint ?? [ZERO_POINT];
  return model(
    graph('g', [...dynamicQuantMatMul('', 'A', 'Y', { zeroPoint: options.withoutZeroPoint === true ? null : 'Wzp' }), ...(options.extra ?? [])], [WEIGHT, ...zp, SCALE_TENSOR, ...IO, ...(options.outputs ?? [])]),
    17,
  );
}

/** Activations that DynamicQuantizeLinear maps to 0 (for -0.1) and 255 (for 1): the overflowing pairs. */
const LOUD = [1, 1, 1, 1, 1, 1, 1, -0.1];
/**
 * Zero point 0 and every other activation 0, so each pair holds at most 255 × 127 = 32 385: no pair
 * overflows int16 on any CPU. (Symmetric activations sit around 128 and overflow easily.)
 */
const QUIET = [1, 0, 0.1, 0, 0.2, 0, 0.3, 0];

async function run(bytes: Uint8Array, a: readonly number[], feeds: Record<string, OnnxTensor> = {}): Promise<Float32Array> {
  const session = await createOnnxSession({ path: 'test.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const out = await session.run({ A: float32Tensor(Float32Array.from(a), [1, K]), ...feeds }, ['Y']);
    return float32Data(out['Y']!, 'Y');
  } finally {
    await session.release();
  }
}

/** What the quantised MatMul computes with exact integer products (DynamicQuantizeLinear's own rounding). */
function exact(a: readonly number[]): number[] {
  const min = Math.min(0, ...a);
  const max = Math.max(0, ...a);
  const scale = (max - min) / 255;
  const zero = Math.round(Math.min(255, Math.max(0, -min / scale)));
  const q = a.map((x) => Math.min(255, Math.max(0, Math.round(x / scale) + zero)));
  return Array.from({ length: N }, (_, n) => q.reduce((sum, v, k) => sum + (v - zero) * (W_Q[k * N + n] as number), 0) * scale * SCALE);
}

function initializer(bytes: Uint8Array, name: string): { type: number; dims: number[]; raw: Uint8Array } {
  const graphFields = readFields(findField(readFields(bytes), MODEL.graph)!.data);
  for (const f of graphFields) {
    if (f.no !== GRAPH.initializer) continue;
    const t = readFields(f.data);
    if (stringValue(findField(t, TENSOR.name)!) !== name) continue;
    return { type: Number(varintValue(findField(t, TENSOR.dataType)!)), dims: tensorDims(t), raw: findField(t, TENSOR.rawData)!.data };
  }
  throw new Error(`no initializer ${name}`);
}

describe('int8 weights stored as uint8 (zero point 128)', () => {
  it('flips the top bit of each weight byte and moves the zero point to 128', () => {
    const result = shiftWeightsToUint8(matMulModel());
    expect(result).toMatchObject({ shifted: 1, reason: null });
    const w = initializer(result.bytes, 'Wq');
    expect(w.type).toBe(ELEM.uint8);
    expect(w.dims).toEqual([K, N]);
    expect([...w.raw]).toEqual(W_Q.map((q) => q + 128));
    const zp = initializer(result.bytes, 'Wzp');
    expect({ type: zp.type, dims: zp.dims, raw: [...zp.raw] }).toEqual({ type: ELEM.uint8, dims: [], raw: [128] });
  });

  it('reads a zero point written as int32_data, as quantize_dynamic writes them', () => {
    // Fields: data_type int8, name, int32_data [0]; no dims (a scalar).
    const fields = [
      { no: TENSOR.dataType, wire: 0 as const, data: Uint8Array.of(ELEM.int8) },
      { no: TENSOR.name, wire: 2 as const, data: new TextEncoder().encode('Wzp') },
      { no: TENSOR.int32Data, wire: 0 as const, data: Uint8Array.of(0) },
    ];
    const zp = tensorField(fields);
    const result = shiftWeightsToUint8(matMulModel({ zeroPoint: [zp] }));
    expect(result).toMatchObject({ shifted: 1, reason: null });
    expect([...initializer(result.bytes, 'Wzp').raw]).toEqual([128]);
  });

  it('computes the same numbers: bit-identical where nothing saturates, exact where u8 × s8 pairs overflow', async () => {
    const original = matMulModel();
    const shifted = shiftWeightsToUint8(original).bytes;
    expect([...(await run(shifted, QUIET))]).toEqual([...(await run(original, QUIET))]);
    const reference = exact(LOUD);
    const y = await run(shifted, LOUD);
    reference.forEach((r, n) => expect(Math.abs((y[n] as number) - r)).toBeLessThan(1e-5 * Math.abs(r)));
    // The form as exported is exact too, unless this CPU saturates, which the probe then says.
    const asExported = await run(original, LOUD);
    const off = reference.some((r, n) => Math.abs((asExported[n] as number) - r) > 1e-3 * Math.abs(r));
    expect(off).toBe(await int8ProductsSaturate());
  });

  it('shifts an outer weight that both If branches read once, and both branches compute it', async () => {
    const branch = (name: string, prefix: string) => graph(name, dynamicQuantMatMul(prefix, 'A', `${prefix}Y`), [value(12, `${prefix}Y`, ELEM.float, ['rows', N])]);
    const original = model(
      graph('g', [node('If', ['cond'], ['Y'], [graphAttr('then_branch', branch('then', 't_')), graphAttr('else_branch', branch('else', 'e_'))])], [
        WEIGHT,
        ZERO_POINT,
        SCALE_TENSOR,
        ...IO,
        value(11, 'cond', ELEM.bool, [1]),
      ]),
      17,
    );
    const result = shiftWeightsToUint8(original);
    expect(result).toMatchObject({ shifted: 1, reason: null });
    const reference = exact(LOUD);
    for (const cond of [0, 1]) {
      const y = await run(result.bytes, LOUD, { cond: boolTensor(Uint8Array.of(cond), [1]) });
      reference.forEach((r, n) => expect(Math.abs((y[n] as number) - r), `branch ${cond}`).toBeLessThan(1e-5 * Math.abs(r)));
    }
  });

  it('shifts the weights of per-row MatMulIntegerToFloat (its zero point is input 5), which then computes exactly', async () => {
    const perRow = quantizeActivationsPerRow(matMulModel(), () => true);
    expect(perRow.rewritten).toBe(1);
    const result = shiftWeightsToUint8(perRow.bytes);
    expect(result).toMatchObject({ shifted: 1, reason: null });
    // Per row: q = round(a / rs), rs = max|a| / 127 (zero point 128), products exact in int32.
    const rs = Math.max(...LOUD.map(Math.abs)) / 127;
    const q = LOUD.map((x) => Math.round(x / rs));
    const reference = Array.from({ length: N }, (_, n) => q.reduce((sum, v, k) => sum + v * (W_Q[k * N + n] as number), 0) * rs * SCALE);
    const y = await run(result.bytes, LOUD);
    reference.forEach((r, n) => expect(Math.abs((y[n] as number) - r)).toBeLessThan(1e-5 * Math.abs(r)));
  });

  it('leaves the model as it is, with the reason, when a weight is read another way or has no zero point', () => {
    const readElsewhere = matMulModel({ extra: [node('Cast', ['Wq'], ['Wf'], [intAttr('to', ELEM.float)])], outputs: [value(12, 'Wf', ELEM.float, [K, N])] });
    const a = shiftWeightsToUint8(readElsewhere);
    expect(a.bytes).toBe(readElsewhere);
    expect(a).toMatchObject({ shifted: 0, reason: 'Wq is read by other nodes' });
    const noZeroPoint = matMulModel({ withoutZeroPoint: true, zeroPoint: [] });
    const b = shiftWeightsToUint8(noZeroPoint);
    expect(b.bytes).toBe(noZeroPoint);
    expect(b.reason).toMatch(/not both initializers/u);
    expect(() => shiftWeightsToUint8(Uint8Array.of(1, 2, 3))).toThrow(ProtobufError);
  });
});

describe('int8 saturation probe', () => {
  it('runs a MatMulInteger whose exact result VPMADDUBSW cannot hold, and answers for this CPU once', async () => {
    expect(EXACT_PROBE_VALUE).toBe(64 * 255 * 127);
    expect(readFields(saturationProbeModel()).length).toBeGreaterThan(0);
    const first = int8ProductsSaturate();
    expect(int8ProductsSaturate()).toBe(first);
    expect(typeof (await first)).toBe('boolean');
  });
});

function tensorField(fields: readonly { no: number; wire: 0 | 2; data: Uint8Array }[]): ReturnType<typeof tensor> {
  return { no: GRAPH.initializer, wire: 2, data: writeTensor(fields) };
}

function writeTensor(fields: readonly { no: number; wire: 0 | 2; data: Uint8Array }[]): Uint8Array {
  const parts: number[] = [];
  for (const f of fields) {
    parts.push((f.no << 3) | f.wire);
    if (f.wire === 2) parts.push(f.data.length);
    parts.push(...f.data);
  }
  return Uint8Array.from(parts);
}
