/**
 * The utterance pipeline the supervisor drives: VAD events in, decode jobs and post-process
 * requests out, user events emitted. Pure logic with injected ports (no threads, no timers), so
 * unit tests script every actor message; src/state/supervisor.ts feeds it from the real workers.
 *
 * Each utterance goes idle → speech ⇄ endpointing → decoding → postprocessing → emitted | rejected.
 * - Partials: every `partialIntervalMs` of NEW audio (VAD progress positions, never wall time) a
 *   partial of [start, position) is queued, once the VAD's last window is confident speech
 *   (partialMinSpeechProbability: fading speech may be a pause starting, whose final would wait
 *   for the partial's encoder pass); LocalAgreement-2 splits successive texts into stable and
 *   unstable words.
 * - Speculative final: at pauseStart a final of [start, pauseEnd) is queued, unless the audio that
 *   settles the pause has already arrived (endpointSilenceMs). speechResumed voids it (counted); a
 *   speechEnd with the same end adopts it (its result, or its job still queued or in flight) so the
 *   endpoint costs no second decode.
 * - Decoding (src/state/decode-dispatcher.ts): DecodeQueue's backpressure (partials dropped first,
 *   by reason; finals never), one job in flight, re-sent to a restarted worker. The job in flight
 *   is cancelled in the worker when its result stopped mattering: a partial when a final is queued
 *   behind it ('preempted': the final must not wait for it) or when its utterance misfired
 *   ('stale'), a speculative final when speech resumed.
 */
import { LocalAgreement } from '../actors/decode/local-agreement.js';
import type { DecodeJobSpec, DecodeResultMessage } from '../actors/decode/decode.protocol.js';
import type { PostProcessOutput } from '../actors/postprocess/postprocess.protocol.js';
import type { SpeechEndReason, VadEvent } from '../actors/vad/vad.protocol.js';
import { DecodeDispatcher, type QueuedJob } from './decode-dispatcher.js';
import { PostProcessRequests, finalEvent, type DecodedResult } from './post-requests.js';
import { emptyCounters, recordDecodeMs, recordDraft, snapshotMetrics, type PipelineCounters } from './pipeline-metrics.js';
import type { EngineMetrics } from '../engine/events.js';
import type { PipelineOptions, PipelinePorts, UtteranceState } from './pipeline-ports.js';

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
  /** It begins at a max-length cut, inside speech: its first words may end a sentence (DecodeJobSpec.startsMidSpeech). */
  readonly startsMidSpeech: boolean;
}

export class Pipeline {
  readonly #options: PipelineOptions;
  readonly #ports: PipelinePorts;
  readonly #decodes: DecodeDispatcher;
  readonly #utterances = new Map<number, Utterance>();
  readonly #post: PostProcessRequests;
  readonly #counters: PipelineCounters = emptyCounters();
  /** How long the last partial took in the worker (its `totalMs`): paces the next ones. */
  #lastPartialDecodeMs = 0;
  /** The furthest stream position the VAD has reported. */
  #vadPosition = 0;
  #maxUtteranceId = 0;

