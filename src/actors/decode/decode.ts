/**
 * The decode actor's logic, without threads: jobs name an utterance by arena offsets; the actor
 * copies that range out of the arena, runs Whisper on it and posts text, scores and timings.
 *
 * - One Whisper session → jobs run strictly one at a time. An engine keeps one job in flight (its
 *   DecodeQueue already ordered and pruned them), so with one engine the order is its order. When
 *   several engines share the decoder (src/engine/shared-decoder.ts) the waiting jobs are theirs:
 *   finals go first, oldest first, so one client's partials never delay another client's final.
 * - Each job names the arena its audio is in (`arenaId`; a shared decoder has one per engine).
 * - A job that fails (range evicted, bad audio, runtime error) becomes `jobFailed` with its coded
 *   error, and the next job runs: one bad utterance never loses the others.
 * - `cancel` removes a waiting job, or aborts the running one at its next checkpoint between model
 *   runs (AbortSignal through transcribe); either way the answer is `jobCancelled`. A job already
 *   answered is left alone: its answer is on its way, and the caller must take it.
 * - The copy buffer grows geometrically and is reused, so steady-state jobs allocate no audio.
 *
 * Dependencies are injected (transcriber, arena reader, post, clock): tests drive it with a
 * scripted transcriber and a real single-thread arena; src/workers/decode.worker.ts wires the real ones.
 */
import { DecodeCancelledError, InvalidOptionError, serializeError } from '../../errors.js';
import type { Segment, TranscribeOptions, TranscriptionResult, WhisperBackend } from '../../whisper/types.js';
import { WHISPER_SAMPLE_RATE } from '../../whisper/transcribe.js';
import type { DecodeJobSpec, DecodeMessage, DecodeResultMessage } from './decode.protocol.js';
import { DraftStore } from './drafts.js';

/** What the actor needs of a Transcriber (src/transcriber.ts's fits). */
export interface DecodeTranscriber {
  readonly backend: WhisperBackend;
  transcribe(samples: Float32Array, options?: TranscribeOptions): Promise<TranscriptionResult>;
}

/** What the actor needs of UtteranceArenaReader. */
export interface DecodeArenaSource {
  read(startSamples: number, endSamples: number, into?: Float32Array): Float32Array;
}

/** Whisper's no-speech gate: the driver's for finals, the actor's own per segment (see #score). */
export interface NoSpeechGate {
  readonly noSpeechThreshold: number;
  readonly logProbThreshold: number;
}

/** OpenAI whisper's defaults for the no-speech gate. */
export const DEFAULT_NO_SPEECH_GATE: NoSpeechGate = { noSpeechThreshold: 0.6, logProbThreshold: -1 };

/** The arena a job's `arenaId` names (0 when absent), or undefined if none is attached under it. */
export type DecodeArenaLookup = (arenaId: number) => DecodeArenaSource | undefined;

export interface DecodeActorDeps {
  readonly transcriber: DecodeTranscriber;
  /** One arena (every job reads it), or a lookup by the job's arenaId. */
  readonly arena: DecodeArenaSource | DecodeArenaLookup;
  readonly post: (message: DecodeMessage) => void;
  /** Monotonic ms clock (default performance.now). */
  readonly now?: () => number;
  readonly gate?: NoSpeechGate;
  /** Initial size of the reused copy buffer (default 10 s at 16 kHz); it grows as needed. */
  readonly initialBufferSamples?: number;
}

export interface DecodeActorStats {
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Jobs waiting, not counting the one being decoded. */
  readonly queued: number;
  readonly busy: boolean;
}

interface PendingJob {
  readonly job: DecodeJobSpec;
  readonly arrivedMs: number;
}

