import { describe, expect, it } from 'vitest';
import { GRAPH, MODEL, parseNode, ATTR, NODE } from '../../../src/onnx/onnx-fields.js';
import { findField, readFields } from '../../../src/onnx/protobuf.js';
import { constantReshapeTargets } from '../../../src/onnx/reshape-targets.js';
import { boolTensor, createOnnxSession, float32Data, float32Tensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { ELEM, graph, graphAttr, intAttr, model, node, tensor, value } from '../../helpers/onnx-model.js';

const i64 = (...values: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);

/**
 * A head split as exports write it: x [batch, seq, 8] → [batch, seq, -1, 2] with a target built
 * from Shape(x), then merged back to [batch, seq, -1] (also from Shape(x)). A third Reshape takes a
 * dimension from a shape at another position (dim 1 of x as the first entry): left alone. `p`
 * prefixes names, so the same nodes can sit in an If branch.
 */
function headNodes(p: string, input: string) {
  const dim = (k: number) => [
    node('Shape', [input], [`${p}shape${k}`]),
    node('Gather', [`${p}shape${k}`, `k${k}`], [`${p}d${k}`], [intAttr('axis', 0)]),
    node('Unsqueeze', [`${p}d${k}`, 'axes0'], [`${p}u${k}`]),
  ];
  return [
    ...dim(0),
    ...dim(1),
    node('Concat', [`${p}u0`, `${p}u1`, 'minus1', 'two'], [`${p}split`], [intAttr('axis', 0)]),
    node('Reshape', [input, `${p}split`], [`${p}heads`]),
    node('Concat', [`${p}u0`, `${p}u1`, 'minus1'], [`${p}merge`], [intAttr('axis', 0)]),
    node('Reshape', [`${p}heads`, `${p}merge`], [`${p}merged`]),
    // Dim 1 at position 0: not a copy of the input's dimension 0.
    node('Concat', [`${p}u1`, 'minus1'], [`${p}swap`], [intAttr('axis', 0)]),
    node('Reshape', [input, `${p}swap`], [`${p}swapped`]),
  ];
}

function constants() {
  return [
    tensor('k0', ELEM.int64, [], i64(0)),
    tensor('k1', ELEM.int64, [], i64(1)),
    tensor('axes0', ELEM.int64, [1], i64(0)),
    tensor('minus1', ELEM.int64, [1], i64(-1)),
    tensor('two', ELEM.int64, [1], i64(2)),
  ];
}

function flat(): Uint8Array {
  return model(
    graph('heads', headNodes('', 'x'), [
      ...constants(),
      value(11, 'x', ELEM.float, ['batch', 'seq', 8]),
      value(12, 'heads', ELEM.float, ['batch', 'seq', 4, 2]),
      value(12, 'merged', ELEM.float, ['batch', 'seq', 8]),
      value(12, 'swapped', ELEM.float, ['seq', 'rest']),
    ]),
    17,
  );
}

/** The same nodes inside both branches of an If, reading the outer x and the outer constants. */
function nested(): Uint8Array {
  const branch = (p: string) =>
    graph(`${p}branch`, headNodes(p, 'x'), [
      value(12, `${p}merged`, ELEM.float, ['batch', 'seq', 8]),
      value(12, `${p}swapped`, ELEM.float, ['seq', 'rest']),
    ]);
  return model(
    graph('merged', [node('If', ['flag'], ['merged', 'swapped'], [graphAttr('then_branch', branch('t_')), graphAttr('else_branch', branch('e_'))])], [
      ...constants(),
      value(11, 'x', ELEM.float, ['batch', 'seq', 8]),
      value(11, 'flag', ELEM.bool, [1]),
      value(12, 'merged', ELEM.float, ['batch', 'seq', 8]),
      value(12, 'swapped', ELEM.float, ['seq', 'rest']),
    ]),
    17,
  );
}

/** Op types of a graph's nodes, the graphs of its If nodes included. */
function opTypes(bytes: Uint8Array, nestedGraph = false): string[] {
  const fields = readFields(nestedGraph ? bytes : (findField(readFields(bytes), MODEL.graph)?.data ?? new Uint8Array()));
  return fields
    .filter((f) => f.no === GRAPH.node)
    .flatMap((f) => {
      const n = parseNode(f.data);
      const inner = n.fields
        .filter((a) => a.no === NODE.attribute)
        .flatMap((a) => readFields(a.data).filter((x) => x.no === ATTR.g))
        .flatMap((g) => opTypes(g.data, true));
      return [n.opType, ...inner];
    });
}

async function run(bytes: Uint8Array, feeds: Record<string, OnnxTensor>, outputs: string[]) {
  const session = await createOnnxSession({ path: 'heads.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const result = await session.run(feeds, outputs);
    return outputs.map((o) => ({ dims: result[o]?.dims, data: [...float32Data(result[o]!, o)] }));
  } finally {
    await session.release();
  }
}

const x = (batch: number, seq: number): OnnxTensor => float32Tensor(Float32Array.from({ length: batch * seq * 8 }, (_, i) => i * 0.5 - 3), [batch, seq, 8]);

describe('constant Reshape targets', () => {
  it('makes a head split and merge constant (0 where the dimension is copied), leaves a target built otherwise, and computes the same', async () => {
    const before = flat();
    const after = constantReshapeTargets(before);
    expect(after.rewritten).toBe(2);
    // The swap still needs Shape / Gather / Unsqueeze for dim 1; dim 0's chain and two Concats are gone.
    expect(opTypes(after.bytes).sort()).toEqual(['Concat', 'Gather', 'Reshape', 'Reshape', 'Reshape', 'Shape', 'Unsqueeze']);
    for (const [batch, seq] of [[1, 1], [3, 4], [5, 1]] as const) {
      const outputs = ['heads', 'merged', 'swapped'];
      expect(await run(after.bytes, { x: x(batch, seq) }, outputs)).toEqual(await run(before, { x: x(batch, seq) }, outputs));
    }
  });

  it('rewrites inside If branches, with constants from the outer graph', async () => {
    const before = nested();
    const after = constantReshapeTargets(before);
    expect(after.rewritten).toBe(4);
    expect(opTypes(after.bytes).filter((op) => op === 'Shape')).toHaveLength(2);
    for (const flag of [0, 1]) {
      const feeds = { x: x(2, 3), flag: boolTensor(Uint8Array.of(flag), [1]) };
      expect(await run(after.bytes, feeds, ['merged', 'swapped'])).toEqual(await run(before, feeds, ['merged', 'swapped']));
    }
  });

  it('returns the same bytes when nothing applies (a rewritten graph, a graph without Reshape)', () => {
    const once = constantReshapeTargets(flat());
    expect(constantReshapeTargets(once.bytes)).toEqual({ bytes: once.bytes, rewritten: 0 });
    const none = model(graph('g', [node('Relu', ['x'], ['y'])], [value(11, 'x', ELEM.float, [2]), value(12, 'y', ELEM.float, [2])]), 17);
    expect(constantReshapeTargets(none)).toEqual({ bytes: none, rewritten: 0 });
  });
});
