/**
 * A recorded session without threads or models: the real supervisor and pipeline driven by scripted
 * actors (ReplayPorts), the real post-processor answering post-process requests, and the engine's
 * own EngineTracer recording it all, as an Engine wires them. Deterministic: no wall clock.
 */
import type { DecodeJobSpec } from '../../../src/actors/decode/decode.protocol.js';
import { PostProcessor } from '../../../src/actors/postprocess/postprocess.js';
import type { PostProcessOptions } from '../../../src/actors/postprocess/postprocess.protocol.js';
import type { VadEvent } from '../../../src/actors/vad/vad.protocol.js';
import type { EngineMetrics } from '../../../src/engine/events.js';
import type { TraceHeader, TraceOutputType, TraceRecord } from '../../../src/engine/trace.js';
import { EngineTracer } from '../../../src/engine/tracer.js';
import { replayPorts } from '../../../src/observe/replay-ports.js';
import { Pipeline } from '../../../src/state/pipeline.js';
import type { PipelineOptions } from '../../../src/state/pipeline-ports.js';
import { startSupervisor } from '../../../src/state/supervisor.js';
import { answer as answerJob } from '../state/fake-ports.js';

export const PIPELINE: PipelineOptions = {
  sampleRate: 16_000,
  language: 'fr',
  beamSize: 5,
  temperatures: [0, 0.2],
  initialPrompt: null,
  hotwords: null,
  partialsEnabled: true,
  partialIntervalMs: 500,
  partialMaxInputSpeed: null,
  maxPendingPartials: 2,
  postRollMs: 96,
};

export const POST_PROCESS: Partial<PostProcessOptions> = { frenchNumbers: true };
const EPOCH = 1_700_000_000_000;

export interface ScriptedSession {
  readonly header: TraceHeader;
  readonly records: TraceRecord[];
  readonly metrics: () => EngineMetrics;
  /** The texts the decoder "returned", by job id, and the audio of each final job. */
  readonly audio: Map<number, Float32Array>;
}

export async function recordScriptedSession(): Promise<ScriptedSession> {
  const records: TraceRecord[] = [];
  const tracer = new EngineTracer((r) => records.push(r));
  const ports = replayPorts();
  let now = EPOCH;
  const processor = new PostProcessor(POST_PROCESS);
  const pipeline = new Pipeline(PIPELINE, {
    sendDecode: (job) => {
      const command = { type: 'job', job } as const;
      tracer.command('decode', command);
      ports.decode.send(command);
    },
    cancelDecode: (jobId) => {
      const command = { type: 'cancel', jobId } as const;
      tracer.command('decode', command);
      ports.decode.send(command);
    },
    sendPostProcess: (requestId, input) => {
      const command = { type: 'process', requestId, input } as const;
      tracer.command('postprocess', command);
      ports.postprocess.send(command);
    },
    emit: (type, ...payload) => tracer.output(type as TraceOutputType, payload[0]),
    now: () => (now += 5),
    wallClockOfSample: (p) => EPOCH + p / 16,
    onUtteranceState: (id, state) => tracer.utterance(id, state),
  });
  const supervisor = startSupervisor(
    {
      ports,
      pipeline,
      host: { error: () => undefined, warning: () => undefined, captureProgress: () => undefined, overrun: () => undefined, endInput: () => undefined },
    },
    (e) => tracer.event(e),
  );
  let last = '';
  supervisor.subscribe((s) => {
    const v = JSON.stringify(s.value);
    if (v !== last) tracer.state(s.value);
    last = v;
  });
  await until(() => JSON.stringify(supervisor.getSnapshot().value) === '"running"', supervisor);

  const vad = (event: VadEvent): void => ports.vad.deliver({ type: 'vad', event });
  const progress = (positionSamples: number): void => {
    ports.capture.deliver({ type: 'progress', writtenSamples: positionSamples, atMs: EPOCH + positionSamples / 16 });
    ports.vad.deliver({ type: 'progress', positionSamples, probability: 0.9, levelDbfs: -20, inUtterance: true });
  };
  const audio = new Map<number, Float32Array>();
  const answer = (text: string, totalMs: number): void => {
    const job = ports.decode.sent.flatMap((c) => (c.type === 'job' ? [c.job] : [])).at(-1) as DecodeJobSpec;
    if (job.kind === 'final') audio.set(job.jobId, Float32Array.from({ length: job.endSamples - job.startSamples }, (_, i) => Math.sin(i / 10) / 4));
    answerJob(ports, job, text, totalMs);
  };
  const processAll = (): void => {
    for (const c of ports.postprocess.sent.splice(0)) {
      if (c.type === 'process') ports.postprocess.deliver({ type: 'processed', requestId: c.requestId, output: processor.process(c.input) });
    }
  };

  ports.capture.deliver({ type: 'started', sourceKind: 'file', sourceSampleRate: 16_000, sourceChannels: 1, description: 'scripted', resumedAtSamples: null, lostSamples: null });
  // Utterance 1: a partial, then a speculative final adopted at the endpoint.
  vad({ type: 'speechStart', utteranceId: 1, startSamples: 1000 });
  progress(9192);
  answer('allume', 40);
  processAll();
  vad({ type: 'pauseStart', utteranceId: 1, endSamples: 20_000 });
  answer('allume la lumière', 300);
  vad({ type: 'speechEnd', utteranceId: 1, startSamples: 1000, endSamples: 20_000, reason: 'silence' });
  processAll();
  // Utterance 2: a misfire.
  vad({ type: 'speechStart', utteranceId: 2, startSamples: 30_000 });
  vad({ type: 'misfire', utteranceId: 2, startSamples: 30_000, endSamples: 32_000 });
  // Utterance 3: numbers in digits (the post-processor's doing), a final decoded after the endpoint.
  vad({ type: 'speechStart', utteranceId: 3, startSamples: 40_000 });
  vad({ type: 'speechEnd', utteranceId: 3, startSamples: 40_000, endSamples: 60_000, reason: 'silence' });
  answer('ferme vingt et un volets', 1200);
  processAll();
  ports.capture.deliver({ type: 'ended', writtenSamples: 64_000, reason: 'end-of-input' });
  ports.vad.deliver({ type: 'ended', positionSamples: 64_000 });
  supervisor.send({ type: 'CLOSE' });
  await until(() => supervisor.getSnapshot().status === 'done', supervisor);

  const header = tracer.header(16_000, { engine: { postProcess: POST_PROCESS }, pipeline: PIPELINE });
  return { header, records, audio, metrics: () => pipeline.metrics({ decode: 0, postprocess: 0, capture: 0, vad: 0 }, 0) };
}

function until(done: () => boolean, actor: { subscribe: (f: () => void) => { unsubscribe: () => void } }): Promise<void> {
  return new Promise((resolve) => {
    if (done()) return resolve();
    const sub = actor.subscribe(() => {
      if (done()) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
}
