/**
 * Folds trace records into one row per utterance for the inspector: its lifecycle path, partial
 * and final text, and where the time between the end of speech and the final went.
 *
 * Latency stages (ms, wall clock):
 * - vadMs: from the moment the last speech sample entered the engine (capture `progress`, mapped
 *   as the engine's WallClockMap does) to the VAD's `speechEnd` reaching the main thread. This is
 *   mostly the endpoint silence the VAD waits for, by design.
 * - queueMs: the final job's wait in the supervisor's queue plus its wait inside the decode worker.
 * - encoderMs: log-mel + encoder; decoderMs: the token loop (the final decode result's timings).
 * - postProcessMs: from the decode result to the post-processed text (FinalTimings).
 * - totalMs: FinalTimings.endOfSpeechToFinalMs. With a speculative final the decode ran during the
 *   endpoint pause, so the stages overlap and add up to more than the total.
 */
import type { DecodeResultMessage } from '../actors/decode/decode.protocol.js';
import type { VadMessage } from '../actors/vad/vad.protocol.js';
import type { FinalEvent, PartialEvent, RejectedEvent } from '../engine/events.js';
import type { TraceRecord } from '../engine/trace.js';
import { WallClockMap } from '../engine/wall-clock.js';
import type { UtteranceState } from '../state/pipeline-ports.js';

export interface LatencyBreakdown {
  readonly vadMs: number | null;
  readonly queueMs: number;
  readonly encoderMs: number;
  readonly decoderMs: number;
  readonly postProcessMs: number;
  readonly totalMs: number | null;
}

export interface UtteranceRow {
  readonly id: number;
  state: UtteranceState;
  /** Every state entered, in order (speech ⇄ endpointing may repeat). */
  readonly path: UtteranceState[];
  startMs: number | null;
  endMs: number | null;
  partial: { stable: string; unstable: string } | null;
  partials: number;
  final: string | null;
  rejected: string | null;
  speculative: boolean | null;
  /** FinalEvent.beamNarrowed: the final's beam search finished greedy at its deadline (false in traces older than the flag). */
  beamNarrowed: boolean | null;
  latency: LatencyBreakdown | null;
}

/** Finished rows kept for the page; older ones are forgotten (a long session has thousands). */
const MAX_ROWS = 50;

interface Pending {
  /** The last final decode result of the utterance (the one its final came from). */
  result: DecodeResultMessage | null;
  /** Trace atMs when the VAD's speechEnd arrived, and the sample it named. */
  speechEndAtMs: number | null;
  endSamples: number | null;
}

export class UtteranceTracker {
  readonly #rows = new Map<number, UtteranceRow>();
  readonly #pending = new Map<number, Pending>();
  readonly #clock = new WallClockMap();
  #startedAtEpochMs: number | null = null;
  #postRollSamples = 0;

  /** The trace header's clock origin and options (for the VAD stage); rows still fold without it. */
  setHeader(startedAtEpochMs: number, sampleRate: number, postRollMs: number): void {
    this.#startedAtEpochMs = startedAtEpochMs;
    this.#postRollSamples = Math.round((postRollMs * sampleRate) / 1000);
  }

  rows(): UtteranceRow[] {
    return [...this.#rows.values()];
  }

  /** Applies one record; returns the row it changed, if any. */
  apply(record: TraceRecord): UtteranceRow | null {
    switch (record.kind) {
      case 'utterance': {
        const row = this.#row(record.utteranceId);
        row.state = record.state;
        row.path.push(record.state);
        return row;
      }
      case 'event':
        return record.event === 'message' ? this.#message(record.actor, record.data, record.atMs) : null;
      case 'output':
        return this.#output(record.type, record.payload);
      default:
        return null;
    }
  }

  #message(actor: string, data: unknown, atMs: number): UtteranceRow | null {
    const m = data as { type?: string };
    if (actor === 'capture' && m.type === 'progress') {
      const p = data as { writtenSamples: number; atMs: number };
      this.#clock.record(p.writtenSamples, p.atMs);
      return null;
    }
    if (actor === 'vad' && m.type === 'vad') {
      const event = (data as Extract<VadMessage, { type: 'vad' }>).event;
      if (event.type !== 'speechEnd') return null;
      const pending = this.#pendingOf(event.utteranceId);
      pending.speechEndAtMs = atMs;
      pending.endSamples = event.endSamples;
      return null;
    }
    if (actor === 'decode' && m.type === 'result') {
      const result = data as DecodeResultMessage;
      if (result.kind === 'final') this.#pendingOf(result.utteranceId).result = result;
      return null;
    }
    return null;
  }

