/**
 * Where sessions get their engines: one shared decode worker (the model loaded once, finals of
 * every client served first) and one pre-started spare engine, so that a new connection's request
 * never waits for worker startup (wyoming-bench opens a fresh connection per request and times it
 * from its first byte). Taking the spare starts the next one. An engine serves one request (its
 * input ends at flush()), so every request takes a fresh one.
 */
import { createEngine, type Engine, type EngineOptions } from '../engine.js';
import { createSharedDecoder, type SharedDecoder, type SharedDecoderOptions } from '../engine/shared-decoder.js';
import { InvalidOptionError } from '../errors.js';

export interface RequestEngineOptions {
  /** The server's default language ('auto' or a Whisper code). */
  readonly language: string;
  readonly beamSize?: number;
  readonly initialPrompt?: string;
  readonly partials: boolean;
  /** Silence that ends an utterance (the engine's VAD endpoint), if not the engine's default. */
  readonly endpointSilenceMs?: number;
}

export interface SessionBackend {
  readonly modelName: string;
  readonly defaultLanguage: string;
  /** A started engine for one request (push input, 16 kHz mono). */
  acquire(language: string): Promise<Engine>;
  close(): Promise<void>;
}

export interface EngineBackendOptions extends RequestEngineOptions {
  readonly decoder: SharedDecoderOptions;
  /** Pre-started engines kept ready (0 or 1; default 1). */
  readonly spares?: number;
  readonly log?: (line: string) => void;
}

export class EngineBackend implements SessionBackend {
  readonly modelName: string;
  readonly defaultLanguage: string;
  readonly #decoder: SharedDecoder;
  readonly #options: EngineBackendOptions;
  #spare: Promise<Engine> | null = null;
  #closed = false;

  private constructor(decoder: SharedDecoder, options: EngineBackendOptions) {
    this.#decoder = decoder;
    this.#options = options;
    this.defaultLanguage = options.language;
    const loaded = decoder.info['model'];
    this.modelName = options.decoder.model ?? (typeof loaded === 'string' ? loaded : 'base');
  }

  /** Loads the model once, then starts the first spare engine (and waits for it). */
  static async create(options: EngineBackendOptions): Promise<EngineBackend> {
    const decoder = await createSharedDecoder(options.decoder);
    const backend = new EngineBackend(decoder, options);
    backend.#refill();
    try {
      await backend.#spare;
    } catch (err) {
      await backend.close();
      throw err;
    }
    return backend;
  }

  get decoderInfo(): Readonly<Record<string, string | number | boolean | null>> {
    return this.#decoder.info;
  }

  async acquire(language: string): Promise<Engine> {
    if (this.#closed) throw new InvalidOptionError('the Wyoming server is closing', { option: 'decoder' });
    if (language === this.defaultLanguage && this.#spare) {
      const spare = this.#spare;
      this.#spare = null;
      this.#refill();
      try {
        const engine = await spare;
        if (engine.failure === null) return engine;
        await engine.close();
      } catch {
        // The spare failed to start: the log has the cause; try once more for this request.
      }
    }
    return this.#create(language);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const spare = this.#spare;
    this.#spare = null;
    if (spare) await spare.then((e) => e.close()).catch(() => undefined);
    await this.#decoder.close();
  }

  #refill(): void {
    if (this.#closed || (this.#options.spares ?? 1) < 1) return;
    const spare = this.#create(this.defaultLanguage);
    spare.catch((err: unknown) => this.#options.log?.(`spare engine failed to start: ${(err as Error).message}`));
    this.#spare = spare;
  }

  #create(language: string): Promise<Engine> {
    const o = this.#options;
    const options: EngineOptions = {
      decoder: this.#decoder,
      input: { kind: 'push', sampleRate: 16_000, channels: 1 },
      language,
      partials: { enabled: o.partials },
      metricsIntervalMs: 0,
      ...(o.beamSize !== undefined ? { beamSize: o.beamSize } : {}),
      ...(o.initialPrompt !== undefined ? { initialPrompt: o.initialPrompt } : {}),
      ...(o.endpointSilenceMs !== undefined ? { vad: { endpointSilenceMs: o.endpointSilenceMs } } : {}),
      ...(o.decoder.env !== undefined ? { env: o.decoder.env } : {}),
    };
    return createEngine(options);
  }
}
