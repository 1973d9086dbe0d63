import { describe, expect, it } from 'vitest';
import { appendOnlySelfAttentionCache, PAST_LENGTH_INPUT } from '../../../src/onnx/kv-append.js';
import { sequenceMajorSelfAttentionCache } from '../../../src/onnx/kv-sequence-major.js';
import { boolTensor, createOnnxSession, float32Data, float32Tensor, int64Tensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { seededRandom } from '../../../src/whisper/random.js';
import { ELEM, f32, graph, graphAttr, intAttr, model, node, tensor, value } from '../../helpers/onnx-model.js';
import { intsAttribute } from '../../../src/onnx/onnx-fields.js';

/**
 * One attention layer of a merged decoder in miniature, written as optimum exports Whisper's: on the
 * cache branch, keys and values are the pasts [batch, heads, past, D] concatenated with the new rows,
 * scores = q · Mul(Transpose(keys), 1), out = scores · values, plus the cached length read through
 * Shape(keys)[2] (Whisper positions its tokens so). The other branch reads no past.
 */
const H = 2;
const D = 3;
const PK = 'past_key_values.0.decoder.key';
const PV = 'past_key_values.0.decoder.value';
const isPast = (name: string): boolean => /^past_key_values\.\d+\.decoder\.(key|value)$/.test(name);
const i64 = (...values: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);

function branch(withPast: boolean, lengthIndex: number): ReturnType<typeof graph> {
  if (!withPast) {
    return graph('e_branch', [node('Identity', ['q'], ['e_out']), node('Identity', ['xk'], ['e_k']), node('Identity', ['xv'], ['e_v'])], [
      value(12, 'e_out', ELEM.float, ['batch', H, 'seq', D]),
      value(12, 'e_k', ELEM.float, ['batch', H, 'seq', D]),
      value(12, 'e_v', ELEM.float, ['batch', H, 'seq', D]),
    ]);
  }
  return graph(
    't_branch',
    [
      // The new rows are computed in the branch, as Whisper's projections are.
      node('Identity', ['xk'], ['k_rows']),
      node('Identity', ['xv'], ['v_rows']),
      node('Concat', [PK, 'k_rows'], ['keys'], [intAttr('axis', -2)]),
      node('Concat', [PV, 'v_rows'], ['values'], [intAttr('axis', 2)]),
      node('Transpose', ['keys'], ['keys_t'], [intsAttribute('perm', [0, 1, 3, 2])]),
      node('Mul', ['keys_t', 'one'], ['keys_scaled']),
      node('MatMul', ['q', 'keys_scaled'], ['scores']),
      node('MatMul', ['scores', 'values'], ['mixed']),
      node('Shape', ['keys'], ['keys_shape']),
      node('Gather', ['keys_shape', 'length_index'], ['length'], [intAttr('axis', 0)]),
      node('Cast', ['length'], ['length_f'], [intAttr('to', ELEM.float)]),
      node('Add', ['mixed', 'length_f'], ['t_out']),
    ],
    [
      tensor('length_index', ELEM.int64, [], i64(lengthIndex)),
      value(12, 't_out', ELEM.float, ['batch', H, 'seq', D]),
      value(12, 'keys', ELEM.float, ['batch', H, 'past + seq', D]),
      value(12, 'values', ELEM.float, ['batch', H, 'past + seq', D]),
    ],
  );
}

function decoder(lengthIndex = 2): Uint8Array {
  return model(
    graph(
      'merged',
      [
        node('If', ['use_cache_branch'], ['out', 'present.0.decoder.key', 'present.0.decoder.value'], [
          graphAttr('then_branch', branch(true, lengthIndex)),
          graphAttr('else_branch', branch(false, lengthIndex)),
        ]),
      ],
      [
        tensor('one', ELEM.float, [], f32([1])),
        value(11, 'q', ELEM.float, ['batch', H, 'seq', D]),
        value(11, 'xk', ELEM.float, ['batch', H, 'seq', D]),
        value(11, 'xv', ELEM.float, ['batch', H, 'seq', D]),
        value(11, PK, ELEM.float, ['batch', H, 'past', D]),
        value(11, PV, ELEM.float, ['batch', H, 'past', D]),
        value(11, 'use_cache_branch', ELEM.bool, [1]),
        value(12, 'out', ELEM.float, ['batch', H, 'seq', D]),
        value(12, 'present.0.decoder.key', ELEM.float, ['batch', H, 'past + seq', D]),
        value(12, 'present.0.decoder.value', ELEM.float, ['batch', H, 'past + seq', D]),
      ],
    ),
    17,
  );
}

const OUTPUTS = ['out', 'present.0.decoder.key', 'present.0.decoder.value'];

async function run(bytes: Uint8Array, feeds: Record<string, OnnxTensor>): Promise<{ values: number[][]; dims: (readonly number[])[] }> {
  const session = await createOnnxSession({ path: 'decoder.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const result = await session.run(feeds, OUTPUTS);
    return { values: OUTPUTS.map((n) => [...float32Data(result[n]!, n)]), dims: OUTPUTS.map((n) => result[n]!.dims) };
  } finally {
    await session.release();
  }
}

/** [batch, heads, positions, D] → [positions, batch, heads, D]. */
function sequenceMajor(data: Float32Array, batch: number, positions: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < H; h++)
      for (let p = 0; p < positions; p++) out.set(data.subarray(((b * H + h) * positions + p) * D, ((b * H + h) * positions + p + 1) * D), ((p * batch + b) * H + h) * D);
  return out;
}

describe('the self-attention cache laid out sequence-major (kv-sequence-major rewrite)', () => {
  const random = seededRandom(11);
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.round((random() - 0.5) * 16) / 4);

  it('computes what the graph as exported does from pasts fed [positions, batch, heads, D], and returns only the new rows', async () => {
    const rewritten = sequenceMajorSelfAttentionCache(appendOnlySelfAttentionCache(decoder(), isPast).bytes, isPast);
    expect(rewritten.rewritten).toBe(true);
    for (const [batch, past, seq] of [
      [2, 3, 1],
      [1, 0, 4],
      [3, 5, 2],
    ] as const) {
      const q = fill(batch * H * seq * D);
      const xk = fill(batch * H * seq * D);
      const xv = fill(batch * H * seq * D);
      const pk = fill(batch * H * past * D);
      const pv = fill(batch * H * past * D);
      const common = {
        q: float32Tensor(q, [batch, H, seq, D]),
        xk: float32Tensor(xk, [batch, H, seq, D]),
        xv: float32Tensor(xv, [batch, H, seq, D]),
        use_cache_branch: boolTensor(Uint8Array.of(1), [1]),
      };
      const original = await run(decoder(), { ...common, [PK]: float32Tensor(pk, [batch, H, past, D]), [PV]: float32Tensor(pv, [batch, H, past, D]) });
      const laidOut = await run(rewritten.bytes, {
        ...common,
        [PK]: float32Tensor(sequenceMajor(pk, batch, past), [past, batch, H, D]),
        [PV]: float32Tensor(sequenceMajor(pv, batch, past), [past, batch, H, D]),
        [PAST_LENGTH_INPUT]: int64Tensor(BigInt64Array.of(BigInt(past)), [1]),
      });
      expect(laidOut.values[0]).toEqual(original.values[0]);
      expect(laidOut.dims).toEqual([[batch, H, seq, D], [batch, H, seq, D], [batch, H, seq, D]]);
      expect(laidOut.values[1]).toEqual([...xk]);
      expect(laidOut.values[2]).toEqual([...xv]);
    }
  });

  it('leaves a graph it does not recognise byte for byte', () => {
    // As exported: the pasts are not cut by kv-append's Slice (no past_sequence_length).
    const exported = decoder();
    expect(sequenceMajorSelfAttentionCache(exported, isPast)).toEqual({ bytes: exported, rewritten: false });
    // Already rewritten.
    const once = sequenceMajorSelfAttentionCache(appendOnlySelfAttentionCache(decoder(), isPast).bytes, isPast);
    expect(sequenceMajorSelfAttentionCache(once.bytes, isPast)).toEqual({ bytes: once.bytes, rewritten: false });
    // A shape read at another axis than the positions': it would read another dimension once laid out.
    const other = appendOnlySelfAttentionCache(decoder(3), isPast).bytes;
    expect(sequenceMajorSelfAttentionCache(other, isPast)).toEqual({ bytes: other, rewritten: false });
    // No past inputs picked.
    const appended = appendOnlySelfAttentionCache(decoder(), isPast).bytes;
    expect(sequenceMajorSelfAttentionCache(appended, () => false)).toEqual({ bytes: appended, rewritten: false });
  });
});
