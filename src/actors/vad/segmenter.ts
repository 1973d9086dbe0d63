/**
 * Turns per-window speech probabilities (Silero, 512 samples at 16 kHz) into utterances: hysteresis
 * between two thresholds, pre-roll and post-roll, a minimum speech length, an endpoint after a
 * pause, and a maximum utterance length split at the quietest window. Pure logic: no model, no
 * thread, no clock — positions are counted in samples from the windows pushed, so the same
 * probabilities always give the same utterances (tests script them; replay relies on it).
 */
import { InvalidOptionError } from '../../errors.js';
import { DEFAULT_VAD_OPTIONS, type SpeechEndReason, type VadEvent, type VadOptions } from './vad.protocol.js';

type State = 'silence' | 'speech' | 'pause';

export class VadSegmenter {
  readonly options: VadOptions;
  readonly #emit: (event: VadEvent) => void;
  readonly #window: number;
  readonly #preRoll: number;
  readonly #postRoll: number;
  readonly #minSpeech: number;
  readonly #misfireJoin: number;
  readonly #endpoint: number;
  readonly #maxUtterance: number;

  #position = 0;
  #state: State = 'silence';
  #nextId = 1;
  #utteranceId = 0;
  /** Where the current utterance's audio starts (pre-roll included). */
  #utteranceStart = 0;
  /** Start of its first speech window, and end of its latest one. */
  #speechStart = 0;
  #lastSpeechEnd = 0;
  /** End of the previous utterance: a pre-roll never reaches back into it… */
  #previousEnd = 0;
  /**
   * …unless it was a misfire and speech begins within misfireJoinMs of its end: the new utterance
   * then starts at the misfire's own start (its onset minus pre-roll, so a chain of blips reaches
   * back one misfire only). -1: the previous utterance was not a misfire.
   */
  #misfireStart = -1;
  /**
   * External segmentation: the first window Silero called speech (≥ positiveThreshold) and the end
   * of the last one it did not call a pause (≥ negativeThreshold) since the utterance began; -1:
   * none yet. At the cut the utterance is trimmed to them, with pre- and post-roll.
   */
  #firstVoiced = -1;
  #lastVoicedEnd = -1;
  /** RMS of each window since #energyStart, to find the quietest split point. Preallocated. */
  readonly #energies: Float32Array;
  #energyStart = 0;
  #energyCount = 0;

  /**
   * `resume`: a stream already under way (a restarted VAD worker) — positions continue from
   * `positionSamples`, utterance ids from `firstUtteranceId`.
   */
  constructor(
    options: Partial<VadOptions> = {},
    emit: (event: VadEvent) => void,
    resume: { readonly positionSamples: number; readonly firstUtteranceId: number } | null = null,
  ) {
    const o = { ...DEFAULT_VAD_OPTIONS, ...options };
    validate(o);
    this.options = o;
    this.#emit = emit;
    const perMs = o.sampleRate / 1000;
    this.#window = o.windowSamples;
    this.#preRoll = Math.round(o.preRollMs * perMs);
    this.#postRoll = Math.round(o.postRollMs * perMs);
    this.#minSpeech = Math.round(o.minSpeechMs * perMs);
    this.#misfireJoin = Math.round(o.misfireJoinMs * perMs);
    this.#endpoint = Math.round(o.endpointSilenceMs * perMs);
    this.#maxUtterance = Math.round(o.maxUtteranceMs * perMs);
    this.#energies = new Float32Array(Math.ceil(this.#maxUtterance / this.#window) + 2);
    if (resume) {
      this.#position = resume.positionSamples;
      this.#previousEnd = resume.positionSamples;
      this.#nextId = resume.firstUtteranceId;
    }
  }

  /** Samples consumed so far: the end of the last window pushed. */
  get positionSamples(): number {
    return this.#position;
  }

  get inUtterance(): boolean {
    return this.#state !== 'silence';
  }

