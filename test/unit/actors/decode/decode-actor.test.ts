import { describe, expect, it } from 'vitest';
import { DecodeActor, FINAL_RETRY_MIN_NO_SPEECH, LONG_FINAL_MIN_SAMPLES, transcribeOptionsFor, type DecodeTranscriber } from '../../../../src/actors/decode/decode.js';
import type { DecodeJobSpec, DecodeMessage } from '../../../../src/actors/decode/decode.protocol.js';
import { DecodeCancelledError, DecodeFailedError } from '../../../../src/errors.js';
import { UtteranceArenaReader, UtteranceArenaWriter, createUtteranceArena } from '../../../../src/shm/index.js';
import type { Segment, TranscribeOptions, TranscriptionResult, WhisperBackend } from '../../../../src/whisper/types.js';

function job(over: Partial<DecodeJobSpec> & Pick<DecodeJobSpec, 'jobId' | 'startSamples' | 'endSamples'>): DecodeJobSpec {
  return {
    kind: 'final',
    utteranceId: over.jobId,
    language: 'fr',
    beamSize: 5,
    temperatures: [0, 0.2, 0.4],
    initialPrompt: null,
    hotwords: null,
    speculative: false,
    ...over,
  };
}

function segment(text: string, over: Partial<Segment> = {}): Segment {
  return {
    id: 0,
    startMs: 0,
    endMs: 1000,
    text,
    tokens: [],
    temperature: 0,
    avgLogprob: -0.2,
    compressionRatio: 1.1,
    noSpeechProb: 0.01,
    ...over,
  };
}

interface Call {
  readonly first: number;
  readonly length: number;
  readonly options: TranscribeOptions | undefined;
}

/**
 * A transcriber whose answer is read from the audio it got (first sample = an index into the
 * script), so each result proves which arena range was copied. Each call is released by the test
 * (`release()`), so ordering and timings are controlled, not slept for.
 */
class ScriptedTranscriber implements DecodeTranscriber {
  readonly backend = {} as WhisperBackend;
  readonly calls: Call[] = [];
  readonly #pending: (() => void)[] = [];
  constructor(
    readonly script: ReadonlyMap<number, readonly Segment[] | Error>,
    readonly clock: { now: number },
  ) {}

  async transcribe(samples: Float32Array, options?: TranscribeOptions): Promise<TranscriptionResult> {
    const first = samples[0] ?? NaN;
    this.calls.push({ first, length: samples.length, options });
    // As the real driver does at its next checkpoint: a fired signal ends the call as cancelled.
    await new Promise<void>((resolve, reject) => {
      this.#pending.push(resolve);
      const cancel = (): void => {
        this.#pending.splice(this.#pending.indexOf(resolve), 1);
        reject(new DecodeCancelledError('the decode was cancelled'));
      };
      options?.signal?.addEventListener('abort', cancel, { once: true });
    });
    const answer = this.script.get(first);
    if (answer === undefined) throw new Error(`no script for first sample ${first}`);
    if (answer instanceof Error) throw answer;
    this.clock.now += 100;
    return {
      text: answer.map((s) => s.text).join('').trim(),
      language: 'fr',
      languageProbability: null,
      segments: answer,
      durationMs: samples.length / 16,
      timings: { melMs: 5, encodeMs: 40, decodeMs: 55, totalMs: 100 },
    };
  }

