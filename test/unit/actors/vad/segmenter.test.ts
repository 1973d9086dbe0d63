import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/errors.js';
import { VadSegmenter } from '../../../../src/actors/vad/segmenter.js';
import type { VadEvent, VadOptions } from '../../../../src/actors/vad/vad.protocol.js';

// 512-sample windows at 16 kHz are 32 ms: options in whole windows keep the arithmetic readable.
const W = 512;
const BASE: Partial<VadOptions> = {
  preRollMs: 64, // 2 windows
  postRollMs: 32, // 1 window
  minSpeechMs: 96, // 3 windows
  endpointSilenceMs: 160, // 5 windows
  maxUtteranceMs: 3200, // 100 windows
};

/** Runs a script: each character is one window — 'S' speech (0.9), '.' silence (0.05), '~' between thresholds (0.4). */
function run(script: string, options: Partial<VadOptions> = BASE, energies?: (i: number) => number): VadEvent[] {
  const events: VadEvent[] = [];
  const vad = new VadSegmenter(options, (e) => events.push(e));
  [...script].forEach((c, i) => {
    const p = c === 'S' ? 0.9 : c === '~' ? 0.4 : 0.05;
    vad.push(p, energies ? energies(i) : p);
  });
  vad.flush();
  return events;
}

describe('VadSegmenter', () => {
  it('emits one utterance with pre-roll and post-roll after the endpoint silence', () => {
    const events = run('..........SSSSSS..........');
    expect(events).toEqual([
      { type: 'speechStart', utteranceId: 1, startSamples: 8 * W },
      { type: 'pauseStart', utteranceId: 1, endSamples: 17 * W },
      { type: 'speechEnd', utteranceId: 1, startSamples: 8 * W, endSamples: 17 * W, reason: 'silence' },
    ]);
  });

  it('external segmentation: one utterance per flush, trimmed to its speech with the thresholds’ hysteresis and the rolls', () => {
    const external = { ...BASE, segmentation: 'external' as const };
    // '~' before the first 'S' does not start speech; after it, it keeps it going (no pause in between).
    expect(run('.....~~SSS..~~S~~.....', external)).toEqual([
      { type: 'speechStart', utteranceId: 1, startSamples: 0 },
      { type: 'speechEnd', utteranceId: 1, startSamples: 5 * W, endSamples: 18 * W, reason: 'flush' },
    ]);
    // The pre-roll stops at the utterance's start; the post-roll at the audio's end.
    expect(run('.SSSS', external)).toEqual([
      { type: 'speechStart', utteranceId: 1, startSamples: 0 },
      { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 5 * W, reason: 'flush' },
    ]);
    // No speech window at all: the client's utterance is kept whole, for the decoder to judge.
    expect(run('..~~..', external)).toEqual([
      { type: 'speechStart', utteranceId: 1, startSamples: 0 },
      { type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 6 * W, reason: 'flush' },
    ]);
  });

  it('holds its state between the thresholds (hysteresis)', () => {
    // '~' neither starts speech from silence nor ends it once started.
    const events = run('~~~~SSS~~~~~~~~SSS.....~~~~~');
    const ends = events.filter((e) => e.type === 'speechEnd');
    expect(ends).toHaveLength(1);
    expect(events[0]).toEqual({ type: 'speechStart', utteranceId: 1, startSamples: 2 * W });
    expect(ends[0]).toMatchObject({ startSamples: 2 * W, endSamples: 19 * W });
  });

  it('continues the utterance when speech resumes during a pause, and says so', () => {
    const events = run('..SSSS...SSSS........');
    expect(events.map((e) => e.type)).toEqual(['speechStart', 'pauseStart', 'speechResumed', 'pauseStart', 'speechEnd']);
    expect(events.at(-1)).toMatchObject({ startSamples: 0, endSamples: 14 * W });
  });

  it('reports speech shorter than the minimum as a misfire, not an utterance', () => {
    const events = run('.....SS..........SSSS.......');
    expect(events.filter((e) => e.type === 'misfire')).toEqual([
      { type: 'misfire', utteranceId: 1, startSamples: 3 * W, endSamples: 8 * W },
    ]);
    expect(events.filter((e) => e.type === 'speechEnd')).toHaveLength(1);
  });

  it('never reaches back into the previous utterance with its pre-roll', () => {
    const events = run('SSSS.....SSSS.....', { ...BASE, endpointSilenceMs: 128 /* 4 windows */ });
    const starts = events.filter((e) => e.type === 'speechStart');
    const ends = events.filter((e) => e.type === 'speechEnd');
    expect(ends[0]).toMatchObject({ endSamples: 5 * W });
    expect(starts[1]).toMatchObject({ startSamples: 7 * W });
  });

  it('splits a long utterance at the quietest window of its second half, losing no sample', () => {
    const script = 'S'.repeat(130) + '.'.repeat(10);
    // Window 73 is the quietest in the second half; window 10 (first half) is quieter but not eligible.
    const events = run(script, BASE, (i) => (i === 73 ? 0.01 : i === 10 ? 0.001 : 0.5));
    const ends = events.filter((e) => e.type === 'speechEnd');
    expect(ends[0]).toEqual({
      type: 'speechEnd',
      utteranceId: 1,
      startSamples: 0,
      endSamples: 73 * W + W / 2,
      reason: 'max-length',
    });
    const starts = events.filter((e) => e.type === 'speechStart');
    expect(starts[0]).toEqual({ type: 'speechStart', utteranceId: 1, startSamples: 0 });
    // The rest begins inside speech: the decoder is told its first words may end a sentence.
    expect(starts[1]).toEqual({ type: 'speechStart', utteranceId: 2, startSamples: 73 * W + W / 2, startsMidSpeech: true });
    expect(ends[1]).toMatchObject({ utteranceId: 2, startSamples: 73 * W + W / 2, endSamples: 131 * W, reason: 'silence' });
  });

  it('ends an utterance that reaches its maximum length in a pause there, and the next one does not start mid-speech', () => {
    // Speech until window 97, then a pause shorter than the endpoint: the maximum length (100 windows)
    // comes first, and the utterance ends at its speech plus post-roll. The next onset's pre-roll
    // reaches back exactly to that end, yet nothing was cut inside speech.
    const events = run('S'.repeat(97) + '...' + 'S'.repeat(10) + '.'.repeat(10));
    const ends = events.filter((e) => e.type === 'speechEnd');
    expect(ends[0]).toEqual({ type: 'speechEnd', utteranceId: 1, startSamples: 0, endSamples: 98 * W, reason: 'max-length' });
    expect(events.filter((e) => e.type === 'speechStart')[1]).toEqual({ type: 'speechStart', utteranceId: 2, startSamples: 98 * W });
  });

  it('ends an utterance still open at the end of input with reason flush', () => {
    const events = run('...SSSSSS');
    expect(events.at(-1)).toEqual({ type: 'speechEnd', utteranceId: 1, startSamples: 1 * W, endSamples: 9 * W, reason: 'flush' });
  });

  it('rejects inconsistent options with a coded error', () => {
    expect(() => new VadSegmenter({ negativeThreshold: 0.8, positiveThreshold: 0.5 }, () => undefined)).toThrow(
      InvalidOptionError,
    );
    expect(() => new VadSegmenter({ maxUtteranceMs: 10 }, () => undefined)).toThrow(/maxUtteranceMs/);
    expect(() => new VadSegmenter({ misfireJoinMs: -1 }, () => undefined)).toThrow(/misfireJoinMs/);
  });
});

