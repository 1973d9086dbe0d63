/**
 * int8 MatMul weights stored again as uint8 with zero point 128, for CPUs whose int8 products
 * saturate.
 *
 * onnxruntime's x86 int8 GEMM (MLAS) multiplies uint8 activations by int8 weights. Without AVX-VNNI
 * (AVX2 and AVX-512 parts before Ice Lake / Zen 4) it does so with VPMADDUBSW, which adds each pair
 * of u8 × s8 products into a *saturating* int16: 255 × 127 + 255 × 127 = 64 770 becomes 32 767.
 * onnxruntime's documentation names the issue; the hub's per-tensor weights rarely reach it (most
 * of their values are small), but weights quantised per output channel (weight-requant.ts) use the
 * whole int8 range in every column, and the per-row activations (row-quant.ts: zero point 128) sit
 * around 128, so pairs overflow often. Measured on such a CPU: a 4 × 3 test MatMul off by 10 % in
 * one channel, and whisper-base's per-channel weights lost two thirds of their gain in
 * teacher-forced loss (README → Models).
 *
 * With uint8 weights MLAS takes its u8 × u8 kernel, which widens to int16 before multiplying and
 * never saturates. The values are the same numbers: w_u8 = w_s8 + 128 with zero point z + 128, and
 * for z = 0 (quantize_dynamic's symmetric weights) the byte is the int8 byte with its top bit
 * flipped. The integer products are exact either way, so on a CPU that does not saturate the two
 * forms compute the same result; graphs.ts applies this only where saturation_probe says the CPU
 * saturates (the u8 × u8 kernel is slower there than the u8 × s8 one), and only to graphs whose rows it
 * cannot quantise to 7 bits instead (row-quant.ts, reducedRange): the decoder, whose per-step
 * quantisations are 8-bit per tensor, and an encoder the per-row rewrite did not reach whole.
 *
 * Weights are rewritten where they are read as the B input of MatMulInteger, MatMulIntegerToFloat
 * or DynamicQuantizeMatMul, with their zero point. All or nothing: a weight or zero point that
 * anything else reads, a weight without an explicit zero point, or a zero point that is not int8
 * leaves the model as it is, with the reason.
 */
import { bytesField, findField, ProtobufError, readFields, varintValue, writeFields, type Field } from './protobuf.js';
import {
  DTYPE,
  GRAPH,
  indexGraph,
  initializerField,
  MODEL,
  nodeSubgraphs,
  packedVarints,
  parseNode,
  readModelGraph,
  TENSOR,
  tensorDims,
  writeEditedGraphs,
  type IndexedGraph,
  type OnnxNode,
} from './onnx-fields.js';

export interface Uint8WeightsResult {
  readonly bytes: Uint8Array;
  /** int8 weight initializers now uint8 (0 when the model was left as it is). */
  readonly shifted: number;
  /** Why nothing was rewritten, when there were int8 weights; null otherwise. */
  readonly reason: string | null;
}

/** Where each integer MatMul reads its weight and the weight's zero point. */
const WEIGHT_SLOTS: ReadonlyMap<string, { readonly weight: number; readonly zeroPoint: number }> = new Map([
  [':MatMulInteger', { weight: 1, zeroPoint: 3 }],
  ['com.microsoft:MatMulIntegerToFloat', { weight: 1, zeroPoint: 5 }],
  ['com.microsoft:DynamicQuantizeMatMul', { weight: 1, zeroPoint: 3 }],
]);

type Role = 'weight' | 'zeroPoint' | 'other';

/** An initializer and the ways nodes read it. */
interface Read {
  readonly graph: IndexedGraph;
  readonly index: number;
  readonly name: string;
  readonly roles: Set<Role>;
}

interface Analysis {
  readonly graphs: IndexedGraph[];
  /** Initializer key (graph id / name) → where it is and how it is read. */
  readonly reads: Map<string, Read>;
  problem: string | null;
}

