/**
 * Post-process actor: cleans a decoded text before it reaches users — the hallucination guard
 * (decoder gates, a French/English blocklist of phantom phrases such as subtitle credits,
 * repetition collapse), lexicon corrections reported one by one, and optional French number
 * normalisation. Small messages only (text and scores).
 */
import type { LifecycleMessage, ControlMessage } from '../../workers/worker.protocol.js';

export interface LexiconRule {
  /** Matched case-insensitively on word boundaries, e.g. "super whispers". */
  readonly from: string;
  /** Replacement, e.g. "SuperWhisper". */
  readonly to: string;
}

export interface PostProcessOptions {
  readonly lexicon: readonly LexiconRule[];
  /** Write French numbers in digits ("vingt et un" → "21", "quatre-vingts pour cent" → "80 %"). */
  readonly frenchNumbers: boolean;
  /** Reject when noSpeechProb > this and avgLogprob < logProbThreshold (the decoder's no-speech gate). */
  readonly noSpeechThreshold: number;
  readonly logProbThreshold: number;
  /** Reject when the text's compression ratio is above this (a repetition loop). */
  readonly compressionRatioThreshold: number;
  /** Extra phantom phrases to reject, added to the built-in French/English list. */
  readonly extraBlocklist: readonly string[];
}

export type RejectReason = 'empty' | 'no-speech' | 'blocklisted' | 'repetition' | 'misfire';

export interface Correction {
  /** 'blocklist': a phantom phrase trailing real speech was stripped (`to` is ''). */
  readonly rule: 'lexicon' | 'french-numbers' | 'repetition-collapse' | 'blocklist';
  readonly from: string;
  readonly to: string;
}

export interface PostProcessInput {
  readonly utteranceId: number;
  readonly kind: 'partial' | 'final';
  readonly text: string;
  readonly language: string;
  readonly avgLogprob: number;
  readonly noSpeechProb: number;
  readonly compressionRatio: number;
}

export interface PostProcessOutput {
  readonly utteranceId: number;
  readonly kind: 'partial' | 'final';
  /** The cleaned text ('' when rejected). */
  readonly text: string;
  readonly rejected: RejectReason | null;
  readonly corrections: readonly Correction[];
}

/** Main → post-process worker. */
export type PostProcessCommand =
  | { readonly type: 'init'; readonly options: PostProcessOptions }
  | { readonly type: 'process'; readonly requestId: number; readonly input: PostProcessInput }
  | ControlMessage;

/** Post-process worker → main. */
export type PostProcessMessage =
  | LifecycleMessage
  | { readonly type: 'processed'; readonly requestId: number; readonly output: PostProcessOutput };
