/**
 * `replay`: re-runs a recorded session through the real supervisor and pipeline (src/state) and
 * compares what comes out with what the trace says users saw.
 *
 * The actors are replaced by scripted ports (replay-ports.ts) that deliver the recorded actor
 * messages in their recorded order: VAD and capture messages as they were; decode results matched
 * to the jobs the replayed pipeline actually sent (by kind, utterance and audio range, the recorded
 * jobId first); post-process results recomputed by the real PostProcessor with the recorded options
 * (or the recorded outputs, `postProcess: 'recorded'`), delivered where the recorded ones arrived.
 * The clock is the trace's (header epoch + record atMs), never the wall clock, so a replay is
 * deterministic: the same trace always gives the same report.
 */
import type { DecodeJobSpec, DecodeMessage } from '../actors/decode/decode.protocol.js';
import { PostProcessor } from '../actors/postprocess/postprocess.js';
import type { PostProcessInput, PostProcessOptions, PostProcessOutput } from '../actors/postprocess/postprocess.protocol.js';
import type { FinalEvent, RejectedEvent } from '../engine/events.js';
import type { TraceRecord } from '../engine/trace.js';
import { WallClockMap } from '../engine/wall-clock.js';
import { deserializeError, type SerializedError } from '../errors.js';
import { Pipeline } from '../state/pipeline.js';
import type { PipelineOptions } from '../state/pipeline-ports.js';
import { startSupervisor, type SupervisorRef } from '../state/supervisor.js';
import { replayPorts, type ReplayPorts } from './replay-ports.js';
import { TraceInvalidError, type Trace } from './trace-reader.js';

export interface FinalSummary {
  readonly utteranceId: number;
  readonly text: string;
  readonly startMs: number;
  readonly endMs: number;
}

export interface RejectedSummary {
  readonly utteranceId: number;
  readonly reason: string;
}

export interface FinalDifference {
  /** changed: both have the utterance; missing: only the recording; extra: only the replay. */
  readonly kind: 'changed' | 'missing' | 'extra';
  readonly utteranceId: number;
  readonly recorded: FinalSummary | null;
  readonly replayed: FinalSummary | null;
  /** The fields that differ (changed only). */
  readonly fields: readonly ('text' | 'startMs' | 'endMs')[];
}

export interface ReplayReport {
  readonly recordedFinals: readonly FinalSummary[];
  readonly replayedFinals: readonly FinalSummary[];
  readonly identical: number;
  readonly differences: readonly FinalDifference[];
  readonly recordedRejected: readonly RejectedSummary[];
  readonly replayedRejected: readonly RejectedSummary[];
  /** Where the replay could not follow the recording (a result for a job it never sent…). */
  readonly notes: readonly string[];
}

export interface ReplayOptions {
  /** 'rerun' (default): the real post-processor with the trace's options; 'recorded': its outputs. */
  readonly postProcess?: 'rerun' | 'recorded';
  /** Post-process options instead of the recorded ones (what a changed lexicon would give). */
  readonly postProcessOptions?: Partial<PostProcessOptions>;
}

type Signature = string;
const jobSignature = (j: Pick<DecodeJobSpec, 'kind' | 'utteranceId' | 'startSamples' | 'endSamples'>): Signature =>
  `${j.kind}:${j.utteranceId}:${j.startSamples}-${j.endSamples}`;
// Not the text: a replay whose decodes differ (tampered, or another build) must still post-process them.
const requestSignature = (i: Pick<PostProcessInput, 'kind' | 'utteranceId'>): Signature => `${i.kind}:${i.utteranceId}`;

/** Takes the replayed entry answering a recorded one: the same id if it has the same signature, else any with it. */
function take<T>(pending: Map<number, T>, id: number, signature: Signature, sign: (t: T) => Signature): [number, T] | null {
  const same = pending.get(id);
  if (same !== undefined && sign(same) === signature) {
    pending.delete(id);
    return [id, same];
  }
  for (const [otherId, other] of pending) {
    if (sign(other) !== signature) continue;
    pending.delete(otherId);
    return [otherId, other];
  }
  return null;
}

function headerOptions(trace: Trace): { pipeline: PipelineOptions; postProcess: Partial<PostProcessOptions> } {
  const options = trace.header.options as { pipeline?: PipelineOptions; engine?: { postProcess?: Partial<PostProcessOptions> } } | null;
  const pipeline = options?.pipeline;
  if (!pipeline || typeof pipeline.sampleRate !== 'number') {
    throw new TraceInvalidError('the trace header holds no pipeline options: it cannot be replayed', { option: 'trace', line: 1 });
  }
  return { pipeline, postProcess: options.engine?.postProcess ?? {} };
}

