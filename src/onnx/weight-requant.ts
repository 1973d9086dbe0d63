/**
 * Per-channel weight quantisation for dynamically quantised ONNX models, from a float copy of the
 * same weights.
 *
 * The hub's `_quantized` Whisper files were made with onnxruntime's quantize_dynamic, per_channel
 * off: each MatMul weight matrix W [K, N] is int8 with ONE scale, max|W| / 127. A few large
 * weights anywhere in the matrix set that scale, and the output channels (columns) whose weights
 * are small keep only a few int8 levels. CTranslate2 (faster-whisper) quantises each output
 * channel with its own scale. The int8 values cannot be requantised from themselves (the precision
 * is gone), so this rewrite takes the float weights from elsewhere (a CTranslate2 model.bin of the
 * same checkpoint, src/models/ctranslate2.ts) and, for every MatMul weight in the quantize_dynamic
 * pattern
 *
 *     MatMulInteger(A_q, W_q, A_zp, W_zp) → Cast → Mul(·, Mul(A_scale, W_scale))
 *
 * writes W_q again per column (W_scale[n] = max_k |W[k, n]| / 127, W_q = round(W / W_scale)) and
 * makes W_scale the [N] vector: the Mul broadcasts it over the output's last axis, so the graph is
 * unchanged and computes CTranslate2's int8 numerics. Nothing else changes (same kernels, same speed).
 *
 * Float weights are matched to int8 ones by content, not by name (the export names them
 * `onnx::MatMul_1301`): a float matrix [N, K] (CTranslate2 stores Dense weights as [out, in]; fused
 * projections such as q/k/v are split into blocks of N rows) belongs to W_q when every value is
 * within half a quantisation step of its dequantised int8 value — which is what quantising it gave.
 * A weight that matches no float matrix, or that the graph uses some other way, is left as it is and
 * reported; the caller decides whether that is acceptable (src/whisper/graphs.ts requires all).
 */
import type { FloatMatrix } from '../models/ctranslate2.js';
import { bytesField, findField, ProtobufError, readFields, varintValue, writeFields, type Field } from './protobuf.js';
import { DTYPE, GRAPH, indexGraph, initializerField, MODEL, nodeSubgraphs, packedVarints, parseNode, TENSOR, tensorDims, tensorValues, writeEditedGraphs, type IndexedGraph, type OnnxNode } from './onnx-fields.js';

export interface WeightRequantResult {
  readonly bytes: Uint8Array;
  /** int8 MatMul weights in the quantize_dynamic pattern. */
  readonly weights: number;
  /** Of those, the ones now quantised per output channel. */
  readonly requantized: number;
  /** Weights no float matrix matched (names). */
  readonly unmatched: readonly string[];
  /** int8 MatMul weights left alone because the graph uses them (or their scale) another way. */
  readonly skipped: readonly string[];
}


interface InitializerRef {
  readonly graph: IndexedGraph;
  readonly index: number;
  readonly name: string;
}

/** One MatMulInteger whose weight and weight scale are initializers. */
interface Chain {
  readonly weight: InitializerRef;
  readonly scale: InitializerRef;
  readonly zeroPoint: InitializerRef | null;
  /** The Mul(A_scale, W_scale) node. */
  readonly scaleMul: OnnxNode;
}

interface Analysis {
  readonly graphs: IndexedGraph[];
  /** Every node input that names an initializer: initializer key → the reading nodes. */
  readonly readers: Map<string, OnnxNode[]>;
  readonly chains: Chain[];
  /** Keys of initializers read as the weight of a MatMulInteger outside the pattern. */
  readonly irregular: Set<string>;
}

const key = (ref: InitializerRef): string => `${ref.graph.id}/${ref.name}`;

function analyseGraph(bytes: Uint8Array, outer: readonly IndexedGraph[], analysis: Analysis): void {
  const graph = indexGraph(bytes, analysis.graphs.length);
  const { fields } = graph;
  analysis.graphs.push(graph);
  const scope = [graph, ...outer];
  const resolve = (name: string | undefined): InitializerRef | null => {
    if (name === undefined || name === '') return null;
    for (const g of scope) {
      const index = g.initializers.get(name);
      if (index !== undefined) return { graph: g, index, name };
    }
    return null;
  };
  const nodes = fields.filter((f) => f.no === GRAPH.node).map((f) => parseNode(f.data));
  const producers = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of nodes) {
    for (const o of node.outputs) producers.set(o, node);
    for (const i of node.inputs) {
      consumers.set(i, [...(consumers.get(i) ?? []), node]);
      const ref = resolve(i);
      if (ref) analysis.readers.set(key(ref), [...(analysis.readers.get(key(ref)) ?? []), node]);
    }
  }
  for (const node of nodes) {
    if (node.opType !== 'MatMulInteger' || node.domain !== '') continue;
    const weight = resolve(node.inputs[1]);
    if (weight === null) continue;
    const chain = matchChain(node, weight, resolve, consumers, producers);
    if (chain === null) analysis.irregular.add(key(weight));
    else analysis.chains.push(chain);
  }
  for (const node of nodes) for (const sub of nodeSubgraphs(node)) analyseGraph(sub, scope, analysis);
}

