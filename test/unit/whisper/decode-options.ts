/** DecodeOptions for tests on synthetic vocabularies: greedy, no timestamps, nothing suppressed. */
import type { DecodeOptions } from '../../../src/whisper/types.js';

export function plainDecodeOptions(overrides: Partial<DecodeOptions> = {}): DecodeOptions {
  return {
    language: 'fr',
    task: 'transcribe',
    temperature: 0,
    beamSize: 1,
    bestOf: 1,
    patience: 1,
    lengthPenalty: null,
    withoutTimestamps: true,
    maxInitialTimestampInS: 1,
    suppressTokens: [],
    suppressBlank: false,
    promptTokens: [],
    prefixTokens: [],
    maxNewTokens: 224,
    ...overrides,
  };
}
