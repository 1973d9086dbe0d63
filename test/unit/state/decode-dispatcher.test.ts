import { describe, expect, it } from 'vitest';
import type { DecodeJobSpec } from '../../../src/actors/decode/decode.protocol.js';
import { DecodeDispatcher } from '../../../src/state/decode-dispatcher.js';
import { emptyCounters } from '../../../src/state/pipeline-metrics.js';

function spec(jobId: number, kind: DecodeJobSpec['kind'], utteranceId = 1): DecodeJobSpec {
  return {
    jobId,
    kind,
    utteranceId,
    startSamples: 0,
    endSamples: 16_000,
    language: 'fr',
    beamSize: kind === 'final' ? 5 : 1,
    temperatures: [0],
    initialPrompt: null,
    hotwords: null,
    speculative: false,
  };
}

function setup(options: { cancel?: boolean; wanted?: (id: number) => boolean } = {}) {
  const sent: number[] = [];
  const cancels: number[] = [];
  let now = 0;
  const counters = emptyCounters();
  const d = new DecodeDispatcher(
    2,
    {
      send: (job) => sent.push(job.jobId),
      cancel: options.cancel === false ? undefined : (jobId) => cancels.push(jobId),
      now: () => (now += 10),
      partialWanted: options.wanted ?? (() => true),
    },
    counters,
  );
  return { d, sent, cancels, counters };
}

describe('DecodeDispatcher', () => {
  it('keeps one job in flight and sends nothing while the worker is down', () => {
    const { d, sent } = setup();
    d.enqueue(spec(1, 'partial'));
    d.dispatch();
    expect(sent).toEqual([]);
    expect(d.ready()).toBeNull();
    d.dispatch();
    d.enqueue(spec(2, 'final'));
    d.dispatch();
    expect(sent).toEqual([1]);
    expect(d.answered(2)).toBeNull(); // not the job in flight
    expect(d.answered(1)).toMatchObject({ job: { spec: { jobId: 1 } }, voided: false });
    d.dispatch();
    expect(sent).toEqual([1, 2]);
    expect(d.idle).toBe(false);
    d.answered(2);
    expect(d.idle).toBe(true);
  });

  it('cancels a partial in flight when a final is queued, once, and counts it when the worker confirms', () => {
    const { d, sent, cancels, counters } = setup();
    d.ready();
    d.enqueue(spec(1, 'partial'));
    d.dispatch();
    d.enqueue(spec(2, 'final'));
    d.enqueue(spec(3, 'final', 2)); // a second final does not cancel twice
    expect(cancels).toEqual([1]);
    expect(d.cancelled(2, 5)).toBeNull();
    expect(d.cancelled(1, 35)).toEqual({ job: expect.objectContaining({ kind: 'partial' }), reason: 'preempted' });
    d.dispatch();
    expect(sent).toEqual([1, 2]);
    expect(counters.partialDrops.preempted).toBe(1);
    expect(counters.cancelledDecodes).toEqual({ partial: 1, final: 0, ranMs: 35 });
  });

  it('without a cancel port, jobs run to the end', () => {
    const { d, sent, counters } = setup({ cancel: false });
    d.ready();
    d.enqueue(spec(1, 'partial'));
    d.dispatch();
    d.enqueue(spec(2, 'final'));
    d.void(1);
    expect(d.answered(1)).toMatchObject({ voided: true });
    d.dispatch();
    expect(sent).toEqual([1, 2]);
    expect(counters.cancelledDecodes).toEqual({ partial: 0, final: 0, ranMs: 0 });
  });

  it('skips voided and stale jobs when their turn comes, counting the stale partial', () => {
    let open = true;
    const { d, sent, counters } = setup({ wanted: () => open });
    d.enqueue(spec(1, 'final'));
    d.enqueue(spec(2, 'partial', 2));
    d.void(1);
    open = false;
    d.ready();
    d.dispatch();
    expect(sent).toEqual([]);
    expect(counters.partialDrops.stale).toBe(1);
    expect(d.idle).toBe(true);
  });

  it('re-sends the job in flight to a restarted worker, unless it was being cancelled', () => {
    const { d, sent, counters } = setup();
    d.ready();
    d.enqueue(spec(1, 'final'));
    d.dispatch();
    d.down();
    expect(d.ready()).toBeNull();
    expect(sent).toEqual([1, 1]);
    expect(counters.replayedJobs).toBe(1);

    d.void(1); // cancel sent; then the worker dies before answering
    d.down();
    expect(d.ready()).toEqual({ job: expect.objectContaining({ utteranceId: 1 }), reason: 'voided' });
    expect(sent).toEqual([1, 1]);
    expect(counters.cancelledDecodes).toEqual({ partial: 0, final: 1, ranMs: 0 });
    expect(d.idle).toBe(true);
  });

  it('a partial of a misfired utterance is cancelled as stale; another utterance’s is not', () => {
    const { d, cancels, counters } = setup();
    d.ready();
    d.enqueue(spec(1, 'partial', 7));
    d.dispatch();
    d.cancelPartialOf(8);
    expect(cancels).toEqual([]);
    d.cancelPartialOf(7);
    expect(cancels).toEqual([1]);
    d.cancelled(1, 0);
    expect(counters.partialDrops.stale).toBe(1);
    expect(counters.partialDrops.preempted).toBe(0);
  });
});
