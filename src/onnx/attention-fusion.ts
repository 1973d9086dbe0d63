/**
 * Fuses the self-attention of an exported Whisper encoder into onnxruntime's MultiHeadAttention
 * (com.microsoft), whose CPU kernel computes it block by block (FlashAttention: a running maximum
 * and sum per query row) instead of writing the whole score matrix.
 *
 * As exported (transformers → optimum), each encoder layer's attention is, with q, k and v the
 * projections [batch, length, width]:
 *
 *     Q  = Transpose(Reshape(q · c1, [b, t, -1, dh]), [0,2,1,3]) · c2
 *     Kᵀ = Transpose(Reshape(k, [b, -1, h, dh]), [0,2,3,1]) · c3
 *     V  = Transpose(Reshape(v, [b, -1, h, dh]), [0,2,1,3])
 *     y  = Reshape(Transpose(MatMul(Softmax(MatMul(Q, Kᵀ)), V), [0,2,1,3]), [b, t, -1])
 *
 * (c1..c3 scalar constants: Whisper scales q by dh^-0.5, the others are 1). It becomes
 *
 *     y = MultiHeadAttention(q, k, v; num_heads = h, scale = c1·c2·c3)
 *
 * and the nodes only that pattern used are dropped. The arithmetic is the same up to float
 * rounding (a different summation order; both forms are within 1.1e-6 of a float64 reference), but
 * the int8 quantisation that follows each attention turns rounding differences into whole levels
 * now and then: on whisper-base the teacher-forced loss of the corpus's reference transcripts moved
 * by ±0.01 nats/token, either way depending on the language and window, and near-tie texts flip.
 *
 * Why: the scores are [heads, length, length] floats per layer (32 MB for a 20 s window, 72 MB for
 * 30 s), written by one MatMul, read and written by Softmax, read again by the next MatMul. Blocked
 * in cache instead, an encoder pass on 2 threads took 5–6 % less at 20 s and ~9 % less at 30 s
 * (whisper-base; ~2 % at 5–10 s).
 *
 * Anything that does not match exactly (another consumer of an intermediate tensor, a mask added
 * to the scores, a Softmax over another axis, a scale on V, a graph with subgraphs) is left as it is.
 */
import { bytesField, findField, messageField, ProtobufError, readFields, stringValue, varintValue, writeFields, type Field } from './protobuf.js';
import {
  ATTR,
  DTYPE,
  floatAttribute,
  GRAPH,
  hasSubgraph,
  intAttribute,
  intAttributeValue,
  MODEL,
  MS_DOMAIN,
  nodeAttribute,
  nodeFields,
  opsetImports,
  packedVarints,
  parseNode,
  TENSOR,
  tensorValues,
  valueInfoName,
  withMsDomainImport,
  type ConstantValues,
  type OnnxNode,
} from './onnx-fields.js';

export interface AttentionFusionResult {
  readonly bytes: Uint8Array;
  /** Attention blocks now computed by MultiHeadAttention. */
  readonly fused: number;
}

/** What the graph knows: producers, consumers and constant values by tensor name. */
interface GraphIndex {
  readonly producers: Map<string, OnnxNode>;
  readonly consumers: Map<string, OnnxNode[]>;
  readonly initializers: Map<string, Uint8Array>;
  readonly outputs: Set<string>;
  /** The model's ai.onnx opset. */
  readonly opset: number;
}

function intsOf(node: OnnxNode, name: string): number[] | undefined {
  const attr = nodeAttribute(node, name);
  return attr?.filter((f) => f.no === ATTR.ints).flatMap((f) => (f.wire === 0 ? [Number(BigInt.asIntN(64, varintValue(f)))] : f.wire === 2 ? packedVarints(f.data) : []));
}

/** The value of a constant tensor: an initializer or a Constant node's output. */
function constant(index: GraphIndex, name: string): ConstantValues | null {
  const init = index.initializers.get(name);
  if (init !== undefined) return tensorValues(init);
  const node = index.producers.get(name);
  if (node === undefined || node.opType !== 'Constant' || node.domain !== '') return null;
  const t = nodeAttribute(node, 'value');
  const tensor = t === undefined ? undefined : findField(t, ATTR.t);
  return tensor === undefined ? null : tensorValues(tensor.data);
}

function scalar(index: GraphIndex, name: string): number | null {
  const c = constant(index, name);
  return c !== null && c.dataType === DTYPE.float && c.values.length === 1 ? (c.values[0] as number) : null;
}