class Replayer {
  readonly ports: ReplayPorts = replayPorts();
  readonly notes: string[] = [];
  readonly finals: FinalSummary[] = [];
  readonly rejected: RejectedSummary[] = [];
  readonly supervisor: SupervisorRef;
  /** Replay clock (epoch ms): the recorded time of the record being replayed. */
  nowMs: number;
  /** Set while a capture `ended` is delivered: the supervisor stamps it with Date.now(), replaced by nowMs. */
  #captureEnded = false;
  readonly #clock = new WallClockMap();
  readonly #sentJobs = new Map<number, DecodeJobSpec>();
  readonly #sentRequests = new Map<number, PostProcessInput>();
  readonly #recordedJobs = new Map<number, DecodeJobSpec>();
  readonly #recordedRequests = new Map<number, PostProcessInput>();
  readonly #processor: PostProcessor;
  readonly #mode: 'rerun' | 'recorded';

  constructor(trace: Trace, options: ReplayOptions) {
    const { pipeline: pipelineOptions, postProcess } = headerOptions(trace);
    this.#processor = new PostProcessor({ ...postProcess, ...options.postProcessOptions });
    this.#mode = options.postProcess ?? 'rerun';
    this.nowMs = trace.header.startedAtEpochMs;
    const pipeline = new Pipeline(pipelineOptions, {
      sendDecode: (job) => {
        this.#sentJobs.set(job.jobId, job);
        this.ports.decode.send({ type: 'job', job });
      },
      cancelDecode: (jobId) => this.ports.decode.send({ type: 'cancel', jobId }),
      sendPostProcess: (requestId, input) => {
        this.#sentRequests.set(requestId, input);
        this.ports.postprocess.send({ type: 'process', requestId, input });
      },
      emit: (type, ...payload) => {
        if (type === 'final') {
          const f = payload[0] as FinalEvent;
          this.finals.push({ utteranceId: f.utteranceId, text: f.text, startMs: f.startMs, endMs: f.endMs });
        } else if (type === 'rejected') {
          const r = payload[0] as RejectedEvent;
          this.rejected.push({ utteranceId: r.utteranceId, reason: r.reason });
        }
      },
      now: () => this.nowMs,
      wallClockOfSample: (p) => this.#clock.at(p),
    });
    this.supervisor = startSupervisor({
      ports: this.ports,
      pipeline,
      host: {
        error: () => undefined,
        warning: () => undefined,
        // WallClockMap replaces a non-epoch stamp with Date.now(): give it the trace's clock instead.
        captureProgress: (written, atMs) => this.#clock.record(written, this.#captureEnded || atMs <= 1e12 ? this.nowMs : atMs),
        overrun: () => undefined,
        endInput: () => undefined,
      },
    });
  }

  play(r: TraceRecord, startedAtEpochMs: number): void {
    this.nowMs = startedAtEpochMs + r.atMs;
    switch (r.kind) {
      case 'command':
        this.#command(r.actor, r.command);
        break;
      case 'control':
        this.supervisor.send({ type: r.type });
        break;
      case 'event':
        this.#event(r);
        break;
      case 'state':
      case 'utterance':
      case 'output':
        break;
    }
  }

  /** Jobs and requests the replay sent that no recorded answer reached. */
  unanswered(): void {
    for (const job of this.#sentJobs.values()) this.notes.push(`decode job ${job.jobId} (${jobSignature(job)}) was sent in the replay but never answered in the recording`);
    for (const [id, input] of this.#sentRequests) this.notes.push(`post-process request ${id} (${requestSignature(input)}) was sent in the replay but never answered in the recording`);
  }

  #command(actor: string, command: unknown): void {
    const c = command as { type?: string; job?: DecodeJobSpec; requestId?: number; input?: PostProcessInput };
    if (actor === 'decode' && c.type === 'job' && c.job) this.#recordedJobs.set(c.job.jobId, c.job);
    if (actor === 'postprocess' && c.type === 'process' && c.input && typeof c.requestId === 'number') this.#recordedRequests.set(c.requestId, c.input);
  }

  #event(r: Extract<TraceRecord, { kind: 'event' }>): void {
    const port = this.ports[r.actor] as ReplayPorts['vad'] & ReplayPorts['decode'];
    if (r.event === 'crashed') return port.crash(deserializeError(r.data as SerializedError), r.restarting ?? false);
    if (r.event === 'restarted') return port.restarted((r.data ?? {}) as Record<string, string>);
    const m = r.data as { type?: string };
    if (r.actor === 'decode' && (m.type === 'result' || m.type === 'jobFailed' || m.type === 'jobCancelled')) return this.#decodeAnswer(m as Extract<DecodeMessage, { jobId: number }>);
    if (r.actor === 'postprocess' && m.type === 'processed') {
      return this.#processed(m as { type: 'processed'; requestId: number; output: PostProcessOutput });
    }
    if (r.actor === 'capture' && m.type === 'ended') this.#captureEnded = true;
    try {
      port.deliver(m as never);
    } finally {
      this.#captureEnded = false;
    }
  }