describe('VadSegmenter: speech soon after a misfire takes it in', () => {
  // A 2-window blip (under minSpeechMs, 3 windows) at windows 4–5, then 5 windows of silence: a
  // misfire [2W, 7W) (pre-roll 2 windows, post-roll 1). The join reaches 10 windows past its end.
  const JOIN: Partial<VadOptions> = { ...BASE, misfireJoinMs: 320 };
  const BLIP = '....SS.....';
  const utterances = (events: VadEvent[]): [string, number, number][] =>
    events.flatMap((e) => (e.type === 'misfire' || e.type === 'speechEnd' ? [[e.type, e.startSamples / W, e.endSamples / W] as [string, number, number]] : []));

  it('starts the next utterance at the misfire’s start when its speech begins within misfireJoinMs', () => {
    // Speech from window 15: 8 windows after the misfire's end.
    const events = run(BLIP + '....' + 'SSSSSS' + '......', JOIN);
    expect(utterances(events)).toEqual([
      ['misfire', 2, 7],
      ['speechEnd', 2, 22],
    ]);
    expect(events.filter((e) => e.type === 'speechStart')[1]).toEqual({ type: 'speechStart', utteranceId: 2, startSamples: 2 * W });
  });

  it('keeps the pre-roll alone when the speech begins later, or when misfireJoinMs is 0', () => {
    // Speech from window 20: 13 windows after the misfire's end.
    expect(utterances(run(BLIP + '.........' + 'SSSSSS' + '......', JOIN))).toEqual([
      ['misfire', 2, 7],
      ['speechEnd', 18, 27],
    ]);
    expect(utterances(run(BLIP + '....' + 'SSSSSS' + '......', { ...JOIN, misfireJoinMs: 0 }))).toEqual([
      ['misfire', 2, 7],
      ['speechEnd', 13, 22],
    ]);
  });

  it('never takes in a real utterance, and reaches back one misfire only', () => {
    // A real utterance (windows 4–9), then speech 5 windows after its end: pre-roll only.
    expect(utterances(run('....SSSSSS' + '......' + 'SSSSSS' + '......', JOIN))).toEqual([
      ['speechEnd', 2, 11],
      ['speechEnd', 14, 23],
    ]);
    // Two blips 4 windows apart, then speech: the second blip takes the first in (and misfires
    // again), the speech takes in the second blip only, from its own onset minus pre-roll.
    expect(utterances(run(BLIP + '....' + 'SS.....' + '..' + 'SSSSSS' + '......', JOIN))).toEqual([
      ['misfire', 2, 7],
      ['misfire', 2, 18],
      ['speechEnd', 13, 31],
    ]);
  });

  it('leaves external segmentation alone: each client utterance starts where its audio does', () => {
    const events: VadEvent[] = [];
    const vad = new VadSegmenter({ ...JOIN, segmentation: 'external' }, (e) => events.push(e));
    // A client utterance of 2 windows (a misfire), then one of 6 right after it.
    for (let i = 0; i < 2; i++) vad.push(0.9, 0.9);
    vad.flush();
    for (let i = 0; i < 6; i++) vad.push(0.9, 0.9);
    vad.flush();
    expect(utterances(events)).toEqual([
      ['misfire', 0, 2],
      ['speechEnd', 2, 8],
    ]);
  });
});
