import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../../src/state/pipeline.js';
import type { PipelineOptions, UtteranceState } from '../../../src/state/pipeline-ports.js';
import { startSupervisor } from '../../../src/state/supervisor.js';
import { answer, cancelled, cancels, fakePorts, jobs, processAll, progress, vad, type FakePorts } from './fake-ports.js';

const SR = 16_000;
const OPTIONS: PipelineOptions = {
  sampleRate: SR,
  language: 'fr',
  beamSize: 5,
  temperatures: [0, 0.2],
  initialPrompt: null,
  hotwords: null,
  partialsEnabled: true,
  partialIntervalMs: 500,
  partialMaxInputSpeed: 2,
  maxPendingPartials: 2,
  postRollMs: 96,
};

interface Emitted {
  type: string;
  payload: Record<string, unknown>;
}

/** `arrival` maps a sample position to when it entered the engine (default: exactly real time). */
async function harness(options: Partial<PipelineOptions> = {}, arrival: (p: number) => number | null = (p) => p / 16) {
  const ports: FakePorts = fakePorts();
  const events: Emitted[] = [];
  const states = new Map<number, UtteranceState[]>();
  const errors: unknown[] = [];
  let inputEnded = 0;
  let now = 1_000_000;
  const pipeline = new Pipeline(
    { ...OPTIONS, ...options },
    {
      sendDecode: (job) => ports.decode.send({ type: 'job', job }),
      cancelDecode: (jobId) => ports.decode.send({ type: 'cancel', jobId }),
      sendPostProcess: (requestId, input) => ports.postprocess.send({ type: 'process', requestId, input }),
      emit: (type, ...payload) => events.push({ type, payload: payload[0] as unknown as Record<string, unknown> }),
      now: () => (now += 5),
      wallClockOfSample: arrival,
      onUtteranceState: (id, s) => states.set(id, [...(states.get(id) ?? []), s]),
    },
  );
  const supervisor = startSupervisor({
    ports,
    pipeline,
    host: {
      error: (e) => errors.push(e),
      warning: () => undefined,
      captureProgress: () => undefined,
      overrun: () => undefined,
      endInput: () => {
        inputEnded++;
        ports.capture.deliver({ type: 'ended', writtenSamples: 0, reason: 'end-of-input' });
      },
    },
  });
  const until = (pred: (v: string) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => pred(JSON.stringify(supervisor.getSnapshot().value));
      if (check()) return resolve();
      const sub = supervisor.subscribe(() => check() && (sub.unsubscribe(), resolve()));
    });
  await until((v) => v === '"running"');
  const finals = () => events.filter((e) => e.type === 'final').map((e) => e.payload);
  return { ports, events, states, errors, pipeline, supervisor, until, finals, inputEnded: () => inputEnded };
}

