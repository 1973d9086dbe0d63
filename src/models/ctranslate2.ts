/**
 * Reads the float matrices of a CTranslate2 model file (`model.bin`, the format faster-whisper
 * loads, e.g. the hub's `Systran/faster-whisper-base`).
 *
 * Why: the hub's int8 ONNX files quantise every MatMul weight with one scale for the whole matrix;
 * CTranslate2 quantises each output channel with its own. A float copy of the same weights lets the
 * engine requantise per channel at load (src/onnx/weight-requant.ts). Only what that needs is read:
 * the two-dimensional float16 / bfloat16 / float32 variables, as views into the file's bytes (a
 * float16 matrix is converted one row at a time, when it is used).
 *
 * Layout (binary version 6, what CTranslate2 ≥ 3 writes; all little-endian):
 *   u32 version · str spec name · u32 spec revision · u32 variable count ·
 *   per variable: str name · u8 rank · u32 × rank dims · u8 dtype · u32 byte size · bytes ·
 *   u32 alias count · per alias: str alias · str target
 * where `str` is a u16 length (the terminating NUL included) and the UTF-8 bytes.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelCorruptError, ModelNotFoundError } from '../errors.js';

/** A [rows, cols] row-major float matrix: CTranslate2 stores a Dense layer's weight as [out, in]. */
export interface FloatMatrix {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  /** Relative rounding of the stored values (2^-24 float32, 2^-11 float16, 2^-8 bfloat16). */
  readonly relativePrecision: number;
  /** Row `r` as float32 values, written into `into` (cols long) and returned. */
  row(r: number, into: Float32Array): Float32Array;
}

export interface Ctranslate2Weights {
  /** The file read (a folder given is resolved to its model.bin). */
  readonly path: string;
  readonly specName: string;
  readonly matrices: readonly FloatMatrix[];
}

const SUPPORTED_VERSION = 6;
const DTYPE_NAMES = ['float32', 'int8', 'int16', 'int32', 'float16', 'bfloat16'] as const;
const DTYPE_SIZES = [4, 1, 2, 4, 2, 2] as const;
const FLOAT32 = 0;
const FLOAT16 = 4;
const BFLOAT16 = 5;

/** float16 bits → float32, for all 65 536 patterns (256 KiB, built on first use). */
let halfTable: Float32Array | null = null;
function halfToFloat(): Float32Array {
  if (halfTable !== null) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) table[h] = sign * fraction * 2 ** -24;
    else if (exponent === 31) table[h] = fraction === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

class Reader {
  #pos = 0;
  readonly #view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get pos(): number {
    return this.#pos;
  }
  #need(n: number, what: string): void {
    if (this.#pos + n > this.bytes.byteLength) {
      throw new ModelCorruptError(`${this.file} ends inside ${what} (byte ${this.#pos} of ${this.bytes.byteLength})`, { path: this.file });
    }
  }
  u8(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.#pos++);
  }
  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return v;
  }
  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }
  str(what: string): string {
    const length = this.u16(what);
    this.#need(length, what);
    // The stored length counts the terminating NUL.
    const text = new TextDecoder().decode(this.bytes.subarray(this.#pos, this.#pos + Math.max(0, length - 1)));
    this.#pos += length;
    return text;
  }
  take(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const out = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
}

function matrix(name: string, rows: number, cols: number, dtype: number, raw: Uint8Array): FloatMatrix {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dtype === FLOAT32) {
    return {
      name,
      rows,
      cols,
      relativePrecision: 2 ** -24,
      row(r, into) {
        for (let c = 0, at = r * cols * 4; c < cols; c++, at += 4) into[c] = view.getFloat32(at, true);
        return into;
      },
    };
  }
  const table = dtype === FLOAT16 ? halfToFloat() : null;
  const bfloat = new Float32Array(1);
  const bfloatBits = new Uint32Array(bfloat.buffer);
  return {
    name,
    rows,
    cols,
    relativePrecision: table !== null ? 2 ** -11 : 2 ** -8,
    row(r, into) {
      for (let c = 0, at = r * cols * 2; c < cols; c++, at += 2) {
        const bits = view.getUint16(at, true);
        if (table !== null) {
          into[c] = table[bits] as number;
        } else {
          bfloatBits[0] = bits << 16;
          into[c] = bfloat[0] as number;
        }
      }
      return into;
    },
  };
}

/** Parses a model.bin already in memory. Throws ModelCorruptError when it is not one this reader knows. */
export function parseCtranslate2Model(bytes: Uint8Array, file = 'model.bin'): Ctranslate2Weights {
  const reader = new Reader(bytes, file);
  const version = reader.u32('the header');
  if (version !== SUPPORTED_VERSION) {
    throw new ModelCorruptError(
      `${file} is not a CTranslate2 model this engine reads (binary version ${version}; version ${SUPPORTED_VERSION} expected, as CTranslate2 ≥ 3 writes)`,
      { path: file, version },
    );
  }
  const specName = reader.str('the spec name');
  reader.u32('the spec revision');
  const count = reader.u32('the variable count');
  const matrices: FloatMatrix[] = [];
  for (let i = 0; i < count; i++) {
    const name = reader.str(`variable ${i}'s name`);
    const rank = reader.u8(`${name}'s rank`);
    const dims: number[] = [];
    for (let d = 0; d < rank; d++) dims.push(reader.u32(`${name}'s dims`));
    const dtype = reader.u8(`${name}'s type`);
    const size = reader.u32(`${name}'s size`);
    const raw = reader.take(size, name);
    const elementSize = DTYPE_SIZES[dtype];
    if (elementSize === undefined) {
      throw new ModelCorruptError(`${file}: variable ${name} has an unknown type ${dtype}`, { path: file, variable: name });
    }
    if (dims.reduce((a, b) => a * b, 1) * elementSize !== size) {
      throw new ModelCorruptError(`${file}: variable ${name} holds ${size} bytes, not ${dims.join(' × ')} ${DTYPE_NAMES[dtype] ?? ''} values`, {
        path: file,
        variable: name,
      });
    }
    const [rows, cols] = dims;
    if (rank === 2 && rows !== undefined && cols !== undefined && (dtype === FLOAT32 || dtype === FLOAT16 || dtype === BFLOAT16)) {
      matrices.push(matrix(name, rows, cols, dtype, raw));
    }
  }
  return { path: file, specName, matrices };
}

/** Where a CTranslate2 model folder's model.bin is (or the file itself), with what identifies its content. */
export async function locateCtranslate2Model(fileOrDir: string): Promise<{ readonly path: string; readonly size: number; readonly mtimeMs: number }> {
  const given = path.resolve(fileOrDir);
  const info = await stat(given).catch(() => null);
  if (info === null) throw new ModelNotFoundError(`no CTranslate2 model at ${given}`, { path: given });
  if (!info.isDirectory()) return { path: given, size: info.size, mtimeMs: info.mtimeMs };
  const file = path.join(given, 'model.bin');
  const fileInfo = await stat(file).catch(() => null);
  if (fileInfo === null) throw new ModelNotFoundError(`the folder ${given} holds no CTranslate2 model.bin`, { path: file });
  return { path: file, size: fileInfo.size, mtimeMs: fileInfo.mtimeMs };
}

/** Reads `model.bin` from a CTranslate2 model folder (or the file itself). */
export async function readCtranslate2Model(fileOrDir: string): Promise<Ctranslate2Weights> {
  const { path: file } = await locateCtranslate2Model(fileOrDir);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    throw new ModelNotFoundError(`cannot read the CTranslate2 model ${file}`, { path: file });
  }
  return parseCtranslate2Model(bytes, file);
}
