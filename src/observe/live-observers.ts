/**
 * What `--trace`, `--trace-audio` and `--metrics-port` add to a live session, in one place so the
 * live command only opens, attaches and closes it: the trace file is opened before the engine
 * (a bad path fails first, and the engine's `onTrace` sees its whole start), the metrics server
 * starts once the engine exists, and both close after the engine has (the trace ends with CLOSE).
 */
import type { Engine } from '../engine.js';
import type { TraceRecord } from '../engine/trace.js';
import { createEngineMetrics, type EngineMetricsExporter } from './metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { TraceWriter } from './trace-writer.js';

export interface LiveObserveOptions {
  readonly trace?: string;
  readonly traceAudio?: boolean;
  readonly metricsPort?: number;
  readonly metricsHost?: string;
}

export class LiveObservers {
  readonly #options: LiveObserveOptions;
  readonly #writer: TraceWriter | null;
  #exporter: EngineMetricsExporter | null = null;
  #server: MetricsServer | null = null;

  /** Opens the trace file now (throws a coded error for a path that cannot be written). */
  constructor(options: LiveObserveOptions) {
    this.#options = options;
    this.#writer = options.trace !== undefined ? new TraceWriter(options.trace, { audio: options.traceAudio ?? false }) : null;
  }

  /** createEngine's onTrace, when tracing. */
  get onTrace(): ((record: TraceRecord) => void) | undefined {
    return this.#writer?.onTrace;
  }

  /** Writes the trace header and starts the metrics server; returns the metrics URL, if any. */
  async attach(engine: Engine): Promise<string | null> {
    this.#writer?.attach(engine);
    if (this.#options.metricsPort === undefined) return null;
    this.#exporter = createEngineMetrics(engine);
    this.#server = await startMetricsServer(this.#exporter, {
      port: this.#options.metricsPort,
      ...(this.#options.metricsHost !== undefined ? { host: this.#options.metricsHost } : {}),
    });
    return this.#server.url;
  }

  async close(): Promise<void> {
    await this.#server?.close();
    this.#exporter?.close();
    await this.#writer?.close();
  }
}
