import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { InvalidOptionError } from '../../../src/errors.js';
import { checkFloatWeightsOption, defaultFloatWeights, parseFloatWeightsWord } from '../../../src/models/float-weights.js';

describe('float weights option words', () => {
  it('reads auto as the model’s own copy, none and empty as none, anything else as a path', () => {
    expect(parseFloatWeightsWord('auto')).toBe(true);
    expect(parseFloatWeightsWord(' auto ')).toBe(true);
    expect(parseFloatWeightsWord('none')).toBeNull();
    expect(parseFloatWeightsWord('')).toBeNull();
    expect(parseFloatWeightsWord('/opt/fw')).toBe('/opt/fw');
    // The CLI resolves a path against its working directory; a folder named auto is ./auto.
    expect(parseFloatWeightsWord('fw', '/home/u')).toBe(path.resolve('/home/u', 'fw'));
    expect(parseFloatWeightsWord('./auto', '/home/u')).toBe(path.resolve('/home/u', 'auto'));
    expect(parseFloatWeightsWord('auto', '/home/u')).toBe(true);
  });

  it('takes env STT_FLOAT_WEIGHTS when the option is absent', () => {
    expect(defaultFloatWeights({})).toBeNull();
    expect(defaultFloatWeights({ STT_FLOAT_WEIGHTS: '' })).toBeNull();
    expect(defaultFloatWeights({ STT_FLOAT_WEIGHTS: 'none' })).toBeNull();
    expect(defaultFloatWeights({ STT_FLOAT_WEIGHTS: 'auto' })).toBe(true);
    expect(defaultFloatWeights({ STT_FLOAT_WEIGHTS: '/fw' })).toBe('/fw');
  });

  it('accepts a path, a boolean or null, and refuses anything else with a coded error', () => {
    for (const ok of [undefined, null, true, false, '/fw']) expect(() => checkFloatWeightsOption(ok)).not.toThrow();
    for (const bad of ['', '  ', 0, 1, {}, ['/fw']]) {
      expect(() => checkFloatWeightsOption(bad), JSON.stringify(bad)).toThrow(InvalidOptionError);
    }
  });
});