/** The integer entries of a Reshape's shape: a constant, or a Concat of pieces (null where a piece is not constant). */
function shapeEntries(index: GraphIndex, name: string): (number | null)[] | null {
  const c = constant(index, name);
  if (c !== null) return c.dataType === DTYPE.int64 ? [...c.values] : null;
  const concat = index.producers.get(name);
  if (concat === undefined || concat.opType !== 'Concat' || concat.domain !== '') return null;
  const entries: (number | null)[] = [];
  for (const piece of concat.inputs) {
    const v = constant(index, piece);
    if (v === null) entries.push(null);
    else if (v.dataType === DTYPE.int64 && v.values.length === 1) entries.push(v.values[0] as number);
    else return null;
  }
  return entries;
}

function only(index: GraphIndex, tensor: string): OnnxNode | undefined {
  const readers = index.consumers.get(tensor) ?? [];
  return readers.length === 1 && !index.outputs.has(tensor) ? readers[0] : undefined;
}

function sameInts(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** One side of the scores: Mul-by-scalar* → Transpose(perm) → Reshape(x, [b, ·, h?, dh]) → Mul-by-scalar*, walked backwards. */
interface Projection {
  /** The [batch, length, width] tensor before the head split. */
  readonly input: string;
  readonly scale: number;
  /** Reshape's third entry: the head count, or -1 (inferred). */
  readonly heads: number;
  readonly headSize: number;
}

function projection(index: GraphIndex, tensor: string, perm: readonly number[]): Projection | null {
  let scale = 1;
  let name = tensor;
  const unscale = (): boolean => {
    for (;;) {
      const mul = index.producers.get(name);
      if (mul === undefined || mul.opType !== 'Mul' || mul.domain !== '' || only(index, name) === undefined) return true;
      const [a, b] = mul.inputs;
      if (a === undefined || b === undefined) return false;
      const sa = scalar(index, a);
      const sb = scalar(index, b);
      if (sb !== null) [scale, name] = [scale * sb, a];
      else if (sa !== null) [scale, name] = [scale * sa, b];
      else return true;
    }
  };
  if (!unscale()) return null;
  const transpose = index.producers.get(name);
  if (transpose === undefined || transpose.opType !== 'Transpose' || !sameInts(intsOf(transpose, 'perm'), perm)) return null;
  const reshaped = transpose.inputs[0];
  const reshape = reshaped === undefined ? undefined : index.producers.get(reshaped);
  if (reshaped === undefined || reshape === undefined || reshape.opType !== 'Reshape' || only(index, reshaped) === undefined) return null;
  const [input, shape] = reshape.inputs;
  const entries = shape === undefined ? null : shapeEntries(index, shape);
  if (input === undefined || entries === null || entries.length !== 4) return null;
  const [, , heads, headSize] = entries;
  if (heads === null || heads === undefined || headSize === null || headSize === undefined || headSize <= 0 || (heads !== -1 && heads <= 0)) return null;
  name = input;
  if (!unscale()) return null;
  return { input: name, scale, heads, headSize };
}

interface Match {
  /** The Reshape that merges the heads back: replaced by the fused node, which writes its output. */
  readonly merge: OnnxNode;
  readonly fused: OnnxNode;
}

function matchAt(index: GraphIndex, softmax: OnnxNode, k: number): Match | null {
  // Before opset 13 the default axis is 1 (over heads × queries × keys); from 13 on it is the last one.
  const axis = intAttributeValue(softmax, 'axis') ?? (index.opset >= 13 ? -1 : 1);
  if (axis !== -1 && axis !== 3) return null;
  const [scores] = softmax.inputs;
  const [probs] = softmax.outputs;
  if (scores === undefined || probs === undefined || only(index, scores) !== softmax) return null;
  const qk = index.producers.get(scores);
  const pv = only(index, probs);
  if (qk === undefined || qk.opType !== 'MatMul' || qk.domain !== '' || pv === undefined || pv.opType !== 'MatMul' || pv.domain !== '' || pv.inputs[0] !== probs) return null;
  const [qSide, kSide] = qk.inputs;
  const vSide = pv.inputs[1];
  const [context] = pv.outputs;
  if (qSide === undefined || kSide === undefined || vSide === undefined || context === undefined) return null;
  const q = projection(index, qSide, [0, 2, 1, 3]);
  const kt = projection(index, kSide, [0, 2, 3, 1]);
  const v = projection(index, vSide, [0, 2, 1, 3]);
  if (q === null || kt === null || v === null || v.scale !== 1) return null;
  const heads = [q.heads, kt.heads, v.heads].find((h) => h !== -1);
  if (heads === undefined || [q, kt, v].some((p) => p.heads !== -1 && p.heads !== heads) || q.headSize !== kt.headSize) return null;
  const back = only(index, context);
  if (back === undefined || back.opType !== 'Transpose' || !sameInts(intsOf(back, 'perm'), [0, 2, 1, 3])) return null;
  const [backOut] = back.outputs;
  const merge = backOut === undefined ? undefined : only(index, backOut);
  if (merge === undefined || merge.opType !== 'Reshape' || merge.inputs[0] !== backOut) return null;
  const mergeShape = merge.inputs[1] === undefined ? null : shapeEntries(index, merge.inputs[1]);
  const width = heads * v.headSize;
  if (mergeShape === null || mergeShape.length !== 3 || (mergeShape[2] !== -1 && mergeShape[2] !== width)) return null;
  const [y] = merge.outputs;
  if (y === undefined) return null;
  const name = `attention_fusion/${k}/MultiHeadAttention`;
  const attributes = [intAttribute('num_heads', heads), floatAttribute('scale', q.scale * kt.scale)];
  const fields = nodeFields('MultiHeadAttention', [q.input, kt.input, v.input], [y], name, attributes, MS_DOMAIN);
  return { merge, fused: { fields, opType: 'MultiHeadAttention', domain: MS_DOMAIN, inputs: [q.input, kt.input, v.input], outputs: [y] } };
}

/** Drops the nodes none of whose outputs is read any more (walking back from the graph's outputs). */
function live(nodes: readonly OnnxNode[], outputs: ReadonlySet<string>): OnnxNode[] {
  const needed = new Set(outputs);
  const kept: OnnxNode[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i] as OnnxNode;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const input of node.inputs) needed.add(input);
  }
  return kept.reverse();
}

