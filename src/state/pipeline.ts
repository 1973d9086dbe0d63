/**
 * The utterance pipeline the supervisor drives: VAD events in, decode jobs and post-process
 * requests out, user events emitted. Pure logic with injected ports (no threads, no timers), so
 * unit tests script every actor message; src/state/supervisor.ts feeds it from the real workers.
 *
 * Each utterance goes idle → speech ⇄ endpointing → decoding → postprocessing → emitted | rejected.
 * - Partials: every `partialIntervalMs` of NEW audio (VAD progress positions, never wall time) a
 *   partial of [start, position) is queued; LocalAgreement-2 splits successive texts into stable
 *   and unstable words.
 * - Speculative final: at pauseStart a final of [start, pauseEnd) is queued. speechResumed voids
 *   it (counted); a speechEnd with the same end adopts it (its result, or its job still queued or in
 *   flight) so the endpoint costs no second decode.
 * - Backpressure: DecodeQueue (partials dropped first, by reason; finals never); one job in flight.
 * - Cancellation: the job in flight is cancelled in the worker when its result stopped mattering —
 *   a partial when a final is queued behind it ('preempted': the final must not wait for it) or
 *   when its utterance misfired ('stale'), a speculative final when speech resumed. It stays in
 *   flight until the worker answers (jobCancelled, or its result if the cancel came too late).
 * - Crash: the in-flight job is re-sent to the restarted decode worker (its audio is still in the
 *   arena); the dead worker's result can never arrive, so the final is delivered exactly once.
 */
import { LocalAgreement } from '../actors/decode/local-agreement.js';
import type { DecodeJobSpec, DecodeResultMessage } from '../actors/decode/decode.protocol.js';
import type { PostProcessInput, PostProcessOutput } from '../actors/postprocess/postprocess.protocol.js';
import type { SpeechEndReason, VadEvent } from '../actors/vad/vad.protocol.js';
import { DecodeQueue, type DecodeJob, type DroppedJob } from './decode-queue.js';
import { emptyCounters, recordDecodeMs, snapshotMetrics, type PipelineCounters } from './pipeline-metrics.js';
import type { EngineEventMap, EngineMetrics } from '../engine/events.js';

export type UtteranceState = 'idle' | 'speech' | 'endpointing' | 'decoding' | 'postprocessing' | 'emitted' | 'rejected';

export interface PipelineOptions {
  readonly sampleRate: number;
  readonly language: string;
  readonly beamSize: number;
  readonly temperatures: readonly number[];
  readonly initialPrompt: string | null;
  readonly hotwords: string | null;
  readonly partialsEnabled: boolean;
  readonly partialIntervalMs: number;
  /**
   * Partials are for someone watching a live speaker. When an utterance's audio arrives more than
   * this many times faster than real time (a file, a client sending a whole recording at once),
   * its final will be ready before a partial could be read, and a partial in flight would only
   * delay that final: such partials are skipped and counted ('fast-input'). null: never skip.
   */
  readonly partialMaxInputSpeed: number | null;
  readonly maxPendingPartials: number;
  /** Audio after the last speech window inside an utterance's end (VAD post-roll). */
  readonly postRollMs: number;
}

export type PipelineEmit = <K extends 'final' | 'partial' | 'speechStart' | 'speechEnd' | 'rejected' | 'error'>(
  type: K,
  ...payload: EngineEventMap[K]
) => void;

export interface PipelinePorts {
  readonly sendDecode: (job: DecodeJobSpec) => void;
  /** Asks the decode worker to drop a job; absent: jobs always run to the end. */
  readonly cancelDecode?: (jobId: number) => void;
  readonly sendPostProcess: (requestId: number, input: PostProcessInput) => void;
  readonly emit: PipelineEmit;
  /** Wall clock in ms (epoch), the same clock capture's `progress.atMs` uses. */
  readonly now: () => number;
  /** When the sample at this 16 kHz position entered the engine (epoch ms), or null if unknown. */
  readonly wallClockOfSample: (positionSamples: number) => number | null;
  readonly onUtteranceState?: (utteranceId: number, state: UtteranceState) => void;
}

