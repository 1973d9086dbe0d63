// Types of report.mjs, so the TypeScript unit test checks its calls under `strict`.

export type Group = 'fr' | 'en' | 'long' | 'noise';
export declare const GROUPS: readonly ['fr', 'en', 'long', 'noise'];

export interface BenchClip {
  readonly id: string;
  readonly group: Group;
  /** Language forced when decoding ('fr' for noise clips). */
  readonly lang: string;
  /** Language of the reference text; null for noise clips (no reference). */
  readonly refLang: string | null;
  readonly path: string;
  readonly durationInS: number;
  readonly reference: string;
}

export interface ClipResult {
  readonly id: string;
  readonly text: string;
  readonly decodeMs: number;
}

export interface GroupScore {
  clips: number;
  audioInS: number;
  decodeMs: number;
  errors: number;
  refWords: number;
  /** Words emitted after normalisation (the score of noise clips). */
  hypWords: number;
  /** null when the group has no reference words (noise). */
  wer: number | null;
  rtf: number;
}

export interface RunScore {
  /** fr, en, long, noise, and long-fr / long-en (the long group split by language). */
  readonly groups: Partial<Record<string, GroupScore>>;
  /** Over fr, en, long, noise (long-* are not counted twice). */
  readonly total: { readonly decodeMs: number; readonly audioInS: number; readonly rtf: number | null };
}

export interface ErrorCountsLike {
  readonly substitutions: number;
  readonly deletions: number;
  readonly insertions: number;
  readonly refLength: number;
}

export interface ScoredRun {
  readonly system: string;
  readonly config: string;
  /** 1-based round of run.mjs --rounds (absent: 1). */
  readonly round?: number;
  /** Per-clip texts (compared across rounds by roundRatios). */
  readonly results?: readonly ClipResult[];
  readonly score: RunScore;
  readonly summary: { readonly peakRssBytes: number; readonly loadMs: number };
}

export declare function clipsFromManifest(
  entries: readonly Record<string, unknown>[],
  corpusDir: string,
): BenchClip[];

export declare function selectClips<C extends { readonly group: string }>(
  clips: readonly C[],
  groups: readonly string[],
  limit: number | null,
): C[];

export declare function scoreRun(args: {
  readonly clips: readonly BenchClip[];
  readonly results: readonly ClipResult[];
  readonly normalize: (text: string, lang: string) => string;
  readonly wordErrors: (ref: string, hyp: string) => ErrorCountsLike;
}): RunScore;

export declare function ratios(
  runs: readonly ScoredRun[],
  ours?: string,
  peer?: string,
): Record<string, Record<Group | 'total', number | null>>;

export interface RoundRatios {
  readonly perRound: readonly { readonly round: number; readonly total: number }[];
  readonly pooled: Record<Group | 'total', number | null>;
  readonly sameTexts: boolean;
}

/** Runs of several rounds need their results (texts are compared across rounds). */
export declare function roundRatios(
  runs: readonly (ScoredRun & { readonly results: readonly ClipResult[] })[],
  ours?: string,
  peer?: string,
): Record<string, RoundRatios>;

export declare function renderMarkdown(report: { readonly runs: readonly ScoredRun[]; readonly rounds?: number }): string;
