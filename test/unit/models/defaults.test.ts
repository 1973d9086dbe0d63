import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { defaultCacheDir, defaultHubEndpoint, packageRoot } from '../../../src/models/resolve.js';
import { REPO_ROOT } from '../../helpers/paths.js';

describe('model resolution defaults', () => {
  it('finds the package root from the module file', () => {
    expect(packageRoot()).toBe(REPO_ROOT);
  });

  it('caches under <package>/models unless STT_MODEL_CACHE says otherwise', () => {
    expect(defaultCacheDir({})).toBe(path.join(REPO_ROOT, 'models'));
    expect(defaultCacheDir({ STT_MODEL_CACHE: '  ' })).toBe(path.join(REPO_ROOT, 'models'));
    expect(defaultCacheDir({ STT_MODEL_CACHE: '/var/cache/stt' })).toBe('/var/cache/stt');
  });

  it('picks the hub endpoint: STT_HUB_ENDPOINT, then HF_ENDPOINT, then huggingface.co', () => {
    expect(defaultHubEndpoint({})).toBe('https://huggingface.co');
    expect(defaultHubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.com' })).toBe('https://hf-mirror.com');
    expect(defaultHubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.com', STT_HUB_ENDPOINT: 'http://127.0.0.1:9' })).toBe(
      'http://127.0.0.1:9',
    );
  });
});
