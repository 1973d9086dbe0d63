import { describe, expect, it } from 'vitest';
import { fuseSelfAttention } from '../../../src/onnx/attention-fusion.js';
import { ATTR, floatAttribute, GRAPH, intsAttribute, MODEL, parseNode, tensorValues, type ConstantValues } from '../../../src/onnx/onnx-fields.js';
import { findField, messageField, readFields, varintField, type Field } from '../../../src/onnx/protobuf.js';
import { createOnnxSession, float32Data, float32Tensor } from '../../../src/onnx/runtime.js';
import { seededRandom } from '../../../src/whisper/random.js';
import { constantNode, ELEM, f32, graph, intAttr, model, node, tensor, value, type NodeSpec } from '../../helpers/onnx-model.js';

/**
 * Two encoder layers' attention in miniature, node for node as optimum exports Whisper's (width 8,
 * 2 heads of 4): q = (x·Wq + bq)·dh^-0.5 split as [b, t, -1, dh]; k = x·Wk (no bias) split as
 * [b, -1, h, dh] and transposed to [b, h, dh, t]; v = x·Wv + bv; softmax over the last axis; heads
 * merged back as [b, t, -1]. Shape pieces come from Shape/Gather/Unsqueeze and Constant nodes, the
 * weights from initializers, the unit scales are Mul nodes as exported.
 */
const WIDTH = 8;
const HEADS = 2;
const HEAD = WIDTH / HEADS;

function int64(values: readonly number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
}


interface Variant {
  /** Softmax axis attribute (undefined: the default, -1). */
  readonly softmaxAxis?: number;
  /** Scale V by 2 after its transpose. */
  readonly scaleV?: boolean;
  /** Add a constant to the scores before the softmax (as a mask would). */
  readonly mask?: boolean;
  /** Also return the first layer's scores. */
  readonly scoresOut?: boolean;
  /** ai.onnx opset (default 17). */
  readonly opset?: number;
}

function layer(l: number, x: string, y: string, variant: Variant): NodeSpec[] {
  const p = `l${l}_`;
  const c = (name: string): string => `${p}${name}`;
  return [
    node('Shape', [x], [c('shape')]),
    node('Gather', [c('shape'), c('i0')], [c('b')], [intAttr('axis', 0)]),
    node('Gather', [c('shape'), c('i1')], [c('t')], [intAttr('axis', 0)]),
    constantNode(c('i0'), ELEM.int64, [], int64([0])),
    constantNode(c('i1'), ELEM.int64, [], int64([1])),
    constantNode(c('minus1'), ELEM.int64, [1], int64([-1])),
    constantNode(c('heads'), ELEM.int64, [1], int64([HEADS])),
    constantNode(c('head'), ELEM.int64, [1], int64([HEAD])),
    constantNode(c('qscale'), ELEM.float, [], f32([HEAD ** -0.5])),
    constantNode(c('unit'), ELEM.float, [], f32([1])),
    node('Unsqueeze', [c('b'), 'axis0'], [c('bu')]),
    node('Unsqueeze', [c('t'), 'axis0'], [c('tu')]),
    node('Concat', [c('bu'), c('tu'), c('minus1'), c('head')], [c('qshape')], [intAttr('axis', 0)]),
    node('Concat', [c('bu'), c('minus1'), c('heads'), c('head')], [c('kvshape')], [intAttr('axis', 0)]),
    node('Concat', [c('bu'), c('tu'), c('minus1')], [c('yshape')], [intAttr('axis', 0)]),
    // q
    node('MatMul', [x, c('wq')], [c('qmm')]),
    node('Add', [c('bq'), c('qmm')], [c('q')]),
    node('Mul', [c('q'), c('qscale')], [c('qs')]),
    node('Reshape', [c('qs'), c('qshape')], [c('qr')]),
    node('Transpose', [c('qr')], [c('qt')], [intsAttribute('perm', [0, 2, 1, 3])]),
    node('Mul', [c('qt'), c('unit')], [c('Q')]),
    // k
    node('MatMul', [x, c('wk')], [c('k')]),
    node('Reshape', [c('k'), c('kvshape')], [c('kr')]),
    node('Transpose', [c('kr')], [c('kt')], [intsAttribute('perm', [0, 2, 3, 1])]),
    node('Mul', [c('kt'), c('unit')], [c('K')]),
    // v
    node('MatMul', [x, c('wv')], [c('vmm')]),
    node('Add', [c('bv'), c('vmm')], [c('v')]),
    node('Reshape', [c('v'), c('kvshape')], [c('vr')]),
    node('Transpose', [c('vr')], [variant.scaleV === true ? c('vt') : c('V')], [intsAttribute('perm', [0, 2, 1, 3])]),
    ...(variant.scaleV === true ? [node('Mul', [c('vt'), 'two'], [c('V')])] : []),
    // attention
    node('MatMul', [c('Q'), c('K')], [variant.mask === true ? c('raw') : c('scores')]),
    ...(variant.mask === true ? [node('Add', [c('raw'), 'mask'], [c('scores')])] : []),
    node('Softmax', [c('scores')], [c('probs')], variant.softmaxAxis === undefined ? [] : [intAttr('axis', variant.softmaxAxis)]),
    node('MatMul', [c('probs'), c('V')], [c('ctx')]),
    node('Transpose', [c('ctx')], [c('ctxt')], [intsAttribute('perm', [0, 2, 1, 3])]),
    node('Reshape', [c('ctxt'), c('yshape')], [y]),
  ];
}