  /** Lets the oldest waiting call finish. */
  async release(): Promise<void> {
    for (let spin = 0; spin < 50 && this.#pending.length === 0; spin++) await Promise.resolve();
    const next = this.#pending.shift();
    if (!next) throw new Error('no transcribe call is waiting');
    next();
  }
}

/** An arena where sample i holds i, so a copied range names itself. */
function arenaOf(capacity: number, written: number): { reader: UtteranceArenaReader; writer: UtteranceArenaWriter } {
  const shared = createUtteranceArena(capacity);
  const writer = new UtteranceArenaWriter(shared);
  const chunk = new Float32Array(written);
  for (let i = 0; i < written; i++) chunk[i] = i;
  writer.append(chunk);
  return { reader: new UtteranceArenaReader(shared), writer };
}

function setup(script: Map<number, readonly Segment[] | Error>, capacity = 50_000, written = 40_000) {
  const clock = { now: 1000 };
  const transcriber = new ScriptedTranscriber(script, clock);
  const { reader, writer } = arenaOf(capacity, written);
  const posted: DecodeMessage[] = [];
  const actor = new DecodeActor({
    transcriber,
    arena: reader,
    post: (m) => posted.push(m),
    now: () => clock.now,
    initialBufferSamples: 1000,
  });
  return { clock, transcriber, writer, posted, actor };
}

describe('DecodeActor', () => {
  it('decodes jobs one at a time, waiting finals before waiting partials, copying each exact range', async () => {
    const script = new Map([
      [100, [segment(' Allume la lumière.')]],
      [5000, [segment(' Éteins')]],
      [20_000, [segment(' Quelle heure est-il ?')]],
    ]);
    const { transcriber, posted, actor } = setup(script);
    actor.submit(job({ jobId: 1, startSamples: 100, endSamples: 3000 }));
    actor.submit(job({ jobId: 2, kind: 'partial', startSamples: 5000, endSamples: 9000 }));
    actor.submit(job({ jobId: 3, startSamples: 20_000, endSamples: 36_000 }));
    expect(transcriber.calls).toHaveLength(1); // one Whisper session: the others wait
    expect(actor.stats).toMatchObject({ queued: 2, busy: true });
    await transcriber.release();
    await transcriber.release();
    await transcriber.release();
    await actor.whenIdle();
    // Job 1 was running; of the two waiting, the final (3) goes before the older partial (2).
    expect(transcriber.calls.map((c) => [c.first, c.length])).toEqual([
      [100, 2900],
      [20_000, 16_000], // longer than the initial buffer: it grew
      [5000, 4000],
    ]);
    expect(posted.map((m) => (m.type === 'result' ? [m.jobId, m.kind, m.text] : m.type))).toEqual([
      [1, 'final', 'Allume la lumière.'],
      [3, 'final', 'Quelle heure est-il ?'],
      [2, 'partial', 'Éteins'],
    ]);
    expect(actor.stats).toEqual({ completed: 3, failed: 0, cancelled: 0, queued: 0, busy: false });
  });

  it('cancels a waiting job at once and the running one at its checkpoint; a job already answered is left alone', async () => {
    const script = new Map([
      [100, [segment(' Allume')]],
      [5000, [segment(' Éteins')]],
      [20_000, [segment(' Quelle heure est-il ?')]],
    ]);
    const { clock, transcriber, posted, actor } = setup(script);
    actor.submit(job({ jobId: 1, kind: 'partial', startSamples: 100, endSamples: 3000 }));
    actor.submit(job({ jobId: 2, kind: 'partial', startSamples: 5000, endSamples: 9000 }));
    actor.submit(job({ jobId: 3, startSamples: 20_000, endSamples: 36_000 }));
    expect(transcriber.calls).toHaveLength(1);

    // Job 2 waits: it is answered at once and never reaches the transcriber.
    expect(actor.cancel(2)).toBe(true);
    expect(posted).toEqual([{ type: 'jobCancelled', jobId: 2, utteranceId: 2, kind: 'partial', ranMs: 0 }]);

    // Job 1 runs: its signal fires, and the answer comes when the decode stops.
    clock.now += 70;
    const signal = transcriber.calls[0]?.options?.signal;
    expect(signal?.aborted).toBe(false);
    expect(actor.cancel(1)).toBe(true);
    expect(signal?.aborted).toBe(true);
    for (let spin = 0; spin < 50 && transcriber.calls.length < 2; spin++) await Promise.resolve();
    expect(posted[1]).toEqual({ type: 'jobCancelled', jobId: 1, utteranceId: 1, kind: 'partial', ranMs: 70 });

    // Job 3 runs next, is answered, and a late cancel of it (or of an unknown job) does nothing.
    expect(transcriber.calls.map((c) => c.first)).toEqual([100, 20_000]);
    await transcriber.release();
    await actor.whenIdle();
    expect(actor.cancel(3)).toBe(false);
    expect(actor.cancel(99)).toBe(false);
    expect(posted.map((m) => [m.type, 'jobId' in m ? m.jobId : null])).toEqual([
      ['jobCancelled', 2],
      ['jobCancelled', 1],
      ['result', 3],
    ]);
    expect(actor.stats).toEqual({ completed: 1, failed: 0, cancelled: 2, queued: 0, busy: false });
  });

  it('only a cancellation the actor asked for is jobCancelled: the same error unasked is jobFailed', async () => {
    const script = new Map<number, readonly Segment[] | Error>([[100, new DecodeCancelledError('cancelled by someone else')]]);
    const { transcriber, posted, actor } = setup(script);
    actor.submit(job({ jobId: 1, startSamples: 100, endSamples: 3000 }));
    await transcriber.release();
    await actor.whenIdle();
    expect(posted).toMatchObject([{ type: 'jobFailed', jobId: 1, error: { code: 'STT_DECODE_CANCELLED' } }]);
    expect(actor.stats).toMatchObject({ failed: 1, cancelled: 0 });
  });

  it('reads each job from the arena its arenaId names, and fails a job whose arena is not attached', async () => {
    const clock = { now: 0 };
    const script = new Map<number, readonly Segment[] | Error>([
      [10, [segment(' un')]],
      [7, [segment(' deux')]],
    ]);
    const transcriber = new ScriptedTranscriber(script, clock);
    const a = arenaOf(1000, 100);
    // A second engine's arena, whose samples are offset by -3 so its copies are told apart.
    const shifted = new Float32Array(100).map((_, i) => i - 3);
    const bShared = createUtteranceArena(1000);
    new UtteranceArenaWriter(bShared).append(shifted);
    const arenas = new Map([
      [0, a.reader],
      [2, new UtteranceArenaReader(bShared)],
    ]);
    const posted: DecodeMessage[] = [];
    const actor = new DecodeActor({ transcriber, arena: (id) => arenas.get(id), post: (m) => posted.push(m), now: () => clock.now });
    actor.submit(job({ jobId: 1, startSamples: 10, endSamples: 20 }));
    actor.submit(job({ jobId: 2, startSamples: 10, endSamples: 20, arenaId: 2 }));
    actor.submit(job({ jobId: 3, startSamples: 10, endSamples: 20, arenaId: 5 }));
    await transcriber.release();
    await transcriber.release();
    await actor.whenIdle();
    expect(transcriber.calls.map((c) => c.first)).toEqual([10, 7]);
    expect(posted.map((m) => (m.type === 'result' ? [m.jobId, m.text] : [m.type, (m as { jobId?: number }).jobId]))).toEqual([
      [1, 'un'],
      [2, 'deux'],
      ['jobFailed', 3],
    ]);
    const failed = posted[2];
    expect(failed?.type === 'jobFailed' ? failed.error.code : null).toBe('STT_INVALID_OPTION');
  });

  it('gives finals the job settings and partials the fast greedy path', () => {
    const final = transcribeOptionsFor(
      job({ jobId: 1, startSamples: 0, endSamples: 1, beamSize: 5, initialPrompt: 'Maison', hotwords: 'SuperWhisper' }),
    );
    expect(final).toMatchObject({
      language: 'fr',
      beamSize: 5,
      temperatures: [0, 0.2, 0.4],
      withoutTimestamps: false,
      // One utterance: its fast path needs no timestamp tokens; the guard's retry keeps them.
      shortWindowWithoutTimestamps: true,
      // A log-prob failure sure of speech keeps its text; one in doubt gets the guard's retry.
      shortWindowRetryMinNoSpeech: FINAL_RETRY_MIN_NO_SPEECH,
      initialPrompt: 'Maison',
      hotwords: 'SuperWhisper',
      noSpeechThreshold: 0.6,
    });
    const partial = transcribeOptionsFor(job({ jobId: 2, kind: 'partial', startSamples: 0, endSamples: 1, language: 'auto' }));
    expect(partial).toMatchObject({
      language: 'auto',
      beamSize: 1,
      temperatures: [0],
      withoutTimestamps: true,
      conditionOnPreviousText: false,
      noSpeechThreshold: null,
      shortWindowMinMs: 0,
    });
    expect(partial).not.toHaveProperty('shortWindowRetryMinNoSpeech');
    // No beam deadline unless the engine set one; then finals only (partials are greedy).
    expect(final.beamNarrowAfterMs).toBeNull();
    expect(transcribeOptionsFor(job({ jobId: 3, startSamples: 0, endSamples: 1, beamNarrowAfterMs: 700 })).beamNarrowAfterMs).toBe(700);
    expect(partial).not.toHaveProperty('beamNarrowAfterMs');
    expect(FINAL_RETRY_MIN_NO_SPEECH).toBeLessThan(final.noSpeechThreshold ?? 0);
    expect(partial).not.toHaveProperty('initialPrompt');
    expect(partial).not.toHaveProperty('hotwords');
    // An utterance cut out of a longer one starts mid-speech: its final keeps the timestamp rules.
    expect(transcribeOptionsFor(job({ jobId: 5, startSamples: 0, endSamples: 1, startsMidSpeech: true }))).toMatchObject({
      shortWindowWithoutTimestamps: false,
    });
    // The short-window margin follows the job; absent, the transcriber's default applies.
    expect(final).not.toHaveProperty('shortWindowMarginMs');
    expect(transcribeOptionsFor(job({ jobId: 3, startSamples: 0, endSamples: 1, shortWindowMarginMs: null }))).toMatchObject({ shortWindowMarginMs: null });
    expect(transcribeOptionsFor(job({ jobId: 4, kind: 'partial', startSamples: 0, endSamples: 1, shortWindowMarginMs: 2000 }))).toMatchObject({
      shortWindowMarginMs: 2000,
    });
  });

  it('encodes a long final in its audio plus the margin, a shorter one with the transcriber’s minimum window', () => {
    const at = 1_000_000;
    // Just under 6 s: the default minimum (20 s) applies.
    const short = transcribeOptionsFor(job({ jobId: 1, startSamples: at, endSamples: at + LONG_FINAL_MIN_SAMPLES - 1 }));
    expect(short).not.toHaveProperty('shortWindowMinMs');
    const long = transcribeOptionsFor(job({ jobId: 2, startSamples: at, endSamples: at + LONG_FINAL_MIN_SAMPLES }));
    expect(long).toMatchObject({ shortWindowMinMs: 0 });
    expect(LONG_FINAL_MIN_SAMPLES).toBe(6 * 16_000);
    // Full windows, when asked for, stay full: the margin decides first.
    expect(transcribeOptionsFor(job({ jobId: 3, startSamples: at, endSamples: at + 10 * 16_000, shortWindowMarginMs: null }))).toMatchObject({
      shortWindowMarginMs: null,
    });
    // Partials always take the audio plus the margin, however short.
    expect(transcribeOptionsFor(job({ jobId: 4, kind: 'partial', startSamples: at, endSamples: at + 16_000 }))).toMatchObject({ shortWindowMinMs: 0 });
  });

  it('reports wait, stage and total timings from its clock and the result', async () => {
    const script = new Map([
      [0, [segment(' un')]],
      [1000, [segment(' deux')]],
    ]);
    const { clock, transcriber, posted, actor } = setup(script);
    actor.submit(job({ jobId: 1, startSamples: 0, endSamples: 500 })); // arrives at 1000, starts at once
    clock.now += 30;
    actor.submit(job({ jobId: 2, startSamples: 1000, endSamples: 1500 })); // arrives at 1030
    await transcriber.release(); // job 1 ends at 1130; job 2 starts then
    await transcriber.release(); // job 2 ends at 1230
    await actor.whenIdle();
    const [first, second] = posted;
    expect(first).toMatchObject({ type: 'result', timings: { waitMs: 0, melMs: 5, encodeMs: 40, decodeMs: 55, totalMs: 130 } });
    expect(second).toMatchObject({ type: 'result', timings: { waitMs: 100, totalMs: 200 } });
  });

  it('turns an evicted range and a decode error into jobFailed, then decodes the next job', async () => {
    const script = new Map<number, readonly Segment[] | Error>([
      [30_000, new DecodeFailedError('runtime exploded')],
      [35_000, [segment(' Ferme les volets.')]],
    ]);
    // 50 000 samples retained: once 70 000 are written, [0, 20 000) is gone.
    const { transcriber, writer, posted, actor } = setup(script, 50_000, 40_000);
    writer.append(new Float32Array(30_000).map((_, i) => 40_000 + i));
    actor.submit(job({ jobId: 1, startSamples: 100, endSamples: 4000 }));
    actor.submit(job({ jobId: 2, startSamples: 30_000, endSamples: 31_000 }));
    actor.submit(job({ jobId: 3, startSamples: 35_000, endSamples: 39_000 }));
    actor.submit(job({ jobId: 4, startSamples: 69_000, endSamples: 80_000 })); // not written yet
    await transcriber.release();
    await transcriber.release();
    await actor.whenIdle();
    expect(posted.map((m) => m.type)).toEqual(['jobFailed', 'jobFailed', 'result', 'jobFailed']);
    const codes = posted.map((m) => (m.type === 'jobFailed' ? [m.jobId, m.utteranceId, m.error.code] : null));
    expect(codes).toEqual([
      [1, 1, 'STT_SHM_RANGE_UNAVAILABLE'],
      [2, 2, 'STT_DECODE_FAILED'],
      null,
      [4, 4, 'STT_SHM_RANGE_UNAVAILABLE'],
    ]);
    expect(posted[2]).toMatchObject({ jobId: 3, text: 'Ferme les volets.' });
    expect(transcriber.calls.map((c) => c.first)).toEqual([30_000, 35_000]);
    expect(actor.stats).toMatchObject({ completed: 1, failed: 3 });
  });

  it('aggregates multi-segment scores by the worst value and drops silent windows among speech', async () => {
    const script = new Map<number, readonly Segment[] | Error>([
      [
        0,
        [
          segment(' Première phrase.', { avgLogprob: -0.3, compressionRatio: 1.2, noSpeechProb: 0.1 }),
          segment(' Sous-titres réalisés par la communauté d’Amara.org', { avgLogprob: -1.5, noSpeechProb: 0.9 }),
          segment(' Deuxième phrase.', { avgLogprob: -0.5, compressionRatio: 1.6, noSpeechProb: 0.2, temperature: 0.2 }),
        ],
      ],
      [1000, [segment(' Merci.', { avgLogprob: -1.4, noSpeechProb: 0.8 }), segment(' Merci.', { avgLogprob: -1.2, noSpeechProb: 0.7 })]],
      [2000, []],
    ]);
    const { transcriber, posted, actor } = setup(script);
    actor.submit(job({ jobId: 1, startSamples: 0, endSamples: 500 }));
    actor.submit(job({ jobId: 2, startSamples: 1000, endSamples: 1500 }));
    actor.submit(job({ jobId: 3, startSamples: 2000, endSamples: 2500 }));
    for (let k = 0; k < 3; k++) await transcriber.release();
    await actor.whenIdle();
    expect(posted[0]).toMatchObject({
      text: 'Première phrase. Deuxième phrase.',
      avgLogprob: -0.5,
      noSpeechProb: 0.2,
      compressionRatio: 1.6,
      temperature: 0.2,
    });
    // All silent: kept with the failing scores, so the post-processor can say 'no-speech'.
    expect(posted[1]).toMatchObject({ text: 'Merci. Merci.', avgLogprob: -1.4, noSpeechProb: 0.8 });
    expect(posted[2]).toMatchObject({ text: '', avgLogprob: 0, noSpeechProb: 0, compressionRatio: 0 });
  });

  it("hands each decode of an utterance its latest decode's tokens as a draft, and no other utterance's", async () => {
    const script = new Map([
      [100, [segment(' Allume la', { tokens: [50, 51] }), segment(' lumière', { tokens: [52, 50364] })]],
      [200, [segment(' la lumière', { tokens: [51, 52] })]],
      [5000, [segment(' Éteins', { tokens: [60] })]],
      [7000, [segment('', { tokens: [] })]],
    ]);
    const { transcriber, actor } = setup(script);
    const jobs = [
      job({ jobId: 1, kind: 'partial', utteranceId: 1, startSamples: 100, endSamples: 3000 }),
      job({ jobId: 2, utteranceId: 1, startSamples: 100, endSamples: 6000, speculative: true }),
      job({ jobId: 3, utteranceId: 2, startSamples: 5000, endSamples: 9000 }),
      // Utterance 1 again but from elsewhere: not the audio its draft was decoded from.
      job({ jobId: 4, kind: 'partial', utteranceId: 1, startSamples: 200, endSamples: 3000 }),
      // Drafts off: none given, none kept (the next job of utterance 2 still gets job 3's).
      job({ jobId: 5, utteranceId: 2, startSamples: 5000, endSamples: 9500, drafts: false }),
      job({ jobId: 6, utteranceId: 2, startSamples: 5000, endSamples: 9600 }),
      // A decode without tokens keeps the draft there was.
      job({ jobId: 7, kind: 'partial', utteranceId: 3, startSamples: 7000, endSamples: 9000 }),
      job({ jobId: 8, utteranceId: 3, startSamples: 7000, endSamples: 9900 }),
      job({ jobId: 9, utteranceId: 1, startSamples: 200, endSamples: 3500 }),
    ];
    for (const j of jobs) {
      actor.submit(j);
      await transcriber.release();
      await actor.whenIdle();
    }
    expect(transcriber.calls.map((c) => c.options?.draftTokens)).toEqual([
      undefined,
      [50, 51, 52, 50364], // the transcriber keeps the text tokens (below EOT)
      undefined,
      undefined,
      undefined,
      [60],
      undefined,
      undefined,
      [51, 52], // job 4 started utterance 1's draft over from sample 200
    ]);
  });
});
