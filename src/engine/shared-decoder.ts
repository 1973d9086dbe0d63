/**
 * One decode worker (one Whisper session, the model loaded once) shared by several engines — the
 * Wyoming server's clients, each with its own capture, VAD, post-process and supervisor.
 *
 *   const decoder = await createSharedDecoder({ modelDir, threads: 2 });
 *   const a = await createEngine({ decoder, input: { kind: 'push' } });
 *   const b = await createEngine({ decoder, input: { kind: 'push' } });
 *
 * Each engine gets a DecodeSessionPort: to its supervisor it is the decode actor (same protocol,
 * same lifecycle events), but its arena is `attach`ed to the shared worker under its own id and
 * its job ids are mapped to decoder-wide ones, so results find their engine. Every engine still
 * applies its own backpressure (one job in flight, partials dropped first and counted, finals
 * never); the worker serves the engines' waiting jobs finals first (src/actors/decode/decode.ts).
 *
 * A crash reaches every engine as its decode actor crashing; on restart the decoder re-attaches
 * every arena before the engines hear `restarted` and re-send their in-flight jobs, so no final is
 * lost. Closing an engine detaches only its arena; closing the decoder stops the worker.
 */
import type { DecodeCommand, DecodeMessage } from '../actors/decode/decode.protocol.js';
import { InvalidOptionError } from '../errors.js';
import { defaultFloatWeights } from '../models/float-weights.js';
import type { UtteranceArenaShared } from '../shm/utterance-arena.js';
import type { FloatWeightsOption, TranscriberOptions } from '../whisper/types.js';
import { WorkerBridge, type ActorPort, type PortEvent, type ReadyInfo } from './worker-bridge.js';

const MAX_RESTARTS = 3;

export interface SharedDecoderOptions {
  readonly model?: string;
  readonly modelDir?: string;
  readonly dtype?: TranscriberOptions['dtype'];
  /** Mirror directory (default: env STT_MODEL_MIRROR). */
  readonly mirror?: string;
  readonly allowDownload?: boolean;
  /** Float weights to requantise from: a path, true for the model's own copy (TranscriberOptions.floatWeights; default env STT_FLOAT_WEIGHTS). */
  readonly floatWeights?: FloatWeightsOption;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  readonly device?: string;
  readonly strictDevice?: boolean;
  /** ONNX Runtime intra-op threads. */
  readonly threads?: number;
  /**
   * Small encodes and decodes before the worker reports ready (default true), so the first
   * utterance runs as fast as the rest and the worker's memory is at its steady level
   * (src/whisper/warm-up.ts); false starts 1–2 s sooner on 2 cores.
   */
  readonly warmUp?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

type Listener = (event: PortEvent<DecodeMessage>) => void;

interface Route {
  readonly session: DecodeSessionPort;
  readonly localJobId: number;
}

export class SharedDecoder {
  readonly #bridge: WorkerBridge<DecodeCommand, DecodeMessage>;
  readonly #sessions = new Map<number, DecodeSessionPort>();
  /** Decoder-wide job id → the engine and job id it stands for. */
  readonly #routes = new Map<number, Route>();
  #info: ReadyInfo = {};
  /** The current worker's warnings (device fallback at load): each engine hears them on attach. */
  #warnings: Extract<DecodeMessage, { type: 'warning' }>[] = [];
  #nextArenaId = 1;
  #nextJobId = 1;
  #closed = false;

