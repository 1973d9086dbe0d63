/**
 * Messages every actor worker shares, whatever its job. A worker posts `ready` once it can take
 * work (model loaded, rings attached): the supervisor races that handshake against the worker's
 * `exit` and a timeout, as piscina does. Errors cross the thread boundary only as SerializedError
 * (structured clone drops `code`), and are rebuilt with deserializeError on the main thread.
 */
import type { SerializedError } from '../errors.js';

export type ActorName = 'capture' | 'vad' | 'decode' | 'postprocess';

export type LifecycleMessage =
  /** The worker is ready for work; `info` says what it loaded (device, model, input format…). */
  | { readonly type: 'ready'; readonly info: Readonly<Record<string, string | number | boolean | null>> }
  /** A failure confined to one item (an utterance, a chunk): the worker goes on. */
  | { readonly type: 'error'; readonly error: SerializedError; readonly utteranceId: number | null }
  /** The worker cannot go on and is about to exit; the supervisor decides whether to restart it. */
  | { readonly type: 'fatal'; readonly error: SerializedError };

/**
 * Main → worker: the lifecycle commands every worker takes. The bridge never calls
 * worker.terminate() on a worker that may be inside an onnxruntime run: the run's completion then
 * throws into a torn-down environment and onnxruntime-node aborts the whole process. A worker that
 * leaves by itself (process.exit, an uncaught error) waits for it safely, so ending one is asked.
 */
export type ControlMessage =
  /** Stop taking work, finish or drop what is in hand, then exit with code 0. */
  | { readonly type: 'shutdown' }
  /** Leave now with code 0, dropping queued work: close() past its deadline. */
  | { readonly type: 'exit' }
  /** Fault injection (engine.killWorker, drills): die by an uncaught error, as a bug would. */
  | { readonly type: 'crash' };

/** How long a worker may take to post `ready` before the supervisor gives up on it. */
export const READY_TIMEOUT_MS = 60_000;
