/**
 * The pipeline's side of the post-process actor: each decoded text becomes a request, kept until
 * its answer comes, so a restarted post-process worker gets every unanswered one again (the answer
 * of the dead worker can never arrive, so nothing is processed twice). Also builds the `final`
 * event of an answered request, with its timings.
 */
import type { DecodeResultMessage } from '../actors/decode/decode.protocol.js';
import type { PostProcessInput, PostProcessOutput } from '../actors/postprocess/postprocess.protocol.js';
import type { FinalEvent } from '../engine/events.js';

/** A decode result and how long its job waited in the pipeline's queue. */
export interface DecodedResult {
  readonly result: DecodeResultMessage;
  readonly queueMs: number;
}

export interface PostRequest {
  readonly utteranceId: number;
  readonly input: PostProcessInput;
  readonly decoded: DecodedResult;
  /** The utterance's audio, 16 kHz positions: what the event's startMs / endMs report. */
  readonly startSamples: number;
  readonly endSamples: number;
  readonly speculative: boolean;
  readonly sentAtMs: number;
}

export class PostProcessRequests {
  readonly #send: (requestId: number, input: PostProcessInput) => void;
  readonly #now: () => number;
  readonly #pending = new Map<number, PostRequest>();
  #up = false;
  #nextRequestId = 1;

  constructor(send: (requestId: number, input: PostProcessInput) => void, now: () => number) {
    this.#send = send;
    this.#now = now;
  }

  /** Requests sent (or waiting for the worker) and not answered yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Sends a decode result to be post-processed (now, or when the worker is up). */
  request(utteranceId: number, decoded: DecodedResult, startSamples: number, endSamples: number, speculative: boolean): void {
    const { result } = decoded;
    const input: PostProcessInput = {
      utteranceId,
      kind: result.kind,
      text: result.text,
      language: result.language,
      avgLogprob: result.avgLogprob,
      noSpeechProb: result.noSpeechProb,
      compressionRatio: result.compressionRatio,
    };
    const requestId = this.#nextRequestId++;
    this.#pending.set(requestId, { utteranceId, input, decoded, startSamples, endSamples, speculative, sentAtMs: this.#now() });
    if (this.#up) this.#send(requestId, input);
  }

  /** The worker is (back) up: every unanswered request goes (again). */
  ready(): void {
    this.#up = true;
    for (const [requestId, request] of this.#pending) this.#send(requestId, request.input);
  }

  down(): void {
    this.#up = false;
  }

  /** The request an answer is for, once; undefined for an unknown or already answered id. */
  take(requestId: number): PostRequest | undefined {
    const request = this.#pending.get(requestId);
    this.#pending.delete(requestId);
    return request;
  }
}

/**
 * The final event of an answered request. `enteredAtMs`: when the last speech sample entered the
 * engine (wall clock), or null if unknown; `nowMs`: the emission time on the same clock.
 */
export function finalEvent(
  request: PostRequest,
  output: PostProcessOutput,
  ms: (samples: number) => number,
  nowMs: number,
  enteredAtMs: number | null,
): FinalEvent {
  const { result, queueMs } = request.decoded;
  return {
    utteranceId: request.utteranceId,
    text: output.text,
    language: result.language,
    startMs: ms(request.startSamples),
    endMs: ms(request.endSamples),
    speculative: request.speculative,
    beamNarrowed: result.beamNarrowed === true,
    timings: {
      decodeMs: result.timings.totalMs,
      queueMs,
      postProcessMs: nowMs - request.sentAtMs,
      endOfSpeechToFinalMs: enteredAtMs === null ? null : Math.max(0, nowMs - enteredAtMs),
    },
    corrections: output.corrections,
  };
}
