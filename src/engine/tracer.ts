/**
 * Turns what the engine sees into TraceRecords (src/engine/trace.ts). The engine asks `active`
 * before each call, so an engine nobody traces builds no records at all (the VAD's progress
 * messages arrive tens of times a second).
 */
import { performance } from 'node:perf_hooks';
import { serializeError } from '../errors.js';
import type { UtteranceState } from '../state/pipeline-ports.js';
import type { SupervisorEvent } from '../state/supervisor.js';
import type { ActorName } from '../workers/worker.protocol.js';
import type { TraceHeader, TraceOutputType, TraceRecord } from './trace.js';

export class EngineTracer {
  readonly startedAtEpochMs = Date.now();
  readonly #t0 = performance.now();
  readonly #sink: (record: TraceRecord) => void;
  #seq = 0;

  constructor(sink: (record: TraceRecord) => void) {
    this.#sink = sink;
  }

  header(sampleRate: number, options: unknown): TraceHeader {
    return { kind: 'header', version: 1, startedAtEpochMs: this.startedAtEpochMs, sampleRate, options };
  }

  event(e: SupervisorEvent): void {
    const seq = this.#seq++;
    const atMs = this.#now();
    if (e.type !== 'port') {
      this.#sink({ kind: 'control', seq, atMs, type: e.type });
      return;
    }
    const pe = e.event;
    switch (pe.type) {
      case 'message':
        this.#sink({ kind: 'event', seq, atMs, actor: e.actor, event: 'message', data: pe.message });
        break;
      case 'crashed':
        this.#sink({ kind: 'event', seq, atMs, actor: e.actor, event: 'crashed', data: serializeError(pe.error), restarting: pe.restarting });
        break;
      case 'restarted':
        this.#sink({ kind: 'event', seq, atMs, actor: e.actor, event: 'restarted', data: pe.info });
        break;
    }
  }

  command(actor: ActorName, command: unknown): void {
    this.#sink({ kind: 'command', seq: this.#seq++, atMs: this.#now(), actor, command });
  }

  state(value: unknown): void {
    this.#sink({ kind: 'state', seq: this.#seq++, atMs: this.#now(), value });
  }

  utterance(utteranceId: number, state: UtteranceState): void {
    this.#sink({ kind: 'utterance', seq: this.#seq++, atMs: this.#now(), utteranceId, state });
  }

  output(type: TraceOutputType, payload: unknown): void {
    this.#sink({ kind: 'output', seq: this.#seq++, atMs: this.#now(), type, payload: jsonSafe(payload) });
  }

  #now(): number {
    return Math.round((performance.now() - this.#t0) * 1000) / 1000;
  }
}

/** Error events carry an Error, which JSON would flatten to {}: serialise it (code included). */
function jsonSafe(payload: unknown): unknown {
  if (typeof payload !== 'object' || payload === null || !('error' in payload)) return payload;
  const { error } = payload as { error: unknown };
  return error instanceof Error ? { ...payload, error: serializeError(error) } : payload;
}