interface QueuedJob extends DecodeJob {
  readonly spec: DecodeJobSpec;
  readonly enqueuedAtMs: number;
}

/** Why the job in flight was cancelled (its drop reason for partials). */
type CancelReason = 'preempted' | 'stale' | 'voided';

interface InFlight {
  readonly job: QueuedJob;
  readonly queueMs: number;
  cancelled: CancelReason | null;
}

interface DecodedResult {
  readonly result: DecodeResultMessage;
  readonly queueMs: number;
}

interface Utterance {
  readonly id: number;
  startSamples: number;
  state: UtteranceState;
  lastPartialEndSamples: number;
  readonly agreement: LocalAgreement;
  /** The speculative final of the current pause: its job, and its result once decoded. */
  speculative: { jobId: number; endSamples: number; decoded: DecodedResult | null } | null;
  /** The job whose result is this utterance's final. */
  finalJobId: number | null;
  endSamples: number | null;
}

interface PostRequest {
  readonly utteranceId: number;
  readonly input: PostProcessInput;
  readonly decoded: DecodedResult;
  readonly startSamples: number;
  readonly endSamples: number;
  readonly speculative: boolean;
  readonly sentAtMs: number;
}

export class Pipeline {
  readonly #options: PipelineOptions;
  readonly #ports: PipelinePorts;
  readonly #queue: DecodeQueue<QueuedJob>;
  readonly #utterances = new Map<number, Utterance>();
  readonly #voidedJobs = new Set<number>();
  readonly #postRequests = new Map<number, PostRequest>();
  readonly #counters: PipelineCounters = emptyCounters();
  #inFlight: InFlight | null = null;
  #decoderUp = false;
  #postprocessUp = false;
  #nextJobId = 1;
  #nextRequestId = 1;
  /** The furthest stream position the VAD has reported. */
  #vadPosition = 0;
  #maxUtteranceId = 0;

  constructor(options: PipelineOptions, ports: PipelinePorts) {
    this.#options = options;
    this.#ports = ports;
    this.#queue = new DecodeQueue<QueuedJob>(options.maxPendingPartials);
  }

  /** Nothing open, queued, in flight or being post-processed. */
  get idle(): boolean {
    return (
      this.#utterances.size === 0 &&
      this.#queue.pendingFinals + this.#queue.pendingPartials === 0 &&
      this.#inFlight === null &&
      this.#postRequests.size === 0
    );
  }

  get openUtterances(): number {
    return this.#utterances.size;
  }

