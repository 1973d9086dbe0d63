/**
 * The onnx.proto field numbers this project reads or writes, and builders for the few messages it
 * writes (attributes, initializers), over the wire-format helpers of protobuf.ts, a NodeProto
 * reader, a reader of small constant tensors, the model's opset imports, and the read-edit-write of initializers across a model's graphs and subgraphs (IndexedGraph). Used by the graph rewrites (row-quant.ts,
 * kv-append.ts, position-slice.ts, attention-fusion.ts) and by tests that build small models.
 */
import { bytesField, findField, messageField, ProtobufError, readFields, stringField, stringValue, varintField, varintValue, writeFields, type Field } from './protobuf.js';

export const MODEL = { graph: 7, opsetImport: 8 } as const;
export const OPSET = { domain: 1, version: 2 } as const;
export const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
export const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
export const ATTR = { name: 1, f: 2, i: 3, t: 5, g: 6, ints: 8, graphs: 11, type: 20 } as const;
export const ATTR_TYPE = { float: 1, int: 2, graph: 5, ints: 7 } as const;
export const TENSOR = { dims: 1, dataType: 2, floatData: 4, int32Data: 5, int64Data: 7, name: 8, rawData: 9 } as const;
/** onnxruntime's contrib operator domain (MatMulIntegerToFloat, MultiHeadAttention). */
export const MS_DOMAIN = 'com.microsoft';
/** TensorProto.DataType values. */
export const DTYPE = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 } as const;
export const VALUE_INFO = { name: 1, type: 2 } as const;
/** TypeProto → its tensor_type → TensorShapeProto → Dimension. */
export const TYPE = { tensorType: 1 } as const;
export const TENSOR_TYPE = { elemType: 1, shape: 2 } as const;
export const SHAPE = { dim: 1 } as const;
export const DIM = { value: 1, param: 2 } as const;

/** A NodeProto as read: its fields in file order, and the ones the rewrites look at. */
export interface OnnxNode {
  /** The node's fields (a rewrite may replace its subgraph attributes). */
  fields: Field[];
  readonly opType: string;
  /** '' for the default ONNX domain. */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export function parseNode(data: Uint8Array): OnnxNode {
  const fields = readFields(data);
  const strings = (no: number): string[] => fields.filter((f) => f.no === no).map(stringValue);
  const opType = findField(fields, NODE.opType);
  const domain = findField(fields, NODE.domain);
  return {
    fields,
    opType: opType ? stringValue(opType) : '',
    domain: domain ? stringValue(domain) : '',
    inputs: strings(NODE.input),
    outputs: strings(NODE.output),
  };
}

/** A node's attribute, as its AttributeProto fields, by name; undefined if absent. */
export function nodeAttribute(node: OnnxNode, name: string): Field[] | undefined {
  for (const f of node.fields) {
    if (f.no !== NODE.attribute) continue;
    const attr = readFields(f.data);
    const n = findField(attr, ATTR.name);
    if (n !== undefined && stringValue(n) === name) return attr;
  }
  return undefined;
}

/** A node's int attribute (int64: negative values arrive as 64-bit two's complement); null if absent. */
export function intAttributeValue(node: OnnxNode, name: string): number | null {
  const value = findField(nodeAttribute(node, name) ?? [], ATTR.i);
  return value === undefined ? null : Number(BigInt.asIntN(64, varintValue(value)));
}

/** The subgraphs a node holds (If branches, Loop / Scan bodies), as GraphProto bytes in file order. */
export function nodeSubgraphs(node: OnnxNode): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const attr of node.fields) {
    if (attr.no !== NODE.attribute) continue;
    for (const f of readFields(attr.data)) if (f.no === ATTR.g || f.no === ATTR.graphs) out.push(f.data);
  }
  return out;
}

/** Whether a node holds a subgraph (If branches, Loop / Scan bodies), which may read outer names. */
export function hasSubgraph(node: OnnxNode): boolean {
  return node.fields.some((f) => f.no === NODE.attribute && readFields(f.data).some((a) => a.no === ATTR.g || a.no === ATTR.graphs));
}