/** MatMulInteger → Cast → Mul(·, Mul(A_scale, W_scale)) with W_scale an initializer; null otherwise. */
function matchChain(
  matMul: OnnxNode,
  weight: InitializerRef,
  resolve: (name: string | undefined) => InitializerRef | null,
  consumers: Map<string, OnnxNode[]>,
  producers: Map<string, OnnxNode>,
): Chain | null {
  const out = matMul.outputs[0];
  const casts = out === undefined ? [] : (consumers.get(out) ?? []);
  const cast = casts[0];
  if (casts.length !== 1 || cast?.opType !== 'Cast') return null;
  const muls = consumers.get(cast.outputs[0] ?? '') ?? [];
  const mul = muls[0];
  if (muls.length !== 1 || mul?.opType !== 'Mul') return null;
  const other = mul.inputs[0] === cast.outputs[0] ? mul.inputs[1] : mul.inputs[0];
  const scaleMul = other === undefined ? undefined : producers.get(other);
  if (scaleMul?.opType !== 'Mul' || scaleMul.inputs.length !== 2) return null;
  const scales = scaleMul.inputs.map(resolve).filter((r): r is InitializerRef => r !== null);
  const scale = scales[0];
  if (scales.length !== 1 || scale === undefined) return null;
  const zeroPointName = matMul.inputs[3];
  const zeroPoint = resolve(zeroPointName);
  if (zeroPointName !== undefined && zeroPointName !== '' && zeroPoint === null) return null;
  return { weight, scale, zeroPoint, scaleMul };
}

function tensorOf(ref: InitializerRef): Field[] {
  return readFields((ref.graph.fields[ref.index] as Field).data);
}

/** A scalar zero point equal to 0, stored as raw_data or (as quantize_dynamic writes it) int32_data. */
function zeroPointIsZero(tensor: readonly Field[]): boolean {
  if (tensorDims(tensor).length !== 0) return false;
  const raw = findField(tensor, TENSOR.rawData);
  if (raw !== undefined) return raw.data.byteLength === 1 && raw.data[0] === 0;
  const values = tensor.filter((f) => f.no === TENSOR.int32Data).flatMap((f) => (f.wire === 0 ? [Number(varintValue(f))] : packedVarints(f.data)));
  return values.length === 1 && values[0] === 0;
}

/** The weight as int8 [K, N] with its one scale, or null when it is not in that form. */
function int8Weight(chain: Chain): { k: number; n: number; values: Int8Array; scale: number } | null {
  const tensor = tensorOf(chain.weight);
  const type = findField(tensor, TENSOR.dataType);
  const dims = tensorDims(tensor);
  const raw = findField(tensor, TENSOR.rawData);
  const [k, n] = dims;
  if (type === undefined || Number(varintValue(type)) !== DTYPE.int8 || dims.length !== 2 || k === undefined || n === undefined) return null;
  if (raw === undefined || raw.data.byteLength !== k * n) return null;
  const scale = tensorValues((chain.scale.graph.fields[chain.scale.index] as Field).data, 1);
  if (scale === null || scale.dataType !== DTYPE.float || scale.values.length !== 1) return null;
  if (chain.zeroPoint !== null) {
    // Symmetric weights only: a zero point other than 0 would need requantising too.
    if (!zeroPointIsZero(tensorOf(chain.zeroPoint))) return null;
  }
  return { k, n, values: new Int8Array(raw.data.buffer, raw.data.byteOffset, k * n), scale: scale.values[0] as number };
}

/** The float matrix block (n rows of [N, K] from `first`) that W_q was quantised from, or null. */
function findFloatBlock(w: { k: number; n: number; values: Int8Array; scale: number }, matrices: readonly FloatMatrix[], row: Float32Array): { matrix: FloatMatrix; first: number } | null {
  // Half a step (float32 rounding of the scale aside), plus the float copy's own rounding: the int8
  // values may come from float32 weights that a float16 copy stores to within |w| × 2^-11.
  const halfStep = 0.5 * w.scale * (1 + 1e-3) + 1e-7;
  for (const matrix of matrices) {
    if (matrix.cols !== w.k || matrix.rows % w.n !== 0) continue;
    const relative = matrix.relativePrecision * 1.01;
    for (let first = 0; first < matrix.rows; first += w.n) {
      let agrees = true;
      for (let c = 0; c < w.n && agrees; c++) {
        matrix.row(first + c, row);
        for (let k = 0; k < w.k; k++) {
          const value = row[k] as number;
          if (Math.abs(value - (w.values[k * w.n + c] as number) * w.scale) > halfStep + Math.abs(value) * relative) {
            agrees = false;
            break;
          }
        }
      }
      if (agrees) return { matrix, first };
    }
  }
  return null;
}

