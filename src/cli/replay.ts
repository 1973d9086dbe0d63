/**
 * `stt-engine replay TRACE.jsonl`: re-runs a session recorded with `--trace` through the real
 * supervisor and pipeline and reports any difference from its recorded finals; `--redecode` also
 * decodes each final's recorded audio again (traces written with `--trace-audio`). Exit 0 when
 * everything is identical, 1 when something differs (or the trace cannot be read), 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { serializeError } from '../errors.js';
import { redecodeTrace, type RedecodeReport } from '../observe/redecode.js';
import { replayTrace, type FinalSummary, type ReplayReport } from '../observe/replay.js';
import { readTraceFile } from '../observe/trace-reader.js';
import { createTranscriber } from '../transcriber.js';
import type { TranscriberOptions } from '../whisper/types.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIO } from './io.js';

export const REPLAY_USAGE = `Usage: stt-engine replay TRACE.jsonl [options]

Re-runs a session recorded with \`stt-engine --trace FILE\` and reports any difference from its
recorded finals (text, utterance id, start and end). Deterministic: the trace's clock, not the wall
clock. Exit 0 when identical, 1 when different.

Options:
  --post-process M      rerun (default: the post-processor of this build, with the recorded
                        options) or recorded (the recorded post-process outputs)
  --redecode            also decode each final's recorded audio again (needs --trace-audio) and
                        compare the texts
  --model NAME          model for --redecode (default: base)
  --model-dir DIR       a model folder in the hub layout
  --device DEV          cpu, cuda or cuda:N (default: cpu)
  --threads N           decode threads
  --json                the report as one JSON object
  -h, --help            this help
`;

const OPTIONS = {
  'post-process': { type: 'string' },
  redecode: { type: 'boolean' },
  model: { type: 'string' },
  'model-dir': { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

const range = (f: FinalSummary): string => `[${f.startMs}–${f.endMs} ms]`;

const rejectedList = (list: ReplayReport['recordedRejected']): string => list.map((r) => `${r.utteranceId}:${r.reason}`).join(' ');

/** Same finals and same rejections; a re-decode, when asked, decoded something and found no change. */
function identical(report: ReplayReport, redecode: RedecodeReport | null): boolean {
  const sameReplay = report.differences.length === 0 && rejectedList(report.recordedRejected) === rejectedList(report.replayedRejected);
  return sameReplay && (!redecode || (redecode.differences.length === 0 && redecode.decoded > 0));
}

function printReplay(io: CliIO, report: ReplayReport): void {
  const { recordedFinals, replayedFinals, identical, differences } = report;
  io.stdout.write(`finals: ${recordedFinals.length} recorded, ${replayedFinals.length} replayed: ${identical} identical, ${differences.length} different\n`);
  for (const d of differences) {
    if (d.kind === 'changed' && d.recorded && d.replayed) {
      io.stdout.write(`  ~ utterance ${d.utteranceId} (${d.fields.join(', ')}): ${JSON.stringify(d.recorded.text)} ${range(d.recorded)} → ${JSON.stringify(d.replayed.text)} ${range(d.replayed)}\n`);
    } else if (d.kind === 'missing' && d.recorded) {
      io.stdout.write(`  - utterance ${d.utteranceId} has no final in the replay: ${JSON.stringify(d.recorded.text)} ${range(d.recorded)}\n`);
    } else if (d.replayed) {
      io.stdout.write(`  + utterance ${d.utteranceId} has a final only in the replay: ${JSON.stringify(d.replayed.text)} ${range(d.replayed)}\n`);
    }
  }
  const sameRejected = rejectedList(report.recordedRejected) === rejectedList(report.replayedRejected);
  io.stdout.write(`rejected: ${report.recordedRejected.length} recorded, ${report.replayedRejected.length} replayed${sameRejected ? '' : ' (different)'}\n`);
  if (!sameRejected) io.stdout.write(`  recorded: ${rejectedList(report.recordedRejected) || '-'}\n  replayed: ${rejectedList(report.replayedRejected) || '-'}\n`);
  for (const note of report.notes) io.stdout.write(`note: ${note}\n`);
}

function printRedecode(io: CliIO, report: RedecodeReport): void {
  io.stdout.write(`redecode: ${report.jobs} final decodes, ${report.decoded} decoded again: ${report.identical} identical, ${report.differences.length} different\n`);
  for (const d of report.differences) {
    io.stdout.write(`  ~ job ${d.jobId} (utterance ${d.utteranceId}): ${JSON.stringify(d.recorded)} → ${JSON.stringify(d.redecoded)}\n`);
  }
  if (report.withoutAudio.length > 0) io.stdout.write(`note: no audio in the trace for job(s) ${report.withoutAudio.join(', ')}\n`);
  if (report.narrowed.length > 0) {
    io.stdout.write(`note: not decoded again, their beam narrowed at the deadline (timing-dependent): job(s) ${report.narrowed.join(', ')}\n`);
  }
  if (report.drafted.length > 0) {
    io.stdout.write(`note: not decoded again, they checked a draft the trace does not hold (its int8 rounding): job(s) ${report.drafted.join(', ')}\n`);
  }
}

export const runReplayCommand: CliCommand = async (argv, io) => {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; args: string[] }>>['values'];
  let file: string;
  let mode: 'rerun' | 'recorded';
  let model: TranscriberOptions;
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true });
    values = parsed.values;
    if (values.help) {
      io.stdout.write(REPLAY_USAGE);
      return EXIT_OK;
    }
    if (parsed.positionals.length !== 1) throw new UsageError('replay takes exactly one trace file');
    file = parsed.positionals[0] as string;
    const m = values['post-process'] ?? 'rerun';
    if (m !== 'rerun' && m !== 'recorded') throw new UsageError(`--post-process must be rerun or recorded, got "${m}"`);
    mode = m;
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new UsageError(`--threads must be an integer ≥ 1, got "${values.threads}"`);
    const mirror = io.env['STT_MODEL_MIRROR'];
    model = {
      ...(values.model !== undefined ? { model: values.model } : {}),
      ...(values['model-dir'] !== undefined ? { modelDir: values['model-dir'] } : {}),
      ...(values.device !== undefined ? { device: values.device } : {}),
      ...(threads !== undefined ? { intraOpThreads: threads } : {}),
      ...(mirror !== undefined && mirror !== '' ? { mirror } : {}),
    };
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`error: ${(err as Error).message}\nRun \`stt-engine replay --help\` for the options.\n`);
      return EXIT_USAGE;
    }
    throw err;
  }

  try {
    const trace = await readTraceFile(file);
    const report = await replayTrace(trace, { postProcess: mode });
    let redecode: RedecodeReport | null = null;
    if (values.redecode) {
      const transcriber = await createTranscriber(model, { env: io.env });
      try {
        redecode = await redecodeTrace(trace, transcriber);
      } finally {
        await transcriber.close();
      }
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ trace: file, ...report, ...(redecode ? { redecode } : {}) })}\n`);
      return identical(report, redecode) ? EXIT_OK : EXIT_FAILURE;
    }
    io.stdout.write(`trace: ${file} (${trace.records.length} records)\n`);
    printReplay(io, report);
    if (redecode) printRedecode(io, redecode);
    const same = identical(report, redecode);
    io.stdout.write(same ? 'result: identical\n' : 'result: different\n');
    return same ? EXIT_OK : EXIT_FAILURE;
  } catch (err) {
    const e = serializeError(err);
    io.stderr.write(`error [${e.code}]: ${e.message}\n`);
    return EXIT_FAILURE;
  }
};
