/**
 * One Wyoming connection: its requests (transcribe → audio-start → audio-chunk* → audio-stop →
 * transcript), one at a time, each on an engine from the backend's pool. Events are handled in
 * order (the server awaits handle() before the next), so audio reaches the engine in order and
 * backpressure flows back to the socket.
 *
 * Every request is answered in streaming form: transcript-start at audio-start, transcript-chunk
 * with new stable words while audio arrives, then transcript (the exact text) and transcript-stop.
 * Non-streaming clients read until `transcript` and ignore the rest.
 *
 * Out-of-order audio (audio-chunk / audio-stop with no audio-start) gets one `error` event
 * ('audio-before-start') per stray run and is ignored; the connection stays usable. With server-side
 * VAD endpointing the request ends at the first end of speech: the transcript goes out then, and
 * the rest of that request's audio (up to its audio-stop) is ignored.
 */
import { StopSignal } from '../async/stop-signal.js';
import type { Engine, FinalEvent } from '../engine.js';
import { serializeError, WyomingProtocolError } from '../errors.js';
import { AudioConverter, parseAudioFormat, sameFormat } from './audio.js';
import { whisperLanguage } from './info.js';
import type { SessionBackend } from './backend.js';
import { parseTranscribe, type OutgoingEvent, type TranscribeRequest, type WyomingData, type WyomingErrorReason, type WyomingEvent } from './protocol.js';
import { TranscriptAssembler } from './transcript-stream.js';

export interface SessionHost {
  readonly backend: SessionBackend;
  /** The `info` event's data. */
  readonly info: WyomingData;
  /** End each request at the first end of speech, without waiting for audio-stop. */
  readonly vadEndpoint: boolean;
  /** True once the server stops taking requests. */
  readonly closing: () => boolean;
  readonly log: (line: string) => void;
}

interface Request {
  readonly engine: Engine;
  readonly language: string;
  converter: AudioConverter;
  readonly assembler: TranscriptAssembler;
  /** No more audio goes to the engine (audio-stop, or the VAD endpoint). */
  ended: boolean;
  /** The transcript being produced, once the request ended. */
  finished: Promise<void> | null;
  readonly finals: FinalEvent[];
  readonly detach: () => void;
}

export class WyomingSession {
  readonly #host: SessionHost;
  readonly #write: (event: OutgoingEvent) => void;
  #request: Request | null = null;
  #transcribe: TranscribeRequest | null = null;
  /** A stray audio event was reported since the last audio-start (report once per run). */
  #strayReported = false;
  #closed = false;
  /** Waits on an engine give up when the session closes (a closed engine's ring never drains). */
  readonly #closedSignal = new StopSignal();
  /** Engines still closing in the background. */
  readonly #closing = new Set<Promise<void>>();
  readonly #idleWaiters: (() => void)[] = [];

  constructor(host: SessionHost, write: (event: OutgoingEvent) => void) {
    this.#host = host;
    this.#write = write;
  }

  /** Whether a request is in progress (audio-start seen, transcript not yet sent). */
  get busy(): boolean {
    return this.#request !== null;
  }

