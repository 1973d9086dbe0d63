/**
 * The inspector's view of one engine, fed with its trace records: the supervisor's state, a row
 * per utterance, the VAD's level/probability strip, the last metrics and a ring of recent records.
 * Subscribers (the SSE connections) get a snapshot on connect, then batches every `batchMs`.
 *
 * Progress messages (VAD every ~128 ms of audio, capture every ~100 ms) arrive hundreds of times a
 * second when a file is read faster than real time: they are not forwarded as records but folded
 * into level points, thinned to at most MAX_LEVELS_PER_BATCH per batch (the loudest/likeliest
 * window of each bucket is kept) so a page keeps up; what was thinned is counted.
 */
import type { EngineMetrics } from '../engine/events.js';
import type { TraceHeader, TraceRecord } from '../engine/trace.js';
import { supervisorMachine } from '../state/supervisor.js';
import { machineToJson, type MachineStateJson, type StateNodeLike } from './machine.js';
import { UtteranceTracker, type UtteranceRow } from './utterances.js';

/** What the inspector needs of an Engine (the Engine class satisfies it). */
export interface InspectorSource {
  traceHeader(): TraceHeader;
  readonly state: unknown;
  metrics?(): EngineMetrics;
  on(event: 'trace', listener: (record: TraceRecord) => void): unknown;
  off(event: 'trace', listener: (record: TraceRecord) => void): unknown;
}

/** [positionSamples, probability 0..1, level dBFS, 1 while inside an utterance else 0]. */
export type LevelPoint = readonly [number, number, number, 0 | 1];

export interface HubStats {
  /** Every record received. */
  records: number;
  /** Progress records folded into level points (not forwarded one by one). */
  progressRecords: number;
  /** Level points merged away to keep batches small. */
  levelPointsThinned: number;
}

export interface InspectorSnapshot {
  readonly header: TraceHeader | null;
  readonly machine: MachineStateJson;
  /** The supervisor's state value, or null before an engine is attached and has reported one. */
  readonly state: unknown;
  readonly utterances: readonly UtteranceRow[];
  readonly levels: readonly LevelPoint[];
  readonly recent: readonly TraceRecord[];
  readonly metrics: EngineMetrics | null;
  readonly stats: HubStats;
}

export interface InspectorBatch {
  readonly records: readonly TraceRecord[];
  readonly levels: readonly LevelPoint[];
  /** Rows that changed since the last batch (whole rows). */
  readonly utterances: readonly UtteranceRow[];
  /** Present when it changed. */
  readonly state?: unknown;
  readonly header?: TraceHeader;
  readonly metrics?: EngineMetrics;
  readonly stats: HubStats;
}

export interface HubOptions {
  readonly batchMs?: number;
  /** How often to poll source.metrics() (0: never; metrics outputs in the trace still count). */
  readonly metricsMs?: number;
}

const RECENT_RECORDS = 500;
const LEVEL_HISTORY = 2048;
const MAX_LEVELS_PER_BATCH = 48;

export const SUPERVISOR_MACHINE: MachineStateJson = machineToJson(supervisorMachine.root as unknown as StateNodeLike);

export class InspectorHub {
  readonly #batchMs: number;
  readonly #metricsMs: number;
  readonly #tracker = new UtteranceTracker();
  readonly #subscribers = new Set<(batch: InspectorBatch) => void>();
  readonly #recent: TraceRecord[] = [];
  readonly #levels: LevelPoint[] = [];
  readonly stats: HubStats = { records: 0, progressRecords: 0, levelPointsThinned: 0 };
  #header: TraceHeader | null = null;
  #state: unknown = null;
  #metrics: EngineMetrics | null = null;
  #source: InspectorSource | null = null;
  #unsubscribe: (() => void) | null = null;
  #metricsTimer: NodeJS.Timeout | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #pending = { records: [] as TraceRecord[], levels: [] as LevelPoint[], rows: new Map<number, UtteranceRow>(), state: false, header: false, metrics: false };

  constructor(options: HubOptions = {}) {
    this.#batchMs = options.batchMs ?? 100;
    this.#metricsMs = options.metricsMs ?? 1000;
  }

