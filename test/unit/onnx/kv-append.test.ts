import { describe, expect, it } from 'vitest';
import { appendOnlySelfAttentionCache, PAST_LENGTH_INPUT } from '../../../src/onnx/kv-append.js';
import { boolTensor, createOnnxSession, float32Data, float32Tensor, int64Tensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { ELEM, graph, graphAttr, intAttr, model, node, tensor, value } from '../../helpers/onnx-model.js';

/**
 * A merged decoder in miniature, shaped as optimum exports Whisper's: an If on use_cache_branch.
 * The cache branch concatenates the past keys [batch, 1, past, D] with the new rows (x, unsqueezed)
 * and returns the concatenation as `present`; its `out` is the sum over the cached sequence plus
 * the past's length read from Shape(past), as Whisper positions its new tokens. The other branch
 * reads no past. D = 2.
 */
const D = 2;
const PAST = 'past_key_values.0.decoder.key';
const PRESENT = 'present.0.decoder.key';
const isPast = (name: string): boolean => /^past_key_values\.\d+\.decoder\.(key|value)$/.test(name);

function branch(withPast: boolean, presentIsOutput = true, axis = -2): ReturnType<typeof graph> {
  const p = withPast ? 't_' : 'e_';
  const rows = `${p}rows`;
  const cached = withPast ? `${p}cat` : rows;
  const nodes = [
    node('Unsqueeze', ['x', 'axis1'], [rows]),
    ...(withPast ? [node('Concat', [PAST, rows], [cached], [intAttr('axis', axis)])] : []),
    node('ReduceSum', [cached, 'axis2'], [`${p}sum`], [intAttr('keepdims', 0)]),
    ...(withPast
      ? [
          node('Shape', [PAST], [`${p}shape`], [intAttr('start', 2), intAttr('end', 3)]),
          node('Cast', [`${p}shape`], [`${p}length`], [intAttr('to', ELEM.float)]),
          node('Add', [`${p}sum`, `${p}length`], [`${p}out`]),
        ]
      : [node('Identity', [`${p}sum`], [`${p}out`])]),
    ...(presentIsOutput ? [] : [node('Identity', [rows], [`${p}present`])]),
  ];
  return graph(`${p}branch`, nodes, [
    value(12, `${p}out`, ELEM.float, ['batch', 1, D]),
    value(12, presentIsOutput ? cached : `${p}present`, ELEM.float, ['batch', 1, 'past + seq', D]),
  ]);
}

function decoder(presentIsOutput = true, axis = -2): Uint8Array {
  return model(
    graph(
      'merged',
      [
        node('If', ['use_cache_branch'], ['out', PRESENT], [
          graphAttr('then_branch', branch(true, presentIsOutput, axis)),
          graphAttr('else_branch', branch(false)),
        ]),
      ],
      [
        tensor('axis1', ELEM.int64, [1], new Uint8Array(BigInt64Array.of(1n).buffer)),
        tensor('axis2', ELEM.int64, [1], new Uint8Array(BigInt64Array.of(2n).buffer)),
        value(11, 'x', ELEM.float, ['batch', 'seq', D]),
        value(11, PAST, ELEM.float, ['batch', 1, 'past', D]),
        value(11, 'use_cache_branch', ELEM.bool, [1]),
        value(12, 'out', ELEM.float, ['batch', 1, D]),
        value(12, PRESENT, ELEM.float, ['batch', 1, 'past + seq', D]),
      ],
    ),
    17,
  );
}

async function run(bytes: Uint8Array, feeds: Record<string, OnnxTensor>): Promise<{ out: number[]; present: number[]; dims: readonly number[] }> {
  const session = await createOnnxSession({ path: 'decoder.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const result = await session.run(feeds, ['out', PRESENT]);
    const present = result[PRESENT]!;
    return { out: [...float32Data(result['out']!, 'out')], present: [...float32Data(present, PRESENT)], dims: present.dims };
  } finally {
    await session.release();
  }
}

const useCache = (on: boolean): OnnxTensor => boolTensor(Uint8Array.of(on ? 1 : 0), [1]);
const pastLength = (n: number): OnnxTensor => int64Tensor(BigInt64Array.of(BigInt(n)), [1]);

describe('a self-attention cache kept by the caller (kv-append rewrite)', () => {
  // Batch 2, 3 past rows, 1 new row.
  const past = Float32Array.from({ length: 2 * 3 * D }, (_, i) => i + 1);
  const x = Float32Array.of(100, 200, 300, 400);

  it('computes what the graph as exported does from a past with spare capacity, and returns only the new rows', async () => {
    const rewritten = appendOnlySelfAttentionCache(decoder(), isPast);
    expect(rewritten.appended).toBe(true);
    const original = await run(decoder(), {
      x: float32Tensor(x, [2, 1, D]),
      [PAST]: float32Tensor(past, [2, 1, 3, D]),
      use_cache_branch: useCache(true),
    });

    // The same 3 rows in a buffer of capacity 5; the 2 spare rows hold garbage the graph must not read.
    const buffer = new Float32Array(2 * 5 * D).fill(Number.NaN);
    for (let b = 0; b < 2; b++) buffer.set(past.subarray(b * 3 * D, (b + 1) * 3 * D), b * 5 * D);
    const appended = await run(rewritten.bytes, {
      x: float32Tensor(x, [2, 1, D]),
      [PAST]: float32Tensor(buffer, [2, 1, 5, D]),
      [PAST_LENGTH_INPUT]: pastLength(3),
      use_cache_branch: useCache(true),
    });
    expect(appended.out).toEqual(original.out);
    expect(original.dims).toEqual([2, 1, 4, D]);
    expect(appended.dims).toEqual([2, 1, 1, D]);
    expect(appended.present).toEqual([100, 200, 300, 400]);
  });

  it('leaves the branch without a past as it was (its present is already the rows of its tokens)', async () => {
    const rewritten = appendOnlySelfAttentionCache(decoder(), isPast);
    const feeds = { x: float32Tensor(x, [2, 1, D]), [PAST]: float32Tensor(new Float32Array(0), [2, 1, 0, D]), use_cache_branch: useCache(false) };
    expect(await run(rewritten.bytes, { ...feeds, [PAST_LENGTH_INPUT]: pastLength(0) })).toEqual(await run(decoder(), feeds));
  });

  it('leaves a graph it does not recognise, or one already rewritten, byte for byte', () => {
    const once = appendOnlySelfAttentionCache(decoder(), isPast);
    expect(appendOnlySelfAttentionCache(once.bytes, isPast)).toEqual({ bytes: once.bytes, appended: false });
    // The concatenation is not what the branch returns: the new rows cannot stand in for it.
    const other = decoder(false);
    expect(appendOnlySelfAttentionCache(other, isPast)).toEqual({ bytes: other, appended: false });
    // A concatenation along another axis than the sequence: the slice would cut the wrong one.
    const features = decoder(true, 3);
    expect(appendOnlySelfAttentionCache(features, isPast)).toEqual({ bytes: features, appended: false });
    // The sequence axis written as a positive index is the same concatenation.
    expect(appendOnlySelfAttentionCache(decoder(true, 2), isPast).appended).toBe(true);
    // No past inputs at all.
    const plain = decoder();
    expect(appendOnlySelfAttentionCache(plain, () => false)).toEqual({ bytes: plain, appended: false });
  });
});