  /** Use createSharedDecoder(). */
  constructor(bridge: WorkerBridge<DecodeCommand, DecodeMessage>) {
    this.#bridge = bridge;
    bridge.subscribe((event) => this.#onEvent(event));
  }

  /** What the worker loaded: model, device. */
  get info(): ReadyInfo {
    return this.#info;
  }

  get restarts(): number {
    return this.#bridge.restarts;
  }

  /** Engines attached right now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  async start(): Promise<ReadyInfo> {
    this.#info = await this.#bridge.start();
    return this.#info;
  }

  /** The decode port of one engine (createEngine's `decoder` option calls this). */
  session(arena: UtteranceArenaShared): DecodeSessionPort {
    if (this.#closed) throw new InvalidOptionError('the shared decoder is closed', { option: 'decoder' });
    const session = new DecodeSessionPort(this, this.#nextArenaId++, arena);
    return session;
  }

  /** Fault injection for tests and drills: kills the worker as a crash would (it restarts). */
  async kill(): Promise<void> {
    await this.#bridge.kill();
  }

  /** Stops the worker once the jobs it holds are answered. Engines using it should be closed first. */
  async close(timeoutMs?: number): Promise<void> {
    this.#closed = true;
    await this.#bridge.close(timeoutMs);
  }

  /** @internal DecodeSessionPort → worker. */
  attach(session: DecodeSessionPort): ReadyInfo {
    if (this.#closed) throw new InvalidOptionError('the shared decoder is closed', { option: 'decoder' });
    this.#sessions.set(session.arenaId, session);
    this.#bridge.send({ type: 'attach', arenaId: session.arenaId, arena: session.arena });
    const warnings = [...this.#warnings];
    // After start() resolves, as a worker's own warnings would reach its engine.
    if (warnings.length > 0) queueMicrotask(() => warnings.forEach((message) => session.deliver({ type: 'message', message })));
    return this.#info;
  }

  /** @internal */
  detach(session: DecodeSessionPort): void {
    if (!this.#sessions.delete(session.arenaId)) return;
    for (const [id, route] of this.#routes) if (route.session === session) this.#routes.delete(id);
    if (!this.#closed) this.#bridge.send({ type: 'detach', arenaId: session.arenaId });
  }

  /** @internal */
  sendJob(session: DecodeSessionPort, command: Extract<DecodeCommand, { type: 'job' }>): void {
    const jobId = this.#nextJobId++;
    this.#routes.set(jobId, { session, localJobId: command.job.jobId });
    this.#bridge.send({ type: 'job', job: { ...command.job, jobId, arenaId: session.arenaId } });
  }

  /** @internal A cancel names the engine's own job id; the worker knows the decoder's. */
  cancelJob(session: DecodeSessionPort, localJobId: number): void {
    for (const [jobId, route] of this.#routes) {
      if (route.session === session && route.localJobId === localJobId) {
        this.#bridge.send({ type: 'cancel', jobId });
        return;
      }
    }
  }

  #onEvent(event: PortEvent<DecodeMessage>): void {
    switch (event.type) {
      case 'crashed':
        // The dead worker's answers will never come: its engines re-send on `restarted`.
        this.#routes.clear();
        this.#warnings = [];
        this.#broadcast(event);
        return;
      case 'restarted':
        this.#info = event.info;
        // Arenas first: the worker handles commands in order, so the re-sent jobs find them.
        for (const s of this.#sessions.values()) this.#bridge.send({ type: 'attach', arenaId: s.arenaId, arena: s.arena });
        this.#broadcast(event);
        return;
      case 'message':
        this.#onMessage(event.message);
        return;
    }
  }

  #onMessage(message: DecodeMessage): void {
    switch (message.type) {
      case 'result':
      case 'jobFailed':
      case 'jobCancelled': {
        const route = this.#routes.get(message.jobId);
        // No route: the engine closed (detached) while its job was queued.
        if (!route) return;
        this.#routes.delete(message.jobId);
        route.session.deliver({ type: 'message', message: { ...message, jobId: route.localJobId } });
        return;
      }
      case 'warning':
        this.#warnings.push(message);
        this.#broadcast({ type: 'message', message });
        return;
      case 'error':
        this.#broadcast({ type: 'message', message });
        return;
      case 'ready':
      case 'fatal':
        return; // the bridge's handshake and crash handling
      default:
        assertNever(message);
    }
  }

  #broadcast(event: PortEvent<DecodeMessage>): void {
    for (const s of this.#sessions.values()) s.deliver(event);
  }
}

/** One engine's view of the shared decoder: an ActorPort like a WorkerBridge of its own. */
export class DecodeSessionPort implements ActorPort<DecodeCommand, DecodeMessage> {
  readonly name = 'decode' as const;
  readonly arenaId: number;
  readonly arena: UtteranceArenaShared;
  readonly #decoder: SharedDecoder;
  readonly #listeners = new Set<Listener>();
  #attached = false;

  constructor(decoder: SharedDecoder, arenaId: number, arena: UtteranceArenaShared) {
    this.#decoder = decoder;
    this.arenaId = arenaId;
    this.arena = arena;
  }

  get restarts(): number {
    return this.#decoder.restarts;
  }

  /** The worker is already up: attaching the arena is all this engine's start needs. */
  start(): Promise<ReadyInfo> {
    try {
      const info = this.#decoder.attach(this);
      this.#attached = true;
      return Promise.resolve(info);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  send(command: DecodeCommand): void {
    switch (command.type) {
      case 'job':
        if (this.#attached) this.#decoder.sendJob(this, command);
        return;
      case 'cancel':
        if (this.#attached) this.#decoder.cancelJob(this, command.jobId);
        return;
      case 'init':
      case 'attach':
      case 'detach':
      case 'shutdown':
      case 'exit':
      case 'crash':
        // The shared worker's lifecycle is the decoder's, not one engine's: close() detaches.
        return;
      default:
        assertNever(command);
    }
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#attached = false;
    this.#decoder.detach(this);
  }

  /** @internal SharedDecoder → this engine's supervisor. */
  deliver(event: PortEvent<DecodeMessage>): void {
    for (const l of this.#listeners) l(event);
  }
}

function workerUrl(): URL {
  return new URL('../workers/decode.worker.js', import.meta.url);
}

/** The decode worker's Transcriber options from engine-style ones (mirror and float weights default to env). */
export function decodeModelOptions(options: SharedDecoderOptions): TranscriberOptions {
  const env = options.env ?? process.env;
  const mirror = options.mirror ?? env['STT_MODEL_MIRROR'];
  return {
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.modelDir !== undefined ? { modelDir: options.modelDir } : {}),
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    ...(mirror !== undefined && mirror !== '' ? { mirror } : {}),
    ...(options.allowDownload !== undefined ? { allowDownload: options.allowDownload } : {}),
    // Resolved here, from the caller's env: the worker must not read its own.
    floatWeights: options.floatWeights !== undefined ? options.floatWeights : defaultFloatWeights(env),
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.strictDevice !== undefined ? { strictDevice: options.strictDevice } : {}),
    ...(options.threads !== undefined ? { intraOpThreads: options.threads } : {}),
  };
}

/** The `warmUp` option of engines and shared decoders: absent means true; anything but a boolean is refused. */
export function warmUpOption(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new InvalidOptionError(`option warmUp must be a boolean, got ${String(value)}`, { option: 'warmUp' });
  return value;
}

/** Starts the shared decode worker and loads the model; rejects with the coded cause if it cannot. */
export async function createSharedDecoder(options: SharedDecoderOptions = {}): Promise<SharedDecoder> {
  const init = { type: 'init', model: decodeModelOptions(options), arena: null, warmUp: warmUpOption(options.warmUp) } as const;
  const bridge = new WorkerBridge<DecodeCommand, DecodeMessage>({
    name: 'decode',
    url: workerUrl(),
    init,
    // A restarted worker decodes the jobs it is handed back at once: a warm-up would delay them.
    restartInit: () => ({ ...init, warmUp: false }),
    maxRestarts: MAX_RESTARTS,
  });
  const decoder = new SharedDecoder(bridge);
  try {
    await decoder.start();
  } catch (err) {
    await bridge.close().catch(() => undefined);
    throw err;
  }
  return decoder;
}

function assertNever(value: never): never {
  throw new Error(`unknown decode message ${JSON.stringify(value)}`);
}