  #decodeAnswer(m: Extract<DecodeMessage, { jobId: number }>): void {
    const recorded = this.#recordedJobs.get(m.jobId);
    if (!recorded) {
      this.notes.push(`decode ${m.type} for job ${m.jobId}, which the trace never sent: ignored`);
      return;
    }
    const match = take(this.#sentJobs, m.jobId, jobSignature(recorded), jobSignature);
    if (!match) {
      this.notes.push(`decode ${m.type} for recorded job ${m.jobId} (${jobSignature(recorded)}): the replay sent no such job`);
      return;
    }
    this.ports.decode.deliver({ ...m, jobId: match[0] });
  }

  #processed(m: { requestId: number; output: PostProcessOutput }): void {
    const recorded = this.#recordedRequests.get(m.requestId);
    if (!recorded) {
      this.notes.push(`post-process result for request ${m.requestId}, which the trace never sent: ignored`);
      return;
    }
    const match = take(this.#sentRequests, m.requestId, requestSignature(recorded), requestSignature);
    if (!match) {
      this.notes.push(`post-process result for recorded request ${m.requestId} (${requestSignature(recorded)}): the replay sent no such request`);
      return;
    }
    const [requestId, input] = match;
    const output = this.#mode === 'recorded' ? m.output : this.#processor.process(input);
    this.ports.postprocess.deliver({ type: 'processed', requestId, output });
  }
}

function until(supervisor: SupervisorRef, done: (value: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => done(JSON.stringify(supervisor.getSnapshot().value));
    if (check()) return resolve();
    const sub = supervisor.subscribe(() => {
      if (check()) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
}

export function compareFinals(recorded: readonly FinalSummary[], replayed: readonly FinalSummary[]): { identical: number; differences: FinalDifference[] } {
  const byId = new Map(replayed.map((f) => [f.utteranceId, f]));
  const differences: FinalDifference[] = [];
  let identical = 0;
  for (const r of recorded) {
    const p = byId.get(r.utteranceId);
    byId.delete(r.utteranceId);
    if (!p) {
      differences.push({ kind: 'missing', utteranceId: r.utteranceId, recorded: r, replayed: null, fields: [] });
      continue;
    }
    const fields = (['text', 'startMs', 'endMs'] as const).filter((k) => r[k] !== p[k]);
    if (fields.length === 0) identical++;
    else differences.push({ kind: 'changed', utteranceId: r.utteranceId, recorded: r, replayed: p, fields });
  }
  for (const p of byId.values()) differences.push({ kind: 'extra', utteranceId: p.utteranceId, recorded: null, replayed: p, fields: [] });
  return { identical, differences };
}

/** Replays a parsed trace (readTraceFile) and compares its finals with the recorded ones. */
export async function replayTrace(trace: Trace, options: ReplayOptions = {}): Promise<ReplayReport> {
  const replayer = new Replayer(trace, options);
  const { supervisor } = replayer;
  await until(supervisor, (v) => !v.includes('starting'));
  for (const r of trace.records) replayer.play(r, trace.header.startedAtEpochMs);
  if (supervisor.getSnapshot().matches('closing')) await until(supervisor, (v) => v === '"closed"');
  replayer.unanswered();
  supervisor.stop();

  const recordedFinals: FinalSummary[] = [];
  const recordedRejected: RejectedSummary[] = [];
  for (const r of trace.records) {
    if (r.kind !== 'output') continue;
    if (r.type === 'final') {
      const f = r.payload as FinalEvent;
      recordedFinals.push({ utteranceId: f.utteranceId, text: f.text, startMs: f.startMs, endMs: f.endMs });
    } else if (r.type === 'rejected') {
      const x = r.payload as RejectedEvent;
      recordedRejected.push({ utteranceId: x.utteranceId, reason: x.reason });
    }
  }
  const { identical, differences } = compareFinals(recordedFinals, replayer.finals);
  return {
    recordedFinals,
    replayedFinals: replayer.finals,
    identical,
    differences,
    recordedRejected,
    replayedRejected: replayer.rejected,
    notes: [...trace.warnings, ...replayer.notes],
  };
}
