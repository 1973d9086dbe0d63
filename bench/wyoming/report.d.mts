// Types of report.mjs, so the TypeScript unit test checks its calls under `strict`.
import type { ServerOutput } from './parse.d.mts';

export type Pass = 'burst' | 'realtime';

export declare const TOTAL_RATIO_TARGET: number;
export declare const PASS_LABELS: Readonly<Record<Pass, string>>;

export interface Row {
  readonly system: string;
  readonly pass: Pass;
  readonly mode: string;
  /** mode, plus " (real time)" for the paced pass. */
  readonly label: string;
  readonly supported: boolean;
  /** Why an unsupported row is empty. */
  readonly note: string | null;
  readonly ok: number;
  readonly fail: number;
  readonly wer: number | null;
  readonly cer: number | null;
  readonly sar: number | null;
  readonly totalMeanMs: number | null;
  readonly totalMedianMs: number | null;
  readonly totalP95Ms: number | null;
  readonly ttftMeanMs: number | null;
  readonly ttftMedianMs: number | null;
  readonly ttftP95Ms: number | null;
  /** Successful requests that had a first partial. */
  readonly ttftCount: number;
  readonly rtfMean: number | null;
}

export interface Targets {
  readonly wer: { ours: number; peer: number; delta: number; met: boolean } | null;
  readonly total: { ours: number; peer: number; ratio: number; met: boolean } | null;
  readonly streaming: {
    supported: boolean;
    ttftMeanMs: number | null;
    ttftP95Ms: number | null;
    realtimeTtftMeanMs: number | null;
    realtimeTtftP95Ms: number | null;
    met: boolean;
  } | null;
}

export interface ServerPasses {
  readonly system: string;
  readonly passes: readonly { readonly pass: Pass; readonly modes: readonly string[]; readonly output: ServerOutput | null }[];
}

export declare function summarize(servers: readonly ServerPasses[]): Row[];
export declare function checkTargets(rows: readonly Row[]): Targets;
export declare function renderMarkdown(report: {
  readonly rows: readonly Row[];
  readonly targets: Targets;
  readonly names: Readonly<Record<string, string>>;
}): string;