/**
 * Rewrites a serialized ModelProto's main graph as the module comment says. Returns the input bytes
 * (fused: 0) when nothing matched. Throws ProtobufError when `model` is not a readable ONNX model.
 */
export function fuseSelfAttention(model: Uint8Array): AttentionFusionResult {
  const unchanged = { bytes: model, fused: 0 };
  const fields = readFields(model);
  const graphField = findField(fields, MODEL.graph);
  if (graphField === undefined || graphField.wire !== 2) throw new ProtobufError('the model has no graph');
  const graph = readFields(graphField.data);
  const nodes = graph.filter((f) => f.no === GRAPH.node).map((f) => parseNode(f.data));
  // Names read inside subgraphs are invisible to this index: leave such graphs alone.
  if (nodes.some(hasSubgraph)) return unchanged;

  const opset = opsetImports(fields).get('') ?? 0;
  const index: GraphIndex = { producers: new Map(), consumers: new Map(), initializers: new Map(), outputs: new Set(), opset };
  for (const node of nodes) {
    for (const o of node.outputs) index.producers.set(o, node);
    for (const i of node.inputs) index.consumers.set(i, [...(index.consumers.get(i) ?? []), node]);
  }
  for (const f of graph) {
    if (f.no === GRAPH.output) index.outputs.add(valueInfoName(f.data));
    if (f.no === GRAPH.initializer) {
      const name = findField(readFields(f.data), TENSOR.name);
      if (name !== undefined) index.initializers.set(stringValue(name), f.data);
    }
  }

  const replaced = new Map<OnnxNode, OnnxNode>();
  for (const node of nodes) {
    if (node.opType !== 'Softmax' || node.domain !== '') continue;
    const match = matchAt(index, node, replaced.size);
    if (match !== null) replaced.set(match.merge, match.fused);
  }
  if (replaced.size === 0) return unchanged;

  const kept = live(
    nodes.map((n) => replaced.get(n) ?? n),
    index.outputs,
  );
  const out: Field[] = [];
  let written = false;
  for (const f of graph) {
    if (f.no !== GRAPH.node) {
      // Shape hints of tensors that no longer exist would only confuse a reader: onnxruntime infers them again.
      if (f.no !== GRAPH.valueInfo) out.push(f);
    } else if (!written) {
      written = true;
      for (const n of kept) out.push(messageField(GRAPH.node, n.fields));
    }
  }
  const modelOut = withMsDomainImport(fields.map((f) => (f === graphField ? bytesField(MODEL.graph, writeFields(out)) : f)));
  return { bytes: writeFields(modelOut), fused: replaced.size };
}
