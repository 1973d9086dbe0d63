// The machine a benchmark ran on, as every bench's result file records it and its header names it.
//
// `int8` lists the x86 instruction sets that decide onnxruntime's int8 speed, read from the CPU's own
// flags: with AVX-512 VNNI or AVX-VNNI its u8 × s8 products are exact and fast; with AVX2 alone they
// saturate (README → Models, uint8 weights) and the same build decodes about twice as slowly. The
// latency results of two machines of the same core count differ by that, so each result says which
// it had. null where the flags cannot be read (not Linux).
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

/** The flags reported, in this order: the baseline SIMD, then the int8 dot-product extensions. */
export const INT8_FLAGS = ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'];

/** Of INT8_FLAGS, those in the first `flags` line of a /proc/cpuinfo text; null if it has none. */
export function int8Features(cpuinfo) {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/u.test(l));
  if (line === undefined) return null;
  const flags = new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/u));
  return INT8_FLAGS.filter((f) => flags.has(f));
}

function readCpuinfo() {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/** This machine: CPU model, logical cores, memory, kernel, Node, and its int8 flags. */
export function machineInfo() {
  const cores = cpus();
  return {
    cpu: cores[0]?.model ?? 'unknown',
    logicalCores: cores.length,
    totalMemBytes: totalmem(),
    kernel: release(),
    node: process.version,
    int8: int8Features(readCpuinfo()),
  };
}

/** For a result's header: "AMD EPYC (AVX2, no VNNI), 2 logical cores". */
export function describeMachine(machine) {
  const int8 = machine.int8 ?? null;
  const vnni = int8 === null ? '' : int8.some((f) => f.includes('vnni')) ? ', VNNI' : ', no VNNI';
  const simd = int8 === null ? 'int8 flags unknown' : int8.includes('avx512f') ? 'AVX-512' : int8.includes('avx2') ? 'AVX2' : 'no AVX2';
  return `${machine.cpu} (${simd}${vnni}), ${machine.logicalCores} logical core${machine.logicalCores === 1 ? '' : 's'}`;
}
