/**
 * The supervisor: an XState v5 machine on the main thread that starts the actors in order, routes
 * their messages into the utterance pipeline, and stops them in order.
 *
 *   starting.backends (decode + post-process ready) → starting.vad (ready) → starting.capture (started)
 *   → running → [capture ended] → draining.vad (flush sent, wait `ended`) → draining.decodes (pipeline
 *   idle: every final or rejection emitted) → drained → closing (capture, VAD, decode, post-process
 *   shut down in that order) → closed.
 *
 * Each worker is an ActorPort (src/engine/worker-bridge.ts) exposed as a `fromCallback` actor, so
 * its messages arrive as `port` events; tests pass scripted ports. Only src/state imports xstate.
 */
import { assign, createActor, fromCallback, fromPromise, setup, type ActorRefFrom, type InspectionEvent } from 'xstate';
import type { CaptureCommand, CaptureMessage } from '../actors/capture/capture.protocol.js';
import type { DecodeCommand, DecodeMessage } from '../actors/decode/decode.protocol.js';
import type { PostProcessCommand, PostProcessMessage } from '../actors/postprocess/postprocess.protocol.js';
import type { VadCommand, VadMessage } from '../actors/vad/vad.protocol.js';
import type { ActorPort, PortEvent } from '../engine/worker-bridge.js';
import type { EngineErrorEvent } from '../engine/events.js';
import { deserializeError } from '../errors.js';
import type { ActorName } from '../workers/worker.protocol.js';
import type { Pipeline } from './pipeline.js';

export interface SupervisorPorts {
  readonly capture: ActorPort<CaptureCommand, CaptureMessage>;
  readonly vad: ActorPort<VadCommand, VadMessage>;
  readonly decode: ActorPort<DecodeCommand, DecodeMessage>;
  readonly postprocess: ActorPort<PostProcessCommand, PostProcessMessage>;
}

/** What the engine does with what the supervisor learns. */
export interface SupervisorHost {
  readonly error: (event: EngineErrorEvent) => void;
  readonly warning: (warning: { readonly code: string; readonly message: string }) => void;
  readonly captureProgress: (writtenSamples: number, atMs: number) => void;
  readonly overrun: (totalDroppedSamples: number) => void;
  /** FLUSH: end the input (close the push ring, stop the microphone…); capture then posts `ended`. */
  readonly endInput: () => void;
  /** The VAD carried out a cut (engine.cut()): every VAD event up to this position is routed. */
  readonly cut?: (positionSamples: number) => void;
}

export interface SupervisorInput {
  readonly ports: SupervisorPorts;
  readonly pipeline: Pipeline;
  readonly host: SupervisorHost;
}

type AnyPortEvent = PortEvent<CaptureMessage | VadMessage | DecodeMessage | PostProcessMessage>;

export type SupervisorEvent =
  | { readonly type: 'port'; readonly actor: ActorName; readonly event: AnyPortEvent }
  | { readonly type: 'FLUSH' }
  | { readonly type: 'CLOSE' };

interface SupervisorContext extends SupervisorInput {
  captureEnded: boolean;
  vadEnded: boolean;
  failure: Error | null;
}

/** An ActorPort as an XState callback actor: port events in as `port` events, commands out. */
const portActor = fromCallback<{ type: 'noop' }, { port: ActorPort<unknown, unknown>; actor: ActorName }, SupervisorEvent>(
  ({ input, sendBack }) =>
    input.port.subscribe((event) => sendBack({ type: 'port', actor: input.actor, event: event as AnyPortEvent })),
);

function isFatalCrash(e: SupervisorEvent): boolean {
  return e.type === 'port' && e.event.type === 'crashed' && !e.event.restarting;
}

