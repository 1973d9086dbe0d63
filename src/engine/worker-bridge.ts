/**
 * One actor's worker thread, seen from the main thread: spawn it from dist/, send its init command,
 * race its `ready` against `exit`, `error` and READY_TIMEOUT_MS (as piscina does), deliver typed
 * messages, restart it when it dies unexpectedly (counted), and shut it down with a deadline.
 * No XState here: src/state/supervisor.ts adapts an ActorPort into a `fromCallback` actor.
 */
import { Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError } from '../errors.js';
import { READY_TIMEOUT_MS, type ActorName, type ControlMessage } from '../workers/worker.protocol.js';

export type ReadyInfo = Readonly<Record<string, string | number | boolean | null>>;

export type PortEvent<M> =
  | { readonly type: 'message'; readonly message: M }
  /** The worker died; `restarting` says whether a new one is on its way. */
  | { readonly type: 'crashed'; readonly error: Error; readonly restarting: boolean }
  | { readonly type: 'restarted'; readonly info: ReadyInfo };

/** What the supervisor needs of an actor; tests implement it with scripted fakes. */
export interface ActorPort<C, M> {
  readonly name: ActorName;
  start(): Promise<ReadyInfo>;
  send(command: C): void;
  subscribe(listener: (event: PortEvent<M>) => void): () => void;
  close(timeoutMs?: number): Promise<void>;
  readonly restarts: number;
}

interface TypedMessage {
  readonly type: string;
}

export interface WorkerBridgeOptions<C, M extends TypedMessage> {
  readonly name: ActorName;
  readonly url: URL;
  /** Sent right after every spawn (first start and restarts); null when the worker needs none. */
  readonly init: C | null;
  /** Builds the init of a restarted worker, when it must differ from the first (default: `init`). */
  readonly restartInit?: () => C;
  /** The message that means "ready" (default: type 'ready'). */
  readonly isReady?: (message: M) => boolean;
  /** A message before ready that means the start failed (besides `fatal` and an exit). */
  readonly startFailure?: (message: M) => Error | null;
  readonly maxRestarts?: number;
  readonly readyTimeoutMs?: number;
  readonly workerData?: unknown;
}

/** The control commands every worker understands (worker.protocol.ts). */
const SHUTDOWN: ControlMessage = { type: 'shutdown' };
const EXIT: ControlMessage = { type: 'exit' };
const CRASH: ControlMessage = { type: 'crash' };
/**
 * How long a worker told to `exit` or `crash` has to go before worker.terminate(). A worker
 * inside a native (onnxruntime) run leaves when that run returns; only a thread stuck in
 * JavaScript needs terminate(), which would abort the process under a run in flight.
 */
const LEAVE_GRACE_MS = 10_000;

/** What crossed postMessage in one direction, over every bridge of this thread. */
export interface MessageFlow {
  readonly messages: number;
  /** UTF-8 length of the message as JSON, shared memory counted as 0 (see messageBytes). */
  readonly bytes: number;
  /** Bytes of typed arrays / ArrayBuffers that were not shared memory, i.e. copied by the clone. */
  readonly copiedBinaryBytes: number;
}

export interface MessageTraffic {
  readonly toWorkers: MessageFlow;
  readonly fromWorkers: MessageFlow;
}

/**
 * Off by default: sizing costs a JSON.stringify per message, a price only a benchmark should pay.
 * Process-wide rather than per engine so a benchmark can read it without reaching into the engine.
 */
let trafficOn = false;
const traffic = {
  toWorkers: { messages: 0, bytes: 0, copiedBinaryBytes: 0 },
  fromWorkers: { messages: 0, bytes: 0, copiedBinaryBytes: 0 },
};

/** Starts (and zeroes) or stops counting the messages every WorkerBridge sends and receives. */
export function countMessageTraffic(on: boolean): void {
  trafficOn = on;
  for (const flow of [traffic.toWorkers, traffic.fromWorkers]) {
    flow.messages = 0;
    flow.bytes = 0;
    flow.copiedBinaryBytes = 0;
  }
}

export function messageTraffic(): MessageTraffic {
  return { toWorkers: { ...traffic.toWorkers }, fromWorkers: { ...traffic.fromWorkers } };
}

/**
 * Serialised size of a message: JSON text length plus the bytes of non-shared binary payloads.
 * A SharedArrayBuffer (or a view on one) is counted as 0: the structured clone passes a handle,
 * never the memory. v8.serialize is not used because it copies views on shared memory and throws
 * on a bare SharedArrayBuffer, unlike postMessage.
 */
export function messageBytes(message: unknown): { bytes: number; copiedBinaryBytes: number } {
  let copiedBinaryBytes = 0;
  const json = JSON.stringify(message, function (this: Record<string, unknown>, key: string, serialised: unknown) {
    // The raw value: a Buffer's toJSON has already turned `serialised` into a list of numbers.
    const value = this[key];
    if (value instanceof SharedArrayBuffer) return 0;
    if (ArrayBuffer.isView(value)) {
      if (!(value.buffer instanceof SharedArrayBuffer)) copiedBinaryBytes += value.byteLength;
      return 0;
    }
    if (value instanceof ArrayBuffer) {
      copiedBinaryBytes += value.byteLength;
      return 0;
    }
    return typeof serialised === 'bigint' ? serialised.toString() : serialised;
  });
  return { bytes: Buffer.byteLength(json ?? '', 'utf8') + copiedBinaryBytes, copiedBinaryBytes };
}