/**
 * Finals of at least this much audio are encoded in a window of their audio plus the margin,
 * without the transcriber's 20 s minimum (DEFAULT_SHORT_WINDOW_MIN_MS). The minimum is there for
 * commands, which lose accuracy in windows much shorter than Whisper's 30 s; a long utterance does
 * not, and its final is the one the user waits for (its decode outlasts the endpoint pause), so the
 * smaller window is pure latency: a 10 s utterance's encoder pass over 14 s instead of 20 s, and
 * each decoder step attends to 700 positions instead of 1000. Measured on the corpus (teacher-forced
 * loss of the reference transcripts, nats/token, clips of 6 s and more; README → Models → Short windows):
 * French 0.954 → 0.946 with per-channel weights, 0.958 → 0.962 with the hub's, English 0.419 →
 * 0.424; their beam-5 decodes 9–16 % faster.
 */
export const LONG_FINAL_MIN_SAMPLES = 6 * WHISPER_SAMPLE_RATE;

/**
 * A final's short-window decode that fails only the log-prob gate with a no-speech probability below
 * this keeps its text instead of the guard's retry (TranscribeOptions.shortWindowRetryMinNoSpeech):
 * half the no-speech threshold. On the corpus the first decodes that failed that way were speech
 * (no-speech 0.03–0.09: "annuler", "silence", two fragments of the stream), where the retry cost
 * 1.1–1.4 s on a 2-core CPU and its text was better once, worse once and as wrong twice; noise
 * decodes were 0.6–0.9 and keep the retry (README → Models → Short windows).
 */
export const FINAL_RETRY_MIN_NO_SPEECH = 0.3;

/**
 * Decoding options for a job: finals get the full settings, partials the fast path. Prompt and
 * hotwords go to partials too: they bias vocabulary, so partials agree with the final
 * (LocalAgreement) at the cost of a few prompt tokens.
 *
 * Finals keep the driver's no-speech skip (a silent 30 s window inside a long utterance is
 * dropped without a wasted temperature fallback). Partials turn it off: with one temperature
 * there is no fallback to save, and a partial then always carries its scores, so an all-silent
 * one reaches the post-processor as 'no-speech' rather than ''.
 *
 * A final is one utterance, so its segment times are never used: its short window is decoded
 * without timestamp tokens (shortWindowWithoutTimestamps), ~14 % fewer decoder steps. When that
 * decode fails a gate, the guard's retry (full window, every temperature) keeps them, as the
 * reference decodes. So does an utterance that starts mid-speech (after a max-length cut made inside
 * speech, as the VAD's speechStart reports): without the timestamp rules (first timestamp within 1 s)
 * Whisper may skip an unfinished first sentence and still pass every gate (README → Models → Short
 * windows, "Finals without timestamp tokens").
 */
export function transcribeOptionsFor(
  job: DecodeJobSpec,
  gate: NoSpeechGate = DEFAULT_NO_SPEECH_GATE,
  signal?: AbortSignal,
  draft: readonly number[] | null = null,
): TranscribeOptions {
  const shared: TranscribeOptions = {
    language: job.language,
    ...(signal !== undefined ? { signal } : {}),
    ...(draft !== null && draft.length > 0 ? { draftTokens: draft } : {}),
    logProbThreshold: gate.logProbThreshold,
    ...(job.shortWindowMarginMs !== undefined ? { shortWindowMarginMs: job.shortWindowMarginMs } : {}),
    ...(job.initialPrompt !== null ? { initialPrompt: job.initialPrompt } : {}),
    ...(job.hotwords !== null ? { hotwords: job.hotwords } : {}),
  };
  switch (job.kind) {
    case 'final':
      return {
        ...shared,
        ...(job.endSamples - job.startSamples >= LONG_FINAL_MIN_SAMPLES ? { shortWindowMinMs: 0 } : {}),
        noSpeechThreshold: gate.noSpeechThreshold,
        beamSize: job.beamSize,
        temperatures: [...job.temperatures],
        withoutTimestamps: false,
        shortWindowWithoutTimestamps: job.startsMidSpeech !== true,
        shortWindowRetryMinNoSpeech: FINAL_RETRY_MIN_NO_SPEECH,
        beamNarrowAfterMs: job.beamNarrowAfterMs ?? null,
      };
    case 'partial':
      return {
        ...shared,
        noSpeechThreshold: null,
        // Interim results favour speed: the window is the audio plus the margin, however short.
        shortWindowMinMs: 0,
        beamSize: 1,
        temperatures: [0],
        withoutTimestamps: true,
        conditionOnPreviousText: false,
      };
    default:
      return assertNever(job.kind);
  }
}

