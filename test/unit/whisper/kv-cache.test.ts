import { describe, expect, it } from 'vitest';
import { PAST_LENGTH_INPUT } from '../../../src/onnx/kv-append.js';
import { float32Data, float32Tensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { AppendCache, ConcatCache, SequenceMajorCache, type SelfCache } from '../../../src/whisper/kv-cache.js';
import { seededRandom } from '../../../src/whisper/random.js';

const H = 2;
const D = 3;
const NAMES = ['past_key_values.0.decoder.key', 'past_key_values.0.decoder.value'];
const shape = { nHeads: H, headDim: D, pastNames: NAMES };

/** What a cache feeds, as [tensor][row][head][position][dim] of its valid positions only. */
function contents(cache: SelfCache): number[][][][][] {
  const feeds: Record<string, OnnxTensor> = {};
  cache.feed(feeds);
  return NAMES.map((name) => {
    const t = feeds[name]!;
    const data = float32Data(t, name);
    if (cache instanceof SequenceMajorCache) {
      // Fed as exactly the valid positions, [positions, batch, heads, dim].
      expect(t.dims).toEqual([cache.length, cache.batch, H, D]);
      expect(data.length).toBe(cache.length * cache.batch * H * D);
      return Array.from({ length: cache.batch }, (_, b) =>
        Array.from({ length: H }, (_, h) =>
          Array.from({ length: cache.length }, (_, p) => {
            const at = ((p * cache.batch + b) * H + h) * D;
            return Array.from(data.subarray(at, at + D));
          }),
        ),
      );
    }
    const [batch, heads, capacity, dim] = t.dims as [number, number, number, number];
    expect([batch, heads, dim]).toEqual([cache.batch, H, D]);
    expect(capacity).toBeGreaterThanOrEqual(cache.length);
    return Array.from({ length: batch }, (_, b) =>
      Array.from({ length: heads }, (_, h) =>
        Array.from({ length: cache.length }, (_, p) => {
          const at = ((b * heads + h) * capacity + p) * dim;
          return Array.from(data.subarray(at, at + dim));
        }),
      ),
    );
  });
}

/**
 * A pass's outputs for `seqLen` new tokens: the new rows (AppendCache's graph) and, for the graph as
 * exported, those rows appended to the past it was fed (ConcatCache).
 */
function pass(concat: SelfCache, batch: number, seqLen: number, next: () => number): { rows: OnnxTensor[]; whole: OnnxTensor[] } {
  const rows = NAMES.map(() => Float32Array.from({ length: batch * H * seqLen * D }, next));
  const past = contents(concat);
  const whole = rows.map((r, i) => {
    const length = concat.length + seqLen;
    const out = new Float32Array(batch * H * length * D);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const at = (b * H + h) * length * D;
        past[i]![b]![h]!.forEach((row, p) => out.set(row, at + p * D));
        out.set(r.subarray((b * H + h) * seqLen * D, (b * H + h + 1) * seqLen * D), at + concat.length * D);
      }
    }
    return float32Tensor(out, [batch, H, length, D]);
  });
  return { rows: rows.map((r) => float32Tensor(r, [batch, H, seqLen, D])), whole };
}

describe('the self-attention caches kept by the caller (AppendCache, SequenceMajorCache) against the graph-kept one (ConcatCache)', () => {
  it.each([
    ['AppendCache', (): SelfCache => new AppendCache(shape)],
    ['SequenceMajorCache', (): SelfCache => new SequenceMajorCache(shape)],
  ])('%s holds the same rows through a first pass, batch changes, forks and capacity growth', (_name, make) => {
    const random = seededRandom(5);
    let counter = 0;
    const next = (): number => ++counter;
    const append = make();
    const concat = new ConcatCache(shape);
    const both = [append, concat];

    // First pass: 4 tokens at batch 1 (a cached start state is absorbed the same way).
    let outputs = pass(concat, 1, 4, next);
    append.absorb(outputs.rows, 4);
    concat.absorb(outputs.whole, 4);
    expect(contents(append)).toEqual(contents(concat));
    // Batch 1 → 3 beams.
    for (const c of both) c.gather(Int32Array.of(0, 0, 0));
    // 70 steps: past the first capacity step (32) and a doubling, with random forks and batch changes.
    for (let step = 0; step < 70; step++) {
      const batch = append.batch;
      outputs = pass(concat, batch, 1, next);
      append.absorb(outputs.rows, 1);
      concat.absorb(outputs.whole, 1);
      const from = Math.floor(random() * batch);
      const to = Math.floor(random() * batch);
      if (from !== to) for (const c of both) c.copyRow(from, to);
      if (step === 40) for (const c of both) c.gather(Int32Array.of(2, 0)); // a beam finished
      expect(contents(append)).toEqual(contents(concat));
    }
    expect(append.length).toBe(74);
    expect(append.batch).toBe(2);
  });

  it.each([
    ['AppendCache', (): SelfCache => new AppendCache(shape), [1, H, 32, D]],
    ['SequenceMajorCache', (): SelfCache => new SequenceMajorCache(shape), [5, 1, H, D]],
  ])('%s feeds the valid length with the buffers', (_name, make, dims) => {
    const cache = make();
    cache.absorb(NAMES.map(() => float32Tensor(new Float32Array(H * 5 * D), [1, H, 5, D])), 5);
    const feeds: Record<string, OnnxTensor> = {};
    cache.feed(feeds);
    expect(Array.from(feeds[PAST_LENGTH_INPUT]!.data as BigInt64Array)).toEqual([5n]);
    expect(feeds[NAMES[0]!]!.dims).toEqual(dims);
    // Outputs of another shape (a graph not rewritten, a batch mismatch) are refused, not misplaced.
    expect(() => cache.absorb(NAMES.map(() => float32Tensor(new Float32Array(H * 6 * D), [1, H, 6, D])), 1)).toThrow(
      expect.objectContaining({ code: 'STT_DECODE_FAILED' }),
    );
  });

  it.each([
    ['AppendCache', (): SelfCache => new AppendCache(shape)],
    ['SequenceMajorCache', (): SelfCache => new SequenceMajorCache(shape)],
  ])("%s forgets a draft's rejected tokens as the graph-kept cache does, and appends after the kept ones", (_name, make) => {
    let counter = 0;
    const next = (): number => ++counter;
    const kept = make();
    const concat = new ConcatCache(shape);
    let outputs = pass(concat, 1, 4, next);
    kept.absorb(outputs.rows, 4);
    concat.absorb(outputs.whole, 4);
    // A pass of 17 tokens (a token and 16 guesses) of which 3 stand: 14 forgotten.
    outputs = pass(concat, 1, 17, next);
    kept.absorb(outputs.rows, 17);
    concat.absorb(outputs.whole, 17);
    const before = contents(concat);
    for (const c of [kept, concat]) c.truncate(7);
    expect(kept.length).toBe(7);
    expect(contents(concat)).toEqual(before.map((rows) => rows.map((heads) => heads.map((positions) => positions.slice(0, 7)))));
    expect(contents(kept)).toEqual(contents(concat));
    outputs = pass(concat, 1, 2, next);
    kept.absorb(outputs.rows, 2);
    concat.absorb(outputs.whole, 2);
    expect(contents(kept)).toEqual(contents(concat));
    expect(kept.length).toBe(9);
    for (const c of [kept, concat]) {
      expect(() => c.truncate(10)).toThrow(expect.objectContaining({ code: 'STT_DECODE_FAILED' }));
      expect(() => c.truncate(-1)).toThrow(expect.objectContaining({ code: 'STT_DECODE_FAILED' }));
    }
  });
});
