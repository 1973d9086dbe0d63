import { describe, expect, it } from 'vitest';
import { FINAL_BEAM_NARROW_AFTER_MS, resolveEngineOptions } from '../../../src/engine/options.js';

describe('engine options: short windows', () => {
  it('shortWindowMarginMs defaults to 4000, takes null for full windows, and must be a number ≥ 0', () => {
    expect(resolveEngineOptions({}).shortWindowMarginMs).toBe(4000);
    expect(resolveEngineOptions({ shortWindowMarginMs: null }).shortWindowMarginMs).toBeNull();
    expect(resolveEngineOptions({ shortWindowMarginMs: 0 }).shortWindowMarginMs).toBe(0);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '4000' as unknown as number]) {
      expect(() => resolveEngineOptions({ shortWindowMarginMs: bad })).toThrow(expect.objectContaining({ code: 'STT_INVALID_OPTION' }));
    }
  });
});

describe('engine options: beam deadline of finals', () => {
  it('finalBeamNarrowAfterMs defaults to FINAL_BEAM_NARROW_AFTER_MS, takes null for never, and must be a number ≥ 0', () => {
    expect(resolveEngineOptions({}).finalBeamNarrowAfterMs).toBe(FINAL_BEAM_NARROW_AFTER_MS);
    expect(resolveEngineOptions({ finalBeamNarrowAfterMs: null }).finalBeamNarrowAfterMs).toBeNull();
    expect(resolveEngineOptions({ finalBeamNarrowAfterMs: 0 }).finalBeamNarrowAfterMs).toBe(0);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '700' as unknown as number]) {
      expect(() => resolveEngineOptions({ finalBeamNarrowAfterMs: bad })).toThrow(
        expect.objectContaining({ code: 'STT_INVALID_OPTION', details: { option: 'finalBeamNarrowAfterMs' } }),
      );
    }
  });
});

describe('engine options: drafts', () => {
  it('drafts defaults to true and must be a boolean', () => {
    expect(resolveEngineOptions({}).drafts).toBe(true);
    expect(resolveEngineOptions({ drafts: false }).drafts).toBe(false);
    for (const bad of ['no', 0, 1, null] as unknown as boolean[]) {
      expect(() => resolveEngineOptions({ drafts: bad })).toThrow(expect.objectContaining({ code: 'STT_INVALID_OPTION', details: { option: 'drafts' } }));
    }
  });
});

describe('engine options: partials', () => {
  it('partials.maxDecodeShare defaults to 0.5, takes null to turn pacing off, and must lie in (0, 1]', () => {
    expect(resolveEngineOptions({}).partialMaxDecodeShare).toBe(0.5);
    expect(resolveEngineOptions({ partials: { maxDecodeShare: null } }).partialMaxDecodeShare).toBeNull();
    expect(resolveEngineOptions({ partials: { maxDecodeShare: 1 } }).partialMaxDecodeShare).toBe(1);
    for (const bad of [0, -0.2, 1.5, Number.NaN]) {
      expect(() => resolveEngineOptions({ partials: { maxDecodeShare: bad } })).toThrow(expect.objectContaining({ code: 'STT_INVALID_OPTION' }));
    }
  });
});

describe('engine options: decoder warm-up', () => {
  it('warmUp is a boolean when given (the decode worker warms up unless it is false)', () => {
    expect(() => resolveEngineOptions({ warmUp: false })).not.toThrow();
    expect(() => resolveEngineOptions({ warmUp: true })).not.toThrow();
    for (const bad of ['no', 0, null] as unknown as boolean[]) {
      expect(() => resolveEngineOptions({ warmUp: bad })).toThrow(expect.objectContaining({ code: 'STT_INVALID_OPTION' }));
    }
  });
});

describe('engine options: float weights', () => {
  it('floatWeights is a path, true (the model’s own copy) or none, refused early otherwise', () => {
    for (const ok of [undefined, null, false, true, '/opt/faster-whisper-base']) {
      expect(() => resolveEngineOptions({ floatWeights: ok })).not.toThrow();
    }
    for (const bad of ['', 7, {}] as unknown as string[]) {
      expect(() => resolveEngineOptions({ floatWeights: bad })).toThrow(expect.objectContaining({ code: 'STT_INVALID_OPTION', details: { option: 'floatWeights' } }));
    }
  });
});

describe('engine options: arena length', () => {
  const refused = expect.objectContaining({ code: 'STT_INVALID_OPTION', details: { option: 'arenaSeconds' } });

  it('holds 120 s by default, at 16 kHz', () => {
    expect(resolveEngineOptions({}).arenaSamples).toBe(120 * 16_000);
  });

  it('must hold the longest utterance, a misfire it may take in, and the VAD’s read-ahead', () => {
    // Defaults: 28 s utterances + 2 s misfire join + 2 s.
    expect(() => resolveEngineOptions({ arenaSeconds: 31.9 })).toThrow(refused);
    expect(resolveEngineOptions({ arenaSeconds: 32 }).arenaSamples).toBe(32 * 16_000);
    // Shorter utterances, or no misfire join, need less.
    expect(() => resolveEngineOptions({ arenaSeconds: 9.9, vad: { maxUtteranceMs: 6000 } })).toThrow(refused);
    expect(resolveEngineOptions({ arenaSeconds: 10, vad: { maxUtteranceMs: 6000 } }).arenaSamples).toBe(160_000);
    expect(resolveEngineOptions({ arenaSeconds: 8, vad: { maxUtteranceMs: 6000, misfireJoinMs: 0 } }).arenaSamples).toBe(128_000);
    // Longer utterances than the default arena holds need a longer arena.
    expect(() => resolveEngineOptions({ vad: { maxUtteranceMs: 120_000 } })).toThrow(refused);
    expect(() => resolveEngineOptions({ arenaSeconds: 124, vad: { maxUtteranceMs: 120_000 } })).not.toThrow();
  });

  it('leaves a non-finite VAD length to the VAD’s own check', () => {
    expect(() => resolveEngineOptions({ vad: { maxUtteranceMs: Number.NaN } })).not.toThrow();
    expect(() => resolveEngineOptions({ arenaSeconds: 0 })).toThrow(refused);
  });
});
