/**
 * Decode actor: the one worker that owns the Whisper session. The supervisor sends jobs that name
 * an utterance and its audio by arena offsets (16 kHz samples since the stream began); the worker
 * copies that range out of the arena, decodes it and answers with text and timings. Audio never
 * travels in these messages. All times in ms unless the name ends InS.
 */
import type { SerializedError } from '../../errors.js';
import type { UtteranceArenaShared } from '../../shm/utterance-arena.js';
import type { DraftStats } from '../../whisper/draft.js';
import type { EngineWarning, TranscriberOptions } from '../../whisper/types.js';
import type { LifecycleMessage, ControlMessage } from '../../workers/worker.protocol.js';

export type DecodeJobKind = 'partial' | 'final';

/** How an utterance is decoded: the engine's settings, which its pipeline copies into each job. */
export interface DecodeSettings {
  /** 'auto' to detect. */
  readonly language: string;
  readonly beamSize: number;
  readonly temperatures: readonly number[];
  /** TranscribeOptions.shortWindowMarginMs; absent: the transcriber's default. */
  readonly shortWindowMarginMs?: number | null;
  /** Finals: TranscribeOptions.beamNarrowAfterMs (EngineOptions.finalBeamNarrowAfterMs); absent or null: none. */
  readonly beamNarrowAfterMs?: number | null;
  /**
   * Each decode of an utterance checks the words of its latest decode as a draft, several tokens per
   * decoder pass (src/actors/decode/drafts.ts; EngineOptions.drafts). Absent: true.
   */
  readonly drafts?: boolean;
  readonly initialPrompt: string | null;
  readonly hotwords: string | null;
}

/** Finals carry the full settings (beam, fallback); partials: greedy, one temperature, no timestamps. */
export interface DecodeJobSpec extends DecodeSettings {
  /** Unique per engine; a result names the job it answers. */
  readonly jobId: number;
  readonly kind: DecodeJobKind;
  readonly utteranceId: number;
  readonly startSamples: number;
  readonly endSamples: number;
  /** A speculative final started during the endpoint pause: it may be superseded and ignored. */
  readonly speculative: boolean;
  /**
   * The utterance begins where the VAD cut a longer one at its maximum length, inside speech, so its
   * first words may be the end of a sentence. Its final keeps timestamp tokens (transcribeOptionsFor).
   */
  readonly startsMidSpeech?: boolean;
  /**
   * Which attached arena holds the audio: absent or 0 = the arena given at `init`. A decoder shared
   * by several engines (src/engine/shared-decoder.ts) has one arena per engine, `attach`ed by id.
   */
  readonly arenaId?: number;
}

export interface DecodeTimings {
  /** Time from the job's arrival in the worker to the start of its decode. */
  readonly waitMs: number;
  readonly melMs: number;
  readonly encodeMs: number;
  readonly decodeMs: number;
  readonly totalMs: number;
}

export interface DecodeResultMessage {
  readonly type: 'result';
  readonly jobId: number;
  readonly kind: DecodeJobKind;
  readonly utteranceId: number;
  readonly text: string;
  readonly language: string;
  readonly avgLogprob: number;
  readonly noSpeechProb: number;
  readonly compressionRatio: number;
  readonly temperature: number;
  /** A segment kept in `text` was decoded with its beam narrowed at the job's deadline (beamNarrowAfterMs). */
  readonly beamNarrowed: boolean;
  /** The decode checked the utterance's latest decode as a draft (DecodeSettings.drafts): its counts. */
  readonly draft?: DraftCounts;
  readonly timings: DecodeTimings;
}

/** TranscriptionResult.draft: multi-token decoder passes run, tokens they guessed, guesses sampled. */
export type DraftCounts = Readonly<DraftStats>;

/** Main → decode worker. */
export type DecodeCommand =
  /**
   * `arena` becomes arena 0; null for a shared decoder, whose engines attach theirs. `warmUp`
   * (default true): one small encode and decode before `ready` (src/whisper/warm-up.ts), whose
   * duration `ready` reports as `warmUpMs` (null when skipped).
   */
  | { readonly type: 'init'; readonly model: TranscriberOptions; readonly arena: UtteranceArenaShared | null; readonly warmUp?: boolean }
  /** Makes an engine's arena readable by jobs naming `arenaId` (≥ 1). Allowed before `init` completes. */
  | { readonly type: 'attach'; readonly arenaId: number; readonly arena: UtteranceArenaShared }
  /** The engine is gone: its queued jobs fail, its arena is released. */
  | { readonly type: 'detach'; readonly arenaId: number }
  | { readonly type: 'job'; readonly job: DecodeJobSpec }
  /**
   * The job's result is no longer wanted (a voided speculative final, a partial a final preempts).
   * A queued job is removed; the running one stops at its next checkpoint between model runs. Either
   * way the answer is `jobCancelled`, unless the job was already answered (then nothing more comes).
   */
  | { readonly type: 'cancel'; readonly jobId: number }
  | ControlMessage;

/** Decode worker → main. */
export type DecodeMessage =
  | LifecycleMessage
  | DecodeResultMessage
  /** A job failed (arena range evicted, decode error): the utterance is reported, others go on. */
  | { readonly type: 'jobFailed'; readonly jobId: number; readonly utteranceId: number; readonly error: SerializedError }
  /** A `cancel` took effect; `ranMs` is the decode time spent on it before it stopped (0 if it never started). */
  | { readonly type: 'jobCancelled'; readonly jobId: number; readonly utteranceId: number; readonly kind: DecodeJobKind; readonly ranMs: number }
  | { readonly type: 'warning'; readonly warning: EngineWarning };

export type DecodeMessageType = DecodeMessage['type'];