describe('supervisor: ordered start and stop', () => {
  it('starts decode + post-process, then VAD, then capture; drains and closes upstream first', async () => {
    const ports = fakePorts();
    ports.decode.hold();
    const order: string[] = [];
    for (const p of Object.values(ports)) {
      const start = p.start.bind(p);
      p.start = async () => {
        const info = await start();
        order.push(p.name);
        return info;
      };
      const close = p.close.bind(p);
      p.close = async () => {
        order.push(`close:${p.name}`);
        return close();
      };
    }
    const pipeline = new Pipeline(OPTIONS, {
      sendDecode: () => undefined,
      sendPostProcess: () => undefined,
      emit: () => undefined,
      now: () => 0,
      wallClockOfSample: () => null,
    });
    const supervisor = startSupervisor({
      ports,
      pipeline,
      host: { error: () => undefined, warning: () => undefined, captureProgress: () => undefined, overrun: () => undefined, endInput: () => undefined },
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(order).toEqual(['postprocess']);
    expect(ports.vad.started).toBe(0);
    ports.decode.release();
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(order).toEqual(['postprocess', 'decode', 'vad', 'capture']);
    expect(supervisor.getSnapshot().value).toBe('running');
    ports.capture.deliver({ type: 'ended', writtenSamples: 100, reason: 'end-of-input' });
    expect(supervisor.getSnapshot().value).toEqual({ draining: 'vad' });
    expect(ports.vad.sent).toContainEqual({ type: 'flush' });
    ports.vad.deliver({ type: 'ended', positionSamples: 100 });
    expect(supervisor.getSnapshot().value).toBe('drained');
    supervisor.send({ type: 'CLOSE' });
    await new Promise((r) => setTimeout(r, 0));
    expect(order.slice(4)).toEqual(['close:capture', 'close:vad', 'close:decode', 'close:postprocess']);
    expect(supervisor.getSnapshot().status).toBe('done');
  });

  it('goes to failed with the cause when a backend cannot start', async () => {
    const ports = fakePorts();
    ports.decode.start = () => Promise.reject(new Error('no model'));
    const pipeline = new Pipeline(OPTIONS, { sendDecode: () => undefined, sendPostProcess: () => undefined, emit: () => undefined, now: () => 0, wallClockOfSample: () => null });
    const supervisor = startSupervisor({ ports, pipeline, host: { error: () => undefined, warning: () => undefined, captureProgress: () => undefined, overrun: () => undefined, endInput: () => undefined } });
    await new Promise((r) => setTimeout(r, 0));
    expect(supervisor.getSnapshot().value).toBe('failed');
    expect(supervisor.getSnapshot().context.failure?.message).toBe('no model');
    expect(ports.capture.started).toBe(0);
  });
});

describe('utterance lifecycle', () => {
  it('walks speech → endpointing → decoding → postprocessing → emitted, reusing the speculative final', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 1000 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 20_000 });
    const [spec] = jobs(h.ports);
    expect(spec).toMatchObject({ kind: 'final', speculative: true, startSamples: 1000, endSamples: 20_000, beamSize: 5 });
    expect(spec).not.toHaveProperty('shortWindowMarginMs'); // not set: the transcriber's default
    answer(h.ports, spec!, 'allume la lumière');
    expect(h.ports.postprocess.sent).toHaveLength(0); // waits for the endpoint
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 1000, endSamples: 20_000, reason: 'silence' });
    expect(jobs(h.ports)).toHaveLength(1); // no second decode
    processAll(h.ports);
    expect(h.finals()).toEqual([
      expect.objectContaining({ utteranceId: 1, text: 'allume la lumière', speculative: true, startMs: 63, endMs: 1250 }),
    ]);
    expect(h.states.get(1)).toEqual(['speech', 'endpointing', 'decoding', 'postprocessing', 'emitted']);
    expect(h.pipeline.metrics({ decode: 0, postprocess: 0 }, 0)).toMatchObject({ speculativeReused: 1, speculativeDiscarded: 0, finals: 1 });
    expect(h.pipeline.idle).toBe(true);
  });

  it('decodes speculatively only while the audio that settles the pause is still to come', async () => {
    // Live: audio up to 20 000 has arrived, the 480 ms after the pause (7680 samples) not yet.
    const live = await harness({ partialsEnabled: false, endpointSilenceMs: 480 }, (p) => (p < 20_000 ? p / 16 : null));
    vad(live.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(live.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 20_000 });
    expect(jobs(live.ports)).toMatchObject([{ kind: 'final', speculative: true, endSamples: 20_000 }]);

    // Sent whole (a file, a Wyoming request): the pause is settled as soon as the VAD reads on, so the
    // decoder stays free for the final, decoded once, at the endpoint.
    // The boundary: the pause is settled once its last deciding sample (20 000 + 7680 - 1) is in.
    for (const [written, speculates] of [[20_000 + 7679, true], [20_000 + 7680, false]] as const) {
      const edge = await harness({ partialsEnabled: false, endpointSilenceMs: 480 }, (p) => (p < written ? p / 48 : null));
      vad(edge.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
      vad(edge.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 20_000 });
      expect(jobs(edge.ports)).toHaveLength(speculates ? 1 : 0);
    }
    {
      const whole = await harness({ partialsEnabled: false, endpointSilenceMs: 480 }, (p) => (p < 60_000 ? p / 48 : null));
      vad(whole.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
      vad(whole.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 20_000 });
      expect(jobs(whole.ports)).toHaveLength(0);
      vad(whole.ports, { type: 'speechResumed', utteranceId: 1 });
      vad(whole.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 30_000 });
      vad(whole.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 30_000, reason: 'silence' });
      const all = jobs(whole.ports);
      expect(all).toMatchObject([{ kind: 'final', speculative: false, endSamples: 30_000 }]);
      answer(whole.ports, all[0]!, 'allume la cuisine');
      processAll(whole.ports);
      expect(whole.finals()).toEqual([expect.objectContaining({ text: 'allume la cuisine', speculative: false })]);
      expect(whole.states.get(1)).toEqual(['speech', 'endpointing', 'speech', 'endpointing', 'decoding', 'postprocessing', 'emitted']);
      expect(whole.pipeline.metrics({ decode: 0, postprocess: 0 }, 0)).toMatchObject({ speculativeReused: 0, speculativeDiscarded: 0 });
    }
  });

  it('discards the speculative result when speech resumes, and decodes the real final once', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 16_000 });
    vad(h.ports, { type: 'speechResumed', utteranceId: 1 });
    answer(h.ports, jobs(h.ports)[0]!, 'allume');
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 40_000, reason: 'silence' });
    const all = jobs(h.ports);
    expect(all).toHaveLength(2);
    expect(all[1]).toMatchObject({ kind: 'final', speculative: false, endSamples: 40_000 });
    answer(h.ports, all[1]!, 'allume la cuisine');
    processAll(h.ports);
    expect(h.finals().map((f) => f.text)).toEqual(['allume la cuisine']);
    expect(h.states.get(1)).toEqual(['speech', 'endpointing', 'speech', 'decoding', 'postprocessing', 'emitted']);
    expect(h.pipeline.metrics({ decode: 0, postprocess: 0 }, 0).speculativeDiscarded).toBe(1);
  });

  it('adopts a speculative job still in flight at speechEnd, and a different end gets a new final', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 16_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 16_000, reason: 'silence' });
    answer(h.ports, jobs(h.ports)[0]!, 'stop');
    processAll(h.ports);
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 30_000 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 2, endSamples: 40_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 2, startSamples: 30_000, endSamples: 42_000, reason: 'max-length' });
    answer(h.ports, jobs(h.ports)[1]!, 'void'); // the voided speculative, in flight
    expect(h.ports.postprocess.sent).toHaveLength(0);
    const third = jobs(h.ports)[2]!;
    expect(third).toMatchObject({ utteranceId: 2, endSamples: 42_000, speculative: false });
    answer(h.ports, third, 'encore');
    processAll(h.ports);
    expect(h.finals().map((f) => [f.utteranceId, f.text])).toEqual([[1, 'stop'], [2, 'encore']]);
  });

  it('marks the jobs of an utterance the VAD says starts mid-speech (at a max-length cut), and only those', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 448_000, reason: 'max-length' });
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 448_000, startsMidSpeech: true });
    answer(h.ports, jobs(h.ports)[0]!, 'la première partie');
    vad(h.ports, { type: 'pauseStart', utteranceId: 2, endSamples: 480_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 2, startSamples: 448_000, endSamples: 480_000, reason: 'silence' });
    answer(h.ports, jobs(h.ports)[1]!, 'et la fin');
    // A cut made in a pause: the next utterance starts where it ended (its pre-roll reaches back to
    // it), but not inside speech, and the VAD does not say it does.
    vad(h.ports, { type: 'speechStart', utteranceId: 3, startSamples: 500_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 3, startSamples: 500_000, endSamples: 948_000, reason: 'max-length' });
    answer(h.ports, jobs(h.ports)[2]!, 'une longue phrase');
    vad(h.ports, { type: 'speechStart', utteranceId: 4, startSamples: 948_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 4, startSamples: 948_000, endSamples: 970_000, reason: 'silence' });
    expect(jobs(h.ports).map((j) => [j.utteranceId, j.speculative, j.startsMidSpeech ?? false])).toEqual([
      [1, false, false],
      [2, true, true],
      [3, false, false],
      [4, false, false],
    ]);
  });

  it('rejects misfires and blocklisted finals with a reason, and keeps going', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'misfire', utteranceId: 1, startSamples: 0, endSamples: 2000 });
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 10_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 2, startSamples: 10_000, endSamples: 30_000, reason: 'silence' });
    answer(h.ports, jobs(h.ports)[0]!, 'Sous-titres réalisés par la communauté');
    processAll(h.ports, ['Sous-titres réalisés par la communauté']);
    const rejected = h.events.filter((e) => e.type === 'rejected').map((e) => [e.payload['utteranceId'], e.payload['reason']]);
    expect(rejected).toEqual([[1, 'misfire'], [2, 'blocklisted']]);
    expect(h.states.get(1)).toEqual(['speech', 'rejected']);
    expect(h.finals()).toHaveLength(0);
    expect(h.pipeline.idle).toBe(true);
  });
});

