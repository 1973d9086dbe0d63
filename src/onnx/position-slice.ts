/**
 * Lets a Whisper encoder export run on fewer than its 3000 mel frames.
 *
 * The hub's encoders add their positional embedding as a constant [positions, width] tensor
 * (1500 × d_model), so onnxruntime rejects any other length. This rewrite slices the
 * embedding to the length of the tensor it is added to:
 *
 *     Add(x, P)   becomes   Add(x, Slice(P, 0, Shape(x)[-2], axis 0))
 *
 * and declares the frame and position dimensions of the graph's input and output symbolic (the
 * intermediate shape hints, value_info, are dropped: onnxruntime infers them again). A full window
 * computes what it did before (the slice is the whole embedding; onnxruntime may order the float
 * operations differently for a symbolic shape: whisper-base's states differ by at most ~1e-5).
 *
 * Why: a short input (a spoken command, a partial of a running utterance) encoded as its audio plus
 * a margin instead of a whole 30 s window costs a fraction of the pass (the encoder's attention is
 * quadratic in length). Whisper is trained on 30 s windows, so the window length is a measured
 * trade: see DEFAULT_SHORT_WINDOW_MIN_MS in src/whisper/transcribe-options.ts.
 */
import { bytesField, findField, readFields, stringField, stringValue, varintValue, writeFields, type Field, messageField } from './protobuf.js';
import { DIM, DTYPE, GRAPH, initializerField, MODEL, NODE, nodeFields, SHAPE, TENSOR, TENSOR_TYPE, tensorDims, TYPE, VALUE_INFO } from './onnx-fields.js';

export interface PositionSliceShape {
  /** Encoder positions of a full window (max_source_positions: 1500). */
  readonly positions: number;
  /** Mel frames of a full window, the input's length (2 × positions: the second conv has stride 2). */
  readonly frames: number;
}

export interface PositionSliceResult {
  readonly bytes: Uint8Array;
  /** False when the graph holds no single Add of a [positions, d_model] constant: bytes are the input. */
  readonly sliced: boolean;
}

const PREFIX = 'position_slice';

function int64Raw(values: readonly number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
}

/** A graph input or output with every dimension equal to `from` made the symbolic `to`. */
function symbolicDims(valueInfo: Uint8Array, from: number, to: string): Uint8Array {
  const mapMessage = (data: Uint8Array, no: number, map: (inner: Uint8Array) => Uint8Array): Uint8Array =>
    writeFields(readFields(data).map((f) => (f.no === no && f.wire === 2 ? bytesField(no, map(f.data)) : f)));
  return mapMessage(valueInfo, VALUE_INFO.type, (type) =>
    mapMessage(type, TYPE.tensorType, (tensorType) =>
      mapMessage(tensorType, TENSOR_TYPE.shape, (shape) =>
        mapMessage(shape, SHAPE.dim, (dim) => {
          const value = findField(readFields(dim), DIM.value);
          return value !== undefined && Number(varintValue(value)) === from ? writeFields([stringField(DIM.param, to)]) : dim;
        }),
      ),
    ),
  );
}

function node(opType: string, inputs: readonly string[], outputs: readonly string[], name: string): Field {
  return messageField(GRAPH.node, nodeFields(opType, inputs, outputs, name));
}

/**
 * Rewrites a serialized encoder ModelProto to accept inputs of any length up to a full window.
 * Returns the input bytes (sliced: false) when the positional embedding is not found as expected.
 */
export function slicePositionalEmbedding(model: Uint8Array, shape: PositionSliceShape): PositionSliceResult {
  const unchanged = { bytes: model, sliced: false };
  const fields = readFields(model);
  const graphField = findField(fields, MODEL.graph);
  if (graphField === undefined || graphField.wire !== 2) return unchanged;
  const graph = readFields(graphField.data);

  const embeddings = new Set<string>();
  for (const f of graph) {
    if (f.no !== GRAPH.initializer) continue;
    const tensor = readFields(f.data);
    const dims = tensorDims(tensor);
    const name = findField(tensor, TENSOR.name);
    if (name && dims.length === 2 && dims[0] === shape.positions) embeddings.add(stringValue(name));
  }
  const adds: { index: number; embedding: string; other: string }[] = [];
  graph.forEach((f, index) => {
    if (f.no !== GRAPH.node) return;
    const n = readFields(f.data);
    const op = findField(n, NODE.opType);
    const domain = findField(n, NODE.domain);
    if (!op || stringValue(op) !== 'Add' || (domain && stringValue(domain) !== '')) return;
    const inputs = n.filter((x) => x.no === NODE.input).map(stringValue);
    const [a, b] = inputs;
    if (inputs.length !== 2 || a === undefined || b === undefined) return;
    if (embeddings.has(a) !== embeddings.has(b)) adds.push({ index, embedding: embeddings.has(a) ? a : b, other: embeddings.has(a) ? b : a });
  });
  const add = adds[0];
  if (adds.length !== 1 || add === undefined) return unchanged;

  const sliced = `${PREFIX}/positions`;
  const inserted = [
    node('Shape', [add.other], [`${PREFIX}/shape`], `${PREFIX}/Shape`),
    node('Slice', [`${PREFIX}/shape`, `${PREFIX}/minus_two`, `${PREFIX}/minus_one`], [`${PREFIX}/length`], `${PREFIX}/Length`),
    node('Slice', [add.embedding, `${PREFIX}/zero`, `${PREFIX}/length`, `${PREFIX}/zero`], [sliced], `${PREFIX}/Slice`),
  ];
  const out: Field[] = [];
  graph.forEach((f, index) => {
    if (index === add.index) {
      out.push(...inserted);
      const n = readFields(f.data).map((x) => (x.no === NODE.input && stringValue(x) === add.embedding ? stringField(NODE.input, sliced) : x));
      out.push(messageField(GRAPH.node, n));
    } else if (f.no === GRAPH.input) {
      out.push(bytesField(GRAPH.input, symbolicDims(f.data, shape.frames, 'encoder_frames')));
    } else if (f.no === GRAPH.output) {
      out.push(bytesField(GRAPH.output, symbolicDims(f.data, shape.positions, 'encoder_positions')));
    } else if (f.no !== GRAPH.valueInfo) {
      out.push(f);
    }
  });
  out.push(initializerField(`${PREFIX}/zero`, DTYPE.int64, [1], int64Raw([0])));
  out.push(initializerField(`${PREFIX}/minus_two`, DTYPE.int64, [1], int64Raw([-2])));
  out.push(initializerField(`${PREFIX}/minus_one`, DTYPE.int64, [1], int64Raw([-1])));
  return { bytes: writeFields(fields.map((f) => (f === graphField ? bytesField(MODEL.graph, writeFields(out)) : f))), sliced: true };
}
