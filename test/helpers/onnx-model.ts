/**
 * Builds small ONNX models byte by byte (onnx.proto field numbers) for tests that run them through
 * onnxruntime: no Python, no model files.
 */
import { ATTR, ATTR_TYPE, DTYPE, GRAPH, initializerField, intAttribute, MODEL, NODE, nodeFields, OPSET, tensorValueInfo } from '../../src/onnx/onnx-fields.js';
import { messageField, stringField, varintField, writeFields, type Field } from '../../src/onnx/protobuf.js';

export { intAttribute as intAttr } from '../../src/onnx/onnx-fields.js';
export const ELEM = DTYPE;

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Field[];
}

export function node(op: string, inputs: readonly string[], outputs: readonly string[], attributes: readonly Field[] = []): NodeSpec {
  return { op, inputs, outputs, attributes };
}

export function graphAttr(name: string, graph: readonly Field[]): Field {
  return messageField(NODE.attribute, [stringField(ATTR.name, name), messageField(ATTR.g, graph), varintField(ATTR.type, ATTR_TYPE.graph)]);
}

export const tensor = initializerField;

const TENSOR_ATTR = 4; // AttributeProto.TENSOR

/** A Constant node, as the exporter writes scalars and shape pieces. */
export function constantNode(output: string, dataType: number, dims: readonly number[], raw: Uint8Array): NodeSpec {
  const t = tensor(output, dataType, dims, raw).data;
  return node('Constant', [], [output], [messageField(NODE.attribute, [stringField(ATTR.name, 'value'), { no: ATTR.t, wire: 2, data: t }, varintField(ATTR.type, TENSOR_ATTR)])]);
}

/** A tensor value (graph input or output, field `no`) with symbolic or fixed dimensions. */
export function value(no: typeof GRAPH.input | typeof GRAPH.output, name: string, elemType: number, dims: readonly (number | string)[]): Field {
  return tensorValueInfo(no, name, elemType, dims);
}

export function graph(name: string, nodes: readonly NodeSpec[], rest: readonly Field[]): Field[] {
  return [
    ...nodes.map((n, i) => messageField(GRAPH.node, nodeFields(n.op, n.inputs, n.outputs, `${n.op}_${i}`, n.attributes))),
    stringField(GRAPH.name, name),
    ...rest,
  ];
}

export function model(graphFields: readonly Field[], opset: number): Uint8Array {
  return writeFields([
    varintField(1, 8), // ir_version
    stringField(2, 'stt-engine-test'),
    messageField(MODEL.graph, graphFields),
    messageField(MODEL.opsetImport, [stringField(OPSET.domain, ''), varintField(OPSET.version, opset)]),
  ]);
}

export function f32(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/**
 * A MatMul as onnxruntime's quantize_dynamic writes it: `input` quantised per tensor at run time
 * (DynamicQuantizeLinear), MatMulInteger by the int8 weight, Cast, then times the product of the two
 * scales. Intermediate names start with `prefix`; the weight, its zero point (null: none) and its
 * scale are initializers of the caller's, 'Wq', 'Wzp' and 'Wscale' unless named.
 */
export function dynamicQuantMatMul(
  prefix: string,
  input: string,
  output: string,
  names: { readonly weight?: string; readonly zeroPoint?: string | null; readonly scale?: string } = {},
): NodeSpec[] {
  const zeroPoint = names.zeroPoint === undefined ? 'Wzp' : names.zeroPoint;
  return [
    node('DynamicQuantizeLinear', [input], [`${prefix}q`, `${prefix}s`, `${prefix}z`]),
    node('MatMulInteger', [`${prefix}q`, names.weight ?? 'Wq', `${prefix}z`, ...(zeroPoint === null ? [] : [zeroPoint])], [`${prefix}mm`]),
    node('Cast', [`${prefix}mm`], [`${prefix}mmf`], [intAttribute('to', DTYPE.float)]),
    node('Mul', [`${prefix}s`, names.scale ?? 'Wscale'], [`${prefix}sprod`]),
    node('Mul', [`${prefix}mmf`, `${prefix}sprod`], [output]),
  ];
}
