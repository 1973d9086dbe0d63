import { describe, expect, it } from 'vitest';
import { intsAttribute } from '../../../src/onnx/onnx-fields.js';
import { slicePositionalEmbedding } from '../../../src/onnx/position-slice.js';
import { createOnnxSession, float32Data, float32Tensor } from '../../../src/onnx/runtime.js';
import { ELEM, f32, graph, model, node, tensor, value } from '../../helpers/onnx-model.js';

/**
 * An encoder's front, as the hub exports it: input [batch, width, frames] → Transpose → + a constant
 * [positions, width] embedding → output [batch, positions, width]. Here frames = positions (no conv).
 */
const POSITIONS = 6;
const WIDTH = 2;
const EMBEDDING = Array.from({ length: POSITIONS * WIDTH }, (_, i) => 100 * (i + 1));

function encoderFront(extraNodes: ReturnType<typeof node>[] = []): Uint8Array {
  return model(
    graph(
      'g',
      [node('Transpose', ['x'], ['xt'], [intsAttribute('perm', [0, 2, 1])]), node('Add', ['xt', 'pos'], ['y']), ...extraNodes],
      [
        tensor('pos', ELEM.float, [POSITIONS, WIDTH], f32(EMBEDDING)),
        value(11, 'x', ELEM.float, ['batch', WIDTH, POSITIONS]),
        value(12, 'y', ELEM.float, ['batch', POSITIONS, WIDTH]),
      ],
    ),
    17,
  );
}

async function run(bytes: Uint8Array, x: Float32Array, length: number): Promise<number[]> {
  const session = await createOnnxSession({ path: 'front.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const out = await session.run({ x: float32Tensor(x, [1, WIDTH, length]) }, ['y']);
    return [...float32Data(out['y']!, 'y')];
  } finally {
    await session.release();
  }
}

/** Transpose of x ([width][length]) plus the first `length` rows of the embedding. */
function expected(x: Float32Array, length: number): number[] {
  const y: number[] = [];
  for (let p = 0; p < length; p++) for (let w = 0; w < WIDTH; w++) y.push((x[w * length + p] as number) + (EMBEDDING[p * WIDTH + w] as number));
  return y;
}

describe('slicing the positional embedding to the input length', () => {
  const shape = { positions: POSITIONS, frames: POSITIONS };

  it('runs the rewritten graph on any length up to a full window', async () => {
    const result = slicePositionalEmbedding(encoderFront(), shape);
    expect(result.sliced).toBe(true);
    for (const length of [POSITIONS, 4, 1]) {
      const x = Float32Array.from({ length: WIDTH * length }, (_, i) => i + 0.5);
      expect(await run(result.bytes, x, length)).toEqual(expected(x, length));
    }
  });

  it('is needed: the graph as exported refuses a shorter input', async () => {
    await expect(run(encoderFront(), new Float32Array(WIDTH * 4), 4)).rejects.toThrow();
  });

  it('leaves a graph alone when the embedding is not added exactly once', () => {
    const twice = encoderFront([node('Add', ['y', 'pos'], ['z'])]);
    expect(slicePositionalEmbedding(twice, shape)).toEqual({ bytes: twice, sliced: false });
    const other = encoderFront();
    expect(slicePositionalEmbedding(other, { positions: POSITIONS + 1, frames: POSITIONS + 1 })).toEqual({ bytes: other, sliced: false });
  });
});
