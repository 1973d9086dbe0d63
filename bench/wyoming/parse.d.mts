// Types of parse.mjs, so the TypeScript unit test checks its calls under `strict`.

export interface Stat {
  min: number | null;
  mean: number | null;
  median: number | null;
  p95: number | null;
  max: number | null;
}

/** One `-v` line: a timed request. Times in ms as printed (whole ms); WER as a fraction. */
export interface Measurement {
  readonly mode: string;
  readonly round: number;
  readonly sampleId: string;
  readonly ok: boolean;
  readonly totalMs: number | null;
  /** Time to the first transcript-chunk (streaming mode only). */
  readonly ttftMs: number | null;
  readonly wer: number | null;
  readonly audioInS: number | null;
  readonly error: string | null;
}

/** wyoming-bench's own aggregates for one mode (its per-server block). Totals and TTFT in ms. */
export interface ModeSummary {
  ok: number;
  fail: number;
  totalMs: Stat | null;
  ttftMs: Stat | null;
  rtf: Stat | null;
  audioMeanInS: number | null;
  /** Pooled over the successful requests, as fractions (printed to 0.1 %). */
  wer: number | null;
  cer: number | null;
  /** Sentence accuracy rate: share of requests with an exact (normalised) transcript. */
  sar: number | null;
  edits: { sub: number; ins: number; del: number; refWords: number } | null;
}

export interface ServerOutput {
  readonly label: string;
  readonly measurements: Measurement[];
  readonly warmups: { mode: string; sampleId: string; ok: boolean; error: string | null }[];
  /** mode → wyoming-bench's reason for skipping it. */
  readonly notSupported: Record<string, string>;
  readonly skipped: string[];
  readonly modes: Record<string, ModeSummary>;
}

export interface BenchOutput {
  version: string | null;
  rounds: number | null;
  warmup: number | null;
  corpus: { samples: number; audioInS: number } | null;
  servers: ServerOutput[];
}

export declare function parseBenchOutput(text: string): BenchOutput;