/**
 * A node's fields with every subgraph it holds (If branches, Loop / Scan bodies) passed through
 * `rewrite`, which returns the new graph bytes or null to keep one as it is. Null when none changed.
 */
export function rewriteNodeSubgraphs(fields: readonly Field[], rewrite: (graph: Uint8Array) => Uint8Array | null): Field[] | null {
  let changed = false;
  const out = fields.map((attr) => {
    if (attr.no !== NODE.attribute) return attr;
    let attrChanged = false;
    const attrFields = readFields(attr.data).map((f) => {
      if (f.no !== ATTR.g && f.no !== ATTR.graphs) return f;
      const graph = rewrite(f.data);
      if (graph === null) return f;
      attrChanged = true;
      return bytesField(f.no, graph);
    });
    if (!attrChanged) return attr;
    changed = true;
    return messageField(NODE.attribute, attrFields);
  });
  return changed ? out : null;
}

/** A ValueInfoProto's name (a graph input or output); '' if it has none. */
export function valueInfoName(data: Uint8Array): string {
  const name = findField(readFields(data), VALUE_INFO.name);
  return name ? stringValue(name) : '';
}

/**
 * A tensor ValueInfoProto as field `no` of a graph (GRAPH.input / GRAPH.output): its name, element type
 * and, when `dims` is given, its shape (numbers fixed, strings symbolic); without `dims` the rank is left
 * to onnxruntime.
 */
export function tensorValueInfo(no: number, name: string, elemType: number, dims?: readonly (number | string)[]): Field {
  const shape = dims?.map((d) => messageField(SHAPE.dim, [typeof d === 'number' ? varintField(DIM.value, d) : stringField(DIM.param, d)]));
  return messageField(no, [
    stringField(VALUE_INFO.name, name),
    messageField(VALUE_INFO.type, [
      messageField(TYPE.tensorType, [varintField(TENSOR_TYPE.elemType, elemType), ...(shape === undefined ? [] : [messageField(TENSOR_TYPE.shape, shape)])]),
    ]),
  ]);
}

/** A NodeProto's fields (wrap them with messageField(GRAPH.node, …) to place the node in a graph). */
export function nodeFields(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  attributes: readonly Field[] = [],
  domain = '',
): Field[] {
  return [
    ...inputs.map((i) => stringField(NODE.input, i)),
    ...outputs.map((o) => stringField(NODE.output, o)),
    stringField(NODE.name, name),
    stringField(NODE.opType, opType),
    ...(domain === '' ? [] : [stringField(NODE.domain, domain)]),
    ...attributes,
  ];
}

/** A NodeProto attribute holding one int. */
export function intAttribute(name: string, value: number): Field {
  return messageField(NODE.attribute, [stringField(ATTR.name, name), varintField(ATTR.i, value), varintField(ATTR.type, ATTR_TYPE.int)]);
}

/** A NodeProto attribute holding one float. */
export function floatAttribute(name: string, value: number): Field {
  const f: Field = { no: ATTR.f, wire: 5, data: new Uint8Array(Float32Array.of(value).buffer) };
  return messageField(NODE.attribute, [stringField(ATTR.name, name), f, varintField(ATTR.type, ATTR_TYPE.float)]);
}

/** A NodeProto attribute holding a list of ints. */
export function intsAttribute(name: string, values: readonly number[]): Field {
  return messageField(NODE.attribute, [
    stringField(ATTR.name, name),
    ...values.map((v) => varintField(ATTR.ints, v)),
    varintField(ATTR.type, ATTR_TYPE.ints),
  ]);
}

/** A GraphProto initializer: a tensor given by its raw little-endian bytes. */
export function initializerField(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): Field {
  return messageField(GRAPH.initializer, [
    ...dims.map((d) => varintField(TENSOR.dims, d)),
    varintField(TENSOR.dataType, dataType),
    stringField(TENSOR.name, name),
    bytesField(TENSOR.rawData, raw),
  ]);
}