  constructor(options: PipelineOptions, ports: PipelinePorts) {
    this.#options = options;
    this.#ports = ports;
    this.#post = new PostProcessRequests(ports.sendPostProcess, ports.now);
    this.#decodes = new DecodeDispatcher(
      options.maxPendingPartials,
      {
        send: ports.sendDecode,
        cancel: ports.cancelDecode,
        now: ports.now,
        partialWanted: (id) => {
          const state = this.#utterances.get(id)?.state;
          return state === 'speech' || state === 'endpointing';
        },
      },
      this.#counters,
    );
  }

  /** Nothing open, queued, in flight or being post-processed. */
  get idle(): boolean {
    return this.#utterances.size === 0 && this.#decodes.idle && this.#post.pending === 0;
  }

  get openUtterances(): number {
    return this.#utterances.size;
  }

  metrics(restarts: EngineMetrics['restarts'], ringOverrunSamples: number): EngineMetrics {
    return snapshotMetrics(this.#counters, restarts, ringOverrunSamples, this.#decodes.queueDepth);
  }

  // ---- decode worker availability -------------------------------------------------------------

  decoderReady(): void {
    const dropped = this.#decodes.ready();
    if (dropped) this.#redoFinal(dropped.job);
    this.#decodes.dispatch();
  }

  decoderDown(): void {
    this.#decodes.down();
  }

  postprocessReady(): void {
    this.#post.ready();
  }

  postprocessDown(): void {
    this.#post.down();
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
        const u = this.#open(event.utteranceId, event.startSamples, event.startsMidSpeech === true);
        this.#ports.emit('speechStart', { utteranceId: u.id, startMs: this.#ms(event.startSamples) });
        break;
      }
      case 'pauseStart': {
        const u = this.#utterances.get(event.utteranceId);
        if (!u || u.state !== 'speech') break;
        this.#setState(u, 'endpointing');
        if (this.#pauseAlreadySettled(event.endSamples)) break;
        const job = this.#enqueue('final', u, event.endSamples, true);
        u.speculative = { jobId: job.spec.jobId, endSamples: event.endSamples, decoded: null };
        this.#decodes.dispatch();
        break;
      }
      case 'speechResumed': {
        const u = this.#utterances.get(event.utteranceId);
        if (!u || u.state !== 'endpointing') break;
        this.#voidSpeculative(u);
        this.#setState(u, 'speech');
        this.#decodes.dispatch();
        break;
      }
      case 'speechEnd':
        this.#speechEnd(event.utteranceId, event.startSamples, event.endSamples, event.reason);
        break;
      case 'misfire': {
        this.#counters.misfires++;
        const u = this.#utterances.get(event.utteranceId);
        if (u) this.#voidSpeculative(u);
        this.#decodes.cancelPartialOf(event.utteranceId);
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
        this.#decodes.dispatch();
        break;
      }
      default:
        assertNever(event);
    }
  }

  /**
   * VAD progress: how far the arena is written, and the last window's speech probability. Partials
   * follow audio positions, not wall time.
   */
  onVadProgress(positionSamples: number, probability?: number): void {
    this.#vadPosition = Math.max(this.#vadPosition, positionSamples);
    if (!this.#options.partialsEnabled) return;
    const first = this.#samples(this.#options.partialIntervalMs);
    const share = this.#options.partialMaxDecodeShare ?? null;
    const paced = share === null ? first : Math.max(first, this.#samples(this.#lastPartialDecodeMs / share));
    const minProbability = this.#options.partialMinSpeechProbability;
    for (const u of this.#utterances.values()) {
      // The first partial of an utterance comes as soon as it can: the decoder has usually been idle.
      const interval = u.lastPartialEndSamples === u.startSamples ? first : paced;
      if (u.state !== 'speech' || positionSamples - u.lastPartialEndSamples < interval) continue;
      // Fading speech: the partial waits for the next report (a pause may be starting).
      if (minProbability !== undefined && probability !== undefined && probability < minProbability) continue;
      u.lastPartialEndSamples = positionSamples;
      if (this.#fasterThanRealTime(u.startSamples, positionSamples)) {
        this.#counters.partialDrops['fast-input']++;
        continue;
      }
      this.#enqueue('partial', u, positionSamples, false);
    }
    this.#decodes.dispatch();
  }

  // ---- decode results ---------------------------------------------------------------------------

  onDecodeResult(result: DecodeResultMessage): void {
    const answered = this.#decodes.answered(result.jobId);
    if (!answered) return;
    const { spec } = answered.job;
    recordDecodeMs(this.#counters, result.kind, result.timings.totalMs, this.#ms(spec.endSamples - spec.startSamples));
    if (result.draft !== undefined) recordDraft(this.#counters, result.draft);
    if (result.kind === 'partial') this.#lastPartialDecodeMs = result.timings.totalMs;
    if (!answered.voided) this.#onDecoded(answered.job, { result, queueMs: answered.queueMs });
    this.#decodes.dispatch();
  }

  /** The worker dropped a job the pipeline cancelled. */
  onDecodeCancelled(jobId: number, ranMs = 0): void {
    const dropped = this.#decodes.cancelled(jobId, ranMs);
    if (dropped) this.#redoFinal(dropped.job);
    this.#decodes.dispatch();
  }

  onDecodeFailed(jobId: number, error: Error): void {
    const answered = this.#decodes.answered(jobId);
    if (!answered) return;
    const { spec } = answered.job;
    const u = this.#utterances.get(spec.utteranceId);
    if (spec.kind === 'final' && u && !answered.voided) {
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
    this.#decodes.dispatch();
  }

  // ---- post-process results ---------------------------------------------------------------------

  onPostProcessed(requestId: number, output: PostProcessOutput): void {
    const request = this.#post.take(requestId);
    if (!request) return;
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
    if (output.rejected !== null) {
      if (u) this.#setState(u, 'rejected');
      this.#counters.rejected++;
      const [startMs, endMs] = [this.#ms(request.startSamples), this.#ms(request.endSamples)];
      this.#ports.emit('rejected', { utteranceId: request.utteranceId, reason: output.rejected, startMs, endMs, text: request.input.text });
      return;
    }
    const now = this.#ports.now();
    const lastSpeech = Math.max(request.startSamples, request.endSamples - this.#samples(this.#options.postRollMs));
    const enteredAt = this.#ports.wallClockOfSample(lastSpeech);
    if (u) this.#setState(u, 'emitted');
    this.#counters.finals++;
    if (request.decoded.result.beamNarrowed === true) this.#counters.beamNarrowedFinals++;
    this.#ports.emit('final', finalEvent(request, output, (n) => this.#ms(n), now, enteredAt));
  }

  // ---- internals --------------------------------------------------------------------------------

  #open(id: number, startSamples: number, startsMidSpeech = false): Utterance {
    const u: Utterance = {
      id,
      startSamples,
      state: 'idle',
      lastPartialEndSamples: startSamples,
      agreement: new LocalAgreement(),
      speculative: null,
      finalJobId: null,
      endSamples: null,
      startsMidSpeech,
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
    this.#decodes.dispatch();
  }

  #voidSpeculative(u: Utterance): void {
    if (!u.speculative) return;
    this.#counters.speculativeDiscarded++;
    // A job still queued or in flight is skipped, cancelled or ignored; a result already here is dropped.
    if (!u.speculative.decoded) this.#decodes.void(u.speculative.jobId);
    u.speculative = null;
  }

  /**
   * A cancelled final. Only voided speculative finals are cancelled; should one still be an
   * utterance's final, it is decoded again rather than lost.
   */
  #redoFinal(job: QueuedJob): void {
    const u = this.#utterances.get(job.utteranceId);
    if (job.kind !== 'final' || !u || u.finalJobId !== job.spec.jobId) return;
    u.finalJobId = this.#enqueue('final', u, u.endSamples ?? job.spec.endSamples, false).spec.jobId;
  }

  #enqueue(kind: 'partial' | 'final', u: Utterance, endSamples: number, speculative: boolean): QueuedJob {
    const final = kind === 'final';
    const spec: DecodeJobSpec = {
      jobId: this.#decodes.nextJobId(),
      kind,
      utteranceId: u.id,
      startSamples: u.startSamples,
      endSamples,
      language: this.#options.language,
      beamSize: final ? this.#options.beamSize : 1,
      temperatures: final ? this.#options.temperatures : [0],
      ...(this.#options.shortWindowMarginMs !== undefined ? { shortWindowMarginMs: this.#options.shortWindowMarginMs } : {}),
      ...(final && this.#options.beamNarrowAfterMs != null ? { beamNarrowAfterMs: this.#options.beamNarrowAfterMs } : {}),
      ...(this.#options.drafts === false ? { drafts: false } : {}),
      initialPrompt: this.#options.initialPrompt,
      hotwords: this.#options.hotwords,
      speculative,
      ...(u.startsMidSpeech ? { startsMidSpeech: true } : {}),
    };
    return this.#decodes.enqueue(spec);
  }

  #onDecoded(job: QueuedJob, decoded: DecodedResult): void {
    const { spec } = job;
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
    if (decoded.result.kind === 'final') this.#setState(u, 'postprocessing');
    this.#post.request(u.id, decoded, u.startSamples, endSamples, speculative);
  }

  /** Whether the audio that ends or resumes a pause starting at `endSamples` has already arrived. */
  #pauseAlreadySettled(endSamples: number): boolean {
    const silence = this.#options.endpointSilenceMs;
    if (silence === undefined) return false;
    return this.#ports.wallClockOfSample(endSamples + this.#samples(silence) - 1) !== null;
  }

  /** Whether [start, end) entered the engine faster than partialMaxInputSpeed × real time. */
  #fasterThanRealTime(startSamples: number, endSamples: number): boolean {
    const limit = this.#options.partialMaxInputSpeed;
    if (limit === null) return false;
    const first = this.#ports.wallClockOfSample(startSamples);
    if (first === null) return false;
    // The VAD reads the shared ring directly, so it can reach samples before capture's progress
    // for them reaches this thread; they entered no later than now. (A request sent whole used to
    // get a partial here, and its final waited 30–120 ms behind that partial's encoder pass.)
    const last = this.#ports.wallClockOfSample(endSamples - 1) ?? this.#ports.now();
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
