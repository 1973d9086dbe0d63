import { describe, expect, it } from 'vitest';
import {
  bytesField,
  findField,
  messageField,
  ProtobufError,
  readFields,
  stringField,
  stringValue,
  varintField,
  varintValue,
  writeFields,
} from '../../../src/onnx/protobuf.js';

describe('protobuf wire format', () => {
  it('reads back what it writes, field order and values included', () => {
    const inner = [stringField(1, 'axes'), varintField(8, -1), varintField(20, 7)];
    const bytes = writeFields([varintField(1, 8), stringField(2, 'été'), messageField(7, inner), bytesField(9, Uint8Array.of(0, 255, 7))]);
    const fields = readFields(bytes);
    expect(fields.map((f) => [f.no, f.wire])).toEqual([
      [1, 0],
      [2, 2],
      [7, 2],
      [9, 2],
    ]);
    expect(varintValue(fields[0]!)).toBe(8n);
    expect(stringValue(fields[1]!)).toBe('été');
    const nested = readFields(findField(fields, 7)!.data);
    expect(stringValue(nested[0]!)).toBe('axes');
    // int64 −1 is ten bytes of two's complement on the wire.
    expect(nested[1]!.data).toHaveLength(10);
    expect(BigInt.asIntN(64, varintValue(nested[1]!))).toBe(-1n);
    expect([...fields[3]!.data]).toEqual([0, 255, 7]);
    expect(writeFields(fields)).toEqual(bytes);
  });

  it('keeps fixed32 and fixed64 fields byte for byte', () => {
    // field 2 fixed32 (AttributeProto.f), field 3 fixed64
    const bytes = Uint8Array.of(0x15, 0x00, 0x00, 0x80, 0x3f, 0x19, 1, 2, 3, 4, 5, 6, 7, 8);
    const fields = readFields(bytes);
    expect(fields.map((f) => [f.no, f.wire, f.data.length])).toEqual([
      [2, 5, 4],
      [3, 1, 8],
    ]);
    expect(new DataView(fields[0]!.data.buffer, fields[0]!.data.byteOffset).getFloat32(0, true)).toBe(1);
    expect(writeFields(fields)).toEqual(bytes);
  });

  it('returns views into the input rather than copies', () => {
    const bytes = writeFields([bytesField(9, new Uint8Array(1000).fill(3))]);
    const [field] = readFields(bytes);
    expect(field!.data.buffer).toBe(bytes.buffer);
  });

  it.each([
    ['a truncated varint', Uint8Array.of(0x08, 0x80)],
    ['a length past the end', Uint8Array.of(0x12, 0x05, 0x61)],
    ['a truncated fixed32', Uint8Array.of(0x15, 0x00, 0x00)],
    ['a group (wire type 3)', Uint8Array.of(0x0b)],
    ['field number 0', Uint8Array.of(0x00, 0x01)],
    ['an overlong varint', Uint8Array.of(0x08, ...new Array<number>(11).fill(0x80), 0x01)],
  ])('rejects %s with ProtobufError', (_name, bytes) => {
    expect(() => readFields(bytes)).toThrow(ProtobufError);
  });

  it('refuses to read a varint from a length-delimited field and the reverse', () => {
    const [s, v] = readFields(writeFields([stringField(1, 'x'), varintField(2, 3)]));
    expect(() => varintValue(s!)).toThrow(ProtobufError);
    expect(() => stringValue(v!)).toThrow(ProtobufError);
  });
});
