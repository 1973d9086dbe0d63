/**
 * What the utterance pipeline (src/state/pipeline.ts) is given: its options, resolved from the
 * engine's, and its ports to the actors and to the user. Kept apart so that the engine, the trace
 * and the inspector can name them without the pipeline's logic.
 */
import type { DecodeJobSpec, DecodeSettings } from '../actors/decode/decode.protocol.js';
import type { PostProcessInput } from '../actors/postprocess/postprocess.protocol.js';
import type { EngineEventMap } from '../engine/events.js';

export type UtteranceState = 'idle' | 'speech' | 'endpointing' | 'decoding' | 'postprocessing' | 'emitted' | 'rejected';

/** The decode settings are what finals get (partials: greedy, one temperature, no timestamps). */
export interface PipelineOptions extends DecodeSettings {
  readonly sampleRate: number;
  readonly partialsEnabled: boolean;
  readonly partialIntervalMs: number;
  /**
   * Partials are for someone watching a live speaker. When an utterance's audio arrives more than
   * this many times faster than real time (a file, a client sending a whole recording at once),
   * its final will be ready before a partial could be read, and a partial in flight would only
   * delay that final: such partials are skipped and counted ('fast-input'). null: never skip.
   */
  readonly partialMaxInputSpeed: number | null;
  /**
   * The share of the decoder's time partials may take, in (0, 1]: after the first partial of an
   * utterance, the next comes after max(partialIntervalMs, last partial decode time ÷ share) of new
   * audio. A partial cannot be stopped inside its encoder pass, so the busier partials keep the
   * decoder, the longer a final queued at the endpoint waits. null (or absent, in an older trace):
   * partialIntervalMs alone.
   */
  readonly partialMaxDecodeShare?: number | null;
  /**
   * A partial due is started only when the VAD's last window was at least this likely speech (the
   * VAD's positive threshold); otherwise it waits for the next progress report. Speech fading below
   * it is often a pause beginning, and a partial cannot be stopped inside its encoder pass: the
   * speculative final queued at that pause would wait for it. Absent (an older trace, or external
   * segmentation, where no pause starts a final): no such rule.
   */
  readonly partialMinSpeechProbability?: number;
  readonly maxPendingPartials: number;
  /** Audio after the last speech window inside an utterance's end (VAD post-roll). */
  readonly postRollMs: number;
  /**
   * The VAD's endpoint silence. At a pause the final is decoded speculatively only while the audio
   * that settles the pause (this long after it) has not arrived: live speech, where the decode uses
   * the wait. When that audio is already in (a file, a Wyoming request sent whole), the VAD settles
   * the pause as fast as it reads, and a speculative decode would only hold the decoder: with VAD
   * segmentation, the final of a French command sent whole waited 172 ms on average behind voided
   * ones (75 ms since). Absent (a trace recorded before this option): always speculate.
   */
  readonly endpointSilenceMs?: number;
}

export type PipelineEmit = <K extends 'final' | 'partial' | 'speechStart' | 'speechEnd' | 'rejected' | 'error'>(
  type: K,
  ...payload: EngineEventMap[K]
) => void;

export interface PipelinePorts {
  readonly sendDecode: (job: DecodeJobSpec) => void;
  /** Asks the decode worker to drop a job; absent: jobs always run to the end. */
  readonly cancelDecode?: (jobId: number) => void;
  readonly sendPostProcess: (requestId: number, input: PostProcessInput) => void;
  readonly emit: PipelineEmit;
  /** Wall clock in ms (epoch), the same clock capture's `progress.atMs` uses. */
  readonly now: () => number;
  /** When the sample at this 16 kHz position entered the engine (epoch ms), or null if unknown. */
  readonly wallClockOfSample: (positionSamples: number) => number | null;
  readonly onUtteranceState?: (utteranceId: number, state: UtteranceState) => void;
}
