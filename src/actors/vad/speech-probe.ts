/**
 * "Is there speech in this stretch of audio?" for the transcribe driver (TranscribeDeps.hasSpeech),
 * answered by the same Silero model the VAD actor runs. Loaded on first use: most files never ask.
 * Calls are serialised, since the model carries its recurrent state from window to window.
 */
import { SILERO_MAX_RUN_WINDOWS, SILERO_SAMPLE_RATE, SILERO_WINDOW_SAMPLES, SileroVad, sileroModelPath } from './silero.js';
import type { SpeechProbabilityModel } from './vad.js';

/** Silero's speech threshold, as the VAD actor's default positive threshold. */
const SPEECH_PROBABILITY = 0.5;
/** Speech must add up to this much before a stretch counts as speech: a click or a breath does not. */
const MIN_SPEECH_MS = 250;

/** What the probe needs of Silero (SileroVad): windows in order, a state reset, a release. */
export type WindowedSpeechModel = SpeechProbabilityModel;

export interface SpeechProbe {
  hasSpeech(samples: Float32Array, startSample: number, endSample: number): Promise<boolean>;
  close(): Promise<void>;
}

export function createSileroSpeechProbe(
  load: () => Promise<WindowedSpeechModel> = () => SileroVad.load(sileroModelPath()),
): SpeechProbe {
  let vad: Promise<WindowedSpeechModel> | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  /** One run of windows; the stretch's last one zero-padded. */
  const run = new Float32Array(SILERO_MAX_RUN_WINDOWS * SILERO_WINDOW_SAMPLES);
  const minWindows = Math.ceil((MIN_SPEECH_MS * SILERO_SAMPLE_RATE) / 1000 / SILERO_WINDOW_SAMPLES);

  async function probe(samples: Float32Array, startSample: number, endSample: number): Promise<boolean> {
    vad ??= load();
    const model = await vad;
    model.reset();
    let speech = 0;
    const end = Math.min(endSample, samples.length);
    for (let at = Math.max(0, startSample); at < end; at += run.length) {
      const chunk = samples.subarray(at, Math.min(at + run.length, end));
      run.set(chunk);
      const windows = Math.ceil(chunk.length / SILERO_WINDOW_SAMPLES);
      run.fill(0, chunk.length, windows * SILERO_WINDOW_SAMPLES);
      for (const p of await model.probabilities(run, windows)) if (p >= SPEECH_PROBABILITY && ++speech >= minWindows) return true;
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