describe('partials', () => {
  it('gives finals and partials the engine’s short-window margin', async () => {
    const h = await harness({ shortWindowMarginMs: null });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(h.ports, 8192);
    answer(h.ports, jobs(h.ports)[0]!, 'allume');
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 9000 });
    expect(jobs(h.ports).map((j) => [j.kind, j.shortWindowMarginMs])).toEqual([
      ['partial', null],
      ['final', null],
    ]);
  });

  it('gives finals alone the engine’s beam deadline, and reports and counts the finals it narrowed', async () => {
    const h = await harness({ beamNarrowAfterMs: 700 });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(h.ports, 8192);
    answer(h.ports, jobs(h.ports)[0]!, 'allume');
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 9000 });
    expect(jobs(h.ports).map((j) => [j.kind, j.beamNarrowAfterMs])).toEqual([
      ['partial', undefined],
      ['final', 700],
    ]);
    answer(h.ports, jobs(h.ports)[1]!, 'allume la cuisine', 900, true);
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 9000, reason: 'silence' });
    processAll(h.ports);
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 40_000 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 2, endSamples: 50_000 });
    answer(h.ports, jobs(h.ports)[2]!, 'ferme les volets', 400, false);
    vad(h.ports, { type: 'speechEnd', utteranceId: 2, startSamples: 40_000, endSamples: 50_000, reason: 'silence' });
    processAll(h.ports);
    expect(h.finals().map((f) => [f.text, f.beamNarrowed])).toEqual([
      ['allume la cuisine', true],
      ['ferme les volets', false],
    ]);
    expect(h.pipeline.metrics({ decode: 0, postprocess: 0 }, 0)).toMatchObject({ finals: 2, beamNarrowedFinals: 1 });
  });

  it("lets every job check its utterance's drafts unless the engine turned them off, and counts what they saved", async () => {
    const on = await harness();
    vad(on.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(on.ports, 8192);
    answer(on.ports, jobs(on.ports)[0]!, 'allume', 30, false, { passes: 1, guessed: 3, accepted: 2 });
    vad(on.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 9000 });
    answer(on.ports, jobs(on.ports)[1]!, 'allume la cuisine', 200, true, { passes: 2, guessed: 20, accepted: 9 });
    expect(jobs(on.ports).map((j) => j.drafts)).toEqual([undefined, undefined]);
    expect(on.pipeline.metrics({ decode: 0, postprocess: 0 }, 0).drafts).toEqual({ decodes: 2, passes: 3, guessed: 23, accepted: 11 });

    const off = await harness({ drafts: false });
    vad(off.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(off.ports, 8192);
    answer(off.ports, jobs(off.ports)[0]!, 'allume');
    vad(off.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 9000 });
    expect(jobs(off.ports).map((j) => [j.kind, j.drafts])).toEqual([
      ['partial', false],
      ['final', false],
    ]);
    expect(off.pipeline.metrics({ decode: 0, postprocess: 0 }, 0).drafts).toEqual({ decodes: 0, passes: 0, guessed: 0, accepted: 0 });
  });

  it('queues a partial every intervalMs of NEW audio (VAD positions), with LocalAgreement-2 stable words', async () => {
    const h = await harness();
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    for (const p of [2048, 4096, 6144]) progress(h.ports, p); // < 8000 samples: nothing yet
    expect(jobs(h.ports)).toHaveLength(0);
    progress(h.ports, 8192);
    expect(jobs(h.ports)).toEqual([expect.objectContaining({ kind: 'partial', startSamples: 0, endSamples: 8192, beamSize: 1, temperatures: [0] })]);
    answer(h.ports, jobs(h.ports)[0]!, 'allume');
    processAll(h.ports);
    progress(h.ports, 12_288); // 4096 new samples: not yet
    progress(h.ports, 16_384);
    answer(h.ports, jobs(h.ports)[1]!, 'allume la');
    processAll(h.ports);
    progress(h.ports, 24_576);
    answer(h.ports, jobs(h.ports)[2]!, 'allume la lumière');
    processAll(h.ports);
    const partials = h.events.filter((e) => e.type === 'partial').map((e) => [e.payload['stable'], e.payload['unstable'], e.payload['endMs']]);
    expect(partials).toEqual([
      ['', 'allume', 512],
      ['allume', 'la', 1024],
      ['allume la', 'lumière', 1536],
    ]);
  });

  it('starts a partial due only while the last window is confident speech (partialMinSpeechProbability)', async () => {
    const h = await harness({ partialMinSpeechProbability: 0.5 });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(h.ports, 8192, 0.4); // due, but speech is fading: a pause may be starting
    expect(jobs(h.ports)).toHaveLength(0);
    // The pause comes: its speculative final has the decoder to itself.
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 8192 });
    expect(jobs(h.ports).map((j) => j.kind)).toEqual(['final']);
    answer(h.ports, jobs(h.ports)[0]!, 'allume');
    vad(h.ports, { type: 'speechResumed', utteranceId: 1 });
    progress(h.ports, 12_288, 0.45);
    expect(jobs(h.ports)).toHaveLength(1);
    progress(h.ports, 16_384, 0.8); // confident again: the partial that was due starts, up to here
    expect(jobs(h.ports)[1]).toMatchObject({ kind: 'partial', startSamples: 0, endSamples: 16_384 });
    // Without the option (an older trace), the probability does not matter.
    const any = await harness();
    vad(any.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(any.ports, 8192, 0.4);
    expect(jobs(any.ports)).toEqual([expect.objectContaining({ kind: 'partial', endSamples: 8192 })]);
  });

  it('paces partials after the first so they take at most partialMaxDecodeShare of the decoder', async () => {
    const h = await harness({ partialMaxDecodeShare: 0.5 });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(h.ports, 8192); // the first partial: partialIntervalMs (500 ms) of audio
    answer(h.ports, jobs(h.ports)[0]!, 'allume', 600); // it took 600 ms: the next needs 1200 ms of new audio
    processAll(h.ports);
    for (const p of [16_384, 24_576]) progress(h.ports, p);
    expect(jobs(h.ports)).toHaveLength(1);
    progress(h.ports, 28_672); // 20 480 new samples = 1280 ms ≥ 1200 ms
    expect(jobs(h.ports)[1]).toMatchObject({ kind: 'partial', endSamples: 28_672 });
    answer(h.ports, jobs(h.ports)[1]!, 'allume la', 100); // a quick one: back to partialIntervalMs
    processAll(h.ports);
    progress(h.ports, 36_864);
    expect(jobs(h.ports)[2]).toMatchObject({ kind: 'partial', endSamples: 36_864 });
    // A new utterance's first partial is not paced by the last decode.
    answer(h.ports, jobs(h.ports)[2]!, 'allume la lumière', 900);
    processAll(h.ports);
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 40_000, reason: 'silence' });
    answer(h.ports, jobs(h.ports)[3]!, 'allume la lumière');
    processAll(h.ports);
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 50_000 });
    progress(h.ports, 58_192);
    expect(jobs(h.ports)[4]).toMatchObject({ kind: 'partial', utteranceId: 2, endSamples: 58_192 });
    // null: partialIntervalMs alone, however slow the partials.
    const unpaced = await harness({ partialMaxDecodeShare: null });
    vad(unpaced.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(unpaced.ports, 8192);
    answer(unpaced.ports, jobs(unpaced.ports)[0]!, 'allume', 2000);
    processAll(unpaced.ports);
    progress(unpaced.ports, 16_384);
    expect(jobs(unpaced.ports)).toHaveLength(2);
  });

  it('skips (and counts) partials of audio arriving faster than partialMaxInputSpeed × real time', async () => {
    // 3× real time: every 8000 samples (500 ms of audio) arrive in 167 ms.
    const fast = await harness({}, (p) => p / 48);
    vad(fast.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    for (const p of [8192, 16_384, 24_576]) progress(fast.ports, p);
    expect(jobs(fast.ports)).toHaveLength(0);
    vad(fast.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 24_576 });
    expect(jobs(fast.ports).map((j) => j.kind)).toEqual(['final']);
    const metrics = fast.pipeline.metrics({ decode: 0, postprocess: 0 }, 0);
    expect(metrics.partialDrops['fast-input']).toBe(3);
    // 1.5× real time is under the limit (2×): partials are decoded as usual…
    const live = await harness({}, (p) => p / 24);
    vad(live.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(live.ports, 8192);
    expect(jobs(live.ports).map((j) => j.kind)).toEqual(['partial']);
    // …and null never skips, however fast the input; an unknown arrival time never skips either.
    for (const h of [await harness({ partialMaxInputSpeed: null }, () => 0), await harness({}, () => null)]) {
      vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
      progress(h.ports, 8192);
      expect(jobs(h.ports).map((j) => j.kind)).toEqual(['partial']);
    }
  });

  it('takes now as the arrival of samples the VAD read before capture reported them', async () => {
    // Capture's progress reached 4096 samples; the VAD already read 8192. The harness's clock is at
    // 1 000 000 ms (+5 per read).
    const burst = await harness({}, (p) => (p < 4096 ? 1_000_000 + p / 48 : null));
    vad(burst.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(burst.ports, 8192);
    expect(jobs(burst.ports)).toEqual([]);
    expect(burst.pipeline.metrics({ decode: 0, postprocess: 0 }, 0).partialDrops['fast-input']).toBe(1);
    // The same gap in a live stream (its first sample came 500 ms ago): the partial is decoded.
    const live = await harness({}, (p) => (p < 4096 ? 999_500 + p / 16 : null));
    vad(live.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(live.ports, 8192);
    expect(jobs(live.ports).map((j) => j.kind)).toEqual(['partial']);
  });

  it('under a flood drops partials by reason but never a final, one job in flight at a time', async () => {
    const h = await harness({ maxPendingPartials: 1, partialIntervalMs: 100 });
    const N = 40;
    for (let id = 1; id <= N; id++) {
      const start = id * 100_000;
      vad(h.ports, { type: 'speechStart', utteranceId: id, startSamples: start });
      for (let k = 1; k <= 5; k++) progress(h.ports, start + k * 1600);
      vad(h.ports, { type: 'speechEnd', utteranceId: id, startSamples: start, endSamples: start + 9000, reason: 'silence' });
    }
    // The decoder is slow: everything above piled up behind the first job.
    let answered = 0;
    for (let guard = 0; guard < 1000; guard++) {
      const sent = jobs(h.ports);
      if (answered === sent.length) break;
      const job = sent[answered++]!;
      expect(sent.length).toBe(answered); // never a second job before this one is answered
      answer(h.ports, job, `texte ${job.utteranceId}`);
      processAll(h.ports);
    }
    const finals = h.finals();
    expect(finals.map((f) => f.utteranceId)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const m = h.pipeline.metrics({ decode: 0, postprocess: 0 }, 0);
    const drops = Object.values(m.partialDrops).reduce((a, b) => a + b, 0);
    expect(drops).toBeGreaterThan(0);
    expect(m.partialDrops['queue-full'] + m.partialDrops['final-pending'] + m.partialDrops.stale).toBeGreaterThan(0);
    // Every partial queued was either decoded or counted as dropped.
    const partialJobs = jobs(h.ports).filter((j) => j.kind === 'partial').length;
    expect(partialJobs + drops).toBe(N * 5);
    expect(h.pipeline.idle).toBe(true);
  });
});

describe('cancelling the job in flight', () => {
  it('a final preempts the partial being decoded: cancelled, counted, and the final runs next', async () => {
    const h = await harness();
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(h.ports, 8192);
    const [partial] = jobs(h.ports);
    expect(partial).toMatchObject({ kind: 'partial' });
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 12_000 });
    expect(cancels(h.ports)).toEqual([partial!.jobId]);
    expect(jobs(h.ports)).toHaveLength(1); // still one job in flight until the worker answers
    cancelled(h.ports, partial!, 40);
    const speculative = jobs(h.ports)[1];
    expect(speculative).toMatchObject({ kind: 'final', speculative: true, endSamples: 12_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 12_000, reason: 'silence' });
    answer(h.ports, speculative!, 'allume la lumière');
    processAll(h.ports);
    expect(h.finals().map((f) => f.text)).toEqual(['allume la lumière']);
    expect(h.events.filter((e) => e.type === 'partial')).toHaveLength(0);
    const m = h.pipeline.metrics({ decode: 0, postprocess: 0 }, 0);
    expect(m.partialDrops.preempted).toBe(1);
    expect(m.cancelledDecodes).toEqual({ partial: 1, final: 0, ranMs: 40 });
    expect(h.pipeline.idle).toBe(true);
  });

  it('a cancel that comes too late changes nothing: the result is taken as usual, nothing is counted', async () => {
    const h = await harness();
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(h.ports, 8192);
    const [partial] = jobs(h.ports);
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 12_000 });
    expect(cancels(h.ports)).toEqual([partial!.jobId]);
    answer(h.ports, partial!, 'allume'); // the worker had finished before the cancel reached it
    processAll(h.ports);
    expect(h.events.filter((e) => e.type === 'partial').map((e) => e.payload['text'])).toEqual(['allume']);
    const m = h.pipeline.metrics({ decode: 0, postprocess: 0 }, 0);
    expect(m.partialDrops.preempted).toBe(0);
    expect(m.cancelledDecodes).toEqual({ partial: 0, final: 0, ranMs: 0 });
    expect(jobs(h.ports)[1]).toMatchObject({ kind: 'final', speculative: true });
  });

  it('speech resuming cancels the speculative final in flight; the endpoint decodes the real final once', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 16_000 });
    const [speculative] = jobs(h.ports);
    vad(h.ports, { type: 'speechResumed', utteranceId: 1 });
    expect(cancels(h.ports)).toEqual([speculative!.jobId]);
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 40_000, reason: 'silence' });
    expect(jobs(h.ports)).toHaveLength(1); // the real final waits for the cancelled job's answer
    cancelled(h.ports, speculative!, 120);
    const real = jobs(h.ports)[1];
    expect(real).toMatchObject({ kind: 'final', speculative: false, endSamples: 40_000 });
    answer(h.ports, real!, 'allume la cuisine');
    processAll(h.ports);
    expect(h.finals().map((f) => [f.text, f.speculative])).toEqual([['allume la cuisine', false]]);
    const m = h.pipeline.metrics({ decode: 0, postprocess: 0 }, 0);
    expect(m).toMatchObject({ speculativeDiscarded: 1, speculativeReused: 0, cancelledDecodes: { partial: 0, final: 1, ranMs: 120 } });
    expect(h.pipeline.idle).toBe(true);
  });

  it('a misfire cancels its own partial in flight (stale); a decoder that dies while cancelling does not replay it', async () => {
    const h = await harness();
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    progress(h.ports, 8192);
    const [partial] = jobs(h.ports);
    vad(h.ports, { type: 'misfire', utteranceId: 1, startSamples: 0, endSamples: 8192 });
    expect(cancels(h.ports)).toEqual([partial!.jobId]);
    h.ports.decode.crash(true);
    h.ports.decode.restarted();
    expect(jobs(h.ports)).toHaveLength(1); // not re-sent
    const m = h.pipeline.metrics({ decode: 1, postprocess: 0 }, 0);
    expect(m.partialDrops.stale).toBe(1);
    expect(m.replayedJobs).toBe(0);
    expect(m.cancelledDecodes).toEqual({ partial: 1, final: 0, ranMs: 0 });
    // The next utterance decodes normally.
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 20_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 2, startSamples: 20_000, endSamples: 30_000, reason: 'silence' });
    answer(h.ports, jobs(h.ports)[1]!, 'merci');
    processAll(h.ports);
    expect(h.finals().map((f) => f.text)).toEqual(['merci']);
    expect(h.pipeline.idle).toBe(true);
  });
});

