/**
 * Where sessions get their engines: one shared decode worker (the model loaded once, finals of
 * every client served first) and a pool of started engines, so that a request never waits for
 * worker startup (wyoming-bench opens a fresh connection per request and times it from its first
 * byte).
 *
 * Spares are started while no request is being served (at startup, and when the last request in
 * flight ends), never beside one: an engine's startup (three worker threads, Silero) on a 2-core
 * machine took the CPU from the request that triggered it. The first request after startup cost
 * 630–840 ms, and 575–629 once the spare waited (a French command, beam 5; ~430 for the requests
 * after it, the rest being the decoder's cold start, see src/whisper/warm-up.ts). A client that
 * arrives while every engine is busy gets a new one started for it; the pool then keeps it.
 *
 * - 'external' segmentation (the default, as wyoming-faster-whisper: the client ran its own VAD and
 *   a request is one utterance): an engine serves request after request. Each request ends with
 *   engine.cut(), which makes all its audio one utterance and waits for its final; the engine then
 *   goes back to the pool. Startup (three worker threads, Silero) is paid once per concurrent
 *   client, not per request, and never competes with a decode in steady state.
 * - 'vad' segmentation (server-side endpointing): the request ends at the engine's first end of
 *   speech and the rest of its audio is ignored, so its engine cannot be reused: each request takes
 *   a fresh one (the pool keeps one started spare).
 */
import { createEngine, type Engine, type EngineOptions } from '../engine.js';
import { createSharedDecoder, type SharedDecoder, type SharedDecoderOptions } from '../engine/shared-decoder.js';
import { InvalidOptionError } from '../errors.js';

export interface RequestEngineOptions {
  /** The server's default language ('auto' or a Whisper code). */
  readonly language: string;
  readonly beamSize?: number;
  /**
   * EngineOptions.finalBeamNarrowAfterMs; absent: null (never), unlike the live engine's 700 ms. A
   * request is often a whole recording, and measured on bench:wyoming the deadline made its long
   * requests faster (a 23 s clip 2.3 → 1.6 s) but cost words there (WER 26.6 → 27.2 % non-streaming,
   * 28.5 % streaming, against the peer's 27.7 %), where the time target is met without it (README →
   * Benchmarks → Wyoming, "Finals running late").
   */
  readonly finalBeamNarrowAfterMs?: number | null;
  /** EngineOptions.drafts (absent: the engine's default, true). */
  readonly drafts?: boolean;
  readonly initialPrompt?: string;
  /** EngineOptions.shortWindowMarginMs (absent: the engine's default). */
  readonly shortWindowMarginMs?: number | null;
  readonly partials: boolean;
  /** Who ends an utterance: the client (one per request, default) or the engine's VAD. */
  readonly segmentation?: 'external' | 'vad';
  /** Silence that ends an utterance (the engine's VAD endpoint), if not the engine's default. */
  readonly endpointSilenceMs?: number;
}

export interface SessionBackend {
  readonly modelName: string;
  readonly defaultLanguage: string;
  /** Whether an engine serves several requests (ended by engine.cut()) or one (ended by flush()). */
  readonly reusable: boolean;
  /** A started engine for one request (push input, 16 kHz mono). */
  acquire(language: string): Promise<Engine>;
  /**
   * Gives an engine back after its request. `clean`: the request ended normally (its cut is done),
   * so a reusable engine may serve another; otherwise it is closed.
   */
  release(engine: Engine, clean: boolean): Promise<void>;
  close(): Promise<void>;
}

export interface EngineBackendOptions extends RequestEngineOptions {
  readonly decoder: SharedDecoderOptions;
  /** Started engines kept ready for the default language (default 1). */
  readonly spares?: number;
  /** Idle reusable engines kept per language (default 4); more are closed. */
  readonly maxIdle?: number;
  readonly log?: (line: string) => void;
}

export class EngineBackend implements SessionBackend {
  readonly modelName: string;
  readonly defaultLanguage: string;
  readonly reusable: boolean;
  readonly #decoder: SharedDecoder;
  readonly #options: EngineBackendOptions;
  /** Started (or starting) engines ready for a request, by language. */
  readonly #idle = new Map<string, Promise<Engine>[]>();
  readonly #inUse = new Set<Engine>();
  #closed = false;

