/**
 * Lays the caller-kept self-attention cache of a kv-append decoder (src/onnx/kv-append.ts) out
 * sequence-major, [positions, batch, heads, headDim], so that the valid rows are a prefix of the
 * caller's buffer, fed as they are.
 *
 * After kv-append, each step cuts the valid rows out of every past buffer, [batch, heads, capacity,
 * headDim], with a Slice (a copy of the whole cache) before the Concat that appends the new rows (a
 * second copy). Sequence-major, the valid rows are the first `length` rows of the buffer. The caller
 * feeds a view of exactly those, without copying, and the branch that reads the pasts becomes:
 *
 *     Concat(Slice(past), rows, axis 2)          becomes   Concat(past, Transpose(rows, 2,0,1,3), axis 0)
 *     MatMul(q, Mul(Transpose(all, 0,1,3,2), 1)) becomes   FusedMatMul(q, all, transB, transBatchB)
 *     MatMul(weights, all)                       becomes   FusedMatMul(weights, all, transBatchB)
 *     Gather(Shape(past or all), 2)              becomes   Gather(Shape(…), 0)          (the length)
 *
 * `transBatchB` reads [positions, batch, heads, headDim] as [batch, heads, positions, headDim]
 * through the GEMM's strides, so the attention reads the cache where it lies. The outputs are
 * unchanged: `present.*` still holds each step's new rows, [batch, heads, tokens, headDim], which
 * the caller writes after the valid ones (src/whisper/kv-cache.ts SequenceMajorCache). The past
 * inputs are declared [past_decoder_sequence_length, batch_size, heads, headDim].
 *
 * Logits are bit-identical to the graph as exported (test/e2e/whisper/kv-append.test.ts walks a beam
 * search through it). Measured on whisper-base, 5 beams, 2 threads: a step at 30 cached tokens
 * 5.6 → 5.3 ms, at 90 tokens 7.6 → 6.9 ms.
 */
import { bytesField, findField, messageField, readFields, stringField, writeFields, type Field } from './protobuf.js';
import { PAST_LENGTH_INPUT } from './kv-append.js';
import {
  addInitializerValues,
  ATTR,
  constantNodeValue,
  DTYPE,
  floatAttribute,
  GRAPH,
  initializerField,
  intAttribute,
  intAttributeValue,
  intsAttributeValue,
  intsAttribute,
  MS_DOMAIN,
  NODE,
  nodeAttribute,
  nodeFields,
  parseNode,
  readModelGraph,
  SHAPE,
  TENSOR_TYPE,
  TYPE,
  VALUE_INFO,
  valueInfoName,
  withGraph,
  withMsDomainImport,
  type ConstantValues,
  type OnnxNode,
} from './onnx-fields.js';

export interface KvSequenceMajorResult {
  readonly bytes: Uint8Array;
  /** False when the graph is not a kv-append decoder laid out as expected: bytes are the input. */
  readonly rewritten: boolean;
}

const PREFIX = 'kv_sequence_major';
const ZERO = `${PREFIX}/zero`;

function node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: readonly Field[] = [], domain = ''): Field {
  return messageField(GRAPH.node, nodeFields(opType, inputs, outputs, `${PREFIX}/${outputs[0] ?? opType}`, attributes, domain));
}

function withInput(n: OnnxNode, index: number, name: string): Field {
  let i = 0;
  return messageField(GRAPH.node, n.fields.map((f) => (f.no === NODE.input && i++ === index ? stringField(NODE.input, name) : f)));
}

/** A graph input's ValueInfo with its dimensions reordered [batch, heads, positions, dim] → [positions, batch, heads, dim]. */
function sequenceMajorInput(data: Uint8Array): Uint8Array | null {
  const map = (bytes: Uint8Array, no: number, inner: (b: Uint8Array) => Uint8Array | null): Uint8Array | null => {
    let failed = false;
    const out = readFields(bytes).map((f) => {
      if (f.no !== no || f.wire !== 2) return f;
      const mapped = inner(f.data);
      if (mapped === null) failed = true;
      return bytesField(no, mapped ?? f.data);
    });
    return failed ? null : writeFields(out);
  };
  return map(data, VALUE_INFO.type, (type) =>
    map(type, TYPE.tensorType, (tensorType) =>
      map(tensorType, TENSOR_TYPE.shape, (shape) => {
        const fields = readFields(shape);
        const dims = fields.filter((f) => f.no === SHAPE.dim);
        if (dims.length !== 4) return null;
        // The positions' dimension keeps its name (or value); it moves to the front.
        const [batch, heads, positions, dim] = dims as [Field, Field, Field, Field];
        return writeFields([...fields.filter((f) => f.no !== SHAPE.dim), positions, batch, heads, dim]);
      }),
    ),
  );
}

