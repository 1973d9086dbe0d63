import { describe, expect, it } from 'vitest';
import { describeMachine, int8Features, machineInfo } from '../../../bench/machine.mjs';

const cpuinfo = (flags: string): string => `processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: ${flags}\nbugs\t\t: spectre_v1\n\nprocessor\t: 1\nflags\t\t: fpu\n`;

describe('bench machine record', () => {
  it("reads the int8 flags from the first CPU's flags line, in INT8_FLAGS order", () => {
    expect(int8Features(cpuinfo('fpu sse2 avx avx2 fma'))).toEqual(['avx2']);
    expect(int8Features(cpuinfo('avx512_vnni fpu avx2 amx_int8 avx512f avx512bw'))).toEqual(['avx2', 'avx512f', 'avx512_vnni', 'amx_int8']);
    expect(int8Features(cpuinfo('avx2 avx_vnni'))).toEqual(['avx2', 'avx_vnni']);
    // Substrings are not flags: avx512_vnni does not make avx512f, avx2 is not avx.
    expect(int8Features(cpuinfo('avx avx512_vnni'))).toEqual(['avx512_vnni']);
    expect(int8Features('processor\t: 0\n')).toBeNull();
  });

  it('names the SIMD level and VNNI in the header', () => {
    expect(describeMachine({ cpu: 'AMD EPYC', logicalCores: 2, int8: ['avx2'] })).toBe('AMD EPYC (AVX2, no VNNI), 2 logical cores');
    expect(describeMachine({ cpu: 'Xeon', logicalCores: 2, int8: ['avx2', 'avx512f', 'avx512_vnni'] })).toBe('Xeon (AVX-512, VNNI), 2 logical cores');
    expect(describeMachine({ cpu: 'Core', logicalCores: 8, int8: ['avx2', 'avx_vnni'] })).toBe('Core (AVX2, VNNI), 8 logical cores');
    expect(describeMachine({ cpu: 'ARM', logicalCores: 4, int8: null })).toBe('ARM (int8 flags unknown), 4 logical cores');
    expect(describeMachine({ cpu: 'old', logicalCores: 1 })).toBe('old (int8 flags unknown), 1 logical core');
  });

  it("records this machine, with its flags where Linux gives them", () => {
    const m = machineInfo();
    expect(m.logicalCores).toBeGreaterThan(0);
    expect(m.node).toBe(process.version);
    if (process.platform === 'linux') expect(Array.isArray(m.int8)).toBe(true);
  });
});
