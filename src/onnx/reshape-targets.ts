/**
 * Replaces Reshape targets that a graph computes from its own shapes with constants, and drops the
 * shape arithmetic that only served them.
 *
 * Exported transformer graphs (optimum's Whisper decoder among them) split and merge attention
 * heads with targets built at run time:
 *
 *     Reshape(x, Concat(Unsqueeze(Gather(Shape(y), 0)), Unsqueeze(Gather(Shape(y), 1)), [-1], [64]))
 *
 * Every decoder step then runs those Shape / Gather / Unsqueeze / Concat kernels: ~150 of a
 * whisper-base step's ~460, each a few microseconds of kernel and executor time, for targets that
 * mean [batch, length, -1, 64]. This rewrite writes such a target as the constant [0, 0, -1, 64],
 * where 0 copies the dimension of the Reshape's input at the same position (allowzero = 0).
 *
 * When it applies: a part of the Concat taken from a shape, Unsqueeze(Gather(Shape(y), k), [0]),
 * becomes 0 only at position k of the target, and every other part must be a constant. That is the
 * layout of a head split or merge, where y is the tensor being reshaped or one with the same leading
 * dimensions (batch and sequence): the rewrite relies on it and does not prove it. It is applied to
 * the Whisper decoder only, where the end-to-end test checks the logits bit for bit against the
 * graph as exported, through beam-shaped steps of batch 1, 4 and 3 (test/e2e/whisper/kv-append.test.ts).
 *
 * Measured on whisper-base's decoder (5 beams, 2 threads): 37 targets, 146 kernels fewer a step,
 * 6.4 → 6.0 ms a step (Python onnxruntime, alternating), logits bit-identical.
 */
import { bytesField, findField, messageField, readFields, stringField, writeFields, type Field } from './protobuf.js';
import {
  addInitializerValues,
  ATTR,
  constantNodeValue,
  DTYPE,
  GRAPH,
  hasSubgraph,
  initializerField,
  intAttributeValue,
  intsAttributeValue,
  MODEL,
  NODE,
  nodeAttribute,
  parseNode,
  rewriteNodeSubgraphs,
  valueInfoName,
  type ConstantValues,
  type OnnxNode,
} from './onnx-fields.js';

export interface ReshapeTargetsResult {
  readonly bytes: Uint8Array;
  /** Reshape targets made constant (0: bytes are the input). */
  readonly rewritten: number;
}

const SUFFIX = '/constant_reshape_target';

/** Small int64 constants by name: initializers and Constant nodes. */
type Constants = ReadonlyMap<string, ConstantValues>;

function int64Raw(values: readonly number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
}

/** Every name a node reads: its inputs, and what the nodes of its subgraphs read. */
function reads(n: OnnxNode): string[] {
  const names = [...n.inputs];
  if (!hasSubgraph(n)) return names;
  for (const f of n.fields) {
    if (f.no !== NODE.attribute) continue;
    for (const a of readFields(f.data)) {
      if (a.no !== ATTR.g) continue;
      for (const g of readFields(a.data)) if (g.no === GRAPH.node) names.push(...reads(parseNode(g.data)));
    }
  }
  return names;
}

/**
 * The target of a Reshape as constants and 0s, or null when a part of it is neither a constant
 * nor the dimension at its own position of some shape.
 */
function constantTarget(shapeInput: string, producers: ReadonlyMap<string, OnnxNode>, constants: Constants): number[] | null {
  const concat = producers.get(shapeInput);
  if (!concat || concat.opType !== 'Concat' || concat.domain !== '' || intAttributeValue(concat, 'axis') !== 0) return null;
  const target: number[] = [];
  for (const part of concat.inputs) {
    const value = constants.get(part);
    if (value !== undefined) {
      if (value.dataType !== DTYPE.int64 || value.dims.length !== 1) return null;
      target.push(...value.values);
      continue;
    }
    // Unsqueeze(Gather(Shape(y), k), axes [0]) at position k.
    const unsqueeze = producers.get(part);
    if (!unsqueeze || unsqueeze.opType !== 'Unsqueeze' || unsqueeze.domain !== '') return null;
    const axes = unsqueeze.inputs[1] !== undefined ? constants.get(unsqueeze.inputs[1])?.values : intsAttributeValue(unsqueeze, 'axes');
    if (axes?.length !== 1 || axes[0] !== 0) return null;
    const gather = producers.get(unsqueeze.inputs[0] ?? '');
    if (!gather || gather.opType !== 'Gather' || gather.domain !== '' || (intAttributeValue(gather, 'axis') ?? 0) !== 0) return null;
    const index = constants.get(gather.inputs[1] ?? '');
    if (index === undefined || index.dims.length !== 0 || index.values[0] !== target.length) return null;
    const shape = producers.get(gather.inputs[0] ?? '');
    if (!shape || shape.opType !== 'Shape' || shape.domain !== '' || nodeAttribute(shape, 'start') || nodeAttribute(shape, 'end')) return null;
    target.push(0);
  }
  return target.filter((d) => d === -1).length <= 1 ? target : null;
}

