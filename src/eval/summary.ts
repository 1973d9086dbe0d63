/** Corpus-level scores from per-clip results: one block per reference language, plus non-speech. */

import type { ErrorCode } from '../errors.js';
import { NO_SPEECH_LANG } from './manifest.js';
import type { ClipResult } from './run.js';
import { errorRate, sumCounts } from './wer.js';

export interface LanguageSummary {
  readonly clips: number;
  /** Normalised WER: total errors / total reference words (jiwer on a list). */
  readonly wer: number;
  readonly cer: number;
  /** Lower case only, no other normalisation. */
  readonly werRaw: number;
  readonly substitutions: number;
  readonly deletions: number;
  readonly insertions: number;
  readonly refWords: number;
}

export interface EvalSummary {
  readonly model: string;
  readonly settings: Readonly<Record<string, string | number | boolean | null>>;
  readonly clips: number;
  /** Failed clips are listed here and left out of the WER blocks. */
  readonly failed: number;
  readonly failures: readonly { readonly id: string; readonly code: ErrorCode | 'STT_INTERNAL'; readonly message: string }[];
  readonly languages: Readonly<Record<string, LanguageSummary>>;
  readonly noise: { readonly clips: number; readonly wordsEmitted: number };
  readonly audioInS: number;
  readonly decodeMs: number;
  /** Real-time factor: total decode time / total audio time (successful clips). */
  readonly rtf: number | null;
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

export function summarize(
  clips: readonly ClipResult[],
  model: string,
  settings: Readonly<Record<string, string | number | boolean | null>>,
): EvalSummary {
  const byLang = new Map<string, ClipResult[]>();
  let noiseClips = 0;
  let noiseWords = 0;
  let audioMs = 0;
  let decodeMs = 0;
  const failures: { id: string; code: ErrorCode | 'STT_INTERNAL'; message: string }[] = [];
  for (const clip of clips) {
    if (clip.error !== null) {
      failures.push({ id: clip.id, code: clip.error.code, message: clip.error.message });
      continue;
    }
    audioMs += clip.audioMs ?? 0;
    decodeMs += clip.decodeMs ?? 0;
    if (clip.lang === NO_SPEECH_LANG) {
      noiseClips++;
      noiseWords += clip.wordsEmitted;
      continue;
    }
    const list = byLang.get(clip.lang) ?? [];
    list.push(clip);
    byLang.set(clip.lang, list);
  }
  const languages: Record<string, LanguageSummary> = {};
  for (const [lang, list] of [...byLang.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const scored = list.flatMap((c) => (c.scores === null ? [] : [c.scores]));
    const words = sumCounts(scored.map((s) => s.words));
    languages[lang] = {
      clips: list.length,
      wer: round(errorRate(words)),
      cer: round(errorRate(sumCounts(scored.map((s) => s.chars)))),
      werRaw: round(errorRate(sumCounts(scored.map((s) => s.wordsRaw)))),
      substitutions: words.substitutions,
      deletions: words.deletions,
      insertions: words.insertions,
      refWords: words.refLength,
    };
  }
  return {
    model,
    settings,
    clips: clips.length,
    failed: failures.length,
    failures,
    languages,
    noise: { clips: noiseClips, wordsEmitted: noiseWords },
    audioInS: round(audioMs / 1000, 3),
    decodeMs: Math.round(decodeMs),
    rtf: audioMs > 0 ? round(decodeMs / audioMs) : null,
  };
}
