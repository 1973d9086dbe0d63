/**
 * What the VAD actor tells the supervisor. Positions are absolute sample indices at 16 kHz since
 * the stream began (the same positions the utterance arena uses), so a message carries offsets,
 * never audio. All times in ms unless the name ends InS.
 */

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
  /** Pause length that ends an utterance. */
  readonly endpointSilenceMs: number;
  /** Audio kept after the last speech window (part of the pause), so word endings are not cut. */
  readonly postRollMs: number;
  /** An utterance reaching this length is split at its quietest window. */
  readonly maxUtteranceMs: number;
}

export const DEFAULT_VAD_OPTIONS: VadOptions = {
  windowSamples: 512,
  sampleRate: 16_000,
  positiveThreshold: 0.5,
  negativeThreshold: 0.35,
  preRollMs: 192,
  minSpeechMs: 160,
  endpointSilenceMs: 480,
  postRollMs: 96,
  maxUtteranceMs: 28_000,
};

export type SpeechEndReason = 'silence' | 'max-length' | 'flush';

export type VadEvent =
  /** First speech window seen; startSamples includes the pre-roll. */
  | { readonly type: 'speechStart'; readonly utteranceId: number; readonly startSamples: number }
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
