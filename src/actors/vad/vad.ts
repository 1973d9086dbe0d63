/**
 * The VAD actor's logic, without threads: it reads the capture → VAD ring in fixed windows (512
 * samples at 16 kHz for Silero), appends every sample to the utterance arena, asks a speech model
 * for each window's probability, and feeds the segmenter, whose events it posts as offsets.
 *
 * Whole windows waiting in the ring are scored together, up to `maxRunWindows` in one model run
 * (live audio brings one to four at a time; a request sent whole or a file read faster than real
 * time brings a backlog, which Silero scores ~2.3× faster in runs of 32). The segmenter still sees
 * window after window. When it ends an utterance in silence mid-run, the windows after that point
 * are scored again from a fresh model state, as they would have been one at a time: a run changes
 * when probabilities are known, never what they are.
 *
 * Ordering matters: samples are appended to the arena as soon as they are read from the ring, so
 * any range an event names is already readable when the event is posted — and a VAD worker that
 * dies mid-window loses nothing: what it read is in the arena, and its successor resumes at the
 * arena's head (`resume` in the start command). At end of input a partial last window
 * is zero-padded for the model only: the arena gets its real samples, and event positions are
 * clamped to the real sample count (the segmenter counts whole windows).
 *
 * Dependencies are injected (ring reader, arena writer, model, post), so tests drive it in one
 * thread with a scripted model; src/workers/vad.worker.ts only wires the real ones.
 */
import { InvalidSamplesError, serializeError } from '../../errors.js';
import type { ReadableOutcome } from '../../shm/audio-ring.js';
import { VadSegmenter } from './segmenter.js';
import { DEFAULT_VAD_OPTIONS, type VadEvent, type VadMessage, type VadOptions, type VadResume } from './vad.protocol.js';

/** A speech/non-speech model over fixed windows, carrying its own recurrent state between calls. */
export interface SpeechProbabilityModel {
  /**
   * Probabilities (0..1) that each of `count` consecutive windows holds speech: `windows` holds
   * them end to end (count × windowSamples samples), after the windows of earlier calls in stream
   * order. The result (`count` values) may be a view the next call overwrites.
   */
  probabilities(windows: Float32Array, count: number): Promise<Float32Array>;
  /** Forgets the state carried between windows (a new stream begins). */
  reset(): void;
  close(): Promise<void>;
}

/** What the actor needs of AudioRingReader. */
export interface VadAudioSource {
  read(into: Float32Array, maxSamples?: number): number;
  waitReadable(timeoutMs?: number): Promise<ReadableOutcome>;
}

/** What the actor needs of UtteranceArenaWriter. */
export interface VadArenaSink {
  append(chunk: Float32Array): number;
  /** Resolves once `lengthSamples` can be appended without evicting audio an open utterance needs. */
  waitForRoom(lengthSamples: number): Promise<unknown>;
}

export interface VadActorDeps {
  readonly source: VadAudioSource;
  readonly arena: VadArenaSink;
  readonly model: SpeechProbabilityModel;
  readonly post: (message: VadMessage) => void;
  readonly options?: Partial<VadOptions>;
  /** A progress message every this many windows (4 × 32 ms ≈ 128 ms). */
  readonly progressEveryWindows?: number;
  /** A restarted worker: continue the stream at this position, with these utterance ids. */
  readonly resume?: VadResume | null;
  /** Whole windows scored in one model run at most (default 32). */
  readonly maxRunWindows?: number;
}

export interface VadActorStats {
  readonly windows: number;
  readonly positionSamples: number;
  /** Time spent in the model, to report ms per window. */
  readonly modelMs: number;
  /** Samples that were NaN or infinite: replaced by silence (0) in the arena and the model input. */
  readonly nonFiniteSamples: number;
  readonly events: Readonly<Record<VadEvent['type'], number>>;
}

