/** Scripted ActorPorts: the supervisor under test talks to these instead of worker threads. */
import type { DecodeCommand, DecodeJobSpec, DecodeMessage, DraftCounts } from '../../../src/actors/decode/decode.protocol.js';
import type { PostProcessCommand, PostProcessMessage } from '../../../src/actors/postprocess/postprocess.protocol.js';
import type { CaptureCommand, CaptureMessage } from '../../../src/actors/capture/capture.protocol.js';
import type { VadCommand, VadEvent, VadMessage } from '../../../src/actors/vad/vad.protocol.js';
import type { ActorPort, PortEvent, ReadyInfo } from '../../../src/engine/worker-bridge.js';
import type { ActorName } from '../../../src/workers/worker.protocol.js';
import type { SupervisorPorts } from '../../../src/state/supervisor.js';

export class FakePort<C, M> implements ActorPort<C, M> {
  readonly sent: C[] = [];
  readonly #listeners = new Set<(e: PortEvent<M>) => void>();
  restarts = 0;
  started = 0;
  closed = 0;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;
  constructor(readonly name: ActorName) {}
  /** The next start() waits until release(). */
  hold(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }
  release(): void {
    this.#open();
  }
  async start(): Promise<ReadyInfo> {
    await this.#gate;
    this.started++;
    return {};
  }
  send(command: C): void {
    this.sent.push(command);
  }
  subscribe(listener: (e: PortEvent<M>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  async close(): Promise<void> {
    this.closed++;
  }
  deliver(message: M): void {
    for (const l of [...this.#listeners]) l({ type: 'message', message });
  }
  crash(restarting: boolean): void {
    for (const l of [...this.#listeners]) l({ type: 'crashed', error: new Error('killed'), restarting });
  }
  restarted(): void {
    this.restarts++;
    for (const l of [...this.#listeners]) l({ type: 'restarted', info: {} });
  }
}

export function fakePorts() {
  const ports = {
    capture: new FakePort<CaptureCommand, CaptureMessage>('capture'),
    vad: new FakePort<VadCommand, VadMessage>('vad'),
    decode: new FakePort<DecodeCommand, DecodeMessage>('decode'),
    postprocess: new FakePort<PostProcessCommand, PostProcessMessage>('postprocess'),
  };
  return ports satisfies SupervisorPorts;
}

export type FakePorts = ReturnType<typeof fakePorts>;

export function vad(ports: FakePorts, event: VadEvent): void {
  ports.vad.deliver({ type: 'vad', event });
}

export function progress(ports: FakePorts, positionSamples: number, probability = 0.9): void {
  ports.vad.deliver({ type: 'progress', positionSamples, probability, levelDbfs: -20, inUtterance: true });
}

export function jobs(ports: FakePorts): DecodeJobSpec[] {
  return ports.decode.sent.flatMap((c) => (c.type === 'job' ? [c.job] : []));
}

/** Job ids the pipeline asked the decode worker to cancel, in order. */
export function cancels(ports: FakePorts): number[] {
  return ports.decode.sent.flatMap((c) => (c.type === 'cancel' ? [c.jobId] : []));
}

/** The worker's answer to a cancel that took effect. */
export function cancelled(ports: FakePorts, job: DecodeJobSpec, ranMs = 0): void {
  ports.decode.deliver({ type: 'jobCancelled', jobId: job.jobId, utteranceId: job.utteranceId, kind: job.kind, ranMs });
}

/** Answers a decode job as the worker would, with `text` (the worker's whole time: `totalMs`). */
export function answer(
  ports: { readonly decode: { deliver(message: DecodeMessage): void } },
  job: DecodeJobSpec,
  text: string,
  totalMs = 16,
  beamNarrowed = false,
  draft?: DraftCounts,
): void {
  ports.decode.deliver({
    type: 'result',
    jobId: job.jobId,
    kind: job.kind,
    utteranceId: job.utteranceId,
    text,
    language: 'fr',
    avgLogprob: -0.2,
    noSpeechProb: 0.01,
    compressionRatio: 1.2,
    temperature: 0,
    beamNarrowed,
    ...(draft !== undefined ? { draft } : {}),
    timings: { waitMs: 0, melMs: 1, encodeMs: 10, decodeMs: totalMs - 11, totalMs },
  });
}

/** Post-processes every pending request verbatim (or rejects texts in `blocklist`). */
export function processAll(ports: FakePorts, blocklist: readonly string[] = []): number {
  const requests = ports.postprocess.sent.splice(0).flatMap((c) => (c.type === 'process' ? [c] : []));
  for (const r of requests) {
    const rejected = blocklist.includes(r.input.text) ? ('blocklisted' as const) : null;
    ports.postprocess.deliver({
      type: 'processed',
      requestId: r.requestId,
      output: { utteranceId: r.input.utteranceId, kind: r.input.kind, text: rejected ? '' : r.input.text, rejected, corrections: [] },
    });
  }
  return requests.length;
}
