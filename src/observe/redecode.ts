/**
 * `replay --redecode`: runs the real decode actor (src/actors/decode/decode.ts, the code the decode
 * worker runs) in-process on the audio a trace recorded for each final decode job, and compares its
 * text with the text the recorded session decoded. It answers "does this model / build still
 * transcribe that session the same way?" without the original audio file.
 */
import { DecodeActor, type DecodeArenaSource, type DecodeTranscriber } from '../actors/decode/decode.js';
import type { DecodeJobSpec, DecodeMessage, DecodeResultMessage } from '../actors/decode/decode.protocol.js';
import { ShmRangeUnavailableError } from '../errors.js';
import type { Trace } from './trace-reader.js';

export interface RedecodeDifference {
  readonly jobId: number;
  readonly utteranceId: number;
  readonly recorded: string;
  /** The new text, or the error the decode ended with. */
  readonly redecoded: string;
}

export interface RedecodeReport {
  /** Final jobs with a recorded result. */
  readonly jobs: number;
  /** …of which the trace holds the audio, and were decoded again. */
  readonly decoded: number;
  readonly identical: number;
  readonly differences: readonly RedecodeDifference[];
  /** Jobs whose audio the trace lacks (recorded without audio, or evicted before it was read). */
  readonly withoutAudio: readonly number[];
  /**
   * Jobs whose recorded decode narrowed its beam at the deadline (FinalEvent.beamNarrowed): that text
   * depended on the session's timing, so they are not decoded again. The others are decoded with no
   * deadline, as they were (they ended before it), whatever this machine's speed.
   */
  readonly narrowed: readonly number[];
  /**
   * Jobs whose recorded decode checked a draft in multi-token passes (DecodeResultMessage.draft): a
   * pass's int8 rounding depended on that draft (README → Models → Drafts), which the trace does not
   * hold, so they are not decoded again either.
   */
  readonly drafted: readonly number[];
}

/** One job's audio as the arena the decode actor reads. */
class RecordedAudio implements DecodeArenaSource {
  constructor(
    readonly job: DecodeJobSpec,
    readonly samples: Float32Array,
  ) {}

  read(startSamples: number, endSamples: number, into?: Float32Array): Float32Array {
    const from = startSamples - this.job.startSamples;
    const to = endSamples - this.job.startSamples;
    if (from < 0 || to > this.samples.length || to < from) {
      throw new ShmRangeUnavailableError(`the trace holds [${this.job.startSamples}, ${this.job.endSamples}), not [${startSamples}, ${endSamples})`, {
        startSamples,
        endSamples,
      });
    }
    const view = this.samples.subarray(from, to);
    if (!into) return view.slice();
    const out = into.subarray(0, view.length);
    out.set(view);
    return out;
  }
}

/** The recorded final jobs (first send of each) and their recorded results. */
function finalJobs(trace: Trace): { job: DecodeJobSpec; result: DecodeResultMessage }[] {
  const jobs = new Map<number, DecodeJobSpec>();
  const out: { job: DecodeJobSpec; result: DecodeResultMessage }[] = [];
  for (const r of trace.records) {
    if (r.kind === 'command' && r.actor === 'decode') {
      const c = r.command as { type?: string; job?: DecodeJobSpec };
      if (c.type === 'job' && c.job?.kind === 'final' && !jobs.has(c.job.jobId)) jobs.set(c.job.jobId, c.job);
    } else if (r.kind === 'event' && r.actor === 'decode' && r.event === 'message') {
      const m = r.data as DecodeMessage;
      const job = m.type === 'result' ? jobs.get(m.jobId) : undefined;
      if (m.type === 'result' && job) out.push({ job, result: m });
    }
  }
  return out;
}

export async function redecodeTrace(trace: Trace, transcriber: DecodeTranscriber): Promise<RedecodeReport> {
  const differences: RedecodeDifference[] = [];
  const withoutAudio: number[] = [];
  const narrowed: number[] = [];
  const drafted: number[] = [];
  const jobs = finalJobs(trace);
  let decoded = 0;
  let identical = 0;
  for (const { job, result } of jobs) {
    const audio = trace.audio.get(job.jobId);
    if (!audio || !('samples' in audio)) {
      withoutAudio.push(job.jobId);
      continue;
    }
    if (result.beamNarrowed === true) {
      narrowed.push(job.jobId);
      continue;
    }
    if ((result.draft?.passes ?? 0) > 0) {
      drafted.push(job.jobId);
      continue;
    }
    const arena = new RecordedAudio(job, audio.samples);
    let answer: DecodeMessage | null = null;
    const actor = new DecodeActor({ transcriber, arena, post: (m) => (answer = m) });
    actor.submit({ ...job, arenaId: 0, beamNarrowAfterMs: null });
    await actor.whenIdle();
    decoded++;
    const got = answer as DecodeMessage | null;
    const text = got?.type === 'result' ? got.text : `<${got?.type === 'jobFailed' ? `${got.error.code}: ${got.error.message}` : 'no answer'}>`;
    if (text === result.text) identical++;
    else differences.push({ jobId: job.jobId, utteranceId: job.utteranceId, recorded: result.text, redecoded: text });
  }
  return { jobs: jobs.length, decoded, identical, differences, withoutAudio, narrowed, drafted };
}
