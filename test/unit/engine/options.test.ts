import { describe, expect, it } from 'vitest';
import { resolveEngineOptions } from '../../../src/engine/options.js';

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
