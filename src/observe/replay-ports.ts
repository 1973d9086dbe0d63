/**
 * ActorPorts that play a trace back: the supervisor under replay talks to these instead of worker
 * threads (as the unit tests' scripted ports do). They start at once, keep what the pipeline sends,
 * and deliver the recorded messages, crashes and restarts when the replay reaches them.
 */
import type { CaptureCommand, CaptureMessage } from '../actors/capture/capture.protocol.js';
import type { DecodeCommand, DecodeMessage } from '../actors/decode/decode.protocol.js';
import type { PostProcessCommand, PostProcessMessage } from '../actors/postprocess/postprocess.protocol.js';
import type { VadCommand, VadMessage } from '../actors/vad/vad.protocol.js';
import type { ActorPort, PortEvent, ReadyInfo } from '../engine/worker-bridge.js';
import type { SupervisorPorts } from '../state/supervisor.js';
import type { ActorName } from '../workers/worker.protocol.js';

export class ReplayPort<C, M> implements ActorPort<C, M> {
  readonly sent: C[] = [];
  restarts = 0;
  readonly #listeners = new Set<(e: PortEvent<M>) => void>();

  constructor(readonly name: ActorName) {}

  async start(): Promise<ReadyInfo> {
    return {};
  }

  send(command: C): void {
    this.sent.push(command);
  }

  subscribe(listener: (e: PortEvent<M>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {}

  deliver(message: M): void {
    this.#emit({ type: 'message', message });
  }

  crash(error: Error, restarting: boolean): void {
    this.#emit({ type: 'crashed', error, restarting });
  }

  restarted(info: ReadyInfo): void {
    this.restarts++;
    this.#emit({ type: 'restarted', info });
  }

  #emit(event: PortEvent<M>): void {
    for (const l of [...this.#listeners]) l(event);
  }
}

export function replayPorts() {
  return {
    capture: new ReplayPort<CaptureCommand, CaptureMessage>('capture'),
    vad: new ReplayPort<VadCommand, VadMessage>('vad'),
    decode: new ReplayPort<DecodeCommand, DecodeMessage>('decode'),
    postprocess: new ReplayPort<PostProcessCommand, PostProcessMessage>('postprocess'),
  } satisfies SupervisorPorts;
}

export type ReplayPorts = ReturnType<typeof replayPorts>;