export class DecodeActor {
  readonly #transcriber: DecodeTranscriber;
  readonly #arena: DecodeArenaLookup;
  readonly #post: (message: DecodeMessage) => void;
  readonly #now: () => number;
  readonly #gate: NoSpeechGate;
  readonly #queue: PendingJob[] = [];
  #buffer: Float32Array;
  #running: Promise<void> | null = null;
  /** The job being decoded and the controller that cancels it. */
  #current: { readonly job: DecodeJobSpec; readonly controller: AbortController } | null = null;
  #completed = 0;
  #failed = 0;
  #cancelled = 0;
  /** The latest decoded text tokens of recent utterances, drafts for their next decodes. */
  readonly #drafts = new DraftStore();

  constructor(deps: DecodeActorDeps) {
    this.#transcriber = deps.transcriber;
    const { arena } = deps;
    this.#arena = typeof arena === 'function' ? arena : () => arena;
    this.#post = deps.post;
    this.#now = deps.now ?? (() => performance.now());
    this.#gate = deps.gate ?? DEFAULT_NO_SPEECH_GATE;
    this.#buffer = new Float32Array(deps.initialBufferSamples ?? 160_000);
  }

  get stats(): DecodeActorStats {
    return {
      completed: this.#completed,
      failed: this.#failed,
      cancelled: this.#cancelled,
      queued: this.#queue.length,
      busy: this.#running !== null,
    };
  }

  /**
   * Cancels a job: a waiting one is answered `jobCancelled` at once, the running one when its
   * decode reaches its next checkpoint. Returns false when the actor no longer holds the job (it
   * was answered already, or never came): nothing more will be posted for it by this call.
   */
  cancel(jobId: number): boolean {
    const index = this.#queue.findIndex((p) => p.job.jobId === jobId);
    if (index >= 0) {
      const [pending] = this.#queue.splice(index, 1);
      if (pending) this.#postCancelled(pending.job, 0);
      return true;
    }
    const current = this.#current;
    if (current?.job.jobId !== jobId) return false;
    current.controller.abort(new Error(`job ${jobId} was cancelled`));
    return true;
  }