/** CTranslate2's int8 quantisation of one output channel per column: scale max|w| / 127, round to nearest. */
function quantizePerChannel(block: { matrix: FloatMatrix; first: number }, k: number, n: number, row: Float32Array): { values: Int8Array; scales: Float32Array } {
  const values = new Int8Array(k * n);
  const scales = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    block.matrix.row(block.first + c, row);
    let max = 0;
    for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(row[i] as number));
    const inverse = max > 0 ? 127 / max : 0;
    scales[c] = max > 0 ? max / 127 : 1;
    for (let i = 0; i < k; i++) values[i * n + c] = Math.max(-127, Math.min(127, Math.round((row[i] as number) * inverse)));
  }
  return { values, scales };
}


/**
 * Requantises the int8 MatMul weights of a serialized ModelProto per output channel from `matrices`
 * (see the module comment). Returns the input bytes themselves when nothing was requantised.
 * Throws ProtobufError when `model` is not a readable ONNX model.
 */
export function requantizeWeightsPerChannel(model: Uint8Array, matrices: readonly FloatMatrix[]): WeightRequantResult {
  const fields = readFields(model);
  const graphField = findField(fields, MODEL.graph);
  if (!graphField || graphField.wire !== 2) throw new ProtobufError('the model has no graph');
  const analysis: Analysis = { graphs: [], readers: new Map(), chains: [], irregular: new Set() };
  analyseGraph(graphField.data, [], analysis);

  const byWeight = new Map<string, Chain[]>();
  for (const chain of analysis.chains) byWeight.set(key(chain.weight), [...(byWeight.get(key(chain.weight)) ?? []), chain]);
  const edits = new Map<number, Map<number, Field>>();
  const edit = (ref: InitializerRef, field: Field): void => {
    const own = edits.get(ref.graph.id) ?? new Map<number, Field>();
    own.set(ref.index, field);
    edits.set(ref.graph.id, own);
  };
  const unmatched: string[] = [];
  const skipped: string[] = [];
  let requantized = 0;
  let row = new Float32Array(0);
  for (const [weightKey, chains] of byWeight) {
    const first = chains[0] as Chain;
    const scaleMuls = new Set(chains.map((c) => c.scaleMul));
    const scaleKeys = new Set(chains.map((c) => key(c.scale)));
    const w = int8Weight(first);
    const regular =
      w !== null &&
      !analysis.irregular.has(weightKey) &&
      // Every reader of the weight is one of these MatMulIntegers (nothing else sees its values)…
      (analysis.readers.get(weightKey) ?? []).length === chains.length &&
      // …and every reader of a scale is one of their scale products (the new scale is theirs alone).
      [...scaleKeys].every((s) => (analysis.readers.get(s) ?? []).every((n) => scaleMuls.has(n))) &&
      chains.every((c) => int8Weight(c)?.scale === w.scale);
    if (!regular || w === null) {
      skipped.push(first.weight.name);
      continue;
    }
    if (row.length < w.k) row = new Float32Array(w.k);
    const block = findFloatBlock(w, matrices, row);
    if (block === null) {
      unmatched.push(first.weight.name);
      continue;
    }
    const q = quantizePerChannel(block, w.k, w.n, row);
    edit(first.weight, initializerField(first.weight.name, DTYPE.int8, [w.k, w.n], new Uint8Array(q.values.buffer)));
    const scaleBytes = new Uint8Array(q.scales.buffer);
    const written = new Set<string>();
    for (const chain of chains) {
      if (written.has(key(chain.scale))) continue;
      written.add(key(chain.scale));
      edit(chain.scale, initializerField(chain.scale.name, DTYPE.float, [w.n], scaleBytes));
    }
    requantized++;
  }
  const result = { weights: byWeight.size, requantized, unmatched, skipped };
  if (requantized === 0) return { bytes: model, ...result };
  const graph = writeEditedGraphs(analysis.graphs, edits);
  if (graph === null) return { bytes: model, ...result };
  return { bytes: writeFields(fields.map((f) => (f === graphField ? bytesField(MODEL.graph, graph) : f))), ...result };
}