  /** Feed: pass as createEngine's `onTrace` so the engine's start is seen too. */
  readonly record = (record: TraceRecord): void => {
    this.stats.records++;
    const row = this.#tracker.apply(record);
    if (row) this.#pending.rows.set(row.id, row);
    if (record.kind === 'event' && record.event === 'message' && isProgress(record.data)) {
      this.stats.progressRecords++;
      const p = record.data as { positionSamples?: number; probability?: number; levelDbfs?: number; inUtterance?: boolean };
      if (record.actor === 'vad' && typeof p.positionSamples === 'number') {
        const point: LevelPoint = [p.positionSamples, p.probability ?? 0, p.levelDbfs ?? -100, p.inUtterance ? 1 : 0];
        this.#levels.push(point);
        if (this.#levels.length > LEVEL_HISTORY) this.#levels.splice(0, this.#levels.length - LEVEL_HISTORY);
        this.#pending.levels.push(point);
      }
    } else {
      this.#recent.push(record);
      if (this.#recent.length > RECENT_RECORDS) this.#recent.splice(0, this.#recent.length - RECENT_RECORDS);
      this.#pending.records.push(record);
    }
    if (record.kind === 'state') {
      this.#state = record.value;
      this.#pending.state = true;
    }
    if (record.kind === 'output' && record.type === 'metrics') {
      this.#metrics = record.payload as EngineMetrics;
      this.#pending.metrics = true;
    }
    this.#schedule();
  };

  /**
   * Reads the engine's header, state and metrics. `subscribe: true` (default) also listens to its
   * `trace` event; pass false when `record` was already given to createEngine as `onTrace`.
   */
  attach(source: InspectorSource, options: { readonly subscribe?: boolean } = {}): void {
    this.detach();
    this.#source = source;
    const header = source.traceHeader();
    this.#header = header;
    const pipeline = (header.options as { pipeline?: { postRollMs?: number } } | null)?.pipeline;
    this.#tracker.setHeader(header.startedAtEpochMs, header.sampleRate, pipeline?.postRollMs ?? 0);
    this.#state = source.state;
    this.#pending.header = true;
    this.#pending.state = true;
    if (options.subscribe ?? true) {
      source.on('trace', this.record);
      this.#unsubscribe = () => source.off('trace', this.record);
    }
    if (source.metrics && this.#metricsMs > 0) {
      const metrics = source.metrics.bind(source);
      this.#metricsTimer = setInterval(() => {
        this.#metrics = metrics();
        this.#pending.metrics = true;
        this.#schedule();
      }, this.#metricsMs);
      this.#metricsTimer.unref();
    }
    this.#schedule();
  }

  /** Stops listening to the attached engine (what was seen stays on the page). */
  detach(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#metricsTimer) clearInterval(this.#metricsTimer);
    this.#metricsTimer = null;
    this.#source = null;
  }

  get attached(): boolean {
    return this.#source !== null;
  }

  snapshot(): InspectorSnapshot {
    return {
      header: this.#header,
      machine: SUPERVISOR_MACHINE,
      state: this.#state,
      utterances: this.#tracker.rows(),
      levels: [...this.#levels],
      recent: [...this.#recent],
      metrics: this.#metrics,
      stats: { ...this.stats },
    };
  }

  subscribe(listener: (batch: InspectorBatch) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  /** Sends what is pending now (the timer does this every batchMs). */
  flush(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const p = this.#pending;
    if (p.records.length === 0 && p.levels.length === 0 && p.rows.size === 0 && !p.state && !p.header && !p.metrics) return;
    const levels = this.#thin(p.levels);
    const batch: InspectorBatch = {
      records: p.records,
      levels,
      // Copies: a row keeps changing after it was sent.
      utterances: [...p.rows.values()].map((r) => ({ ...r, path: [...r.path] })),
      ...(p.state ? { state: this.#state } : {}),
      ...(p.header && this.#header ? { header: this.#header } : {}),
      ...(p.metrics && this.#metrics ? { metrics: this.#metrics } : {}),
      stats: { ...this.stats },
    };
    this.#pending = { records: [], levels: [], rows: new Map(), state: false, header: false, metrics: false };
    for (const listener of this.#subscribers) listener(batch);
  }

  close(): void {
    this.detach();
    this.flush();
    this.#subscribers.clear();
  }

  #schedule(): void {
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => this.flush(), this.#batchMs);
    this.#flushTimer.unref();
  }

  /** At most MAX_LEVELS_PER_BATCH points: each bucket keeps its most speech-like point, at the bucket's last position. */
  #thin(points: LevelPoint[]): LevelPoint[] {
    if (points.length <= MAX_LEVELS_PER_BATCH) return points;
    const out: LevelPoint[] = [];
    const per = points.length / MAX_LEVELS_PER_BATCH;
    for (let b = 0; b < MAX_LEVELS_PER_BATCH; b++) {
      const bucket = points.slice(Math.floor(b * per), Math.floor((b + 1) * per));
      const last = bucket[bucket.length - 1];
      if (!last) continue;
      let best = last;
      for (const q of bucket) if (q[1] > best[1] || (q[1] === best[1] && q[2] > best[2])) best = q;
      out.push([last[0], best[1], Math.max(...bucket.map((q) => q[2])), bucket.some((q) => q[3] === 1) ? 1 : 0]);
    }
    this.stats.levelPointsThinned += points.length - out.length;
    return out;
  }
}

function isProgress(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'progress';
}
