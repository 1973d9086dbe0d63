/**
 * Per-row activation quantisation for dynamically quantised ONNX models (onnxruntime's
 * quantize_dynamic, as in the hub's `_quantized` Whisper exports).
 *
 * Those models quantise each MatMul's input with DynamicQuantizeLinear: one scale for the whole
 * activation tensor. In Whisper's encoder that tensor is 1500 positions × 512 features, and a few
 * loud positions set the scale for all of them, so quiet positions keep only a handful of levels.
 * CTranslate2 (faster-whisper) quantises each row (position) with its own scale. This rewrite does
 * the same with standard ops, leaving the int8 weights and their MatMulInteger untouched:
 *
 *     DynamicQuantizeLinear(A) → q, s, z          (s, z scalars)
 *   becomes
 *     rs = max(ReduceMax(|A|, last axis) / 127, ε)  (one scale per row, shape [..., rows, 1])
 *     q  = QuantizeLinear(A / rs, 1, 128)          (uint8, zero point 128: symmetric)
 *     s  = 1, z = 128
 *   and each consumer's MatMulInteger → Cast → Mul(·, Mul(s, weight scale)) = Y becomes
 *     Y  = Mul(MatMulIntegerToFloat(q, W, 1, weight scale, 128, W zero point), rs)
 *
 * MatMulIntegerToFloat (com.microsoft) is the kernel onnxruntime itself fuses the original pattern
 * into; it is written here because onnxruntime would no longer find the pattern: once s is the
 * constant 1, constant folding merges Mul(s, weight scale) away before the fusion looks for it, and
 * the unfused MatMulInteger → Cast → Mul cost ~40 ms more per encoder pass. The row scale is applied
 * after it: the kernel only accepts a scalar (or per-column) scale for its first input, and feeding
 * it [rows, 1] gives wrong results.
 *
 * Reduced range (`reducedRange`, for CPUs whose int8 products saturate: graphs.ts step 8): the rows
 * are quantised to 7 bits, rs = max|A| / 63 with zero point 64, so q stays in [1, 127]. x86 without
 * AVX-VNNI multiplies uint8 activations by int8 weights with VPMADDUBSW, which adds each pair of
 * products into a saturating int16: with q ≤ 127 and |w| ≤ 128 a pair is at most 2 × 127 × 128 =
 * 32 512, so the fast u8 × s8 kernel is exact (8-bit rows sit around 128 and overflow it often). The
 * same remedy as PyTorch's `reduce_range` for x86 (activations) and onnxruntime's (weights).
 *
 * A quantisation whose outputs are used any other way (another consumer, a subgraph, a graph output)
 * is left as it is. Measured on whisper-base (bench/results): French WER of the 36 speech clips
 * 30.7 % → 25.7 % with the encoder and the decoder's cross-attention projections rewritten, for
 * ~+20 ms per 30 s encoder pass (300 → ~320 ms); the decoder's per-step quantisations (a few rows) are left per
 * tensor, since rewriting them cost ~10 % per step for no measurable gain.
 */
import { bytesField, findField, ProtobufError, readFields, writeFields, type Field } from './protobuf.js';
import {
  ATTR,
  DTYPE,
  GRAPH,
  initializerField,
  intAttribute,
  intsAttribute,
  MODEL,
  MS_DOMAIN,
  NODE,
  nodeFields,
  opsetImports,
  parseNode,
  rewriteNodeSubgraphs,
  valueInfoName,
  withMsDomainImport,
  type OnnxNode,
} from './onnx-fields.js';

/** Which DynamicQuantizeLinear nodes to rewrite, by the name of the tensor they quantise. */
export type RowQuantSelector = (quantizedInput: string) => boolean;

export interface RowQuantOptions {
  /** Quantise rows to 7 bits (levels 63, zero point 64) instead of 8 (127, 128): see the module comment. */
  readonly reducedRange?: boolean;
}

