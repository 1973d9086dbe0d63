import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCtranslate2Model, readCtranslate2Model, type FloatMatrix } from '../../../src/models/ctranslate2.js';

/** A model.bin in CTranslate2's binary layout (version 6), written by hand. */
interface Variable {
  readonly name: string;
  readonly dims: readonly number[];
  /** 0 float32, 1 int8, 4 float16, 5 bfloat16. */
  readonly dtype: number;
  readonly bytes: Uint8Array;
}

function str(value: string): Uint8Array {
  const text = new TextEncoder().encode(value);
  const out = new Uint8Array(2 + text.length + 1);
  new DataView(out.buffer).setUint16(0, text.length + 1, true);
  out.set(text, 2);
  return out;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

function modelBin(variables: readonly Variable[], version = 6): Uint8Array {
  const parts: Uint8Array[] = [u32(version), str('WhisperSpec'), u32(3), u32(variables.length)];
  for (const v of variables) {
    parts.push(str(v.name), Uint8Array.of(v.dims.length), ...v.dims.map(u32), Uint8Array.of(v.dtype), u32(v.bytes.byteLength), v.bytes);
  }
  parts.push(u32(1), str('decoder/projection/weight'), str('decoder/embeddings/weight'));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** float16 bit patterns of exactly representable values. */
const HALF = { one: 0x3c00, minusTwo: 0xc000, half: 0x3800, smallest: 0x0001, max: 0x7bff } as const;

function halves(bits: readonly number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(bits).buffer);
}

const VARIABLES: Variable[] = [
  { name: 'encoder/layer_0/ffn/linear_0/weight', dims: [2, 3], dtype: 4, bytes: halves([HALF.one, HALF.minusTwo, HALF.half, HALF.smallest, HALF.max, 0]) },
  { name: 'encoder/layer_0/ffn/linear_0/bias', dims: [2], dtype: 4, bytes: halves([HALF.one, HALF.one]) },
  { name: 'decoder/embeddings/weight', dims: [2, 2], dtype: 0, bytes: new Uint8Array(Float32Array.of(0.1, -0.2, 0.3, 1e-30).buffer) },
  // bfloat16 keeps float32's top 16 bits: 0x3fc0 is 1.5.
  { name: 'decoder/layer_0/attention/linear_0/weight', dims: [1, 2], dtype: 5, bytes: halves([0x3fc0, 0xbf80]) },
  { name: 'encoder/layer_0/int8/weight', dims: [2, 2], dtype: 1, bytes: new Uint8Array(Int8Array.of(1, 2, 3, 4).buffer) },
];

function rows(m: FloatMatrix): number[][] {
  return Array.from({ length: m.rows }, (_, r) => [...m.row(r, new Float32Array(m.cols))]);
}

describe('parseCtranslate2Model', () => {
  const parsed = parseCtranslate2Model(modelBin(VARIABLES), 'test/model.bin');

  it('keeps the two-dimensional float variables only (float16, float32, bfloat16), in file order', () => {
    expect(parsed.specName).toBe('WhisperSpec');
    expect(parsed.matrices.map((m) => [m.name, m.rows, m.cols])).toEqual([
      ['encoder/layer_0/ffn/linear_0/weight', 2, 3],
      ['decoder/embeddings/weight', 2, 2],
      ['decoder/layer_0/attention/linear_0/weight', 1, 2],
    ]);
  });

  it('converts float16 exactly, subnormals and the largest finite value included', () => {
    const [half] = parsed.matrices;
    expect(rows(half as FloatMatrix)).toEqual([
      [1, -2, 0.5],
      [2 ** -24, 65504, 0],
    ]);
    expect(half?.relativePrecision).toBe(2 ** -11);
  });

  it('reads float32 as stored and bfloat16 as its top 16 bits', () => {
    const [, single, bfloat] = parsed.matrices;
    expect(rows(single as FloatMatrix)).toEqual([
      [Math.fround(0.1), Math.fround(-0.2)],
      [Math.fround(0.3), Math.fround(1e-30)],
    ]);
    expect(rows(bfloat as FloatMatrix)).toEqual([[1.5, -1]]);
    expect([single?.relativePrecision, bfloat?.relativePrecision]).toEqual([2 ** -24, 2 ** -8]);
  });

  it('refuses another binary version, naming it', () => {
    expect(() => parseCtranslate2Model(modelBin(VARIABLES, 5), 'old/model.bin')).toThrow(
      expect.objectContaining({ code: 'STT_MODEL_CORRUPT', message: expect.stringContaining('binary version 5') }),
    );
  });

  it('a truncated file is STT_MODEL_CORRUPT at every cut', () => {
    const whole = modelBin(VARIABLES);
    // Every cut before the aliases ends inside the header or a variable.
    for (const cut of [0, 3, 10, 30, 60, whole.length - 70]) {
      expect(() => parseCtranslate2Model(whole.subarray(0, cut), 'cut/model.bin'), `cut at ${cut}`).toThrow(
        expect.objectContaining({ code: 'STT_MODEL_CORRUPT', details: expect.objectContaining({ path: 'cut/model.bin' }) }),
      );
    }
  });

  it('a variable whose byte size disagrees with its dims, or of an unknown type, is STT_MODEL_CORRUPT', () => {
    const short = { name: 'w', dims: [2, 2], dtype: 0, bytes: new Uint8Array(12) };
    expect(() => parseCtranslate2Model(modelBin([short]))).toThrow(expect.objectContaining({ code: 'STT_MODEL_CORRUPT', message: expect.stringContaining('w holds 12 bytes') }));
    const unknown = { name: 'w', dims: [2], dtype: 9, bytes: new Uint8Array(8) };
    expect(() => parseCtranslate2Model(modelBin([unknown]))).toThrow(expect.objectContaining({ code: 'STT_MODEL_CORRUPT', message: expect.stringContaining('unknown type 9') }));
  });
});

describe('readCtranslate2Model', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stt-ct2-'));
    await mkdir(path.join(dir, 'model'));
    await writeFile(path.join(dir, 'model', 'model.bin'), modelBin(VARIABLES));
    await mkdir(path.join(dir, 'empty'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes a model folder or its model.bin', async () => {
    const fromDir = await readCtranslate2Model(path.join(dir, 'model'));
    const fromFile = await readCtranslate2Model(path.join(dir, 'model', 'model.bin'));
    expect(fromDir.path).toBe(path.join(dir, 'model', 'model.bin'));
    expect(fromDir.matrices.map((m) => m.name)).toEqual(fromFile.matrices.map((m) => m.name));
  });

  it('a missing path, or a folder without model.bin, is STT_MODEL_NOT_FOUND', async () => {
    await expect(readCtranslate2Model(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'STT_MODEL_NOT_FOUND' });
    await expect(readCtranslate2Model(path.join(dir, 'empty'))).rejects.toMatchObject({
      code: 'STT_MODEL_NOT_FOUND',
      message: expect.stringContaining('holds no CTranslate2 model.bin'),
    });
  });
});