describe('crash and replay', () => {
  it('re-sends the in-flight final to the restarted decode worker and emits it exactly once', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 7, startSamples: 0 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 7, startSamples: 0, endSamples: 32_000, reason: 'silence' });
    const [job] = jobs(h.ports);
    h.ports.decode.crash(true);
    vad(h.ports, { type: 'speechStart', utteranceId: 8, startSamples: 40_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 8, startSamples: 40_000, endSamples: 60_000, reason: 'silence' });
    expect(jobs(h.ports)).toHaveLength(1); // nothing sent to a dead worker
    h.ports.decode.restarted();
    const after = jobs(h.ports);
    expect(after).toHaveLength(2);
    expect(after[1]).toEqual(job);
    answer(h.ports, after[1]!, 'ferme les volets');
    answer(h.ports, after[1]!, 'ferme les volets'); // a duplicate answer must not duplicate the final
    answer(h.ports, jobs(h.ports)[2]!, 'merci');
    processAll(h.ports);
    expect(h.finals().map((f) => [f.utteranceId, f.text])).toEqual([[7, 'ferme les volets'], [8, 'merci']]);
    expect(h.pipeline.metrics({ decode: 1, postprocess: 0 }, 0).replayedJobs).toBe(1);
    expect(h.errors).toHaveLength(0);
  });

  it('ends the utterances a crashed VAD had open where it last reported, and gives its successor fresh ids', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 3, startSamples: 1000 });
    progress(h.ports, 20_480);
    expect(h.pipeline.nextUtteranceId).toBe(4);
    h.ports.vad.crash(true);
    // The open utterance is decoded up to the VAD's last reported position, as at end of input.
    expect(jobs(h.ports)).toEqual([expect.objectContaining({ kind: 'final', utteranceId: 3, startSamples: 1000, endSamples: 20_480 })]);
    expect(h.events.find((e) => e.type === 'speechEnd')?.payload).toMatchObject({ utteranceId: 3, reason: 'flush' });
    h.ports.vad.restarted();
    answer(h.ports, jobs(h.ports)[0]!, 'allume la');
    processAll(h.ports);
    expect(h.finals().map((f) => [f.utteranceId, f.text])).toEqual([[3, 'allume la']]);
    expect(h.errors).toHaveLength(0); // a crash with a restart on its way is not an engine error
    expect(JSON.stringify(h.supervisor.getSnapshot().value)).toBe('"running"');
  });

  it('re-sends the flush to a VAD restarted while draining, then drains', async () => {
    const h = await harness({ partialsEnabled: false });
    h.supervisor.send({ type: 'FLUSH' });
    await h.until((v) => v.includes('draining'));
    const flushes = (): number => h.ports.vad.sent.filter((c) => c.type === 'flush').length;
    expect(flushes()).toBe(1);
    h.ports.vad.crash(true);
    h.ports.vad.restarted();
    expect(flushes()).toBe(2);
    h.ports.vad.deliver({ type: 'ended', positionSamples: 0 });
    await h.until((v) => v === '"drained"');
  });

  it('re-sends pending post-process requests after a post-process restart; a final dead end fails the engine', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 16_000, reason: 'silence' });
    answer(h.ports, jobs(h.ports)[0]!, 'bonjour');
    h.ports.postprocess.crash(true);
    h.ports.postprocess.sent.splice(0);
    h.ports.postprocess.restarted();
    expect(processAll(h.ports)).toBe(1);
    expect(h.finals().map((f) => f.text)).toEqual(['bonjour']);
    h.ports.decode.crash(false);
    expect(h.supervisor.getSnapshot().value).toBe('failed');
    expect(h.errors).toHaveLength(1);
  });

  it('reports a failed final as rejected decode-failed with an error, and the next utterance still decodes', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 16_000, reason: 'silence' });
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 20_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 2, startSamples: 20_000, endSamples: 36_000, reason: 'silence' });
    h.ports.decode.deliver({
      type: 'jobFailed',
      jobId: jobs(h.ports)[0]!.jobId,
      utteranceId: 1,
      error: { code: 'STT_SHM_RANGE_UNAVAILABLE', message: 'evicted', details: {} },
    });
    answer(h.ports, jobs(h.ports)[1]!, 'salut');
    processAll(h.ports);
    expect(h.events.filter((e) => e.type === 'rejected').map((e) => e.payload['reason'])).toEqual(['decode-failed']);
    expect(h.events.find((e) => e.type === 'error')?.payload['error']).toMatchObject({ code: 'STT_SHM_RANGE_UNAVAILABLE' });
    expect(h.finals().map((f) => f.text)).toEqual(['salut']);
  });
});

