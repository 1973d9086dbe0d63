import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeQueue, type DecodeJob } from '../../../src/state/decode-queue.js';

interface Job extends DecodeJob {
  readonly seq: number;
}

describe('DecodeQueue (backpressure policy)', () => {
  it('serves finals first, replaces a pending partial of the same utterance, and counts why', () => {
    const q = new DecodeQueue<Job>(2);
    expect(q.enqueue({ kind: 'partial', utteranceId: 1, seq: 1 })).toEqual([]);
    expect(q.enqueue({ kind: 'partial', utteranceId: 1, seq: 2 })).toEqual([
      { job: { kind: 'partial', utteranceId: 1, seq: 1 }, reason: 'superseded' },
    ]);
    q.enqueue({ kind: 'partial', utteranceId: 2, seq: 3 });
    expect(q.enqueue({ kind: 'partial', utteranceId: 3, seq: 4 })).toEqual([
      { job: { kind: 'partial', utteranceId: 1, seq: 2 }, reason: 'queue-full' },
    ]);
    expect(q.enqueue({ kind: 'final', utteranceId: 2, seq: 5 })).toEqual([
      { job: { kind: 'partial', utteranceId: 2, seq: 3 }, reason: 'final-pending' },
    ]);
    expect(q.enqueue({ kind: 'partial', utteranceId: 2, seq: 6 })).toEqual([
      { job: { kind: 'partial', utteranceId: 2, seq: 6 }, reason: 'final-pending' },
    ]);
    expect(q.next()).toMatchObject({ kind: 'final', utteranceId: 2 });
    expect(q.next()).toMatchObject({ kind: 'partial', utteranceId: 3 });
    expect(q.next()).toBeUndefined();
    expect(q.drops).toEqual({ superseded: 1, 'queue-full': 1, 'final-pending': 2 });
  });

  it('never drops a final and accounts for every job, under any seeded load', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.tuple(fc.constantFrom('partial', 'final', 'next'), fc.integer({ min: 1, max: 5 })), { maxLength: 300 }),
        (maxPartials, ops) => {
          const q = new DecodeQueue<Job>(maxPartials);
          let seq = 0;
          let enqueued = 0;
          let served = 0;
          let dropped = 0;
          const finalsIn: number[] = [];
          const finalsOut: number[] = [];
          for (const [op, utteranceId] of ops) {
            if (op === 'next') {
              const job = q.next();
              if (job) served++;
              if (job?.kind === 'final') finalsOut.push(job.seq);
              continue;
            }
            const job: Job = { kind: op, utteranceId, seq: seq++ };
            enqueued++;
            if (op === 'final') finalsIn.push(job.seq);
            const out = q.enqueue(job);
            expect(out.every((d) => d.job.kind === 'partial')).toBe(true);
            dropped += out.length;
            expect(q.pendingPartials).toBeLessThanOrEqual(maxPartials);
          }
          for (let job = q.next(); job; job = q.next()) {
            served++;
            if (job.kind === 'final') finalsOut.push(job.seq);
          }
          expect(finalsOut).toEqual(finalsIn);
          expect(served + dropped).toBe(enqueued);
          const d = q.drops;
          expect(d.superseded + d['queue-full'] + d['final-pending']).toBe(dropped);
        },
      ),
      { seed: 1124, numRuns: 300 },
    );
  });
});