  /**
   * One window's speech probability (0..1) and RMS energy. `samples` is its real length: a whole
   * window, or less for the last one before a cut or the end of input.
   */
  push(probability: number, energy: number, samples: number = this.#window): void {
    const windowStart = this.#position;
    const windowEnd = windowStart + samples;
    this.#position = windowEnd;
    // External segmentation: every sample belongs to the utterance the next cut ends.
    const speech = this.options.segmentation === 'external' || probability >= this.options.positiveThreshold;

    switch (this.#state) {
      case 'silence':
        if (!speech) return;
        this.#begin(this.#startFor(windowStart), windowStart);
        this.#lastSpeechEnd = windowEnd;
        if (this.options.segmentation === 'external') this.#trackVoiced(probability, windowStart, windowEnd);
        break;
      case 'speech':
        if (this.options.segmentation === 'external') {
          this.#lastSpeechEnd = windowEnd;
          this.#trackVoiced(probability, windowStart, windowEnd);
        } else if (probability < this.options.negativeThreshold) {
          this.#state = 'pause';
          this.#emit({ type: 'pauseStart', utteranceId: this.#utteranceId, endSamples: this.#endOfSpeech() });
        } else {
          this.#lastSpeechEnd = windowEnd;
        }
        break;
      case 'pause':
        if (speech) {
          this.#state = 'speech';
          this.#lastSpeechEnd = windowEnd;
          this.#emit({ type: 'speechResumed', utteranceId: this.#utteranceId });
        } else if (windowEnd - this.#lastSpeechEnd >= this.#endpoint) {
          this.#finish('silence');
          return;
        }
        break;
      default:
        return assertNever(this.#state);
    }
    this.#recordEnergy(energy);
    if (windowEnd - this.#utteranceStart >= this.#maxUtterance) this.#split();
  }

  /** End of input: an utterance in progress ends where the audio ends (or its post-roll). */
  flush(): void {
    if (this.#state !== 'silence') this.#finish('flush');
  }

  /** Where an utterance whose first speech window starts at `windowStart` begins. */
  #startFor(windowStart: number): number {
    if (this.options.segmentation === 'external') return windowStart;
    if (this.#misfireStart >= 0 && windowStart - this.#previousEnd <= this.#misfireJoin) return this.#misfireStart;
    return Math.max(this.#previousEnd, windowStart - this.#preRoll);
  }

  #trackVoiced(probability: number, windowStart: number, windowEnd: number): void {
    if (this.#firstVoiced < 0 && probability >= this.options.positiveThreshold) this.#firstVoiced = windowStart;
    if (this.#firstVoiced >= 0 && probability >= this.options.negativeThreshold) this.#lastVoicedEnd = windowEnd;
  }

  #begin(utteranceStart: number, speechStart: number, midSpeech = false): void {
    this.#firstVoiced = -1;
    this.#lastVoicedEnd = -1;
    this.#utteranceId = this.#nextId++;
    this.#utteranceStart = utteranceStart;
    this.#speechStart = speechStart;
    this.#state = 'speech';
    this.#energyStart = speechStart;
    this.#energyCount = 0;
    this.#emit({ type: 'speechStart', utteranceId: this.#utteranceId, startSamples: utteranceStart, ...(midSpeech ? { startsMidSpeech: true } : {}) });
  }

  #endOfSpeech(): number {
    return Math.min(this.#position, this.#lastSpeechEnd + this.#postRoll);
  }

  #finish(reason: SpeechEndReason): void {
    let startSamples = this.#utteranceStart;
    let endSamples = reason === 'silence' || this.#state === 'pause' ? this.#endOfSpeech() : this.#position;
    // External segmentation, at the cut: the client's utterance without the silence around its
    // speech (Whisper fits the reference transcripts of the French clips better: 0.988 → 0.966
    // nats/token). No speech window at all: kept whole, for the decoder's no-speech gate to judge.
    if (this.options.segmentation === 'external' && this.#firstVoiced >= 0) {
      startSamples = Math.max(this.#utteranceStart, this.#firstVoiced - this.#preRoll);
      endSamples = Math.min(this.#position, this.#lastVoicedEnd + this.#postRoll);
    }
    const base = { utteranceId: this.#utteranceId, startSamples, endSamples };
    if (this.#lastSpeechEnd - this.#speechStart < this.#minSpeech) {
      this.#emit({ type: 'misfire', ...base });
      this.#misfireStart = Math.max(startSamples, this.#speechStart - this.#preRoll);
    } else {
      this.#emit({ type: 'speechEnd', ...base, reason });
      this.#misfireStart = -1;
    }
    this.#previousEnd = endSamples;
    this.#state = 'silence';
  }

  #recordEnergy(energy: number): void {
    if (this.#energyCount < this.#energies.length) this.#energies[this.#energyCount++] = energy;
  }

  /**
   * The utterance reached its maximum length: cut it at the quietest window of its second half
   * (a cut in the first half would leave a long remainder to split again), and go on with the
   * rest as a new utterance with no gap, so no sample is lost between the two.
   */
  #split(): void {
    if (this.#state === 'pause') {
      this.#finish('max-length');
      return;
    }
    const earliest = this.#utteranceStart + this.#maxUtterance / 2;
    let best = -1;
    let bestEnergy = Number.POSITIVE_INFINITY;
    for (let k = 0; k < this.#energyCount; k++) {
      const start = this.#energyStart + k * this.#window;
      const e = this.#energies[k] ?? Number.POSITIVE_INFINITY;
      if (start >= earliest && e <= bestEnergy) {
        best = k;
        bestEnergy = e;
      }
    }
    if (best < 0) best = this.#energyCount - 1;
    const cut = this.#energyStart + best * this.#window + this.#window / 2;
    this.#emit({
      type: 'speechEnd',
      utteranceId: this.#utteranceId,
      startSamples: this.#utteranceStart,
      endSamples: cut,
      reason: 'max-length',
    });
    this.#previousEnd = cut;
    // Windows after the cut belong to the new utterance: move their energies to the front.
    const kept = this.#energies.subarray(best + 1, this.#energyCount);
    const keptStart = this.#energyStart + (best + 1) * this.#window;
    this.#begin(cut, cut, true);
    this.#energies.copyWithin(0, best + 1, best + 1 + kept.length);
    this.#energyStart = keptStart;
    this.#energyCount = kept.length;
  }
}

function validate(o: VadOptions): void {
  const problems: string[] = [];
  if (!Number.isInteger(o.windowSamples) || o.windowSamples < 1) problems.push('windowSamples must be a positive integer');
  if (!Number.isInteger(o.sampleRate) || o.sampleRate < 1) problems.push('sampleRate must be a positive integer');
  if (!(o.positiveThreshold > 0 && o.positiveThreshold <= 1)) problems.push('positiveThreshold must be in (0, 1]');
  if (!(o.negativeThreshold >= 0 && o.negativeThreshold <= o.positiveThreshold)) {
    problems.push('negativeThreshold must be in [0, positiveThreshold]');
  }
  for (const key of ['preRollMs', 'minSpeechMs', 'misfireJoinMs', 'endpointSilenceMs', 'postRollMs'] as const) {
    if (!(o[key] >= 0 && Number.isFinite(o[key]))) problems.push(`${key} must be a finite number ≥ 0`);
  }
  const windowMs = (o.windowSamples / o.sampleRate) * 1000;
  if (o.segmentation !== 'vad' && o.segmentation !== 'external') problems.push(`segmentation must be 'vad' or 'external'`);
  if (!(o.maxUtteranceMs >= 4 * windowMs)) problems.push(`maxUtteranceMs must be at least 4 windows (${4 * windowMs} ms)`);
  if (problems.length > 0) throw new InvalidOptionError(`invalid VAD options: ${problems.join('; ')}`);
}

function assertNever(value: never): never {
  throw new Error(`unhandled VAD state ${String(value)}`);
}
