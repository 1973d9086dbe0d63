import { describe, expect, it } from 'vitest';
import { WARM_UP_TOKENS, warmUp } from '../../../src/whisper/warm-up.js';
import { ScriptedBackend } from './transcribe-scripted.js';

describe('decoder warm-up', () => {
  it('encodes the window a one-second utterance gets and decodes it with the beam and greedily, then a full window with the beam', async () => {
    const backend = new ScriptedBackend([{ text: 'x' }, { text: 'x' }, { text: 'x' }], 448, true);
    let clock = 0;
    const report = await warmUp(backend, () => (clock += 50));
    // The short-window rule with its defaults: 1 s + 4 s margin, at least 20 s → 2000 frames; then
    // the largest window, which a guard's retry or a long utterance needs.
    expect(backend.windows).toEqual([
      expect.objectContaining({ frames: 2000, contentFrames: 100 }),
      expect.objectContaining({ frames: 3000, contentFrames: 100 }),
    ]);
    expect(backend.decodeCalls.map((c) => c.beamSize)).toEqual([5, 1, 5]);
    for (const call of backend.decodeCalls) {
      expect(call).toMatchObject({ language: 'en', temperature: 0, maxNewTokens: WARM_UP_TOKENS, withoutTimestamps: false, promptTokens: [] });
      expect(call.suppressTokens).toEqual(backend.defaultSuppressTokens);
    }
    expect(backend.released).toBe(2);
    expect(report).toEqual({ ms: 50, windows: [2000, 3000], beamSizes: [5, 1, 5] });
  });

  it('encodes one full window when the encoder takes no shorter one', async () => {
    const backend = new ScriptedBackend([{ text: 'x' }, { text: 'x' }], 448, false);
    const report = await warmUp(backend);
    expect(backend.windows.map((w) => w.frames)).toEqual([3000]);
    expect(report).toMatchObject({ windows: [3000], beamSizes: [5, 1] });
  });

  it('releases the encoded window when a decode fails, and the failure reaches the caller', async () => {
    const backend = new ScriptedBackend([{ throws: new Error('broken decoder') }], 448, true);
    await expect(warmUp(backend)).rejects.toThrow('broken decoder');
    expect(backend.released).toBe(1);
  });

  it('only encodes when the vocabulary has no language token to prompt with', async () => {
    const backend = new ScriptedBackend([], 448, true);
    Object.defineProperty(backend, 'tokenizer', {
      value: { ...backend.tokenizer, specials: { ...backend.tokenizer.specials, languages: new Map() } },
    });
    const report = await warmUp(backend);
    expect(backend.windows).toHaveLength(2);
    expect(backend.decodeCalls).toEqual([]);
    expect(report.beamSizes).toEqual([]);
    expect(backend.released).toBe(2);
  });
});
