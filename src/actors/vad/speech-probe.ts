/**
 * "Is there speech in this stretch of audio?" for the transcribe driver (TranscribeDeps.hasSpeech),
 * answered by the same Silero model the VAD actor runs. Loaded on first use: most files never ask.
 * Calls are serialised, since the model carries its recurrent state from window to window.
 */
import { SILERO_SAMPLE_RATE, SILERO_WINDOW_SAMPLES, SileroVad, sileroModelPath } from './silero.js';

/** Silero's speech threshold, as the VAD actor's default positive threshold. */
const SPEECH_PROBABILITY = 0.5;
/** Speech must add up to this much before a stretch counts as speech: a click or a breath does not. */
const MIN_SPEECH_MS = 250;

/** What the probe needs of Silero (SileroVad): windows in order, a state reset, a release. */
export interface WindowedSpeechModel {
  probability(window: Float32Array): Promise<number>;
  reset(): void;
  close(): Promise<void>;
}

export interface SpeechProbe {
  hasSpeech(samples: Float32Array, startSample: number, endSample: number): Promise<boolean>;
  close(): Promise<void>;
}

export function createSileroSpeechProbe(
  load: () => Promise<WindowedSpeechModel> = () => SileroVad.load(sileroModelPath()),
): SpeechProbe {
  let vad: Promise<WindowedSpeechModel> | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  const window = new Float32Array(SILERO_WINDOW_SAMPLES);
  const minWindows = Math.ceil((MIN_SPEECH_MS * SILERO_SAMPLE_RATE) / 1000 / SILERO_WINDOW_SAMPLES);

  async function probe(samples: Float32Array, startSample: number, endSample: number): Promise<boolean> {
    vad ??= load();
    const model = await vad;
    model.reset();
    let speech = 0;
    for (let at = Math.max(0, startSample); at < Math.min(endSample, samples.length); at += SILERO_WINDOW_SAMPLES) {
      const chunk = samples.subarray(at, Math.min(at + SILERO_WINDOW_SAMPLES, endSample));
      window.set(chunk);
      window.fill(0, chunk.length);
      if ((await model.probability(window)) >= SPEECH_PROBABILITY && ++speech >= minWindows) return true;
    }
    return false;
  }

  return {
    hasSpeech(samples, startSample, endSample) {
      const result = queue.then(() => probe(samples, startSample, endSample));
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await queue;
      if (vad !== null) await (await vad.catch(() => null))?.close();
      vad = null;
    },
  };
}
