/**
 * Whether this CPU's int8 products saturate in onnxruntime (see uint8-weights.ts): one MatMulInteger
 * of uint8 activations at 255 by int8 weights at 127, whose exact result the int16 pair sums of
 * VPMADDUBSW cannot hold. Asked of the kernel itself rather than of CPUID flags, so it stays right
 * whatever MLAS picks on this CPU (AVX2, AVX-512, VNNI, ARM's dot products) and in later versions.
 * The shape is a real GEMM's (8 × 64 by 64 × 32, the weight a constant MLAS pre-packs), not a
 * vector product that a special-cased kernel might take. One run, memoised per process: ~ms.
 */
import { DTYPE, GRAPH, initializerField, MODEL, nodeFields, OPSET, tensorValueInfo } from './onnx-fields.js';
import { messageField, stringField, varintField, writeFields } from './protobuf.js';
import { createOnnxSession, uint8Tensor } from './runtime.js';

const M = 8;
const K = 64;
const N = 32;
/** Every output element: K products of 255 × 127, exact in int32. */
export const EXACT_PROBE_VALUE = K * 255 * 127;

/** The probe model: Y = MatMulInteger(A, W), A uint8 [M, K] an input, W int8 [K, N] all 127. */
export function saturationProbeModel(): Uint8Array {
  const weight = new Uint8Array(K * N).fill(127);
  const graph = [
    messageField(GRAPH.node, nodeFields('MatMulInteger', ['A', 'W'], ['Y'], 'probe')),
    stringField(GRAPH.name, 'int8-saturation-probe'),
    initializerField('W', DTYPE.int8, [K, N], weight),
    tensorValueInfo(GRAPH.input, 'A', DTYPE.uint8, [M, K]),
    tensorValueInfo(GRAPH.output, 'Y', DTYPE.int32, [M, N]),
  ];
  return writeFields([
    varintField(1, 8),
    messageField(MODEL.graph, graph),
    messageField(MODEL.opsetImport, [stringField(OPSET.domain, ''), varintField(OPSET.version, 17)]),
  ]);
}

let probed: Promise<boolean> | null = null;

/** True when onnxruntime's u8 × s8 products saturate on this CPU (memoised). */
export function int8ProductsSaturate(): Promise<boolean> {
  probed ??= (async () => {
    const session = await createOnnxSession({ path: 'int8-saturation-probe.onnx', bytes: saturationProbeModel() }, { device: { kind: 'cpu' }, intraOpThreads: 1, interOpThreads: 1 });
    try {
      const out = await session.run({ A: uint8Tensor(new Uint8Array(M * K).fill(255), [M, K]) }, ['Y']);
      const y = out['Y']?.data;
      if (!(y instanceof Int32Array)) throw new Error('the saturation probe returned no int32 output');
      return y.some((v) => v !== EXACT_PROBE_VALUE);
    } finally {
      await session.release();
    }
  })().catch((cause: unknown) => {
    // Not memoised: a failure here is onnxruntime's, and the next load should see it again.
    probed = null;
    throw cause;
  });
  return probed;
}
