/**
 * A pre-LayerNorm transformer's graph (Whisper's encoder) cut into consecutive pieces at the residual
 * stream between layers, each piece a model of its own, so that its caller can stop between pieces.
 *
 * Why: onnxruntime cannot stop a run once started (onnxruntime-node gives no handle on a run's
 * RunOptions), and the live engine cancels encoder passes that stopped mattering: a speculative final
 * whose pause turned out to be a breath, a partial that a final preempts. On a 2-core CPU a 20 s
 * encoder pass takes 240–550 ms, and a final queued behind a cancelled pass waited for the rest of it
 * (up to ~400 ms measured). Run piece after piece, a cancelled pass stops at the next cut.
 *
 * Where: the residual stream entering a layer is the input of that layer's first LayerNormalization.
 * With 2 LayerNorms a layer and a final one, the stream entering layer k is the first input of the
 * (2k)-th LayerNormalization in graph order. Piece i holds the nodes needed for cut i that earlier
 * pieces do not hold; the last piece holds the rest. A cut is only taken when nothing but the residual
 * tensor crosses it (initializers are copied to each piece that reads them; Constant nodes too), and no
 * node holds a subgraph: otherwise the graph stays whole. Each piece computes exactly what its nodes
 * computed in the whole graph, so the output is bit-identical (test/unit/onnx/layer-split.test.ts, and
 * the real encoder in test/e2e/whisper/encode-cancel.test.ts).
 */
import { findField, readFields, stringValue, varintValue, writeFields, type Field } from './protobuf.js';
import { GRAPH, hasSubgraph, parseNode, readModelGraph, TENSOR, TENSOR_TYPE, tensorValueInfo, TYPE, VALUE_INFO, valueInfoName, withGraph, type OnnxNode } from './onnx-fields.js';

export interface LayerSplit {
  /** The pieces, in run order: piece i's only input is piece i−1's only output (piece 0 reads the graph's inputs). */
  readonly pieces: readonly Uint8Array[];
  /** The residual tensors at the cuts: piece i outputs cuts[i]. */
  readonly cuts: readonly string[];
}

/** The layer each cut falls before: `pieces` runs of about the same number of layers. */
function cutLayers(layers: number, pieces: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < pieces; i++) {
    const layer = Math.round((layers * i) / pieces);
    if (layer > 0 && layer < layers && !out.includes(layer)) out.push(layer);
  }
  return out;
}

function elemTypeOf(valueInfo: Uint8Array): number | null {
  const type = findField(readFields(valueInfo), VALUE_INFO.type);
  const tensorType = type && findField(readFields(type.data), TYPE.tensorType);
  const elem = tensorType && findField(readFields(tensorType.data), TENSOR_TYPE.elemType);
  return elem === undefined || elem.wire !== 0 ? null : Number(varintValue(elem));
}

/**
 * Cuts `model` into `pieces` runs of layers as the module comment says; null when the graph is not a
 * pre-LayerNorm stack that can be cut cleanly (or `pieces` < 2).
 */
export function splitAtLayers(model: Uint8Array, pieces: number): LayerSplit | null {
  const read = readModelGraph(model);
  if (read === null || pieces < 2) return null;
  const nodeFieldsInOrder = read.graph.filter((f) => f.no === GRAPH.node);
  const nodes = nodeFieldsInOrder.map((f) => parseNode(f.data));
  if (nodes.some(hasSubgraph)) return null;
  const norms = nodes.filter((n) => n.opType === 'LayerNormalization');
  if (norms.length < 3 || norms.length % 2 !== 1) return null;
  const cuts = cutLayers((norms.length - 1) / 2, pieces).map((layer) => norms[2 * layer]?.inputs[0] ?? '');
  if (cuts.length === 0 || cuts.includes('')) return null;

  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const initializers = new Map<string, Field>();
  for (const f of read.graph) {
    if (f.no !== GRAPH.initializer) continue;
    const name = findField(readFields(f.data), TENSOR.name);
    if (name) initializers.set(stringValue(name), f);
  }
  const isConstant = (n: OnnxNode): boolean => n.opType === 'Constant' && n.inputs.length === 0;

  // Piece of each node: the first cut it is an ancestor of (else the last piece).
  const piece = new Array<number>(nodes.length).fill(cuts.length);
  cuts.forEach((cut, c) => {
    const stack = [cut];
    while (stack.length > 0) {
      const index = producer.get(stack.pop() ?? '');
      if (index === undefined || piece[index] !== cuts.length) continue;
      piece[index] = c;
      stack.push(...(nodes[index]?.inputs ?? []));
    }
  });

  const graphInputs = read.graph.filter((f) => f.no === GRAPH.input);
  const graphOutputs = read.graph.filter((f) => f.no === GRAPH.output);
  const outputElem = graphOutputs.length === 1 ? elemTypeOf(graphOutputs[0]?.data ?? new Uint8Array()) : null;
  if (outputElem === null) return null;
  const graphInputNames = new Set(graphInputs.map((f) => valueInfoName(f.data)));
  const otherFields = read.graph.filter((f) => f.no !== GRAPH.node && f.no !== GRAPH.initializer && f.no !== GRAPH.input && f.no !== GRAPH.output && f.no !== GRAPH.valueInfo);

  const out: Uint8Array[] = [];
  for (let p = 0; p <= cuts.length; p++) {
    const own = nodes.map((n, i) => ({ n, f: nodeFieldsInOrder[i] as Field, p: piece[i] })).filter((x) => x.p === p);
    const produced = new Set(own.flatMap((x) => x.n.outputs));
    const input = p === 0 ? null : (cuts[p - 1] as string);
    const constants: Field[] = [];
    const inits: Field[] = [];
    const seen = new Set<string>();
    for (const { n } of own) {
      for (const name of n.inputs) {
        if (name === '' || produced.has(name) || name === input || seen.has(name)) continue;
        seen.add(name);
        const init = initializers.get(name);
        const from = producer.get(name);
        const fromNode = from === undefined ? undefined : nodes[from];
        if (init !== undefined) inits.push(init);
        else if (fromNode !== undefined && isConstant(fromNode)) constants.push(nodeFieldsInOrder[from as number] as Field);
        else if (!(p === 0 && graphInputNames.has(name))) return null; // something else crosses the cut
      }
    }
    if (p === cuts.length && graphOutputs.some((f) => !produced.has(valueInfoName(f.data)))) return null;
    const graph: Field[] = [
      ...constants,
      ...own.map((x) => x.f),
      ...otherFields,
      ...inits,
      ...(input === null ? graphInputs : [tensorValueInfo(GRAPH.input, input, outputElem)]),
      ...(p === cuts.length ? graphOutputs : [tensorValueInfo(GRAPH.output, cuts[p] as string, outputElem)]),
    ];
    out.push(writeFields(withGraph(read, graph)));
  }
  return { pieces: out, cuts };
}