function analyse(bytes: Uint8Array, outer: readonly IndexedGraph[], analysis: Analysis): void {
  const graph = indexGraph(bytes, analysis.graphs.length);
  const { fields } = graph;
  analysis.graphs.push(graph);
  const scope = [graph, ...outer];
  /** Records how a node reads `name`; false when no initializer in scope has that name. */
  const note = (name: string | undefined, role: Role): boolean => {
    if (name === undefined || name === '') return false;
    for (const g of scope) {
      const index = g.initializers.get(name);
      if (index === undefined) continue;
      const key = `${g.id}/${name}`;
      const read = analysis.reads.get(key) ?? { graph: g, index, name, roles: new Set<Role>() };
      read.roles.add(role);
      analysis.reads.set(key, read);
      return true;
    }
    return false;
  };
  const nodes: OnnxNode[] = fields.filter((f) => f.no === GRAPH.node).map((f) => parseNode(f.data));
  for (const node of nodes) {
    const slots = WEIGHT_SLOTS.get(`${node.domain}:${node.opType}`);
    if (slots === undefined) {
      for (const input of node.inputs) note(input, 'other');
      continue;
    }
    node.inputs.forEach((input, i) => {
      if (i !== slots.weight && i !== slots.zeroPoint) note(input, 'other');
    });
    const weight = note(node.inputs[slots.weight], 'weight');
    const zeroPoint = note(node.inputs[slots.zeroPoint], 'zeroPoint');
    // Both must be constants of this file, or the rewritten weight would meet an int8 zero point at run time.
    if (weight !== zeroPoint) analysis.problem ??= `a ${node.opType} whose weight and zero point are not both initializers`;
  }
  for (const node of nodes) for (const sub of nodeSubgraphs(node)) analyse(sub, scope, analysis);
}

/** An int8 initializer's dims and values (raw_data or, as quantize_dynamic writes zero points, int32_data); null for other types. */
function int8Values(tensor: readonly Field[]): { dims: number[]; values: Int8Array } | null {
  const type = findField(tensor, TENSOR.dataType);
  if (type === undefined || Number(varintValue(type)) !== DTYPE.int8) return null;
  const dims = tensorDims(tensor);
  const raw = findField(tensor, TENSOR.rawData);
  if (raw !== undefined) return { dims, values: new Int8Array(raw.data.slice().buffer) };
  const ints: number[] = [];
  for (const f of tensor) {
    if (f.no !== TENSOR.int32Data) continue;
    if (f.wire === 0) ints.push(Number(BigInt.asIntN(64, varintValue(f))));
    else ints.push(...packedVarints(f.data));
  }
  const count = dims.reduce((a, b) => a * b, 1);
  return ints.length === count ? { dims, values: Int8Array.from(ints) } : null;
}

/**
 * Rewrites the int8 weights of a serialized ModelProto's integer MatMuls as uint8 (module comment).
 * Returns the input bytes themselves when nothing changed. Throws ProtobufError for a model it cannot read.
 */
export function shiftWeightsToUint8(model: Uint8Array): Uint8WeightsResult {
  const read = readModelGraph(model);
  if (read === null) throw new ProtobufError('the model has no graph');
  const analysis: Analysis = { graphs: [], reads: new Map(), problem: null };
  analyse(read.graphField.data, [], analysis);

  const edits = new Map<number, Map<number, Field>>();
  let shifted = 0;
  let problem = analysis.problem;
  for (const ref of analysis.reads.values()) {
    const { roles } = ref;
    if (!roles.has('weight') && !roles.has('zeroPoint')) continue;
    const tensor = readFields((ref.graph.fields[ref.index] as Field).data);
    const int8 = int8Values(tensor);
    if (int8 === null) {
      const type = findField(tensor, TENSOR.dataType);
      // A uint8 weight already takes the u8 × u8 kernel; anything else is not this pattern.
      if (type !== undefined && Number(varintValue(type)) === DTYPE.uint8) continue;
      problem ??= `${ref.name} is not an int8 tensor`;
      continue;
    }
    if (roles.size > 1) {
      problem ??= `${ref.name} is read ${roles.has('other') ? 'by other nodes' : 'both as a weight and as a zero point'}`;
      continue;
    }
    const raw = new Uint8Array(int8.values.length);
    for (let i = 0; i < raw.length; i++) raw[i] = ((int8.values[i] as number) + 128) & 0xff;
    const own = edits.get(ref.graph.id) ?? new Map<number, Field>();
    own.set(ref.index, initializerField(ref.name, DTYPE.uint8, int8.dims, raw));
    edits.set(ref.graph.id, own);
    if (roles.has('weight')) shifted++;
  }
  if (shifted === 0 || problem !== null) return { bytes: model, shifted: 0, reason: problem };
  const graph = writeEditedGraphs(analysis.graphs, edits);
  if (graph === null) return { bytes: model, shifted: 0, reason: null };
  return { bytes: writeFields(read.model.map((f) => (f === read.graphField ? bytesField(MODEL.graph, graph) : f))), shifted, reason: null };
}