/** The value of a small float constant (an initializer or a Constant node's), or null. */
function floatConstant(name: string, constants: ReadonlyMap<string, ConstantValues>): number | null {
  const value = constants.get(name);
  return value !== undefined && value.dataType === DTYPE.float && value.values.length === 1 ? (value.values[0] ?? null) : null;
}

/** The branch rewritten, or null when it does not read the pasts as kv-append leaves them. */
function rewriteBranch(graph: Uint8Array, pasts: ReadonlySet<string>, outer: ReadonlyMap<string, ConstantValues>): Uint8Array | null {
  const fields = readFields(graph);
  const constants = addInitializerValues(fields, new Map(outer));
  const nodes = new Map<Field, OnnxNode>();
  for (const f of fields) {
    if (f.no !== GRAPH.node) continue;
    const n = parseNode(f.data);
    nodes.set(f, n);
    const value = constantNodeValue(n);
    if (value && n.outputs[0] !== undefined) constants.set(n.outputs[0], value);
  }
  const outputs = new Set(fields.filter((f) => f.no === GRAPH.output).map((f) => valueInfoName(f.data)));
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of nodes.values()) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const only = (name: string): OnnxNode | null => {
    const c = consumers.get(name) ?? [];
    return c.length === 1 && !outputs.has(name) ? (c[0] ?? null) : null;
  };

  const replace = new Map<OnnxNode, Field[]>();
  const drop = new Set<OnnxNode>();
  /** Shape(x) → Gather(·, 2): the length, read at position 0 from now on. */
  const lengthReader = (shape: OnnxNode): boolean => {
    if (shape.opType !== 'Shape' || nodeAttribute(shape, 'start') || nodeAttribute(shape, 'end')) return false;
    const readers = consumers.get(shape.outputs[0] ?? '') ?? [];
    for (const gather of readers) {
      const index = constants.get(gather.inputs[1] ?? '');
      if (gather.opType !== 'Gather' || (intAttributeValue(gather, 'axis') ?? 0) !== 0 || index?.dims.length !== 0) return false;
      if (index.values[0] !== 2 && index.values[0] !== -2) return false;
      replace.set(gather, [withInput(gather, 1, ZERO)]);
    }
    return readers.length > 0;
  };

  for (const past of pasts) {
    const slices = consumers.get(past) ?? [];
    const slice = slices[0];
    if (slices.length !== 1 || slice?.opType !== 'Slice' || slice.inputs[2] !== PAST_LENGTH_INPUT) return null;
    drop.add(slice);
    const sliced = slice.outputs[0] ?? '';
    let concat: OnnxNode | null = null;
    for (const c of consumers.get(sliced) ?? []) {
      if (c.opType === 'Concat' && c.inputs[0] === sliced && c.inputs.length === 2 && concat === null) concat = c;
      else if (c.opType === 'Shape') {
        if (!lengthReader(c)) return null;
        replace.set(c, [withInput(c, 0, past)]);
      } else return null;
    }
    const all = concat?.outputs[0];
    const rows = concat?.inputs[1];
    if (!concat || all === undefined || rows === undefined || outputs.has(all)) return null;
    const axis = intAttributeValue(concat, 'axis');
    if (axis !== 2 && axis !== -2) return null;
    const seqRows = `${all}/${PREFIX}_rows`;
    replace.set(concat, [
      node('Transpose', [rows], [seqRows], [intsAttribute('perm', [2, 0, 1, 3])]),
      node('Concat', [past, seqRows], [all], [intAttribute('axis', 0)]),
    ]);
    for (const c of consumers.get(all) ?? []) {
      if (c.opType === 'Shape') {
        if (!lengthReader(c)) return null;
      } else if (c.opType === 'MatMul' && c.inputs[1] === all && c.inputs[0] !== all) {
        replace.set(c, [node('FusedMatMul', [c.inputs[0] ?? '', all], c.outputs, [intAttribute('transBatchB', 1), floatAttribute('alpha', 1)], MS_DOMAIN)]);
      } else if (c.opType === 'Transpose' && intsAttributeValue(c, 'perm')?.join() === '0,1,3,2') {
        // Keys: q · allᵀ, possibly through a Mul by exactly 1.
        drop.add(c);
        let reader = only(c.outputs[0] ?? '');
        let operand = c.outputs[0] ?? '';
        if (reader?.opType === 'Mul') {
          const other = reader.inputs[0] === operand ? reader.inputs[1] : reader.inputs[0];
          if (floatConstant(other ?? '', constants) !== 1) return null;
          drop.add(reader);
          operand = reader.outputs[0] ?? '';
          reader = only(operand);
        }
        if (reader?.opType !== 'MatMul' || reader.inputs[1] !== operand) return null;
        replace.set(reader, [
          node('FusedMatMul', [reader.inputs[0] ?? '', all], reader.outputs, [intAttribute('transB', 1), intAttribute('transBatchB', 1), floatAttribute('alpha', 1)], MS_DOMAIN),
        ]);
      } else return null;
    }
  }

  const out: Field[] = [];
  for (const f of fields) {
    if (f.no === GRAPH.valueInfo) continue;
    if (f.no !== GRAPH.node) {
      out.push(f);
      continue;
    }
    const n = nodes.get(f);
    if (n && drop.has(n)) continue;
    out.push(...(n ? (replace.get(n) ?? [f]) : [f]));
  }
  out.push(initializerField(ZERO, DTYPE.int64, [], new Uint8Array(8)));
  return writeFields(out);
}