function attentionModel(variant: Variant = {}): Uint8Array {
  const random = seededRandom(11);
  const weights = (n: number, scale: number): Uint8Array => f32(Array.from({ length: n }, () => (random() * 2 - 1) * scale));
  const initializers: Field[] = [tensor('axis0', ELEM.int64, [1], int64([0])), tensor('two', ELEM.float, [], f32([2])), tensor('mask', ELEM.float, [], f32([0.5]))];
  for (const l of [0, 1]) {
    for (const w of ['wq', 'wk', 'wv']) initializers.push(tensor(`l${l}_${w}`, ELEM.float, [WIDTH, WIDTH], weights(WIDTH * WIDTH, 0.8)));
    for (const b of ['bq', 'bv']) initializers.push(tensor(`l${l}_${b}`, ELEM.float, [WIDTH], weights(WIDTH, 0.3)));
  }
  return model(
    graph(
      'attention',
      [...layer(0, 'x', 'h', variant), node('Add', ['h', 'x'], ['h2']), ...layer(1, 'h2', 'y', variant)],
      [
        ...initializers,
        value(GRAPH.input, 'x', ELEM.float, ['batch', 'length', WIDTH]),
        value(GRAPH.output, 'y', ELEM.float, ['batch', 'length', WIDTH]),
        ...(variant.scoresOut === true ? [value(GRAPH.output, 'l0_scores', ELEM.float, ['batch', HEADS, 'length', 'length'])] : []),
      ],
    ),
    variant.opset ?? 17,
  );
}