/** Routes one actor event into the pipeline or the host. Exhaustive per actor protocol. */
function route(ctx: SupervisorContext, e: SupervisorEvent): void {
  if (e.type !== 'port') return;
  const { pipeline, host } = ctx;
  const pe = e.event;
  if (pe.type === 'crashed') {
    if (e.actor === 'decode') pipeline.decoderDown();
    if (e.actor === 'postprocess') pipeline.postprocessDown();
    if (e.actor === 'vad') pipeline.vadDown();
    if (!pe.restarting) host.error({ error: pe.error, utteranceId: null, source: e.actor });
    return;
  }
  if (pe.type === 'restarted') {
    if (e.actor === 'decode') pipeline.decoderReady();
    if (e.actor === 'postprocess') pipeline.postprocessReady();
    return;
  }
  const m = pe.message;
  if (m.type === 'error') {
    host.error({ error: deserializeError(m.error), utteranceId: m.utteranceId, source: e.actor });
    return;
  }
  if (m.type === 'ready' || m.type === 'fatal') return; // the bridge handles handshakes and deaths
  switch (m.type) {
    case 'result':
      pipeline.onDecodeResult(m);
      break;
    case 'jobFailed':
      pipeline.onDecodeFailed(m.jobId, deserializeError(m.error));
      break;
    case 'jobCancelled':
      pipeline.onDecodeCancelled(m.jobId, m.ranMs);
      break;
    case 'warning':
      host.warning(m.warning);
      break;
    case 'processed':
      pipeline.onPostProcessed(m.requestId, m.output);
      break;
    case 'vad':
      pipeline.onVadEvent(m.event);
      break;
    case 'progress':
      if ('positionSamples' in m) pipeline.onVadProgress(m.positionSamples, 'probability' in m ? m.probability : undefined);
      else host.captureProgress(m.writtenSamples, m.atMs);
      break;
    case 'overrun':
      host.overrun(m.totalDroppedSamples);
      break;
    case 'ended':
      if ('reason' in m) host.captureProgress(m.writtenSamples, Date.now());
      break;
    case 'cut':
      host.cut?.(m.positionSamples);
      break;
    case 'started':
    case 'devices':
      break;
    default:
      assertNever(m);
  }
}

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    portActor,
    startBackends: fromPromise<void, SupervisorPorts>(async ({ input }) => {
      await Promise.all([input.decode.start(), input.postprocess.start()]);
    }),
    startOne: fromPromise<void, ActorPort<unknown, unknown>>(async ({ input }) => {
      await input.start();
    }),
    closeAll: fromPromise<void, SupervisorPorts>(async ({ input }) => {
      // Upstream first, so no actor is left writing into a ring nobody reads.
      for (const port of [input.capture, input.vad, input.decode, input.postprocess]) {
        await port.close().catch(() => undefined);
      }
    }),
  },
  actions: {
    route: ({ context, event }) => route(context, event),
    flags: assign(({ context, event }) => {
      if (event.type !== 'port' || event.event.type !== 'message') return {};
      const m = event.event.message;
      if (m.type !== 'ended') return {};
      return event.actor === 'capture' ? { captureEnded: true } : event.actor === 'vad' ? { vadEnded: true } : {};
    }),
    backendsUp: ({ context }) => {
      context.pipeline.decoderReady();
      context.pipeline.postprocessReady();
    },
    flushVad: ({ context }) => context.ports.vad.send({ type: 'flush' }),
    endInput: ({ context }) => context.host.endInput(),
    recordFailure: assign(({ event }) => {
      const out = event as unknown as { error?: unknown; event?: { error?: unknown } };
      const err = out.error ?? out.event?.error;
      return { failure: err instanceof Error ? err : new Error(String(err)) };
    }),
  },
  guards: {
    fatalCrash: ({ event }) => isFatalCrash(event),
    vadRestarted: ({ event }) => event.type === 'port' && event.actor === 'vad' && event.event.type === 'restarted',
    captureEnded: ({ context }) => context.captureEnded,
    vadEnded: ({ context }) => context.vadEnded,
    pipelineIdle: ({ context }) => context.pipeline.idle,
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ ...input, captureEnded: false, vadEnded: false, failure: null }),
  invoke: [
    { src: 'portActor', input: ({ context }) => ({ port: context.ports.capture as ActorPort<unknown, unknown>, actor: 'capture' as const }) },
    { src: 'portActor', input: ({ context }) => ({ port: context.ports.vad as ActorPort<unknown, unknown>, actor: 'vad' as const }) },
    { src: 'portActor', input: ({ context }) => ({ port: context.ports.decode as ActorPort<unknown, unknown>, actor: 'decode' as const }) },
    {
      src: 'portActor',
      input: ({ context }) => ({ port: context.ports.postprocess as ActorPort<unknown, unknown>, actor: 'postprocess' as const }),
    },
  ],
  initial: 'starting',
  on: {
    port: [
      { guard: 'fatalCrash', target: '.failed', actions: ['route', 'recordFailure'] },
      { actions: ['route', 'flags'] },
    ],
    CLOSE: '.closing',
  },
  states: {
    starting: {
      initial: 'backends',
      states: {
        backends: {
          invoke: {
            src: 'startBackends',
            input: ({ context }) => context.ports,
            onDone: { target: 'vad', actions: 'backendsUp' },
            onError: { target: '#supervisor.failed', actions: 'recordFailure' },
          },
        },
        vad: {
          invoke: {
            src: 'startOne',
            input: ({ context }) => context.ports.vad as ActorPort<unknown, unknown>,
            onDone: 'capture',
            onError: { target: '#supervisor.failed', actions: 'recordFailure' },
          },
        },
        capture: {
          invoke: {
            src: 'startOne',
            input: ({ context }) => context.ports.capture as ActorPort<unknown, unknown>,
            onDone: '#supervisor.running',
            onError: { target: '#supervisor.failed', actions: 'recordFailure' },
          },
        },
      },
    },
    running: {
      always: { guard: 'captureEnded', target: 'draining' },
      on: { FLUSH: { actions: 'endInput' } },
    },
    draining: {
      initial: 'vad',
      states: {
        vad: {
          entry: 'flushVad',
          // A VAD worker restarted while draining never got the flush its predecessor took along.
          on: { port: { guard: 'vadRestarted', actions: ['route', 'flags', 'flushVad'] } },
          always: { guard: 'vadEnded', target: 'decodes' },
        },
        decodes: {
          always: { guard: 'pipelineIdle', target: '#supervisor.drained' },
        },
      },
    },
    drained: {},
    failed: {},
    closing: {
      on: { port: { actions: ['route', 'flags'] }, CLOSE: {} },
      invoke: { src: 'closeAll', input: ({ context }) => context.ports, onDone: 'closed', onError: 'closed' },
    },
    closed: { type: 'final' },
  },
});

export type SupervisorRef = ActorRefFrom<typeof supervisorMachine>;

/** One event the supervisor is about to process (XState's inspection, before the transition). */
export type SupervisorEventListener = (event: SupervisorEvent) => void;

/**
 * `onEvent` sees every event sent to the supervisor itself (actor port events, FLUSH, CLOSE) before
 * it is processed, so a trace lists an event before its consequences. Internal events (invoked
 * promise results) are not passed on: their effect shows as the state change.
 */
export function startSupervisor(input: SupervisorInput, onEvent?: SupervisorEventListener): SupervisorRef {
  const actor = createActor(supervisorMachine, {
    input,
    ...(onEvent
      ? {
          inspect: (ev: InspectionEvent) => {
            if (ev.type !== '@xstate.event' || ev.actorRef !== actor) return;
            const e = ev.event as SupervisorEvent;
            if (e.type === 'port' || e.type === 'FLUSH' || e.type === 'CLOSE') onEvent(e);
          },
        }
      : {}),
  });
  actor.start();
  return actor;
}

function assertNever(value: never): never {
  throw new Error(`unknown actor message ${JSON.stringify(value)}`);
}