/** Rewrites one graph (and the graphs nested in its nodes); `outer`: the constants its subgraphs may read. */
function rewriteGraph(graphBytes: Uint8Array, outer: Constants): { bytes: Uint8Array; rewritten: number } {
  const fields = readFields(graphBytes);
  const constants = addInitializerValues(fields, new Map(outer));
  const nodes = new Map<Field, OnnxNode>();
  const producers = new Map<string, OnnxNode>();
  for (const f of fields) {
    if (f.no !== GRAPH.node) continue;
    const n = parseNode(f.data);
    nodes.set(f, n);
    for (const o of n.outputs) producers.set(o, n);
    const value = constantNodeValue(n);
    if (value && n.outputs[0] !== undefined) constants.set(n.outputs[0], value);
  }

  let rewritten = 0;
  const added: Field[] = [];
  const out = fields.map((f) => {
    const n = nodes.get(f);
    if (!n) return f;
    if (hasSubgraph(n)) {
      let inner = 0;
      const replaced = rewriteNodeSubgraphs(n.fields, (g) => {
        const r = rewriteGraph(g, constants);
        inner += r.rewritten;
        return r.rewritten > 0 ? r.bytes : null;
      });
      rewritten += inner;
      return replaced === null ? f : messageField(GRAPH.node, replaced);
    }
    if (n.opType !== 'Reshape' || n.domain !== '' || (intAttributeValue(n, 'allowzero') ?? 0) !== 0) return f;
    const target = constantTarget(n.inputs[1] ?? '', producers, constants);
    if (target === null) return f;
    const name = `${n.outputs[0] ?? 'reshape'}${SUFFIX}`;
    added.push(initializerField(name, DTYPE.int64, [target.length], int64Raw(target)));
    rewritten++;
    let input = 0;
    return messageField(GRAPH.node, n.fields.map((x) => (x.no === NODE.input && input++ === 1 ? stringField(NODE.input, name) : x)));
  });
  if (rewritten === 0) return { bytes: graphBytes, rewritten: 0 };

  // The shape arithmetic left without a reader goes: keep only what the outputs still need.
  const needed = new Set(fields.filter((f) => f.no === GRAPH.output).map((f) => valueInfoName(f.data)));
  const keep = new Set<Field>();
  for (let i = out.length - 1; i >= 0; i--) {
    const f = out[i] as Field;
    if (f.no !== GRAPH.node) continue;
    const n = parseNode(f.data);
    if (!n.outputs.some((o) => needed.has(o))) continue;
    keep.add(f);
    for (const name of reads(n)) needed.add(name);
  }
  const graph = [...out.filter((f) => f.no !== GRAPH.node || keep.has(f)), ...added];
  return { bytes: writeFields(graph), rewritten };
}

/** Rewrites a serialized ModelProto (see the module comment); unchanged bytes when nothing applies. */
export function constantReshapeTargets(model: Uint8Array): ReshapeTargetsResult {
  const fields = readFields(model);
  const graphField = findField(fields, MODEL.graph);
  if (graphField === undefined || graphField.wire !== 2) return { bytes: model, rewritten: 0 };
  const graph = rewriteGraph(graphField.data, new Map());
  if (graph.rewritten === 0) return { bytes: model, rewritten: 0 };
  return { bytes: writeFields(fields.map((f) => (f === graphField ? bytesField(MODEL.graph, graph.bytes) : f))), rewritten: graph.rewritten };
}