  metrics(restarts: EngineMetrics['restarts'], ringOverrunSamples: number): EngineMetrics {
    return snapshotMetrics(this.#counters, restarts, ringOverrunSamples, {
      finals: this.#queue.pendingFinals,
      partials: this.#queue.pendingPartials,
    });
  }

  // ---- decode worker availability -------------------------------------------------------------

  decoderReady(): void {
    this.#decoderUp = true;
    if (this.#inFlight?.cancelled) {
      // Died while cancelling: the job is not wanted, so it is not replayed.
      this.#cancelled(this.#inFlight, 0);
    } else if (this.#inFlight) {
      // The worker that had this job died: its result can never arrive, so re-sending cannot duplicate.
      this.#counters.replayedJobs++;
      this.#ports.sendDecode(this.#inFlight.job.spec);
      return;
    }
    this.#dispatch();
  }

  decoderDown(): void {
    this.#decoderUp = false;
  }

  postprocessReady(): void {
    this.#postprocessUp = true;
    for (const [requestId, request] of this.#postRequests) this.#ports.sendPostProcess(requestId, request.input);
  }

  postprocessDown(): void {
    this.#postprocessUp = false;
  }

  // ---- VAD --------------------------------------------------------------------------------------

  /** The first utterance id a restarted VAD worker may use (ids are never reused). */
  get nextUtteranceId(): number {
    return this.#maxUtteranceId + 1;
  }

  /**
   * The VAD worker died: the utterances it had open will get no more events. Each ends where the
   * VAD last reported (as at end of input: reason 'flush') and is decoded, so its final still comes;
   * a restarted VAD resumes at the arena's head with new utterance ids. An utterance with no audio
   * reported yet is a misfire.
   */
  vadDown(): void {
    for (const u of [...this.#utterances.values()]) {
      if (u.state !== 'speech' && u.state !== 'endpointing') continue;
      if (this.#vadPosition > u.startSamples) {
        this.#speechEnd(u.id, u.startSamples, this.#vadPosition, 'flush');
      } else {
        this.onVadEvent({ type: 'misfire', utteranceId: u.id, startSamples: u.startSamples, endSamples: u.startSamples });
      }
    }
  }

  onVadEvent(event: VadEvent): void {
    switch (event.type) {
      case 'speechStart': {
        this.#counters.utterances++;
        const u = this.#open(event.utteranceId, event.startSamples);
        this.#ports.emit('speechStart', { utteranceId: u.id, startMs: this.#ms(event.startSamples) });
        break;
      }
      case 'pauseStart': {
        const u = this.#utterances.get(event.utteranceId);
        if (!u || u.state !== 'speech') break;
        this.#setState(u, 'endpointing');
        const job = this.#enqueue('final', u, event.endSamples, true);
        u.speculative = { jobId: job.spec.jobId, endSamples: event.endSamples, decoded: null };
        this.#dispatch();
        break;
      }
      case 'speechResumed': {
        const u = this.#utterances.get(event.utteranceId);
        if (!u || u.state !== 'endpointing') break;
        this.#voidSpeculative(u);
        this.#setState(u, 'speech');
        this.#dispatch();
        break;
      }
      case 'speechEnd':
        this.#speechEnd(event.utteranceId, event.startSamples, event.endSamples, event.reason);
        break;
      case 'misfire': {
        this.#counters.misfires++;
        const u = this.#utterances.get(event.utteranceId);
        if (u) this.#voidSpeculative(u);
        const inFlight = this.#inFlight;
        if (inFlight?.job.kind === 'partial' && inFlight.job.utteranceId === event.utteranceId) this.#cancelInFlight('stale');
        this.#utterances.delete(event.utteranceId);
        if (u) this.#setState(u, 'rejected');
        this.#counters.rejected++;
        this.#ports.emit('rejected', {
          utteranceId: event.utteranceId,
          reason: 'misfire',
          startMs: this.#ms(event.startSamples),
          endMs: this.#ms(event.endSamples),
          text: '',
        });
        this.#dispatch();
        break;
      }
      default:
        assertNever(event);
    }
  }

  /** VAD progress: how far the arena is written. Partials follow audio positions, not wall time. */
  onVadProgress(positionSamples: number): void {
    this.#vadPosition = Math.max(this.#vadPosition, positionSamples);
    if (!this.#options.partialsEnabled) return;
    const interval = Math.round((this.#options.partialIntervalMs * this.#options.sampleRate) / 1000);
    for (const u of this.#utterances.values()) {
      if (u.state !== 'speech' || positionSamples - u.lastPartialEndSamples < interval) continue;
      u.lastPartialEndSamples = positionSamples;
      if (this.#fasterThanRealTime(u.startSamples, positionSamples)) {
        this.#counters.partialDrops['fast-input']++;
        continue;
      }
      this.#enqueue('partial', u, positionSamples, false);
    }
    this.#dispatch();
  }

  // ---- decode results ---------------------------------------------------------------------------

  onDecodeResult(result: DecodeResultMessage): void {
    const inFlight = this.#inFlight;
    if (!inFlight || inFlight.job.spec.jobId !== result.jobId) return;
    this.#inFlight = null;
    const decoded: DecodedResult = { result, queueMs: inFlight.queueMs };
    const { spec } = inFlight.job;
    recordDecodeMs(this.#counters, result.kind, result.timings.totalMs, this.#ms(spec.endSamples - spec.startSamples));
    this.#onDecoded(inFlight.job, decoded);
    this.#dispatch();
  }

  /** The worker dropped a job the pipeline cancelled. */
  onDecodeCancelled(jobId: number, ranMs = 0): void {
    const inFlight = this.#inFlight;
    if (!inFlight || inFlight.job.spec.jobId !== jobId) return;
    this.#cancelled(inFlight, ranMs);
    this.#dispatch();
  }

  onDecodeFailed(jobId: number, error: Error): void {
    const inFlight = this.#inFlight;
    if (!inFlight || inFlight.job.spec.jobId !== jobId) return;
    this.#inFlight = null;
    const { spec } = inFlight.job;
    const u = this.#utterances.get(spec.utteranceId);
    if (spec.kind === 'final' && u && !this.#voidedJobs.delete(spec.jobId)) {
      if (u.speculative?.jobId === spec.jobId && u.finalJobId === null) {
        // A failed speculative decode is no loss yet: speechEnd will queue a fresh final.
        u.speculative = null;
      } else {
        this.#utterances.delete(u.id);
        this.#setState(u, 'rejected');
        this.#counters.rejected++;
        this.#ports.emit('error', { error, utteranceId: u.id, source: 'decode' });
        this.#ports.emit('rejected', {
          utteranceId: u.id,
          reason: 'decode-failed',
          startMs: this.#ms(spec.startSamples),
          endMs: this.#ms(spec.endSamples),
          text: '',
        });
      }
    } else {
      this.#counters.failedPartials++;
    }
    this.#dispatch();
  }

  // ---- post-process results ---------------------------------------------------------------------

  onPostProcessed(requestId: number, output: PostProcessOutput): void {
    const request = this.#postRequests.get(requestId);
    if (!request) return;
    this.#postRequests.delete(requestId);
    const u = this.#utterances.get(request.utteranceId);
    if (output.kind === 'partial') {
      // A partial that arrives after its utterance ended would contradict the final: dropped, counted.
      if (!u || (u.state !== 'speech' && u.state !== 'endpointing') || output.rejected !== null) {
        this.#counters.partialsNotShown++;
        return;
      }
      const agreed = u.agreement.update(output.text);
      this.#counters.partials++;
      this.#ports.emit('partial', {
        utteranceId: u.id,
        text: output.text,
        stable: agreed.stable,
        unstable: agreed.unstable,
        startMs: this.#ms(request.startSamples),
        endMs: this.#ms(request.endSamples),
      });
      return;
    }
    if (u) this.#utterances.delete(u.id);
    const startMs = this.#ms(request.startSamples);
    const endMs = this.#ms(request.endSamples);
    if (output.rejected !== null) {
      if (u) this.#setState(u, 'rejected');
      this.#counters.rejected++;
      this.#ports.emit('rejected', { utteranceId: request.utteranceId, reason: output.rejected, startMs, endMs, text: request.input.text });
      return;
    }
    const now = this.#ports.now();
    const lastSpeech = Math.max(request.startSamples, request.endSamples - this.#samples(this.#options.postRollMs));
    const enteredAt = this.#ports.wallClockOfSample(lastSpeech);
    if (u) this.#setState(u, 'emitted');
    this.#counters.finals++;
    this.#ports.emit('final', {
      utteranceId: request.utteranceId,
      text: output.text,
      language: request.decoded.result.language,
      startMs,
      endMs,
      speculative: request.speculative,
      timings: {
        decodeMs: request.decoded.result.timings.totalMs,
        queueMs: request.decoded.queueMs,
        postProcessMs: now - request.sentAtMs,
        endOfSpeechToFinalMs: enteredAt === null ? null : Math.max(0, now - enteredAt),
      },
      corrections: output.corrections,
    });
  }

  // ---- internals --------------------------------------------------------------------------------

  #open(id: number, startSamples: number): Utterance {
    const u: Utterance = {
      id,
      startSamples,
      state: 'idle',
      lastPartialEndSamples: startSamples,
      agreement: new LocalAgreement(),
      speculative: null,
      finalJobId: null,
      endSamples: null,
    };
    this.#utterances.set(id, u);
    this.#maxUtteranceId = Math.max(this.#maxUtteranceId, id);
    this.#setState(u, 'speech');
    return u;
  }

  #speechEnd(id: number, startSamples: number, endSamples: number, reason: SpeechEndReason): void {
    const u = this.#utterances.get(id) ?? this.#open(id, startSamples);
    u.startSamples = startSamples;
    u.endSamples = endSamples;
    this.#ports.emit('speechEnd', { utteranceId: id, startMs: this.#ms(startSamples), endMs: this.#ms(endSamples), reason });
    const spec = u.speculative;
    this.#setState(u, 'decoding');
    // The VAD names a pause's end before its post-roll is read (it cannot name audio not yet in the
    // arena), so the endpoint may add up to postRoll samples of pause: those are not speech, and the
    // speculative decode still stands for the utterance.
    const extra = spec ? endSamples - spec.endSamples : -1;
    if (spec && extra >= 0 && extra <= this.#samples(this.#options.postRollMs)) {
      this.#counters.speculativeReused++;
      u.finalJobId = spec.jobId;
      u.speculative = null;
      if (spec.decoded) this.#postProcess(u, spec.decoded, true, endSamples);
    } else {
      this.#voidSpeculative(u);
      u.finalJobId = this.#enqueue('final', u, endSamples, false).spec.jobId;
    }
    this.#dispatch();
  }

  #voidSpeculative(u: Utterance): void {
    if (!u.speculative) return;
    this.#counters.speculativeDiscarded++;
    // A job still queued or in flight is skipped or ignored when its turn or its result comes.
    if (!u.speculative.decoded) this.#voidedJobs.add(u.speculative.jobId);
    if (this.#inFlight?.job.spec.jobId === u.speculative.jobId) this.#cancelInFlight('voided');
    u.speculative = null;
  }

  /** Asks the worker to drop the job in flight; it stays in flight until the worker answers. */
  #cancelInFlight(reason: CancelReason): void {
    const inFlight = this.#inFlight;
    const cancel = this.#ports.cancelDecode;
    if (!inFlight || inFlight.cancelled !== null || !cancel) return;
    inFlight.cancelled = reason;
    cancel(inFlight.job.spec.jobId);
  }

  /** The job in flight was dropped by the worker (or died with it while being cancelled). */
  #cancelled(inFlight: InFlight, ranMs: number): void {
    this.#inFlight = null;
    const { spec } = inFlight.job;
    const c = this.#counters.cancelledDecodes;
    c.ranMs += ranMs;
    if (spec.kind === 'partial') {
      c.partial++;
      this.#counters.partialDrops[inFlight.cancelled === 'stale' ? 'stale' : 'preempted']++;
      return;
    }
    c.final++;
    this.#voidedJobs.delete(spec.jobId);
    const u = this.#utterances.get(spec.utteranceId);
    // Only voided speculative finals are cancelled; should one still be an utterance's final, it is
    // decoded again rather than lost.
    if (u && u.finalJobId === spec.jobId) u.finalJobId = this.#enqueue('final', u, u.endSamples ?? spec.endSamples, false).spec.jobId;
  }

  #enqueue(kind: 'partial' | 'final', u: Utterance, endSamples: number, speculative: boolean): QueuedJob {
    const final = kind === 'final';
    const spec: DecodeJobSpec = {
      jobId: this.#nextJobId++,
      kind,
      utteranceId: u.id,
      startSamples: u.startSamples,
      endSamples,
      language: this.#options.language,
      beamSize: final ? this.#options.beamSize : 1,
      temperatures: final ? this.#options.temperatures : [0],
      initialPrompt: this.#options.initialPrompt,
      hotwords: this.#options.hotwords,
      speculative,
    };
    const job: QueuedJob = { kind, utteranceId: u.id, spec, enqueuedAtMs: this.#ports.now() };
    this.#countDrops(this.#queue.enqueue(job));
    // A final never waits for a partial: the one being decoded is cancelled.
    if (final && this.#inFlight?.job.kind === 'partial') this.#cancelInFlight('preempted');
    return job;
  }

  #countDrops(dropped: readonly DroppedJob<QueuedJob>[]): void {
    for (const d of dropped) this.#counters.partialDrops[d.reason]++;
  }

  #dispatch(): void {
    while (this.#decoderUp && this.#inFlight === null) {
      const job = this.#queue.next();
      if (!job) return;
      if (this.#voidedJobs.delete(job.spec.jobId)) continue;
      if (job.kind === 'partial') {
        const u = this.#utterances.get(job.utteranceId);
        if (!u || (u.state !== 'speech' && u.state !== 'endpointing')) {
          this.#counters.partialDrops.stale++;
          continue;
        }
      }
      this.#inFlight = { job, queueMs: this.#ports.now() - job.enqueuedAtMs, cancelled: null };
      this.#ports.sendDecode(job.spec);
    }
  }

  #onDecoded(job: QueuedJob, decoded: DecodedResult): void {
    const { spec } = job;
    if (this.#voidedJobs.delete(spec.jobId)) return;
    const u = this.#utterances.get(spec.utteranceId);
    if (!u) return;
    if (spec.kind === 'partial') {
      if (u.state === 'speech' || u.state === 'endpointing') this.#postProcess(u, decoded, false, spec.endSamples);
      else this.#counters.partialsNotShown++;
      return;
    }
    if (u.finalJobId === spec.jobId) {
      this.#postProcess(u, decoded, spec.speculative, u.endSamples ?? spec.endSamples);
      return;
    }
    // A speculative result waiting for speechEnd (or speechResumed) to decide its fate.
    if (u.speculative?.jobId === spec.jobId) u.speculative.decoded = decoded;
  }

  #postProcess(u: Utterance, decoded: DecodedResult, speculative: boolean, endSamples: number): void {
    const { result } = decoded;
    if (result.kind === 'final') this.#setState(u, 'postprocessing');
    const requestId = this.#nextRequestId++;
    const input: PostProcessInput = {
      utteranceId: u.id,
      kind: result.kind,
      text: result.text,
      language: result.language,
      avgLogprob: result.avgLogprob,
      noSpeechProb: result.noSpeechProb,
      compressionRatio: result.compressionRatio,
    };
    const startSamples = u.startSamples;
    this.#postRequests.set(requestId, { utteranceId: u.id, input, decoded, startSamples, endSamples, speculative, sentAtMs: this.#ports.now() });
    if (this.#postprocessUp) this.#ports.sendPostProcess(requestId, input);
  }

  /** Whether [start, end) entered the engine faster than partialMaxInputSpeed × real time. */
  #fasterThanRealTime(startSamples: number, endSamples: number): boolean {
    const limit = this.#options.partialMaxInputSpeed;
    if (limit === null) return false;
    const first = this.#ports.wallClockOfSample(startSamples);
    const last = this.#ports.wallClockOfSample(endSamples - 1);
    if (first === null || last === null) return false;
    return (last - first) * limit < this.#ms(endSamples - startSamples);
  }

  #setState(u: Utterance, state: UtteranceState): void {
    u.state = state;
    this.#ports.onUtteranceState?.(u.id, state);
  }

  #ms(samples: number): number {
    return Math.round((samples * 1000) / this.#options.sampleRate);
  }

  #samples(ms: number): number {
    return Math.round((ms * this.#options.sampleRate) / 1000);
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown VAD event ${JSON.stringify(value)}`);
}