  /** Queues a job; it starts as soon as the jobs before it are done. */
  submit(job: DecodeJobSpec): void {
    this.#queue.push({ job, arrivedMs: this.#now() });
    if (this.#running === null) {
      this.#running = this.#drain().finally(() => {
        this.#running = null;
      });
    }
  }

  /** Resolves once every job submitted so far has been answered (result or jobFailed). */
  async whenIdle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  async #drain(): Promise<void> {
    for (let next = this.#next(); next !== undefined; next = this.#next()) {
      // #run never throws: every failure is posted as jobFailed.
      await this.#run(next);
    }
  }

  /** The oldest final if any is waiting, else the oldest job. */
  #next(): PendingJob | undefined {
    const final = this.#queue.findIndex((p) => p.job.kind === 'final');
    return this.#queue.splice(final >= 0 ? final : 0, 1)[0];
  }

  async #run({ job, arrivedMs }: PendingJob): Promise<void> {
    const startedMs = this.#now();
    const controller = new AbortController();
    this.#current = { job, controller };
    try {
      const arenaId = job.arenaId ?? 0;
      const arena = this.#arena(arenaId);
      if (!arena) throw new InvalidOptionError(`decode job ${job.jobId} names arena ${arenaId}, which is not attached`, { option: 'arenaId' });
      const samples = this.#copy(arena, job.startSamples, job.endSamples);
      const draft = job.drafts === false ? null : this.#drafts.draftFor(arenaId, job);
      const result = await this.#transcriber.transcribe(samples, transcribeOptionsFor(job, this.#gate, controller.signal, draft));
      if (job.drafts !== false) this.#drafts.remember(arenaId, job, result.segments);
      const message = this.#message(job, result, arrivedMs, startedMs);
      this.#completed++;
      this.#post(message);
    } catch (err) {
      if (err instanceof DecodeCancelledError && controller.signal.aborted) {
        this.#postCancelled(job, this.#now() - startedMs);
      } else {
        this.#failed++;
        this.#post({ type: 'jobFailed', jobId: job.jobId, utteranceId: job.utteranceId, error: serializeError(err) });
      }
    } finally {
      this.#current = null;
    }
  }

  #postCancelled(job: DecodeJobSpec, ranMs: number): void {
    this.#cancelled++;
    this.#post({ type: 'jobCancelled', jobId: job.jobId, utteranceId: job.utteranceId, kind: job.kind, ranMs });
  }

  #copy(arena: DecodeArenaSource, startSamples: number, endSamples: number): Float32Array {
    const length = endSamples - startSamples;
    if (length > this.#buffer.length) {
      // Doubling keeps reallocations logarithmic in the longest utterance seen.
      this.#buffer = new Float32Array(Math.max(length, this.#buffer.length * 2));
    }
    return arena.read(startSamples, endSamples, this.#buffer);
  }

  #message(job: DecodeJobSpec, result: TranscriptionResult, arrivedMs: number, startedMs: number): DecodeResultMessage {
    const score = this.#score(result.segments);
    return {
      type: 'result',
      jobId: job.jobId,
      kind: job.kind,
      utteranceId: job.utteranceId,
      text: score.text,
      language: result.language !== '' ? result.language : job.language,
      avgLogprob: score.avgLogprob,
      noSpeechProb: score.noSpeechProb,
      compressionRatio: score.compressionRatio,
      temperature: score.temperature,
      beamNarrowed: score.beamNarrowed,
      ...(result.draft !== undefined ? { draft: { ...result.draft } } : {}),
      timings: {
        waitMs: startedMs - arrivedMs,
        melMs: result.timings.melMs,
        encodeMs: result.timings.encodeMs,
        decodeMs: result.timings.decodeMs,
        // Arrival to answer: what the supervisor's latency budget sees (wait + copy + decode).
        totalMs: this.#now() - arrivedMs,
      },
    };
  }

  /**
   * Text and scores of a multi-segment result. Windows failing the no-speech gate are dropped when
   * others pass (a silent stretch inside a long utterance); when all fail, they are all kept so the
   * post-processor sees the failing scores and rejects with 'no-speech' under its own thresholds.
   * Aggregates over what is kept are the worst ones, so a gate that rejects any part rejects the
   * text: lowest avgLogprob, highest noSpeechProb, highest compression ratio, highest temperature.
   * No segment at all (a blank decode, or a final whose every window the driver skipped as
   * silence) → text '' with neutral zero scores: the post-processor's 'empty' reason applies.
   */
  #score(segments: readonly Segment[]): {
    text: string;
    avgLogprob: number;
    noSpeechProb: number;
    compressionRatio: number;
    temperature: number;
    beamNarrowed: boolean;
  } {
    const { noSpeechThreshold, logProbThreshold } = this.#gate;
    const silent = (s: Segment): boolean => s.noSpeechProb > noSpeechThreshold && s.avgLogprob < logProbThreshold;
    const speech = segments.filter((s) => !silent(s));
    const kept = speech.length > 0 ? speech : segments;
    if (kept.length === 0) return { text: '', avgLogprob: 0, noSpeechProb: 0, compressionRatio: 0, temperature: 0, beamNarrowed: false };
    let avgLogprob = Infinity;
    let noSpeechProb = -Infinity;
    let compressionRatio = -Infinity;
    let temperature = -Infinity;
    for (const s of kept) {
      avgLogprob = Math.min(avgLogprob, s.avgLogprob);
      noSpeechProb = Math.max(noSpeechProb, s.noSpeechProb);
      compressionRatio = Math.max(compressionRatio, s.compressionRatio);
      temperature = Math.max(temperature, s.temperature);
    }
    const text = kept
      .map((s) => s.text)
      .join('')
      .trim();
    return { text, avgLogprob, noSpeechProb, compressionRatio, temperature, beamNarrowed: kept.some((s) => s.beamNarrowed === true) };
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown decode job kind ${JSON.stringify(value)}`);
}