/** A small constant tensor's values: float or int64 elements, in order (int64 read as numbers). */
export interface ConstantValues {
  readonly dataType: number;
  readonly dims: readonly number[];
  readonly values: readonly number[];
}

/** Decodes a run of packed varints (int64 elements: repeated fields written packed). */
export function packedVarints(data: Uint8Array): number[] {
  const out: number[] = [];
  let value = 0n;
  let shift = 0n;
  for (const byte of data) {
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) {
      out.push(Number(BigInt.asIntN(64, value)));
      value = 0n;
      shift = 0n;
    }
  }
  return out;
}

/** A TensorProto's dims (repeated int64, packed or not), from its fields. */
export function tensorDims(tensor: readonly Field[]): number[] {
  const dims: number[] = [];
  for (const f of tensor) {
    if (f.no !== TENSOR.dims) continue;
    if (f.wire === 0) dims.push(Number(varintValue(f)));
    else if (f.wire === 2) dims.push(...packedVarints(f.data));
  }
  return dims;
}

/**
 * A TensorProto's float or int64 values, from raw_data or the typed fields. Null for other types,
 * external data, or more than `limit` elements (only small constants are read).
 */
export function tensorValues(tensor: Uint8Array, limit = 64): ConstantValues | null {
  const fields = readFields(tensor);
  const type = findField(fields, TENSOR.dataType);
  const dataType = type === undefined ? 0 : Number(varintValue(type));
  if (dataType !== DTYPE.float && dataType !== DTYPE.int64) return null;
  const dims = tensorDims(fields);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > limit) return null;
  const values: number[] = [];
  const raw = findField(fields, TENSOR.rawData);
  if (raw !== undefined && raw.wire === 2) {
    const view = new DataView(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
    const size = dataType === DTYPE.float ? 4 : 8;
    for (let at = 0; at + size <= raw.data.byteLength; at += size) {
      values.push(dataType === DTYPE.float ? view.getFloat32(at, true) : Number(view.getBigInt64(at, true)));
    }
  } else if (dataType === DTYPE.float) {
    for (const f of fields) {
      if (f.no !== TENSOR.floatData) continue;
      const view = new DataView(f.data.buffer, f.data.byteOffset, f.data.byteLength);
      for (let at = 0; at + 4 <= f.data.byteLength; at += 4) values.push(view.getFloat32(at, true));
    }
  } else {
    for (const f of fields) {
      if (f.no !== TENSOR.int64Data) continue;
      if (f.wire === 0) values.push(Number(BigInt.asIntN(64, varintValue(f))));
      else if (f.wire === 2) values.push(...packedVarints(f.data));
    }
  }
  return values.length === count ? { dataType, dims, values } : null;
}

/** A node's ints attribute (int64 elements, written packed or one by one); null if absent. */
export function intsAttributeValue(n: OnnxNode, name: string): number[] | null {
  const attr = nodeAttribute(n, name);
  if (attr === undefined) return null;
  return attr.flatMap((a) => (a.no !== ATTR.ints ? [] : a.wire === 0 ? [Number(BigInt.asIntN(64, varintValue(a)))] : packedVarints(a.data)));
}

/** A Constant node's small value (tensorValues), or null. */
export function constantNodeValue(n: OnnxNode): ConstantValues | null {
  if (n.opType !== 'Constant' || n.domain !== '') return null;
  const value = findField(nodeAttribute(n, 'value') ?? [], ATTR.t);
  return value === undefined ? null : tensorValues(value.data);
}

/** Adds the small initializers of a graph (its fields) to `into`, by name. */
export function addInitializerValues(graph: readonly Field[], into: Map<string, ConstantValues>): Map<string, ConstantValues> {
  for (const f of graph) {
    if (f.no !== GRAPH.initializer) continue;
    const name = findField(readFields(f.data), TENSOR.name);
    const value = name ? tensorValues(f.data) : null;
    if (name && value) into.set(stringValue(name), value);
  }
  return into;
}