async function run(bytes: Uint8Array, x: Float32Array, length: number): Promise<Float32Array> {
  const session = await createOnnxSession({ path: 'attention.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const out = await session.run({ x: float32Tensor(x, [1, length, WIDTH]) }, ['y']);
    return float32Data(out['y']!, 'y');
  } finally {
    await session.release();
  }
}

function nodesOf(bytes: Uint8Array): ReturnType<typeof parseNode>[] {
  const g = findField(readFields(bytes), MODEL.graph);
  return readFields(g!.data)
    .filter((f) => f.no === GRAPH.node)
    .map((f) => parseNode(f.data));
}

describe('fusing encoder self-attention into MultiHeadAttention', () => {
  it('computes what the exported pattern computed, for any length, and drops the pattern', async () => {
    const original = attentionModel();
    const result = fuseSelfAttention(original);
    expect(result.fused).toBe(2);
    const ops = nodesOf(result.bytes).map((n) => n.opType);
    expect(ops.filter((op) => op === 'MultiHeadAttention')).toHaveLength(2);
    expect(ops).not.toContain('Softmax');
    expect(ops).not.toContain('Transpose');
    // q's scale went into the node's attribute; its Mul and the unit Muls are gone.
    expect(ops.filter((op) => op === 'Mul')).toHaveLength(0);
    const random = seededRandom(3);
    for (const length of [1, 5, 13]) {
      const x = Float32Array.from({ length: length * WIDTH }, () => random() * 4 - 2);
      const expected = await run(original, x, length);
      const fused = await run(result.bytes, x, length);
      expect(fused).toHaveLength(expected.length);
      fused.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
    }
  });

  it('leaves attention alone when it is not exactly the pattern', () => {
    for (const variant of [{ softmaxAxis: 2 }, { scaleV: true }, { mask: true }] satisfies Variant[]) {
      const bytes = attentionModel(variant);
      expect(fuseSelfAttention(bytes)).toEqual({ bytes, fused: 0 });
    }
    // Scores that are also a graph output: that layer stays, the other is fused.
    expect(fuseSelfAttention(attentionModel({ scoresOut: true })).fused).toBe(1);
  });

  it('accepts the softmax axis written out as the last one, and reads the default by opset', () => {
    expect(fuseSelfAttention(attentionModel({ softmaxAxis: 3 })).fused).toBe(2);
    expect(fuseSelfAttention(attentionModel({ softmaxAxis: -1 })).fused).toBe(2);
    // Before opset 13 a Softmax without an axis normalises from axis 1 on: not attention's.
    expect(fuseSelfAttention(attentionModel({ opset: 12 })).fused).toBe(0);
    expect(fuseSelfAttention(attentionModel({ opset: 12, softmaxAxis: -1 })).fused).toBe(2);
  });

  it('rejects bytes that are not a model', () => {
    expect(() => fuseSelfAttention(Uint8Array.of(0x0a, 0xff))).toThrow();
  });
});

describe('reading small constant tensors', () => {
  const read = (field: Field): ConstantValues | null => tensorValues(field.data);

  it('reads raw and typed float and int64 data, and refuses what it does not read', () => {
    expect(read(tensor('a', ELEM.float, [2], f32([1.5, -2])))).toEqual({ dataType: ELEM.float, dims: [2], values: [1.5, -2] });
    expect(read(tensor('b', ELEM.int64, [], int64([-7])))).toEqual({ dataType: ELEM.int64, dims: [], values: [-7] });
    const typedFloat = messageField(GRAPH.initializer, [varintField(1, 2), varintField(2, ELEM.float), { no: 4, wire: 2, data: f32([0.25, 4]) }]);
    expect(read(typedFloat)).toEqual({ dataType: ELEM.float, dims: [2], values: [0.25, 4] });
    const typedInt = messageField(GRAPH.initializer, [varintField(1, 3), varintField(2, ELEM.int64), varintField(7, -1), varintField(7, 8), varintField(7, 64)]);
    expect(read(typedInt)).toEqual({ dataType: ELEM.int64, dims: [3], values: [-1, 8, 64] });
    // int8, too large, or fewer values than the dims say.
    expect(read(tensor('c', ELEM.int8, [1], Uint8Array.of(1)))).toBeNull();
    expect(tensorValues(tensor('d', ELEM.float, [100], f32(Array(100).fill(0))).data, 64)).toBeNull();
    expect(read(tensor('e', ELEM.float, [3], f32([1, 2])))).toBeNull();
  });

  it('writes a float attribute as one fixed32 field', () => {
    const attr = readFields(floatAttribute('scale', 0.125).data);
    const f = findField(attr, ATTR.f)!;
    expect(new DataView(f.data.buffer, f.data.byteOffset, 4).getFloat32(0, true)).toBe(0.125);
  });
});
