/**
 * transcript-chunk texts: only new words, never retracted, in utterance order, with spacing such
 * that concatenating them (as wyoming-bench and Home Assistant do) gives the transcript's words.
 */
import { describe, expect, it } from 'vitest';
import { TranscriptAssembler } from '../../../src/wyoming/transcript-stream.js';

describe('TranscriptAssembler', () => {
  it('sends the growth of the stable prefix, then the rest of the final', () => {
    const t = new TranscriptAssembler();
    t.speechStart(1);
    expect(t.partial(1, '')).toBeNull();
    expect(t.partial(1, 'allume')).toBe('allume');
    expect(t.partial(1, 'allume')).toBeNull();
    expect(t.partial(1, 'allume la')).toBe(' la');
    expect(t.final(1, 'allume la lumière')).toBe(' lumière');
    expect(t.text()).toBe('allume la lumière');
  });

  it('never retracts: a final shorter or different than the words sent adds only words beyond their count', () => {
    const t = new TranscriptAssembler();
    expect(t.partial(1, 'il semblerait que')).toBe('il semblerait que');
    expect(t.final(1, 'Il semblerait que cela')).toBe(' cela');
    expect(t.text()).toBe('Il semblerait que cela');
    const u = new TranscriptAssembler();
    expect(u.partial(1, 'a b c')).toBe('a b c');
    expect(u.final(1, 'a b')).toBeNull();
    expect(u.text()).toBe('a b');
  });

  it('holds a later utterance’s words until every earlier one is final or rejected', () => {
    const t = new TranscriptAssembler();
    t.speechStart(1);
    t.speechStart(2);
    expect(t.partial(2, 'ferme les volets')).toBeNull();
    expect(t.partial(1, 'éteins')).toBe('éteins');
    const chunks = ['éteins'];
    chunks.push(t.final(1, 'éteins la lumière') ?? '');
    expect(chunks.join('')).toBe('éteins la lumière ferme les volets');
    chunks.push(t.final(2, 'ferme les volets') ?? '');
    expect(chunks.join('')).toBe('éteins la lumière ferme les volets');
    expect(t.text()).toBe('éteins la lumière ferme les volets');
  });

  it('skips rejected utterances in the transcript and lets the next one through', () => {
    const t = new TranscriptAssembler();
    t.speechStart(1);
    t.speechStart(2);
    expect(t.final(2, 'stop')).toBeNull();
    expect(t.rejected(1)).toBe('stop');
    expect(t.text()).toBe('stop');
  });

  it('ignores utterances after the endpoint (server-side VAD endpointing)', () => {
    const t = new TranscriptAssembler();
    t.speechStart(1);
    t.endAfter(1);
    t.speechStart(2);
    expect(t.partial(2, 'bruit')).toBeNull();
    expect(t.final(1, 'quel temps fait-il')).toBe('quel temps fait-il');
    expect(t.final(2, 'bruit de fond')).toBeNull();
    expect(t.text()).toBe('quel temps fait-il');
  });
});
