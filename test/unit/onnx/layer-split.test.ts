import { describe, expect, it } from 'vitest';
import { splitAtLayers } from '../../../src/onnx/layer-split.js';
import { createOnnxSession, float32Data, float32Tensor, type OnnxTensor } from '../../../src/onnx/runtime.js';
import { seededRandom } from '../../../src/whisper/random.js';
import { constantNode, ELEM, f32, graph, intAttr, model, node, tensor, value } from '../../helpers/onnx-model.js';

/**
 * A pre-LayerNorm stack in miniature, shaped like Whisper's encoder: a front end, then per layer
 * x + W1·LN(x) and x + Gelu-ish(W2·LN(x)), then a final LayerNorm. The weights are initializers (one
 * shared by every layer), the scale a Constant node read by every layer.
 */
const D = 4;
const random = seededRandom(5);
const weights = (n: number): number[] => Array.from({ length: n }, () => Math.round((random() - 0.5) * 8) / 8);
const W = Array.from({ length: 6 }, () => weights(D * D));
const SHARED = weights(D * D);

function stack(layers: number, extra: 'none' | 'shape-crosses' = 'none'): Uint8Array {
  const nodes = [constantNode('half', ELEM.float, [], f32([0.5])), node('MatMul', ['x', 'shared'], ['h0'])];
  const inits = [tensor('shared', ELEM.float, [D, D], f32(SHARED)), tensor('gamma', ELEM.float, [D], f32([1, 1, 1, 1])), tensor('beta', ELEM.float, [D], f32([0, 0, 0, 0]))];
  let h = 'h0';
  for (let l = 0; l < layers; l++) {
    inits.push(tensor(`w${l}`, ELEM.float, [D, D], f32(W[l % W.length] as number[])));
    nodes.push(
      node('LayerNormalization', [h, 'gamma', 'beta'], [`l${l}_n1`], [intAttr('axis', -1)]),
      node('MatMul', [`l${l}_n1`, `w${l}`], [`l${l}_a`]),
      node('Add', [h, `l${l}_a`], [`l${l}_mid`]),
      node('LayerNormalization', [`l${l}_mid`, 'gamma', 'beta'], [`l${l}_n2`], [intAttr('axis', -1)]),
      node('MatMul', [`l${l}_n2`, 'shared'], [`l${l}_b`]),
      node('Mul', [`l${l}_b`, 'half'], [`l${l}_c`]),
      node('Tanh', [`l${l}_c`], [`l${l}_t`]),
      node('Add', [`l${l}_mid`, `l${l}_t`], [`l${l}_out`]),
    );
    h = `l${l}_out`;
  }
  if (extra === 'shape-crosses') {
    // The input's shape read at the end: a second tensor crossing every cut.
    nodes.push(node('Shape', ['x'], ['x_shape']), node('Reshape', [h, 'x_shape'], ['h_reshaped']));
    h = 'h_reshaped';
  }
  nodes.push(node('LayerNormalization', [h, 'gamma', 'beta'], ['y'], [intAttr('axis', -1)]));
  return model(graph('stack', nodes, [...inits, value(11, 'x', ELEM.float, ['batch', 'positions', D]), value(12, 'y', ELEM.float, ['batch', 'positions', D])]), 17);
}

async function run(bytes: Uint8Array, feeds: Record<string, OnnxTensor>, output: string): Promise<{ data: Float32Array; tensor: OnnxTensor }> {
  const session = await createOnnxSession({ path: 'stack.onnx', bytes }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
  try {
    const result = await session.run(feeds, [output]);
    const tensor = result[output]!;
    return { data: float32Data(tensor, output), tensor };
  } finally {
    await session.release();
  }
}

describe('a pre-LayerNorm stack cut into runs of layers (layer-split)', () => {
  it('cuts at the residual stream entering a layer, and the pieces run in order compute the whole graph bit for bit', async () => {
    const whole = stack(6);
    const split = splitAtLayers(whole, 3);
    expect(split?.cuts).toEqual(['l1_out', 'l3_out']);
    expect(split?.pieces).toHaveLength(3);
    const x = Float32Array.from({ length: 2 * 5 * D }, () => Math.round((random() - 0.5) * 32) / 8);
    const expected = await run(whole, { x: float32Tensor(x, [2, 5, D]) }, 'y');
    let input = 'x';
    let feed = float32Tensor(x, [2, 5, D]);
    const outputs = [...(split?.cuts ?? []), 'y'];
    for (const [i, piece] of (split?.pieces ?? []).entries()) {
      const out = await run(piece, { [input]: feed }, outputs[i] as string);
      input = outputs[i] as string;
      feed = float32Tensor(out.data, [2, 5, D]);
    }
    expect([...float32Data(feed, 'y')]).toEqual([...expected.data]);
  });

  it('balances the pieces over the layers and leaves graphs it cannot cut cleanly whole', () => {
    expect(splitAtLayers(stack(4), 3)?.cuts).toEqual(['l0_out', 'l2_out']);
    expect(splitAtLayers(stack(6), 2)?.cuts).toEqual(['l2_out']);
    // One layer cannot be cut; one piece is no cut.
    expect(splitAtLayers(stack(1), 3)).toBeNull();
    expect(splitAtLayers(stack(6), 1)).toBeNull();
    // Another tensor than the residual stream crosses the cuts.
    expect(splitAtLayers(stack(6, 'shape-crosses'), 3)).toBeNull();
  });
});
