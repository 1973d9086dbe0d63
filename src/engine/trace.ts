/**
 * What the engine's `trace` event carries: every event the supervisor receives (actor messages,
 * crashes, restarts, FLUSH/CLOSE), every command the pipeline sends to an actor (decode jobs,
 * post-process requests), every supervisor state change, every utterance state change and every
 * user-facing output, in the order the main thread saw them. Records are JSON-safe (errors are
 * SerializedError), so a JSONL file of them is a complete account of a session: the inspector draws
 * it live, `--trace` writes it, `replay` re-runs it. Audio positions inside the messages are 16 kHz
 * sample offsets since the stream began (the actors' own protocols); `atMs` is ms since the engine
 * was created (performance.now based, monotonic).
 */
import type { UtteranceState } from '../state/pipeline-ports.js';
import type { ActorName } from '../workers/worker.protocol.js';

export type TraceOutputType = 'final' | 'partial' | 'speechStart' | 'speechEnd' | 'rejected' | 'error' | 'metrics' | 'warning';

export type TraceRecord =
  /** An actor's message, crash or restart, as the supervisor received it. */
  | {
      readonly kind: 'event';
      readonly seq: number;
      readonly atMs: number;
      readonly actor: ActorName;
      readonly event: 'message' | 'crashed' | 'restarted';
      /** The actor's protocol message (event 'message'), the SerializedError (crashed) or the ready info (restarted). */
      readonly data: unknown;
      /** For crashed: whether a new worker is on its way. */
      readonly restarting?: boolean;
    }
  /** A control event sent to the supervisor by the API. */
  | { readonly kind: 'control'; readonly seq: number; readonly atMs: number; readonly type: 'FLUSH' | 'CLOSE' }
  /** A command the pipeline sent to an actor (decode job, post-process request). */
  | { readonly kind: 'command'; readonly seq: number; readonly atMs: number; readonly actor: ActorName; readonly command: unknown }
  /** The supervisor's state value after a transition that changed it. */
  | { readonly kind: 'state'; readonly seq: number; readonly atMs: number; readonly value: unknown }
  /** An utterance moved to a new lifecycle state. */
  | {
      readonly kind: 'utterance';
      readonly seq: number;
      readonly atMs: number;
      readonly utteranceId: number;
      readonly state: UtteranceState;
    }
  /** An event the engine emitted to its users (payload as emitted, errors serialised). */
  | { readonly kind: 'output'; readonly seq: number; readonly atMs: number; readonly type: TraceOutputType; readonly payload: unknown };

export type TraceKind = TraceRecord['kind'];

/** The first line of a trace file: enough to re-create the session. */
export interface TraceHeader {
  readonly kind: 'header';
  readonly version: 1;
  /** Epoch ms when the engine was created (atMs 0). */
  readonly startedAtEpochMs: number;
  readonly sampleRate: number;
  /** The engine's resolved options (JSON). */
  readonly options: unknown;
}
