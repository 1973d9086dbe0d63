/**
 * Just enough of the protobuf wire format to edit an ONNX model's graph without a schema: a message
 * is read as its list of fields in file order, and written back from that list. A field that is not
 * changed is written back with the very bytes it was read with (initializers are subarrays of the
 * file, never copied until the final write), so a read → write round trip reproduces the file byte
 * for byte, whatever ONNX fields this module does not know about.
 *
 * Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 (groups, 3 and 4, are not used by
 * onnx.proto and are rejected).
 */

export type WireType = 0 | 1 | 2 | 5;

export interface Field {
  readonly no: number;
  readonly wire: WireType;
  /** Wire type 2: the payload; 0: the varint's own bytes; 1 and 5: the 8 or 4 raw bytes. */
  readonly data: Uint8Array;
}

/** A malformed message: the caller maps it to its own coded error (a corrupt model file). */
export class ProtobufError extends Error {
  override readonly name = 'ProtobufError';
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/** Reads a varint at `pos`; returns its value (as a bigint, int64 values can be negative) and the end. */
function readVarint(buf: Uint8Array, pos: number): { value: bigint; end: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const byte = buf[i] as number;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, end: i + 1 };
    shift += 7n;
  }
  throw new ProtobufError(`truncated or overlong varint at byte ${pos}`);
}

/** Splits one message into its fields; the payloads are views into `buf`. */
export function readFields(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const key = readVarint(buf, pos);
    const no = Number(key.value >> 3n);
    const wire = Number(key.value & 7n);
    pos = key.end;
    if (no === 0) throw new ProtobufError(`field number 0 at byte ${pos}`);
    switch (wire) {
      case 0: {
        const v = readVarint(buf, pos);
        fields.push({ no, wire, data: buf.subarray(pos, v.end) });
        pos = v.end;
        break;
      }
      case 1:
      case 5: {
        const size = wire === 1 ? 8 : 4;
        if (pos + size > buf.length) throw new ProtobufError(`truncated fixed field ${no}`);
        fields.push({ no, wire, data: buf.subarray(pos, pos + size) });
        pos += size;
        break;
      }
      case 2: {
        const len = readVarint(buf, pos);
        const end = len.end + Number(len.value);
        if (len.value < 0n || end > buf.length) throw new ProtobufError(`field ${no} runs past the end of its message`);
        fields.push({ no, wire, data: buf.subarray(len.end, end) });
        pos = end;
        break;
      }
      default:
        throw new ProtobufError(`unsupported wire type ${wire} (field ${no})`);
    }
  }
  return fields;
}

function varintBytes(value: bigint): Uint8Array {
  // int64 fields encode negative numbers as their 64-bit two's complement (10 bytes).
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? low : low | 0x80);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

function keyBytes(no: number, wire: WireType): Uint8Array {
  return varintBytes((BigInt(no) << 3n) | BigInt(wire));
}

/** Serialises fields in the given order: one allocation, payloads copied once. */
export function writeFields(fields: readonly Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const f of fields) {
    const key = keyBytes(f.no, f.wire);
    parts.push(key);
    size += key.length;
    if (f.wire === 2) {
      const len = varintBytes(BigInt(f.data.length));
      parts.push(len);
      size += len.length;
    }
    parts.push(f.data);
    size += f.data.length;
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export function varintValue(field: Field): bigint {
  if (field.wire !== 0) throw new ProtobufError(`field ${field.no} is not a varint`);
  return readVarint(field.data, 0).value;
}

export function stringValue(field: Field): string {
  if (field.wire !== 2) throw new ProtobufError(`field ${field.no} is not length-delimited`);
  return utf8.decode(field.data);
}

export function bytesField(no: number, data: Uint8Array): Field {
  return { no, wire: 2, data };
}

export function stringField(no: number, value: string): Field {
  return bytesField(no, encoder.encode(value));
}

export function varintField(no: number, value: bigint | number): Field {
  return { no, wire: 0, data: varintBytes(BigInt(value)) };
}

export function messageField(no: number, fields: readonly Field[]): Field {
  return bytesField(no, writeFields(fields));
}

/** The first field numbered `no`, if any. */
export function findField(fields: readonly Field[], no: number): Field | undefined {
  return fields.find((f) => f.no === no);
}