/** A ModelProto read down to its top-level graph: the rewrites' common start. */
export interface ModelGraph {
  readonly model: readonly Field[];
  readonly graphField: Field;
  readonly graph: readonly Field[];
  /** The graph's input names, in order. */
  readonly inputs: readonly string[];
}

/** The model's graph and its input names; null when it has no graph message. */
export function readModelGraph(model: Uint8Array): ModelGraph | null {
  const fields = readFields(model);
  const graphField = findField(fields, MODEL.graph);
  if (graphField === undefined || graphField.wire !== 2) return null;
  const graph = readFields(graphField.data);
  const inputs = graph.filter((f) => f.no === GRAPH.input).map((f) => valueInfoName(f.data));
  return { model: fields, graphField, graph, inputs };
}

/** The model's fields with its graph replaced by `graph` (other fields in their order). */
export function withGraph(read: ModelGraph, graph: readonly Field[]): Field[] {
  return read.model.map((f) => (f === read.graphField ? bytesField(MODEL.graph, writeFields(graph)) : f));
}

/** The model's opset imports: domain ('' for ai.onnx) → version. */
export function opsetImports(model: readonly Field[]): Map<string, number> {
  const imports = new Map<string, number>();
  for (const f of model) {
    if (f.no !== MODEL.opsetImport) continue;
    const opset = readFields(f.data);
    const domain = findField(opset, OPSET.domain);
    const version = findField(opset, OPSET.version);
    const name = domain ? stringValue(domain) : '';
    if (version) imports.set(name === 'ai.onnx' ? '' : name, Number(varintValue(version)));
  }
  return imports;
}

/** Adds an import of onnxruntime's contrib domain (version 1) to a ModelProto's fields if it has none; returns them. */
export function withMsDomainImport(model: Field[]): Field[] {
  if (!opsetImports(model).has(MS_DOMAIN)) model.push(messageField(MODEL.opsetImport, [stringField(OPSET.domain, MS_DOMAIN), varintField(OPSET.version, 1)]));
  return model;
}

/**
 * A graph of a model read for initializer edits: its fields, and its initializers by name. Graphs are
 * numbered in pre-order (the main graph 0, then each node's subgraphs in file order, depth first),
 * which is the order writeEditedGraphs visits them in.
 */
export interface IndexedGraph {
  readonly id: number;
  readonly fields: Field[];
  /** Initializer name → index in `fields`. */
  readonly initializers: Map<string, number>;
}

/** Reads one graph's fields and initializer names as graph number `id` (see IndexedGraph). */
export function indexGraph(bytes: Uint8Array, id: number): IndexedGraph {
  const fields = readFields(bytes);
  const initializers = new Map<string, number>();
  fields.forEach((f, index) => {
    if (f.no !== GRAPH.initializer) return;
    const name = findField(readFields(f.data), TENSOR.name);
    if (name) initializers.set(stringValue(name), index);
  });
  return { id, fields, initializers };
}

/**
 * The main graph written again with `edits` (graph id → field index → replacement field) applied in
 * it and in its subgraphs; null when nothing in it changed. `graphs` must be every graph of the model
 * in pre-order, as read.
 */
export function writeEditedGraphs(graphs: readonly IndexedGraph[], edits: ReadonlyMap<number, ReadonlyMap<number, Field>>): Uint8Array | null {
  const next = { id: 0 };
  const write = (): Uint8Array | null => {
    const graph = graphs[next.id++];
    if (graph === undefined) throw new ProtobufError('the model changed between reading and writing');
    const own = edits.get(graph.id);
    let changed = own !== undefined;
    const out = graph.fields.map((f, index) => {
      const edited = own?.get(index);
      if (edited !== undefined) return edited;
      if (f.no !== GRAPH.node) return f;
      const nodeFields = rewriteNodeSubgraphs(parseNode(f.data).fields, write);
      if (nodeFields === null) return f;
      changed = true;
      return messageField(GRAPH.node, nodeFields);
    });
    return changed ? writeFields(out) : null;
  };
  return write();
}
