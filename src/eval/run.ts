/**
 * The evaluation loop: transcribe each manifest clip with an injected transcriber and score it.
 * No model loading and no file output here, so the loop and the scoring run in a unit test with a
 * scripted transcriber; src/cli/eval.ts wires the real one and writes the files.
 */

import { performance } from 'node:perf_hooks';

import { InvalidOptionError, serializeError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { TranscribeOptions, TranscriptionResult } from '../whisper/types.js';
import { NO_SPEECH_LANG, type ManifestEntry } from './manifest.js';
import { normalizeFor, normalizeRaw } from './normalize.js';
import { type ErrorCounts, charErrors, errorRate, splitWords, wordErrors } from './wer.js';

/** The one thing eval needs from a Transcriber. */
export interface EvalTranscriber {
  transcribeFile(path: string, options?: TranscribeOptions): Promise<TranscriptionResult>;
}

/** 'from-manifest': each clip's lang ('none' clips get auto); 'auto'; or one ISO code for all. */
export type EvalLanguage = 'from-manifest' | 'auto' | (string & {});

export interface EvalOptions {
  readonly language?: EvalLanguage;
  /** Decoding options for every clip (the language comes from `language`). */
  readonly transcribe?: Omit<TranscribeOptions, 'language'>;
  /** Called after each clip, in manifest order (the CLI streams hypotheses from here). */
  readonly onClip?: (clip: ClipResult, index: number, count: number) => void | Promise<void>;
  /** Clock for the per-clip time (default performance.now). */
  readonly now?: () => number;
}

export interface ClipScores {
  /** Normalised reference and hypothesis, as scored. */
  readonly ref: string;
  readonly hyp: string;
  readonly words: ErrorCounts;
  readonly chars: ErrorCounts;
  /** Lower-cased only: the "raw" score. */
  readonly wordsRaw: ErrorCounts;
  readonly wer: number;
}

export interface ClipResult {
  readonly id: string;
  /** The manifest's lang ('none' for non-speech). */
  readonly lang: string;
  readonly audioPath: string;
  readonly reference: string;
  /** The language asked of the transcriber ('auto' or a code). */
  readonly requestedLanguage: string;
  readonly text: string | null;
  /** The language the transcriber used (detected or forced). */
  readonly language: string | null;
  /** Wall-clock time of transcribeFile for this clip: reading, features, encoding, decoding. */
  readonly decodeMs: number | null;
  readonly audioMs: number | null;
  readonly error: { readonly code: ErrorCode | 'STT_INTERNAL'; readonly message: string } | null;
  /** Null for failed clips and for non-speech clips (they have no reference to score). */
  readonly scores: ClipScores | null;
  /** Words in the normalised hypothesis (what a non-speech clip should keep at 0). */
  readonly wordsEmitted: number;
}

export function languageFor(entry: ManifestEntry, mode: EvalLanguage): string {
  if (mode === 'from-manifest') return entry.lang === NO_SPEECH_LANG ? 'auto' : entry.lang;
  return mode;
}

export function scoreClip(lang: string, reference: string, hypothesis: string): ClipScores {
  const normalize = normalizeFor(lang);
  const ref = normalize(reference);
  const hyp = normalize(hypothesis);
  const words = wordErrors(ref, hyp);
  return {
    ref,
    hyp,
    words,
    chars: charErrors(ref, hyp),
    wordsRaw: wordErrors(normalizeRaw(reference), normalizeRaw(hypothesis)),
    wer: errorRate(words),
  };
}

/** Keeps the clips named by `ids` (in manifest order), then the first `limit`. */
export function selectEntries(
  entries: readonly ManifestEntry[],
  selection: { readonly ids?: readonly string[]; readonly limit?: number },
): ManifestEntry[] {
  let chosen = [...entries];
  if (selection.ids !== undefined) {
    const known = new Set(entries.map((e) => e.id));
    const missing = selection.ids.filter((id) => !known.has(id));
    if (missing.length > 0) {
      throw new InvalidOptionError(`--ids names clips not in the manifest: ${missing.join(', ')}`, { option: 'ids' });
    }
    const wanted = new Set(selection.ids);
    chosen = chosen.filter((e) => wanted.has(e.id));
  }
  if (selection.limit !== undefined) {
    if (!Number.isInteger(selection.limit) || selection.limit < 1) {
      throw new InvalidOptionError(`--limit must be a positive integer, got ${selection.limit}`, { option: 'limit' });
    }
    chosen = chosen.slice(0, selection.limit);
  }
  return chosen;
}

/**
 * Transcribes and scores every entry in order. A clip whose transcription throws is recorded with
 * its error code and the loop goes on: one bad file never loses the other results.
 */
export async function runEval(
  entries: readonly ManifestEntry[],
  transcriber: EvalTranscriber,
  options: EvalOptions = {},
): Promise<ClipResult[]> {
  const mode = options.language ?? 'from-manifest';
  const now = options.now ?? (() => performance.now());
  const results: ClipResult[] = [];
  for (let k = 0; k < entries.length; k++) {
    const entry = entries[k] as ManifestEntry;
    const requestedLanguage = languageFor(entry, mode);
    const base = { id: entry.id, lang: entry.lang, audioPath: entry.audioPath, reference: entry.text, requestedLanguage };
    let clip: ClipResult;
    const start = now();
    try {
      const result = await transcriber.transcribeFile(entry.audioPath, { ...options.transcribe, language: requestedLanguage });
      const decodeMs = now() - start;
      const speech = entry.lang !== NO_SPEECH_LANG;
      const scores = speech ? scoreClip(entry.lang, entry.text, result.text) : null;
      const emitted = scores?.hyp ?? normalizeFor(result.language)(result.text);
      clip = {
        ...base,
        text: result.text,
        language: result.language,
        decodeMs,
        audioMs: result.durationMs,
        error: null,
        scores,
        wordsEmitted: splitWords(emitted).length,
      };
    } catch (err) {
      const { code, message } = serializeError(err);
      clip = { ...base, text: null, language: null, decodeMs: null, audioMs: null, error: { code, message }, scores: null, wordsEmitted: 0 };
    }
    results.push(clip);
    await options.onClip?.(clip, k, entries.length);
  }
  return results;
}

/** The JSON line written per clip to --out. */
export function hypothesisLine(clip: ClipResult): string {
  if (clip.error !== null) return JSON.stringify({ id: clip.id, text: null, language: null, decodeMs: null, error: clip.error });
  return JSON.stringify({ id: clip.id, text: clip.text, language: clip.language, decodeMs: clip.decodeMs === null ? null : Math.round(clip.decodeMs) });
}