  private constructor(decoder: SharedDecoder, options: EngineBackendOptions) {
    this.#decoder = decoder;
    this.#options = options;
    this.defaultLanguage = options.language;
    this.reusable = (options.segmentation ?? 'external') === 'external';
    const loaded = decoder.info['model'];
    this.modelName = options.decoder.model ?? (typeof loaded === 'string' ? loaded : 'base');
  }

  /** Loads the model once, then starts the spare engines (and waits for them). */
  static async create(options: EngineBackendOptions): Promise<EngineBackend> {
    const decoder = await createSharedDecoder(options.decoder);
    const backend = new EngineBackend(decoder, options);
    try {
      backend.#refill();
      await Promise.all(backend.#idle.get(backend.defaultLanguage) ?? []);
    } catch (err) {
      await backend.close();
      throw err;
    }
    return backend;
  }

  get decoderInfo(): Readonly<Record<string, string | number | boolean | null>> {
    return this.#decoder.info;
  }

  /** Engines started and not closed (idle or serving a request). */
  get engines(): number {
    let idle = 0;
    for (const list of this.#idle.values()) idle += list.length;
    return idle + this.#inUse.size;
  }

  async acquire(language: string): Promise<Engine> {
    if (this.#closed) throw new InvalidOptionError('the Wyoming server is closing', { option: 'decoder' });
    const ready = this.#idle.get(language)?.shift();
    if (ready) {
      try {
        const engine = await ready;
        if (engine.failure === null) {
          this.#inUse.add(engine);
          return engine;
        }
        await engine.close();
      } catch {
        // The spare failed to start: the log has the cause; try once more for this request.
      }
    }
    const engine = await this.#create(language);
    this.#inUse.add(engine);
    return engine;
  }

  async release(engine: Engine, clean: boolean): Promise<void> {
    this.#inUse.delete(engine);
    const pool = this.#idle.get(this.#languageOf(engine)) ?? [];
    if (clean && this.reusable && !this.#closed && engine.failure === null && pool.length < (this.#options.maxIdle ?? 4)) {
      pool.push(Promise.resolve(engine));
      this.#idle.set(this.#languageOf(engine), pool);
    } else {
      await engine.close();
    }
    // Idle now: a spare started here competes with no request.
    if (this.#inUse.size === 0) this.#refill();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const idle = [...this.#idle.values()].flat();
    this.#idle.clear();
    await Promise.all(idle.map((p) => p.then((e) => e.close()).catch(() => undefined)));
    await Promise.all([...this.#inUse].map((e) => e.close().catch(() => undefined)));
    await this.#decoder.close();
  }

  #languageOf(engine: Engine): string {
    return engine.options.language;
  }

  /** Tops the default language's pool up to `spares` started engines (call it only while idle: see the module comment). */
  #refill(): void {
    if (this.#closed) return;
    const pool = this.#idle.get(this.defaultLanguage) ?? [];
    this.#idle.set(this.defaultLanguage, pool);
    while (pool.length < (this.#options.spares ?? 1)) {
      const spare = this.#create(this.defaultLanguage);
      spare.catch((err: unknown) => {
        this.#options.log?.(`spare engine failed to start: ${(err as Error).message}`);
        const i = pool.indexOf(spare);
        if (i >= 0) pool.splice(i, 1);
      });
      pool.push(spare);
    }
  }

  #create(language: string): Promise<Engine> {
    const o = this.#options;
    const vad = {
      segmentation: o.segmentation ?? 'external',
      ...(o.endpointSilenceMs !== undefined ? { endpointSilenceMs: o.endpointSilenceMs } : {}),
    } as const;
    const options: EngineOptions = {
      decoder: this.#decoder,
      input: { kind: 'push', sampleRate: 16_000, channels: 1 },
      language,
      partials: { enabled: o.partials },
      metricsIntervalMs: 0,
      vad,
      ...(o.beamSize !== undefined ? { beamSize: o.beamSize } : {}),
      finalBeamNarrowAfterMs: o.finalBeamNarrowAfterMs ?? null,
      ...(o.drafts !== undefined ? { drafts: o.drafts } : {}),
      ...(o.initialPrompt !== undefined ? { initialPrompt: o.initialPrompt } : {}),
      ...(o.shortWindowMarginMs !== undefined ? { shortWindowMarginMs: o.shortWindowMarginMs } : {}),
      ...(o.decoder.env !== undefined ? { env: o.decoder.env } : {}),
    };
    return createEngine(options);
  }
}