describe('flush', () => {
  it('FLUSH ends the input; drained only once every final is out', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    h.supervisor.send({ type: 'FLUSH' });
    expect(h.inputEnded()).toBe(1);
    h.ports.vad.deliver({ type: 'vad', event: { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 8000, reason: 'flush' } });
    h.ports.vad.deliver({ type: 'ended', positionSamples: 8000 });
    expect(h.supervisor.getSnapshot().value).toEqual({ draining: 'decodes' });
    answer(h.ports, jobs(h.ports)[0]!, 'fin');
    expect(h.supervisor.getSnapshot().value).toEqual({ draining: 'decodes' });
    processAll(h.ports);
    expect(h.supervisor.getSnapshot().value).toBe('drained');
    expect(h.finals()).toHaveLength(1);
  });
});

describe('speculative tolerance', () => {
  it('reuses the speculative final when speechEnd only adds post-roll pause, not more', async () => {
    const h = await harness({ partialsEnabled: false });
    vad(h.ports, { type: 'speechStart', utteranceId: 1, startSamples: 0 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 1, endSamples: 16_512 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 16_000 + 1536, reason: 'silence' });
    expect(jobs(h.ports)).toHaveLength(1);
    vad(h.ports, { type: 'speechStart', utteranceId: 2, startSamples: 40_000 });
    vad(h.ports, { type: 'pauseStart', utteranceId: 2, endSamples: 50_000 });
    vad(h.ports, { type: 'speechEnd', utteranceId: 2, startSamples: 40_000, endSamples: 50_000 + 1537, reason: 'silence' });
    answer(h.ports, jobs(h.ports)[0]!, 'un');
    answer(h.ports, jobs(h.ports)[1]!, 'deux');
    processAll(h.ports);
    expect(jobs(h.ports)).toHaveLength(2);
    expect(h.finals().map((f) => [f.text, f.speculative, f.endMs])).toEqual([
      ['un', true, 1096],
      ['deux', false, 3221],
    ]);
  });
});
