// Types of interleave.mjs, so the TypeScript unit test checks its calls under `strict`.
import type { ServerOutput } from './parse.d.mts';

export interface InterleavedSummary {
  readonly rounds: number;
  /** Successful non-streaming requests per server, over every round. */
  readonly requests: { readonly ours: number; readonly peer: number };
  readonly failed: { readonly ours: number; readonly peer: number };
  readonly oursMeanMs: number | null;
  readonly peerMeanMs: number | null;
  /** oursMeanMs ÷ peerMeanMs. */
  readonly ratio: number | null;
  /** Each complete round's ours ÷ peer mean, in round order. */
  readonly roundRatios: readonly number[];
  readonly pairRatioMedian: number | null;
  readonly target: number;
  readonly met: boolean;
}

export declare function interleaveOrder(round: number): ['peer', 'ours'] | ['ours', 'peer'];
export declare function summarizeInterleaved(
  passes: readonly { readonly round: number; readonly system: string; readonly output: ServerOutput | null }[],
  target: number,
): InterleavedSummary;
export declare function renderInterleaved(summary: InterleavedSummary): string;
