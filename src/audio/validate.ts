/** Checks shared by the WAV decoder and the resampler, so both reject the same inputs the same way. */
import { BadSampleRateError, InvalidSamplesError } from '../errors.js';

/** The rates we accept, in Hz (see src/errors.ts: STT_AUDIO_BAD_SAMPLE_RATE). */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384_000;

export function checkSampleRate(sampleRate: number, source: string): void {
  if (!Number.isInteger(sampleRate) || sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw new BadSampleRateError(
      `${source}: sample rate ${sampleRate} Hz is not an integer in [${MIN_SAMPLE_RATE}, ${MAX_SAMPLE_RATE}] Hz`,
      { source, sampleRate },
    );
  }
}

/** Throws on the first NaN or ±Infinity, naming its channel and time. */
export function checkFinite(channels: readonly Float32Array[], sampleRate: number, source: string): void {
  for (let c = 0; c < channels.length; c++) {
    const ch = channels[c] as Float32Array;
    for (let i = 0; i < ch.length; i++) {
      const v = ch[i] as number;
      // v - v is NaN exactly for NaN and ±Infinity, and is cheaper than Number.isFinite in this loop.
      if (v - v !== 0) {
        throw new InvalidSamplesError(
          `${source}: sample ${i} of channel ${c} (at ${((i / sampleRate) * 1000).toFixed(1)} ms) is ${v}`,
          { source, channel: c, index: i },
        );
      }
    }
  }
}