  #output(type: string, payload: unknown): UtteranceRow | null {
    switch (type) {
      case 'speechStart': {
        const p = payload as { utteranceId: number; startMs: number };
        const row = this.#row(p.utteranceId);
        row.startMs = p.startMs;
        return row;
      }
      case 'speechEnd': {
        const p = payload as { utteranceId: number; startMs: number; endMs: number };
        const row = this.#row(p.utteranceId);
        row.startMs = p.startMs;
        row.endMs = p.endMs;
        return row;
      }
      case 'partial': {
        const p = payload as PartialEvent;
        const row = this.#row(p.utteranceId);
        row.partial = { stable: p.stable, unstable: p.unstable };
        row.partials++;
        return row;
      }
      case 'final': {
        const f = payload as FinalEvent;
        const row = this.#row(f.utteranceId);
        row.final = f.text;
        row.startMs = f.startMs;
        row.endMs = f.endMs;
        row.speculative = f.speculative;
        row.beamNarrowed = f.beamNarrowed === true;
        row.latency = this.#latency(f);
        this.#pending.delete(f.utteranceId);
        return row;
      }
      case 'rejected': {
        const r = payload as RejectedEvent;
        const row = this.#row(r.utteranceId);
        row.rejected = r.reason;
        row.startMs = r.startMs;
        row.endMs = r.endMs;
        this.#pending.delete(r.utteranceId);
        return row;
      }
      default:
        return null;
    }
  }

  #latency(f: FinalEvent): LatencyBreakdown {
    const pending = this.#pending.get(f.utteranceId);
    const t = pending?.result?.timings;
    return {
      vadMs: this.#vadMs(pending),
      queueMs: round(f.timings.queueMs + (t?.waitMs ?? 0)),
      encoderMs: round(t ? t.melMs + t.encodeMs : 0),
      decoderMs: round(t ? t.decodeMs : f.timings.decodeMs),
      postProcessMs: round(f.timings.postProcessMs),
      totalMs: f.timings.endOfSpeechToFinalMs === null ? null : round(f.timings.endOfSpeechToFinalMs),
    };
  }

  #vadMs(pending: Pending | undefined): number | null {
    if (!pending || pending.speechEndAtMs === null || pending.endSamples === null || this.#startedAtEpochMs === null) return null;
    const lastSpeech = Math.max(0, pending.endSamples - this.#postRollSamples);
    const enteredAtEpoch = this.#clock.at(lastSpeech);
    if (enteredAtEpoch === null) return null;
    return round(Math.max(0, pending.speechEndAtMs - (enteredAtEpoch - this.#startedAtEpochMs)));
  }

  #pendingOf(id: number): Pending {
    let p = this.#pending.get(id);
    if (!p) {
      p = { result: null, speechEndAtMs: null, endSamples: null };
      this.#pending.set(id, p);
    }
    return p;
  }

  #row(id: number): UtteranceRow {
    let row = this.#rows.get(id);
    if (row) return row;
    row = { id, state: 'idle', path: [], startMs: null, endMs: null, partial: null, partials: 0, final: null, rejected: null, speculative: null, beamNarrowed: null, latency: null };
    this.#rows.set(id, row);
    if (this.#rows.size > MAX_ROWS) {
      // Maps iterate in insertion order: the first row is the oldest.
      const oldest = this.#rows.keys().next().value;
      if (oldest !== undefined) {
        this.#rows.delete(oldest);
        this.#pending.delete(oldest);
      }
    }
    return row;
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