/**
 * Rewrites a kv-append decoder (serialized ModelProto) as the module comment says. `isPast` picks
 * the self-attention past inputs. Returns the input bytes (rewritten: false) when it does not apply.
 */
export function sequenceMajorSelfAttentionCache(model: Uint8Array, isPast: (input: string) => boolean): KvSequenceMajorResult {
  const unchanged = { bytes: model, rewritten: false };
  const read = readModelGraph(model);
  if (read === null) return unchanged;
  const { graph, inputs } = read;
  const pasts = new Set(inputs.filter(isPast));
  if (pasts.size === 0 || !inputs.includes(PAST_LENGTH_INPUT)) return unchanged;
  const outer = addInitializerValues(graph, new Map());

  let done = false;
  const out: Field[] = [];
  for (const f of graph) {
    if (f.no === GRAPH.input && pasts.has(valueInfoName(f.data))) {
      const input = sequenceMajorInput(f.data);
      if (input === null) return unchanged;
      out.push(bytesField(GRAPH.input, input));
      continue;
    }
    if (f.no !== GRAPH.node) {
      out.push(f);
      continue;
    }
    const n = parseNode(f.data);
    if (n.opType !== 'If') {
      if (n.inputs.some((i) => pasts.has(i))) return unchanged;
      out.push(f);
      continue;
    }
    // The If of the merged decoder: rewrite the branch that reads the pasts.
    let changed = false;
    const attrs = n.fields.map((a) => {
      if (a.no !== NODE.attribute) return a;
      const attr = readFields(a.data);
      const g = findField(attr, ATTR.g);
      if (!g) return a;
      const reads = readFields(g.data).some((x) => x.no === GRAPH.node && parseNode(x.data).inputs.some((i) => pasts.has(i)));
      if (!reads) return a;
      const rewritten = rewriteBranch(g.data, pasts, outer);
      if (rewritten === null) return null;
      changed = true;
      return messageField(NODE.attribute, attr.map((x) => (x === g ? bytesField(ATTR.g, rewritten) : x)));
    });
    if (attrs.some((a) => a === null)) return unchanged;
    if (changed) done = true;
    out.push(messageField(GRAPH.node, attrs as Field[]));
  }
  if (!done) return unchanged;
  const fields = withMsDomainImport(withGraph(read, out));
  return { bytes: writeFields(fields), rewritten: true };
}

