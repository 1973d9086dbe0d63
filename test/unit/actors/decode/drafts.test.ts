import { describe, expect, it } from 'vitest';
import { DRAFTS_KEPT, DraftStore } from '../../../../src/actors/decode/drafts.js';
import type { Segment } from '../../../../src/whisper/types.js';

function segments(...tokens: number[][]): Segment[] {
  return tokens.map((t, id) => ({ id, startMs: 0, endMs: 0, text: '', tokens: t, temperature: 0, avgLogprob: 0, compressionRatio: 1, noSpeechProb: 0 }));
}

describe('DraftStore', () => {
  it('keeps the latest tokens per arena and utterance, for decodes from the same start', () => {
    const store = new DraftStore();
    store.remember(0, { utteranceId: 1, startSamples: 100 }, segments([1, 2], [3]));
    expect(store.draftFor(0, { utteranceId: 1, startSamples: 100 })).toEqual([1, 2, 3]);
    expect(store.draftFor(0, { utteranceId: 1, startSamples: 160 })).toBeNull();
    // Another engine of a shared decoder numbers its utterances from 1 too.
    expect(store.draftFor(1, { utteranceId: 1, startSamples: 100 })).toBeNull();
    store.remember(0, { utteranceId: 1, startSamples: 100 }, segments([4]));
    expect(store.draftFor(0, { utteranceId: 1, startSamples: 100 })).toEqual([4]);
    store.remember(0, { utteranceId: 1, startSamples: 100 }, segments([]));
    expect(store.draftFor(0, { utteranceId: 1, startSamples: 100 })).toEqual([4]);
  });

  it(`keeps the ${DRAFTS_KEPT} utterances decoded last`, () => {
    const store = new DraftStore();
    for (let id = 1; id <= DRAFTS_KEPT; id++) store.remember(0, { utteranceId: id, startSamples: id }, segments([id]));
    // Utterance 1 is decoded again: now the most recent, and 2 is the oldest.
    store.remember(0, { utteranceId: 1, startSamples: 1 }, segments([10]));
    store.remember(0, { utteranceId: 99, startSamples: 99 }, segments([99]));
    expect(store.size).toBe(DRAFTS_KEPT);
    expect(store.draftFor(0, { utteranceId: 2, startSamples: 2 })).toBeNull();
    expect(store.draftFor(0, { utteranceId: 1, startSamples: 1 })).toEqual([10]);
    expect(store.draftFor(0, { utteranceId: 3, startSamples: 3 })).toEqual([3]);
  });
});