export interface RowQuantResult {
  readonly bytes: Uint8Array;
  /** DynamicQuantizeLinear nodes now quantising per row. */
  readonly rewritten: number;
  /** Selected ones left per tensor because their outputs are used in a way this rewrite does not know. */
  readonly skipped: number;
  /**
   * Integer MatMuls (MatMulInteger, MatMulIntegerToFloat, DynamicQuantizeMatMul) whose input the
   * rewrite does not quantise: after a reduced-range rewrite, these may still saturate.
   */
  readonly unrewrittenIntegerMatMuls: number;
}

/** The ops that multiply quantised activations by int8 weights. */
const INTEGER_MATMULS: ReadonlySet<string> = new Set([':MatMulInteger', 'com.microsoft:MatMulIntegerToFloat', 'com.microsoft:DynamicQuantizeMatMul']);

/** The quantisation grid: symmetric around the zero point, `levels` steps on each side. */
interface Grid {
  readonly levels: number;
  readonly zeroPoint: number;
}

const FULL_RANGE: Grid = { levels: 127, zeroPoint: 128 };
const REDUCED_RANGE: Grid = { levels: 63, zeroPoint: 64 };

type Node = OnnxNode;

interface Counts {
  rewritten: number;
  skipped: number;
  graphs: number;
  unrewrittenIntegerMatMuls: number;
}

function makeNode(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attributes: Field[] = [], domain = ''): Node {
  return { fields: nodeFields(opType, inputs, outputs, name, attributes, domain), opType, domain, inputs, outputs };
}

function float32Raw(value: number): Uint8Array {
  return new Uint8Array(Float32Array.of(value).buffer);
}

/** Every name a node's subgraphs (If / Loop / Scan bodies, at any depth) read. */
function namesReadBySubgraphs(node: Node, into: Set<string>): void {
  for (const attr of node.fields) {
    if (attr.no !== NODE.attribute) continue;
    for (const f of readFields(attr.data)) {
      if (f.no !== ATTR.g && f.no !== ATTR.graphs) continue;
      for (const g of readFields(f.data)) {
        if (g.no !== GRAPH.node) continue;
        const inner = parseNode(g.data);
        for (const i of inner.inputs) into.add(i);
        namesReadBySubgraphs(inner, into);
      }
    }
  }
}

/** Rewrites the subgraphs held in a node's attributes (If branches, loop bodies) in place. */
function rewriteSubgraphs(node: Node, select: RowQuantSelector, reduceAxesAsInput: boolean, grid: Grid, counts: Counts): void {
  node.fields = rewriteNodeSubgraphs(node.fields, (graph) => rewriteGraph(graph, select, reduceAxesAsInput, grid, counts)) ?? node.fields;
}

/** One consumer of a quantisation in the quantize_dynamic pattern: MatMulInteger(q, W, z, wz) → Cast → Mul(·, Mul(s, wScale)). */
interface QuantizedMatMul {
  readonly matMul: Node;
  readonly cast: Node;
  readonly scaleMul: Node;
  /** The weight's scale: the input of `scaleMul` that is not s. */
  readonly weightScale: string;
  /** The final Mul, whose output is the MatMul's float result. */
  readonly mul: Node;
}

