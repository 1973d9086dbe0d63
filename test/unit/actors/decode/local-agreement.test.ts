import { describe, expect, it } from 'vitest';
import { LocalAgreement } from '../../../../src/actors/decode/local-agreement.js';

describe('LocalAgreement-2', () => {
  it('commits a word only once two consecutive hypotheses agree on it and on all before it', () => {
    const la = new LocalAgreement();
    expect(la.update('allume')).toEqual({ stable: '', unstable: 'allume', stableWords: 0 });
    expect(la.update('allume la')).toEqual({ stable: 'allume', unstable: 'la', stableWords: 1 });
    expect(la.update('allume la lumière')).toEqual({ stable: 'allume la', unstable: 'lumière', stableWords: 2 });
    expect(la.update('allume la lumière du salon.')).toEqual({
      stable: 'allume la lumière',
      unstable: 'du salon.',
      stableWords: 3,
    });
  });

  it('ignores case and edge punctuation when comparing, and never takes back a stable word', () => {
    const la = new LocalAgreement();
    la.update('Éteins la');
    expect(la.update('éteins la, lumière').stable).toBe('éteins la,');
    // A later hypothesis that disagrees early does not shrink what was shown as stable.
    const p = la.update('et teins la lumière');
    expect(p.stable).toBe('éteins la,');
    expect(p.stableWords).toBe(2);
  });

  it('starts over after reset', () => {
    const la = new LocalAgreement();
    la.update('ouvre les volets');
    la.update('ouvre les volets');
    la.reset();
    expect(la.update('ferme')).toEqual({ stable: '', unstable: 'ferme', stableWords: 0 });
  });
});
