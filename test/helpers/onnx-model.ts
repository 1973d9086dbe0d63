/**
 * Builds small ONNX models byte by byte (onnx.proto field numbers) for tests that run them through
 * onnxruntime: no Python, no model files.
 */
import { bytesField, messageField, stringField, varintField, writeFields, type Field } from '../../src/onnx/protobuf.js';

export const ELEM = { float: 1, uint8: 2, int8: 3, int64: 7 } as const;

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Field[];
}

export function node(op: string, inputs: readonly string[], outputs: readonly string[], attributes: readonly Field[] = []): NodeSpec {
  return { op, inputs, outputs, attributes };
}

export function intAttr(name: string, value: number): Field {
  return messageField(5, [stringField(1, name), varintField(3, value), varintField(20, 2)]);
}

export function graphAttr(name: string, graph: readonly Field[]): Field {
  return messageField(5, [stringField(1, name), messageField(6, graph), varintField(20, 5)]);
}

export function tensor(name: string, elemType: number, dims: readonly number[], raw: Uint8Array): Field {
  return messageField(5, [...dims.map((d) => varintField(1, d)), varintField(2, elemType), stringField(8, name), bytesField(9, raw)]);
}

/** A tensor value (graph input or output, field `no`) with symbolic or fixed dimensions. */
export function value(no: 11 | 12, name: string, elemType: number, dims: readonly (number | string)[]): Field {
  const shape = dims.map((d) => messageField(1, [typeof d === 'number' ? varintField(1, d) : stringField(2, d)]));
  return messageField(no, [stringField(1, name), messageField(2, [messageField(1, [varintField(1, elemType), messageField(2, shape)])])]);
}

export function graph(name: string, nodes: readonly NodeSpec[], rest: readonly Field[]): Field[] {
  return [
    ...nodes.map((n, i) =>
      messageField(1, [
        ...n.inputs.map((x) => stringField(1, x)),
        ...n.outputs.map((x) => stringField(2, x)),
        stringField(3, `${n.op}_${i}`),
        stringField(4, n.op),
        ...(n.attributes ?? []),
      ]),
    ),
    stringField(2, name),
    ...rest,
  ];
}

export function model(graphFields: readonly Field[], opset: number): Uint8Array {
  return writeFields([
    varintField(1, 8), // ir_version
    stringField(2, 'stt-engine-test'),
    messageField(7, graphFields),
    messageField(8, [stringField(1, ''), varintField(2, opset)]),
  ]);
}

export function f32(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