/** The consumers of one DynamicQuantizeLinear, when they all form the quantize_dynamic pattern. Null when anything else reads them. */
function matchConsumers(dql: Node, consumers: Map<string, Node[]>, producers: Map<string, Node>, reserved: Set<string>): QuantizedMatMul[] | null {
  const [q, s, z] = dql.outputs;
  if (q === undefined || s === undefined || z === undefined) return null;
  if ([q, s, z].some((n) => reserved.has(n))) return null;
  const matmuls = consumers.get(q) ?? [];
  if (matmuls.length === 0) return null;
  const chains: QuantizedMatMul[] = [];
  const scaleMuls = new Set<Node>();
  for (const mm of matmuls) {
    if (mm.opType !== 'MatMulInteger' || mm.domain !== '' || mm.inputs[0] !== q || mm.inputs[2] !== z || mm.inputs[1] === q) return null;
    const out = mm.outputs[0];
    const casts = out === undefined ? [] : (consumers.get(out) ?? []);
    const cast = casts[0];
    if (casts.length !== 1 || cast === undefined || cast.opType !== 'Cast' || out === undefined || reserved.has(out)) return null;
    const castOut = cast.outputs[0];
    const muls = castOut === undefined ? [] : (consumers.get(castOut) ?? []);
    const mul = muls[0];
    if (muls.length !== 1 || mul === undefined || mul.opType !== 'Mul' || castOut === undefined || reserved.has(castOut)) return null;
    const other = mul.inputs[0] === castOut ? mul.inputs[1] : mul.inputs[0];
    const scaleMul = other === undefined ? undefined : producers.get(other);
    if (scaleMul === undefined || scaleMul.opType !== 'Mul' || other === undefined || reserved.has(other)) return null;
    const weightScale: string | undefined = scaleMul.inputs[0] === s ? scaleMul.inputs[1] : scaleMul.inputs[0];
    if (!scaleMul.inputs.includes(s) || weightScale === undefined || weightScale === s) return null;
    // The scale product goes away with the chain: nothing else may read it.
    if ((consumers.get(other) ?? []).length !== 1 || scaleMuls.has(scaleMul)) return null;
    scaleMuls.add(scaleMul);
    chains.push({ matMul: mm, cast, scaleMul, weightScale, mul });
  }
  if ((consumers.get(z) ?? []).some((n) => !matmuls.includes(n))) return null;
  if ((consumers.get(s) ?? []).some((n) => !scaleMuls.has(n))) return null;
  return chains;
}

/** Rewrites one graph (and its subgraphs); null when nothing in it changed. */
function rewriteGraph(bytes: Uint8Array, select: RowQuantSelector, reduceAxesAsInput: boolean, grid: Grid, counts: Counts): Uint8Array | null {
  const fields = readFields(bytes);
  const nodes = fields.filter((f) => f.no === GRAPH.node).map((f) => parseNode(f.data));
  const before = counts.rewritten;

  for (const node of nodes) {
    if (node.fields.some((f) => f.no === NODE.attribute)) rewriteSubgraphs(node, select, reduceAxesAsInput, grid, counts);
  }

  const producers = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  const reserved = new Set<string>();
  for (const node of nodes) {
    for (const o of node.outputs) producers.set(o, node);
    for (const i of node.inputs) consumers.set(i, [...(consumers.get(i) ?? []), node]);
    namesReadBySubgraphs(node, reserved);
  }
  for (const f of fields) {
    const name = f.no === GRAPH.output ? valueInfoName(f.data) : '';
    if (name !== '') reserved.add(name);
  }

  const graphId = counts.graphs++;
  const prefix = `rowquant/${graphId}`;
  const one = `${prefix}/one`;
  const zero = `${prefix}/zero_point`;
  const levels = `${prefix}/levels`;
  const eps = `${prefix}/epsilon`;
  const axes = `${prefix}/axes`;
  const replaced = new Map<Node, Node[]>();
  let k = 0;
  for (const node of nodes) {
    if (node.opType !== 'DynamicQuantizeLinear' || node.domain !== '') continue;
    const input = node.inputs[0];
    if (input === undefined || !select(input)) continue;
    const chains = matchConsumers(node, consumers, producers, reserved);
    if (chains === null) {
      counts.skipped++;
      continue;
    }
    const [q, s, z] = node.outputs as [string, string, string];
    const p = `${prefix}/${k++}`;
    const rowScale = `${p}/row_scale`;
    replaced.set(node, [
      makeNode('Abs', [input], [`${p}/abs`], `${p}/Abs`),
      reduceAxesAsInput
        ? makeNode('ReduceMax', [`${p}/abs`, axes], [`${p}/max`], `${p}/ReduceMax`, [intAttribute('keepdims', 1)])
        : makeNode('ReduceMax', [`${p}/abs`], [`${p}/max`], `${p}/ReduceMax`, [intsAttribute('axes', [-1]), intAttribute('keepdims', 1)]),
      makeNode('Div', [`${p}/max`, levels], [`${p}/scale`], `${p}/DivLevels`),
      makeNode('Max', [`${p}/scale`, eps], [rowScale], `${p}/Max`),
      makeNode('Div', [input, rowScale], [`${p}/scaled`], `${p}/DivScale`),
      makeNode('QuantizeLinear', [`${p}/scaled`, one, zero], [q], `${p}/QuantizeLinear`),
      makeNode('Identity', [one], [s], `${p}/Scale`),
      makeNode('Identity', [zero], [z], `${p}/ZeroPoint`),
    ]);
    chains.forEach(({ matMul, cast, scaleMul, weightScale, mul }, m) => {
      const y = mul.outputs[0] as string;
      const unscaled = `${p}/${m}/unscaled`;
      const [, weights, , weightZeroPoint] = matMul.inputs;
      // Written where the final Mul was: every input of the chain is produced before it.
      replaced.set(mul, [
        makeNode('MatMulIntegerToFloat', [q, weights ?? '', s, weightScale, z, weightZeroPoint ?? ''], [unscaled], `${p}/${m}/MatMulIntegerToFloat`, [], MS_DOMAIN),
        makeNode('Mul', [unscaled, rowScale], [y], `${p}/${m}/RowScale`),
      ]);
      for (const gone of [matMul, cast, scaleMul]) replaced.set(gone, []);
    });
    counts.rewritten++;
  }
  // Every integer MatMul left in place reads an input this rewrite did not quantise.
  for (const node of nodes) {
    if (INTEGER_MATMULS.has(`${node.domain}:${node.opType}`) && !replaced.has(node)) counts.unrewrittenIntegerMatMuls++;
  }

  if (counts.rewritten === before) return null;
  const out: Field[] = [];
  let nodesWritten = false;
  const writeNodes = (): void => {
    for (const node of nodes) {
      for (const n of replaced.get(node) ?? [node]) {
        out.push(bytesField(GRAPH.node, writeFields(n.fields)));
      }
    }
  };
  for (const f of fields) {
    if (f.no === GRAPH.node) {
      if (!nodesWritten) writeNodes();
      nodesWritten = true;
    } else {
      out.push(f);
    }
  }
  if (!nodesWritten) writeNodes();
  if (replaced.size > 0) {
    out.push(initializerField(one, DTYPE.float, [], float32Raw(1)));
    out.push(initializerField(zero, DTYPE.uint8, [], Uint8Array.of(grid.zeroPoint)));
    out.push(initializerField(levels, DTYPE.float, [], float32Raw(grid.levels)));
    out.push(initializerField(eps, DTYPE.float, [], float32Raw(1e-12)));
    if (reduceAxesAsInput) out.push(initializerField(axes, DTYPE.int64, [1], new Uint8Array(BigInt64Array.of(-1n).buffer)));
  }
  return writeFields(out);
}