  /** Resolves once no request is open (at once if none is): graceful shutdown waits on it. */
  whenIdle(): Promise<void> {
    if (!this.#request) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Handles one event; never rejects (a failure becomes an `error` event). */
  async handle(event: WyomingEvent): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#dispatch(event);
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof WyomingProtocolError) this.#error(reasonOf(err), err.message);
      else {
        const e = serializeError(err);
        this.#host.log(`request failed: [${e.code}] ${e.message}`);
        this.#error('transcription-failed', `[${e.code}] ${e.message}`);
        this.#abort();
      }
    }
  }

  /** The client is gone (or the server closes it): the engine in use is closed, nothing is sent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedSignal.stop();
    this.#abort();
    await Promise.all(this.#closing);
  }

  async #dispatch(event: WyomingEvent): Promise<void> {
    switch (event.type) {
      case 'describe':
        this.#write({ type: 'info', data: this.#host.info });
        return;
      case 'ping':
        this.#write({ type: 'pong', data: { text: typeof event.data['text'] === 'string' ? event.data['text'] : null } });
        return;
      case 'transcribe':
        this.#transcribe = parseTranscribe(event.data);
        return;
      case 'audio-start':
        await this.#start(event.data);
        return;
      case 'audio-chunk':
        await this.#chunk(event);
        return;
      case 'audio-stop':
        await this.#stop();
        return;
      default:
        // Forward compatibility: unknown events (select-program, …) are dropped, as wyoming servers do.
        return;
    }
  }

  async #start(data: WyomingData): Promise<void> {
    // A new audio-start while a request is open abandons it: the client started over.
    this.#abort();
    this.#strayReported = false;
    if (this.#host.closing()) throw new WyomingProtocolError('the server is shutting down', { reason: 'server-closing' });
    const format = parseAudioFormat(data, 'audio-start');
    const backend = this.#host.backend;
    const language = whisperLanguage(this.#transcribe?.language ?? null) ?? backend.defaultLanguage;
    this.#transcribe = null;
    const converter = await AudioConverter.create(format);
    let engine: Engine;
    try {
      engine = await backend.acquire(language);
    } catch (err) {
      converter.close();
      throw err;
    }
    if (this.#closed) {
      converter.close();
      await engine.close();
      return;
    }
    const assembler = new TranscriptAssembler();
    const finals: FinalEvent[] = [];
    const chunk = (text: string | null): void => {
      if (text !== null && this.#request === request && !this.#closed) this.#write({ type: 'transcript-chunk', data: { text } });
    };
    const onStart = (e: { utteranceId: number }): void => assembler.speechStart(e.utteranceId);
    const onPartial = (p: { utteranceId: number; stable: string }): void => chunk(assembler.partial(p.utteranceId, p.stable));
    const onFinal = (f: FinalEvent): void => {
      finals.push(f);
      chunk(assembler.final(f.utteranceId, f.text));
    };
    const onRejected = (r: { utteranceId: number }): void => chunk(assembler.rejected(r.utteranceId));
    const onEnd = (e: { utteranceId: number; reason: string }): void => {
      if (!this.#host.vadEndpoint || e.reason === 'flush' || request.ended || this.#request !== request) return;
      assembler.endAfter(e.utteranceId);
      request.ended = true;
      request.finished = this.#finish(request);
    };
    const onError = (e: { error: Error & { code?: string }; source: string }): void =>
      this.#host.log(`engine error (${e.source}): [${e.error.code ?? 'STT_INTERNAL'}] ${e.error.message}`);
    engine.on('speechStart', onStart);
    engine.on('partial', onPartial);
    engine.on('final', onFinal);
    engine.on('rejected', onRejected);
    engine.on('speechEnd', onEnd);
    engine.on('error', onError);
    const request: Request = {
      engine,
      language,
      converter,
      assembler,
      ended: false,
      finished: null,
      finals,
      detach: () => {
        engine.off('speechStart', onStart);
        engine.off('partial', onPartial);
        engine.off('final', onFinal);
        engine.off('rejected', onRejected);
        engine.off('speechEnd', onEnd);
        engine.off('error', onError);
      },
    };
    this.#request = request;
    this.#write({ type: 'transcript-start', data: language === 'auto' ? {} : { language } });
  }

  async #chunk(event: WyomingEvent): Promise<void> {
    const request = this.#request;
    if (!request) return this.#stray('audio-chunk');
    if (request.ended) return;
    // A chunk names its own format; missing fields mean the audio-start's.
    const format = parseAudioFormat({ ...request.converter.format, ...event.data }, 'audio-chunk');
    if (!sameFormat(format, request.converter.format)) {
      await this.#push(request, request.converter.flush());
      request.converter.close();
      request.converter = await AudioConverter.create(format);
    }
    if (event.payload) await this.#push(request, request.converter.push(event.payload));
  }

  async #stop(): Promise<void> {
    const request = this.#request;
    if (!request) return this.#stray('audio-stop');
    if (!request.ended) {
      await this.#push(request, request.converter.flush());
      request.ended = true;
      request.finished = this.#finish(request);
    }
    await request.finished;
  }

  #stray(type: string): void {
    if (this.#strayReported) return;
    this.#strayReported = true;
    this.#error('audio-before-start', `${type} before audio-start: ignored (send audio-start first)`);
  }

  /** Waits for the request's finals, sends the transcript, and frees the engine. */
  async #finish(request: Request): Promise<void> {
    // A reusable engine ends the request with a cut (it then serves the next one); otherwise the
    // request's input ends with it.
    const backend = this.#host.backend;
    try {
      await this.#closedSignal.race<unknown>(backend.reusable ? request.engine.cut() : request.engine.flush());
    } catch (err) {
      if (!this.#closed && this.#request === request) {
        const e = serializeError(err);
        this.#error('transcription-failed', `[${e.code}] ${e.message}`);
      }
      this.#release(request);
      return;
    }
    if (this.#closed || this.#request !== request) return;
    const text = request.assembler.text();
    const language = request.finals[0]?.language ?? (request.language === 'auto' ? null : request.language);
    this.#write({ type: 'transcript', data: language === null ? { text } : { text, language } });
    this.#write({ type: 'transcript-stop' });
    this.#release(request, true);
  }

  /** Pushes converted audio unless the session closes first (a closed engine's ring never drains). */
  async #push(request: Request, samples: Float32Array): Promise<void> {
    if (samples.length === 0 || request.ended) return;
    await this.#closedSignal.race(request.engine.pushAudio(samples, 16_000));
  }

  /** Drops the open request, if any, without a transcript (its engine closes in the background). */
  #abort(): void {
    const request = this.#request;
    if (request) this.#release(request);
  }

  /** `clean`: the request ended normally, so a reusable engine goes back to the pool. */
  #release(request: Request, clean = false): void {
    if (this.#request === request) {
      this.#request = null;
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
    request.detach();
    request.converter.close();
    const closing = this.#host.backend
      .release(request.engine, clean)
      .catch((err: unknown) => this.#host.log(`engine release failed: ${(err as Error).message}`));
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }

  #error(reason: WyomingErrorReason, text: string): void {
    if (!this.#closed) this.#write({ type: 'error', data: { text, code: reason } });
  }
}

export function reasonOf(err: WyomingProtocolError): WyomingErrorReason {
  const reason = err.details['reason'];
  return typeof reason === 'string' ? (reason as WyomingErrorReason) : 'bad-header';
}