function countMessage(flow: { messages: number; bytes: number; copiedBinaryBytes: number }, message: unknown): void {
  if (!trafficOn) return;
  const size = messageBytes(message);
  flow.messages++;
  flow.bytes += size.bytes;
  flow.copiedBinaryBytes += size.copiedBinaryBytes;
}

export class WorkerBridge<C, M extends TypedMessage> implements ActorPort<C, M> {
  readonly name: ActorName;
  readonly #options: WorkerBridgeOptions<C, M>;
  readonly #listeners = new Set<(event: PortEvent<M>) => void>();
  #worker: Worker | null = null;
  #closing = false;
  #restarts = 0;
  #exited: Promise<void> = Promise.resolve();

  constructor(options: WorkerBridgeOptions<C, M>) {
    this.name = options.name;
    this.#options = options;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get threadId(): number | null {
    return this.#worker?.threadId ?? null;
  }

  start(): Promise<ReadyInfo> {
    return this.#spawn();
  }

  send(command: C): void {
    // A command sent while a restart is under way is lost; the supervisor re-sends what matters on `restarted`.
    if (this.#worker) countMessage(traffic.toWorkers, command);
    this.#worker?.postMessage(command);
  }

  subscribe(listener: (event: PortEvent<M>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Fault injection for tests and drills: the worker dies of an uncaught error, as a crash would
   * (the bridge restarts it). Resolves once it has exited.
   */
  async kill(): Promise<void> {
    const worker = this.#worker;
    if (worker) await this.#leave(worker, CRASH);
  }

  async close(timeoutMs = 5_000): Promise<void> {
    this.#closing = true;
    const worker = this.#worker;
    if (!worker) return;
    countMessage(traffic.toWorkers, SHUTDOWN);
    worker.postMessage(SHUTDOWN);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const outcome = await Promise.race([this.#exited.then(() => 'exited' as const), deadline]);
    clearTimeout(timer);
    // Past the deadline the worker leaves with what it holds (a final still decoding is lost).
    if (outcome === 'late') await this.#leave(worker, EXIT);
  }

  /** Tells the worker to go (`exit` or `crash`) and waits for it; terminate() only if it does not. */
  async #leave(worker: Worker, command: ControlMessage): Promise<void> {
    const exited = this.#exited;
    countMessage(traffic.toWorkers, command);
    worker.postMessage(command);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), LEAVE_GRACE_MS);
    });
    const outcome = await Promise.race([exited.then(() => 'exited' as const), grace]);
    clearTimeout(timer);
    if (outcome === 'late') await worker.terminate();
  }

  #emit(event: PortEvent<M>): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  #spawn(): Promise<ReadyInfo> {
    const o = this.#options;
    const worker = new Worker(o.url, o.workerData === undefined ? {} : { workerData: o.workerData });
    this.#worker = worker;
    let ready = false;
    let fatal: Error | null = null;
    let resolveExit: () => void = () => undefined;
    this.#exited = new Promise<void>((resolve) => {
      resolveExit = resolve;
    });

    return new Promise<ReadyInfo>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (ready) return;
        fatal = new Error(`${o.name} worker did not post ready within ${o.readyTimeoutMs ?? READY_TIMEOUT_MS} ms`);
        // It may be loading a model in onnxruntime: asked to exit first (see #leave).
        void this.#leave(worker, EXIT);
      }, o.readyTimeoutMs ?? READY_TIMEOUT_MS);

      worker.on('message', (message: M) => {
        countMessage(traffic.fromWorkers, message);
        if (!ready) {
          const isReady = o.isReady ? o.isReady(message) : message.type === 'ready';
          if (isReady) {
            ready = true;
            clearTimeout(timer);
            resolve(readyInfo(message));
          } else if (message.type === 'fatal') {
            fatal = deserializeError((message as unknown as { error: SerializedError }).error);
          } else {
            const failure = o.startFailure?.(message) ?? null;
            if (failure) {
              fatal = failure;
              clearTimeout(timer);
              reject(failure);
              void this.#leave(worker, EXIT);
              return;
            }
          }
        } else if (message.type === 'fatal') {
          fatal = deserializeError((message as unknown as { error: SerializedError }).error);
        }
        this.#emit({ type: 'message', message });
      });
      worker.on('error', (err: Error) => {
        fatal ??= err;
      });
      worker.on('exit', (code: number) => {
        clearTimeout(timer);
        resolveExit();
        if (this.#worker === worker) this.#worker = null;
        if (!ready) {
          reject(fatal ?? new Error(`${o.name} worker exited with code ${code} before it was ready`));
          return;
        }
        if (this.#closing) return;
        const error = fatal ?? new Error(`${o.name} worker exited unexpectedly with code ${code}`);
        const restarting = this.#restarts < (o.maxRestarts ?? 0);
        this.#emit({ type: 'crashed', error, restarting });
        if (!restarting) return;
        this.#restarts++;
        this.#spawn().then(
          (info) => this.#emit({ type: 'restarted', info }),
          (err: unknown) =>
            this.#emit({ type: 'crashed', error: err instanceof Error ? err : new Error(String(err)), restarting: false }),
        );
      });
      const init = this.#restarts > 0 && o.restartInit ? o.restartInit() : o.init;
      if (init !== null) {
        countMessage(traffic.toWorkers, init);
        worker.postMessage(init);
      }
    });
  }
}

function readyInfo(message: TypedMessage): ReadyInfo {
  const info = (message as { info?: unknown }).info;
  return typeof info === 'object' && info !== null ? (info as ReadyInfo) : {};
}