/**
 * Options for rooms with music or a TV on. Silero gives hold music up to ~0.83 per window, so the
 * default threshold (0.5, Silero's own) turns 27 s of music into ~10 utterances; at 0.85 none
 * start (corpus: noise_hold_music_part1). A higher threshold also starts speech later on soft
 * onsets (up to ~600 ms on "silence", "règle…"), so the pre-roll grows to keep those syllables.
 * The long command session still yields its 22 utterances with these.
 */
export const NOISE_ROBUST_VAD_OPTIONS: Partial<VadOptions> = { positiveThreshold: 0.85, preRollMs: 640 };

/** A floor for the level of digital silence, so messages never carry -Infinity (JSON cannot). */
export const SILENCE_FLOOR_DBFS = -100;

/**
 * How long one wait on the ring lasts before the loop re-checks its flags. A flush or stop also
 * wakes the loop at once (see #wake); the bound only limits how long a superseded waitAsync lingers.
 */
const WAIT_SLICE_MS = 250;


export class VadActor {
  readonly options: VadOptions;
  readonly #source: VadAudioSource;
  readonly #arena: VadArenaSink;
  readonly #model: SpeechProbabilityModel;
  readonly #post: (message: VadMessage) => void;
  readonly #segmenter: VadSegmenter;
  readonly #progressEvery: number;
  /**
   * Samples read and not yet scored, sanitised (NaN → 0), from the start of a window: room for one
   * run of whole windows. A partial last window is zero-padded here for the model only (the arena
   * has its real samples). Preallocated.
   */
  readonly #pending: Float32Array;
  #filled = 0;

  #started = false;
  /** A pending cut: the stream position the current utterance must end at. */
  #cutAt: number | null = null;
  #flushRequested = false;
  #stopRequested = false;
  #wake: (() => void) | null = null;