/**
 * Rewrites the selected DynamicQuantizeLinear nodes of a serialized ModelProto (main graph and
 * subgraphs) to quantise per row. Returns the input bytes themselves when nothing was rewritten.
 * Throws ProtobufError when `model` is not a readable ONNX model.
 */
export function quantizeActivationsPerRow(model: Uint8Array, select: RowQuantSelector, options: RowQuantOptions = {}): RowQuantResult {
  const fields = readFields(model);
  const graph = findField(fields, MODEL.graph);
  if (!graph || graph.wire !== 2) throw new ProtobufError('the model has no graph');
  const imports = opsetImports(fields);
  const opset = imports.get('');
  if (opset === undefined) throw new ProtobufError('the model declares no ai.onnx opset');
  // ReduceMax takes its axes as an input from opset 18 on, as an attribute before.
  const reduceAxesAsInput = opset >= 18;
  const counts: Counts = { rewritten: 0, skipped: 0, graphs: 0, unrewrittenIntegerMatMuls: 0 };
  const grid = options.reducedRange === true ? REDUCED_RANGE : FULL_RANGE;
  const rewritten = rewriteGraph(graph.data, select, reduceAxesAsInput, grid, counts);
  const { skipped, unrewrittenIntegerMatMuls } = counts;
  if (rewritten === null) return { bytes: model, rewritten: 0, skipped, unrewrittenIntegerMatMuls };
  const out = withMsDomainImport(fields.map((f) => (f === graph ? bytesField(MODEL.graph, rewritten) : f)));
  return { bytes: writeFields(out), rewritten: counts.rewritten, skipped, unrewrittenIntegerMatMuls };
}
