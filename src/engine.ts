/**
 * createEngine(): the real-time engine's public API. It lays out the shared memory (push ring,
 * capture → VAD ring, utterance arena), builds one WorkerBridge per actor, and hands them to the
 * XState supervisor (src/state/supervisor.ts), which starts them in order and drives the utterance
 * pipeline. The Engine is a typed EventEmitter plus an async iterator of finals.
 */
import { EventEmitter } from 'node:events';
import type { DecodeCommand } from './actors/decode/decode.protocol.js';
import type { PostProcessCommand } from './actors/postprocess/postprocess.protocol.js';
import { FinalStream } from './engine/final-stream.js';
import { createActorPorts } from './engine/actor-ports.js';
import type { EngineErrorEvent, EngineEventMap, EngineMetrics, FinalEvent } from './engine/events.js';
import { resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from './engine/options.js';
import type { PushInput } from './engine/push-input.js';
import { WallClockMap } from './engine/wall-clock.js';
import { EngineTracer } from './engine/tracer.js';
import type { TraceHeader, TraceOutputType, TraceRecord } from './engine/trace.js';
import { WorkerBridge } from './engine/worker-bridge.js';
import { eventLoopLag, startEventLoopMonitor } from './observe/event-loop.js';
import { InvalidOptionError, type SttError } from './errors.js';
import { UtteranceArenaPin, UtteranceArenaReader, createUtteranceArena } from './shm/index.js';
import { Pipeline } from './state/pipeline.js';
import type { PipelineOptions } from './state/pipeline-ports.js';
import { startSupervisor, type SupervisorPorts, type SupervisorRef } from './state/supervisor.js';

export type { EngineOptions, EngineInput } from './engine/options.js';
export type * from './engine/events.js';
export { listAudioDevices } from './engine/devices.js';

/** Everything after capture runs at Whisper's rate. */
const SAMPLE_RATE = 16_000;

export class Engine extends EventEmitter<EngineEventMap> {
  readonly options: ResolvedEngineOptions;
  readonly #ports: SupervisorPorts;
  readonly #supervisor: SupervisorRef;
  readonly #pipeline: Pipeline;
  readonly #push: PushInput | null;
  readonly #restarts = { decode: 0, postprocess: 0 };
  #overrunSamples = 0;
  #metricsTimer: NodeJS.Timeout | null = null;
  #lastState = '';
  readonly #results = new FinalStream();
  readonly #tracer: EngineTracer;
  readonly #arena: UtteranceArenaReader;
  readonly #pipelineOptions: PipelineOptions;
  /** engine.cut() calls waiting for the VAD to reach their position. */
  readonly #cutWaiters: { readonly at: number; readonly resolve: () => void }[] = [];

  /** Use createEngine(). */
  constructor(
    options: ResolvedEngineOptions,
    ports: SupervisorPorts,
    pipeline: { readonly options: PipelineOptions; readonly create: (engine: Engine, tracer: EngineTracer | null) => Pipeline },
    push: PushInput | null,
    host: {
      endInput: () => void;
      captureProgress: (w: number, at: number) => void;
      arena: UtteranceArenaReader;
      onTrace: ((record: TraceRecord) => void) | undefined;
    },
  ) {
    super();
    this.options = options;
    this.#ports = ports;
    this.#push = push;
    this.#arena = host.arena;
    this.#pipelineOptions = pipeline.options;
    this.#tracer = new EngineTracer((record) => super.emit('trace', record));
    // Before the supervisor starts, so a trace misses nothing (a file may be read before createEngine resolves).
    if (host.onTrace) this.on('trace', host.onTrace);
    const tracer = (): EngineTracer | null => (this.listenerCount('trace') > 0 ? this.#tracer : null);
    this.#pipeline = pipeline.create(this, this.#tracer);
    this.on('final', (f) => this.#results.deliver(f));
    this.#supervisor = startSupervisor({
      ports,
      pipeline: this.#pipeline,
      host: {
        error: (e) => this.#error(e),
        warning: (w) => this.emit('warning', w),
        captureProgress: host.captureProgress,
        overrun: (total) => {
          this.#overrunSamples = total;
        },
        endInput: host.endInput,
        cut: (position) => {
          for (let i = this.#cutWaiters.length - 1; i >= 0; i--) {
            const w = this.#cutWaiters[i];
            if (w && w.at <= position) {
              this.#cutWaiters.splice(i, 1);
              w.resolve();
            }
          }
        },
      },
    }, (event) => tracer()?.event(event));
    for (const name of ['decode', 'postprocess'] as const) {
      ports[name].subscribe((e) => {
        if (e.type === 'restarted') this.#restarts[name]++;
      });
    }
    // A cut sent to a VAD worker that then died is re-sent to its successor.
    ports.vad.subscribe((e) => {
      if (e.type === 'restarted') for (const w of this.#cutWaiters) ports.vad.send({ type: 'cut', atSamples: w.at });
    });
    this.#supervisor.subscribe((snapshot) => {
      const value = JSON.stringify(snapshot.value);
      if (value === this.#lastState) return;
      this.#lastState = value;
      tracer()?.state(snapshot.value);
      this.emit('state', snapshot.value);
      if (snapshot.matches('drained') || snapshot.matches('closed') || snapshot.matches('failed')) {
        this.emit('metrics', this.metrics());
        this.#results.end();
      }
    });
    if (options.metricsIntervalMs > 0) {
      // Periodic metrics report the lag from the start. Without them (a Wyoming server's pooled engines)
      // the monitor starts at the first metrics() read: its 5 ms timer costs an idle process ~0.6 % of a
      // core (observe/event-loop.ts), which nobody would read.
      startEventLoopMonitor();
      this.#metricsTimer = setInterval(() => this.emit('metrics', this.metrics()), options.metricsIntervalMs);
      this.#metricsTimer.unref();
    }
  }

  /**
   * Every emitted event also becomes a trace `output` record (when someone listens to `trace`), so a
   * trace holds what users saw, in order with what caused it.
   */
  override emit<K extends keyof EngineEventMap>(type: K, ...args: EngineEventMap[K]): boolean {
    if (type !== 'trace' && this.listenerCount('trace') > 0) this.#tracer.output(type as TraceOutputType, args[0]);
    return (super.emit as (t: K, ...a: EngineEventMap[K]) => boolean)(type, ...args);
  }

  /** The first line of a trace of this engine: its options, clock origin and sample rate. */
  traceHeader(): TraceHeader {
    return this.#tracer.header(SAMPLE_RATE, { engine: this.options, pipeline: this.#pipelineOptions });
  }

  /**
   * A copy of [startSamples, endSamples) of the 16 kHz stream while the utterance arena still holds
   * it (a trace with audio reads each final's range when its job is sent). Throws
   * ShmRangeUnavailableError once evicted.
   */
  readAudio(startSamples: number, endSamples: number): Float32Array {
    return this.#arena.read(startSamples, endSamples);
  }

  metrics(): EngineMetrics {
    const restarts = { ...this.#restarts, capture: this.#ports.capture.restarts, vad: this.#ports.vad.restarts };
    return { ...this.#pipeline.metrics(restarts, this.#overrunSamples), eventLoopLagMs: eventLoopLag() };
  }

  /** The supervisor's current state value (e.g. "running", {"draining":"decodes"}). */
  get state(): unknown {
    return this.#supervisor.getSnapshot().value;
  }

  /**
   * Writes a chunk into the push input (interleaved if several channels), waiting while the ring is
   * full. A bad chunk (wrong rate, NaN, not a typed array) is rejected with an `error` event and
   * `false`; the engine keeps running and later chunks are unaffected.
   */
  async pushAudio(samples: Float32Array | Int16Array, sampleRate: number): Promise<boolean> {
    try {
      if (!this.#push) throw new InvalidOptionError(`pushAudio needs input kind 'push', this engine reads ${this.options.input.kind}`, { option: 'input' });
      const checked = this.#push.check(samples, sampleRate);
      await this.#push.write(checked);
      return true;
    } catch (err) {
      this.#error({ error: err instanceof Error ? err : new Error(String(err)), utteranceId: null, source: 'input' });
      return false;
    }
  }

  /** End of input: resolves once every utterance in flight has its final or rejection out. */
  async flush(): Promise<EngineMetrics> {
    this.#supervisor.send({ type: 'FLUSH' });
    await this.#until((s) => s === '"drained"' || s === '"closed"');
    return this.metrics();
  }

  /**
   * Ends the current utterance here without ending the input — a push-to-talk release, the end of
   * one Wyoming request on an engine that serves the next one too. Every sample pushed so far goes
   * to utterances that end at or before this point (with `vad.segmentation: 'external'`, exactly
   * one: all the audio since the previous cut). Resolves once the VAD has cut there and every
   * utterance has its final or rejection out. Needs push input at 16 kHz mono, whose stream
   * position is the pushed frame count.
   */
  async cut(): Promise<void> {
    const push = this.#push;
    if (!push || push.sampleRate !== SAMPLE_RATE || push.channels !== 1) {
      throw new InvalidOptionError('cut() needs push input at 16 kHz mono', { option: 'input' });
    }
    const at = await push.framesWritten();
    await new Promise<void>((resolve, reject) => {
      let cutDone = false;
      const waiter = {
        at,
        resolve: () => {
          cutDone = true;
          check();
        },
      };
      const finish = (err?: Error): void => {
        sub.unsubscribe();
        const i = this.#cutWaiters.indexOf(waiter);
        if (i >= 0) this.#cutWaiters.splice(i, 1);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        const snap = this.#supervisor.getSnapshot();
        const value = JSON.stringify(snap.value);
        if (snap.matches('failed')) finish(snap.context.failure ?? new Error('the engine failed'));
        else if (value === '"closed"' || snap.matches('closing')) finish(new InvalidOptionError('the engine closed before the cut was done', { option: 'cut' }));
        else if ((cutDone || value === '"drained"') && this.#pipeline.idle) finish();
      };
      const sub = this.#supervisor.subscribe(check);
      this.#cutWaiters.push(waiter);
      this.#ports.vad.send({ type: 'cut', atSamples: at });
    });
  }

  /** Resolves when the input ends by itself (end of file, stdin closed) and everything is out. */
  async done(): Promise<EngineMetrics> {
    await this.#until((s) => s === '"drained"' || s === '"closed"');
    return this.metrics();
  }

  /** Shuts the workers down (capture first) and ends results(). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#metricsTimer) clearInterval(this.#metricsTimer);
    this.#metricsTimer = null;
    if (this.#lastState !== '"closed"') {
      this.#supervisor.send({ type: 'CLOSE' });
      await this.#until((s) => s === '"closed"', true);
    }
    this.#results.end();
  }

  /** Resolves once every actor is up (the supervisor left `starting`); rejects with the cause if it failed. */
  started(): Promise<void> {
    return this.#until((s) => !s.includes('starting') && s !== '"failed"');
  }

  /** Why the supervisor failed, if it did. */
  get failure(): Error | null {
    return this.#supervisor.getSnapshot().context.failure;
  }

  /** Fault injection for tests and drills: an actor's thread dies of an uncaught error, as a crash would. */
  async killWorker(name: 'capture' | 'vad' | 'decode' | 'postprocess'): Promise<void> {
    const port = this.#ports[name];
    if (port instanceof WorkerBridge) await port.kill();
  }

  /**
   * Finals from now on as an async iterator; ends when the engine drains or closes. Finals are
   * buffered only while an iterator is open (leaving a `for await` early closes it), so an engine
   * that serves for hours with nobody iterating keeps none of them.
   */
  results(): AsyncIterableIterator<FinalEvent> {
    return this.#results.open();
  }

  #error(event: EngineErrorEvent): void {
    // An unheard `error` would throw out of EventEmitter and kill the host for one bad chunk.
    if (this.listenerCount('error') > 0) this.emit('error', event);
    else process.emitWarning(`${event.error.message} (${(event.error as Partial<SttError>).code ?? 'STT_INTERNAL'})`, 'SttEngineError');
  }

  #until(done: (state: string) => boolean, ignoreFailure = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const snap = this.#supervisor.getSnapshot();
        const value = JSON.stringify(snap.value);
        if (done(value)) return resolve(), true;
        if (!ignoreFailure && snap.matches('failed')) return reject(snap.context.failure ?? new Error('the engine failed')), true;
        return false;
      };
      if (check()) return;
      const sub = this.#supervisor.subscribe(() => {
        if (check()) sub.unsubscribe();
      });
    });
  }
}

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const resolved = resolveEngineOptions(options);
  const arena = createUtteranceArena(resolved.arenaSamples);
  const { ports, push } = createActorPorts(resolved, options, arena, () => pipelineRef?.nextUtteranceId ?? 1);
  const { capture } = ports;
  let inputEnded = false;
  let pipelineRef: Pipeline | null = null;
  const clock = new WallClockMap();
  const pipelineOptions: PipelineOptions = {
    sampleRate: SAMPLE_RATE,
    language: resolved.language,
    beamSize: resolved.beamSize,
    beamNarrowAfterMs: resolved.finalBeamNarrowAfterMs,
    drafts: resolved.drafts,
    temperatures: resolved.temperatures,
    shortWindowMarginMs: resolved.shortWindowMarginMs,
    initialPrompt: options.initialPrompt ?? null,
    hotwords: options.hotwords ?? null,
    partialsEnabled: resolved.partialsEnabled,
    partialIntervalMs: resolved.partialIntervalMs,
    partialMaxInputSpeed: resolved.partialMaxInputSpeed,
    partialMaxDecodeShare: resolved.partialMaxDecodeShare,
    maxPendingPartials: resolved.maxPendingPartials,
    // With the VAD's own endpoints only: with external segmentation (a Wyoming client's request) no pause
    // starts a final, and the request's leading silence would only hold its first partial back.
    ...(resolved.vad.segmentation === 'external' ? {} : { partialMinSpeechProbability: resolved.vad.positiveThreshold }),
    postRollMs: resolved.vad.postRollMs,
    endpointSilenceMs: resolved.vad.endpointSilenceMs,
  };
  const engine = new Engine(
    resolved,
    ports,
    {
      options: pipelineOptions,
      create: (self, tracer) => {
        const tracing = (): EngineTracer | null => (self.listenerCount('trace') > 0 ? tracer : null);
        pipelineRef = new Pipeline(pipelineOptions, {
          sendDecode: (job) => {
            const command: DecodeCommand = { type: 'job', job };
            tracing()?.command('decode', command);
            ports.decode.send(command);
          },
          cancelDecode: (jobId) => {
            const command: DecodeCommand = { type: 'cancel', jobId };
            tracing()?.command('decode', command);
            ports.decode.send(command);
          },
          sendPostProcess: (requestId, input) => {
            const command: PostProcessCommand = { type: 'process', requestId, input };
            tracing()?.command('postprocess', command);
            ports.postprocess.send(command);
          },
          emit: (type, ...payload) => {
            (self.emit as (t: string, ...a: unknown[]) => boolean).call(self, type, ...payload);
          },
          now: () => Date.now(),
          wallClockOfSample: (p) => clock.at(p),
          onUtteranceState: (id, state) => tracing()?.utterance(id, state),
        });
        return pipelineRef;
      },
    },
    push,
    {
      arena: new UtteranceArenaReader(arena),
      onTrace: options.onTrace,
      // flush() means "the input ends now" for every source: a file stops being read too (Ctrl-C on
      // `--input` must not transcribe the rest of the file); done() is how to wait for a file's end.
      endInput: () => {
        inputEnded = true;
        if (push) void push.end();
        else capture.send({ type: 'stop' });
      },
      captureProgress: (written, atMs) => clock.record(written, atMs),
    },
  );
  pinOpenUtterances(engine, new UtteranceArenaPin(arena));
  capture.subscribe((e) => {
    if (e.type !== 'message' || e.message.type !== 'started' || e.message.resumedAtSamples === null) return;
    // A stop sent while the worker was down was lost with it (the push ring's end is in shared memory).
    if (inputEnded && !push) capture.send({ type: 'stop' });
    const { resumedAtSamples, lostSamples } = e.message;
    const lost = lostSamples === null ? 'an unknown amount of audio' : `${Math.round(lostSamples / 16)} ms of audio`;
    engine.emit('warning', {
      code: 'STT_WARN_CAPTURE_RESTARTED',
      message: `the capture worker crashed and was restarted at ${(resumedAtSamples / SAMPLE_RATE).toFixed(2)} s of the stream; ${lost} lost`,
    });
  });
  try {
    await engine.started();
  } catch (err) {
    await engine.close();
    throw err;
  }
  return engine;
}

/**
 * Keeps the arena from evicting audio an unfinished utterance still needs: the oldest open
 * utterance's start is pinned, and the VAD waits for room (a file or stdin then slows down instead
 * of losing audio; a microphone overflows its capture ring, which is counted).
 */
function pinOpenUtterances(engine: Engine, pin: UtteranceArenaPin): void {
  const open = new Map<number, number>();
  const repin = (): void => pin.pin(open.size === 0 ? null : Math.min(...open.values()));
  engine.on('speechStart', (e) => {
    open.set(e.utteranceId, Math.floor((e.startMs * SAMPLE_RATE) / 1000));
    repin();
  });
  const done = (e: { readonly utteranceId: number }): void => {
    if (open.delete(e.utteranceId)) repin();
  };
  engine.on('final', done);
  engine.on('rejected', done);
}

