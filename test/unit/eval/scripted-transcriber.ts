/**
 * A transcriber for unit tests of the evaluation loop: it returns scripted texts per audio path
 * (or throws a scripted error), so the aggregation can be checked against hand-computed numbers.
 */
import type { EvalTranscriber } from '../../../src/eval/run.js';
import type { TranscribeOptions, TranscriptionResult } from '../../../src/whisper/types.js';

export interface Script {
  readonly text?: string;
  readonly language?: string;
  readonly durationMs?: number;
  readonly error?: Error;
}

export class ScriptedTranscriber implements EvalTranscriber {
  readonly calls: { path: string; options: TranscribeOptions | undefined }[] = [];
  closed = false;

  constructor(private readonly scripts: ReadonlyMap<string, Script>) {}

  async transcribeFile(path: string, options?: TranscribeOptions): Promise<TranscriptionResult> {
    this.calls.push({ path, options });
    const script = this.scripts.get(path);
    if (script === undefined) throw new Error(`no script for ${path}`);
    if (script.error !== undefined) throw script.error;
    const durationMs = script.durationMs ?? 2000;
    return {
      text: script.text ?? '',
      language: script.language ?? (options?.language === 'auto' || options?.language === undefined ? 'fr' : options.language),
      languageProbability: null,
      segments: [],
      durationMs,
      timings: { melMs: 0, encodeMs: 0, decodeMs: 0, totalMs: 0 },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
