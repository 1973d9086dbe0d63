/** A decode job for tests that talk to a real decode worker: French, beam 5, one temperature unless told. */
import type { DecodeJobSpec } from '../../dist/actors/decode/decode.protocol.js';

export function decodeJob(
  jobId: number,
  kind: DecodeJobSpec['kind'],
  startSamples: number,
  endSamples: number,
  overrides: Partial<DecodeJobSpec> = {},
): DecodeJobSpec {
  return {
    jobId,
    kind,
    utteranceId: jobId,
    startSamples,
    endSamples,
    language: 'fr',
    beamSize: 5,
    temperatures: [0],
    initialPrompt: null,
    hotwords: null,
    speculative: false,
    ...overrides,
  };
}