  #positionSamples = 0;
  #windows = 0;
  #modelMs = 0;
  #nonFinite = 0;
  #inBadStretch = false;
  readonly #eventCounts: Record<VadEvent['type'], number> = {
    speechStart: 0,
    pauseStart: 0,
    speechResumed: 0,
    speechEnd: 0,
    misfire: 0,
  };

  constructor(deps: VadActorDeps) {
    this.#segmenter = new VadSegmenter({ ...DEFAULT_VAD_OPTIONS, ...deps.options }, (e) => this.#emit(e), deps.resume ?? null);
    this.#positionSamples = deps.resume?.positionSamples ?? 0;
    this.options = this.#segmenter.options;
    this.#source = deps.source;
    this.#arena = deps.arena;
    this.#model = deps.model;
    this.#post = deps.post;
    this.#progressEvery = Math.max(1, Math.floor(deps.progressEveryWindows ?? 4));
    const maxRun = Math.max(1, Math.floor(deps.maxRunWindows ?? 32));
    this.#pending = new Float32Array(maxRun * this.options.windowSamples);
  }

  stats(): VadActorStats {
    return {
      windows: this.#windows,
      positionSamples: this.#positionSamples,
      modelMs: this.#modelMs,
      nonFiniteSamples: this.#nonFinite,
      events: { ...this.#eventCounts },
    };
  }

  /**
   * Reads until the ring ends or a flush drains it (then posts `ended`), or until stop(). Rejects
   * only when the model fails: the worker turns that into `fatal`.
   */
  async run(): Promise<void> {
    if (this.#started) throw new Error('VadActor.run called twice');
    this.#started = true;
    this.#model.reset();
    for (;;) {
      await this.#drain();
      if (this.#stopRequested) return;
      if (this.#cutAt !== null && this.#positionSamples + this.#filled >= this.#cutAt) {
        await this.#cutNow();
        continue;
      }
      if (this.#flushRequested) {
        await this.#finish();
        return;
      }
      // The writer closing the ring is the same as a flush.
      if ((await this.#waitForData()) === 'ended') this.#flushRequested = true;
    }
  }

  /** End of input upstream: process what the ring holds now, flush the segmenter, post `ended`. */
  flush(): void {
    this.#flushRequested = true;
    this.#wake?.();
  }

  /**
   * Ends the current utterance at stream position `atSamples` (see the `cut` command). A position
   * already behind what was read cuts at once; cuts do not queue (the latest wins).
   */
  cut(atSamples: number): void {
    this.#cutAt = Math.max(atSamples, this.#positionSamples);
    this.#wake?.();
  }

  /** Stops reading after the current window; run() resolves without `ended`. */
  stop(): void {
    this.#stopRequested = true;
    this.#wake?.();
  }

  /** Scores every whole window the ring holds now (up to a pending cut), a run at a time. */
  async #drain(): Promise<void> {
    const size = this.options.windowSamples;
    for (;;) {
      if (this.#stopRequested) return;
      // Up to a pending cut and no further: what follows it belongs to the next utterance.
      const free = this.#pending.length - this.#filled;
      const room = this.#cutAt === null ? free : Math.min(free, this.#cutAt - this.#positionSamples - this.#filled);
      if (room > 0) {
        const got = this.#source.read(this.#pending.subarray(this.#filled), room);
        if (got > 0) await this.#store(this.#filled, got);
        this.#filled += got;
      }
      const whole = Math.floor(this.#filled / size);
      if (whole === 0) return;
      await this.#processWindows(whole, size);
      // An incomplete window read after the whole ones moves to the front.
      this.#pending.copyWithin(0, whole * size, this.#filled);
      this.#filled -= whole * size;
    }
  }

  async #waitForData(): Promise<ReadableOutcome> {
    const woken = new Promise<'woken'>((resolve) => {
      this.#wake = () => resolve('woken');
    });
    const outcome = await Promise.race([this.#source.waitReadable(WAIT_SLICE_MS), woken]);
    this.#wake = null;
    return outcome === 'woken' ? 'timed-out' : outcome;
  }

  async #cutNow(): Promise<void> {
    if (this.#filled > 0) {
      await this.#processWindows(1, this.#filled);
      this.#filled = 0;
    }
    this.#segmenter.flush();
    // The next utterance is a new stream for Silero: no recurrent state from this one.
    this.#model.reset();
    this.#cutAt = null;
    this.#postProgress();
    this.#post({ type: 'cut', positionSamples: this.#positionSamples });
  }

  async #finish(): Promise<void> {
    // The ring may still hold samples written before the flush: take them all.
    await this.#drain();
    if (this.#stopRequested) return;
    if (this.#filled > 0) {
      await this.#processWindows(1, this.#filled);
      this.#filled = 0;
    }
    this.#segmenter.flush();
    this.#postProgress();
    this.#post({ type: 'ended', positionSamples: this.#positionSamples });
  }

  /**
   * Sanitises `length` samples just read into #pending at `from` (NaN / infinite → silence) and
   * appends them to the arena a window at a time. When decoding lags (a file read faster than real
   * time), it waits rather than overwrite audio still to decode; asking room for a window, not a
   * whole run, keeps the arena size an engine needs what it was.
   */
  async #store(from: number, length: number): Promise<void> {
    const chunk = this.#pending.subarray(from, from + length);
    let bad = 0;
    for (let i = 0; i < length; i++) {
      if (!Number.isFinite(chunk[i])) {
        chunk[i] = 0;
        bad++;
      }
    }
    this.#noteBadSamples(bad);
    const size = this.options.windowSamples;
    for (let at = 0; at < length; at += size) {
      const piece = chunk.subarray(at, Math.min(length, at + size));
      await this.#arena.waitForRoom(piece.length);
      this.#arena.append(piece);
    }
  }

  /**
   * Scores and segments the first `count` windows of #pending (already in the arena): whole
   * windows, or one last window of `lastReal` samples at a cut or the end of input.
   */
  async #processWindows(count: number, lastReal: number): Promise<void> {
    const size = this.options.windowSamples;
    if (lastReal < size) this.#pending.fill(0, (count - 1) * size + lastReal, count * size);
    let next = 0;
    while (next < count) {
      if (this.#freshStatePending) {
        // The utterance before ended in silence: what comes next is a new stream for Silero.
        this.#model.reset();
        this.#freshStatePending = false;
      }
      const started = performance.now();
      const scored = await this.#model.probabilities(this.#pending.subarray(next * size, count * size), count - next);
      this.#modelMs += performance.now() - started;
      // Until an utterance ends in silence: the windows after it need scores from a fresh state.
      for (let k = 0; next < count && !this.#freshStatePending; k++, next++) {
        this.#segmentWindow(next, next === count - 1 ? lastReal : size, scored[k] ?? 0);
      }
    }
  }

  /** Feeds one scored window of #pending (`real` samples of it) to the segmenter. */
  #segmentWindow(index: number, real: number, probability: number): void {
    const size = this.options.windowSamples;
    const window = this.#pending.subarray(index * size, index * size + real);
    let sumSquares = 0;
    for (let i = 0; i < real; i++) {
      const x = window[i] as number;
      sumSquares += x * x;
    }
    this.#positionSamples += real;
    const rms = Math.sqrt(sumSquares / real);
    this.#lastProbability = probability;
    this.#lastLevelDbfs = rms > 0 ? Math.max(SILENCE_FLOOR_DBFS, 20 * Math.log10(rms)) : SILENCE_FLOOR_DBFS;
    this.#segmenter.push(Number.isFinite(probability) ? probability : 0, rms, real);
    this.#windows++;
    if (this.#windows % this.#progressEvery === 0) this.#postProgress();
  }

  #lastProbability = 0;
  #lastLevelDbfs = SILENCE_FLOOR_DBFS;
  /**
   * Set when an utterance ends in silence (or misfires): the next window starts Silero from a fresh
   * recurrent state. Carried over, the state of a loud utterance keeps a quiet speaker who follows
   * below the threshold: a −62 dBFS clip after a normal one never passed 0.34, and 0.5 from a fresh
   * state. A split at the maximum length keeps the state, since the speech goes on.
   */
  #freshStatePending = false;

  #postProgress(): void {
    this.#post({
      type: 'progress',
      positionSamples: this.#positionSamples,
      probability: this.#lastProbability,
      levelDbfs: this.#lastLevelDbfs,
      inUtterance: this.#segmenter.inUtterance,
    });
  }

  /** Non-finite samples are bad input: one coded error per bad stretch, the stream goes on. */
  #noteBadSamples(bad: number): void {
    if (bad === 0) {
      this.#inBadStretch = false;
      return;
    }
    this.#nonFinite += bad;
    if (this.#inBadStretch) return;
    this.#inBadStretch = true;
    const error = new InvalidSamplesError(
      `VAD input holds ${bad} NaN or infinite samples near position ${this.#positionSamples}; they are treated as silence`,
      { positionSamples: this.#positionSamples, samples: bad },
    );
    this.#post({ type: 'error', error: serializeError(error), utteranceId: null });
  }

  #emit(event: VadEvent): void {
    // The segmenter counts whole windows; after a zero-padded last window its positions can pass
    // the real end of the audio, which the arena does not hold.
    const end = this.#positionSamples;
    let clamped: VadEvent;
    switch (event.type) {
      case 'speechStart':
        clamped = { ...event, startSamples: Math.min(event.startSamples, end) };
        break;
      case 'pauseStart':
        clamped = { ...event, endSamples: Math.min(event.endSamples, end) };
        break;
      case 'speechResumed':
        clamped = event;
        break;
      case 'speechEnd':
      case 'misfire':
        clamped = { ...event, startSamples: Math.min(event.startSamples, end), endSamples: Math.min(event.endSamples, end) };
        break;
      default:
        return assertNever(event);
    }
    if ((clamped.type === 'speechEnd' && clamped.reason === 'silence') || clamped.type === 'misfire') this.#freshStatePending = true;
    this.#eventCounts[clamped.type]++;
    this.#post({ type: 'vad', event: clamped });
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled VAD event ${JSON.stringify(value)}`);
}
