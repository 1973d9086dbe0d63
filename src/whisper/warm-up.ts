/**
 * One small pass through what a first utterance runs, so that the first real one does not pay for
 * the process's cold start: the log-mel extractor's tables (filterbank, FFT plan), onnxruntime's
 * first encoder run at the window length a short utterance gets (its arena grows there), the
 * decoder's first passes at batch 1 and at the beam width, and the JIT of the searches. Then, where
 * that window is short, one full 30 s window with a beam decode: the largest tensors the worker ever
 * holds (a guard's retry, an utterance of 26 s or more), so its memory reaches its steady level here
 * rather than at the first such utterance, minutes into a session (+90–105 MiB of RSS then, on
 * bench:stream), and that utterance does not pay for the arena's growth.
 *
 * Measured on the Wyoming server (2 cores, a French command, beam 5, fresh starts): the first
 * request after start-up took 575–629 ms against ~430 for the next ones; with this warm-up before
 * `ready`, 431–528 ms (the requests after it: 360–450). It cost 290–380 ms of start-up there before
 * the full window was added; with it, 1.7 s on the slower AVX2 machine of the later benchmarks (0.8 s
 * without it). Once per decode worker (a restarted one skips it: it has jobs to replay), and it never
 * emits anything: the input is a second of faint seeded noise, and each decode stops after a few
 * tokens. It counts against the worker's ready timeout (60 s), which a 30 s encoder pass of a large
 * model on a slow CPU could approach; `warmUp: false` is the way out there.
 */
import { logMelSpectrogram } from './mel.js';
import { seededRandom } from './random.js';
import { DEFAULT_SHORT_WINDOW_MARGIN_MS, DEFAULT_SHORT_WINDOW_MIN_MS } from './transcribe-options.js';
import { WHISPER_N_FFT, WHISPER_SAMPLE_RATE, shortWindowFrames } from './transcribe.js';
import type { DecodeOptions, WhisperBackend } from './types.js';

/** A second of audio: a command's mel, far less than its encoder pass. */
const WARM_UP_SAMPLES = WHISPER_SAMPLE_RATE;
/** Faint enough that a real model reads nothing into it (about −60 dBFS). */
const WARM_UP_LEVEL = 1e-3;
/** Tokens per decode: enough for the searches' steady loop, few enough to cost ~10 ms each. */
export const WARM_UP_TOKENS = 4;
/** The engine's beam width for finals (partials are greedy). */
const WARM_UP_BEAM = 5;

export interface WarmUpReport {
  readonly ms: number;
  /** Mel frames of each window encoded: a short utterance's window then a full one, or a full one alone. */
  readonly windows: readonly number[];
  /** Beam widths decoded (1 = greedy), in order; empty when the model has no language token to prompt with. */
  readonly beamSizes: readonly number[];
}

export async function warmUp(backend: WhisperBackend, now: () => number = () => performance.now()): Promise<WarmUpReport> {
  const started = now();
  const random = seededRandom(1);
  const samples = new Float32Array(WARM_UP_SAMPLES);
  for (let i = 0; i < samples.length; i++) samples[i] = (random() * 2 - 1) * WARM_UP_LEVEL;

  const { nMels, nFrames, hopLength } = backend;
  const mel = logMelSpectrogram(samples, { nMels, nFft: WHISPER_N_FFT, hopLength, sampleRate: WHISPER_SAMPLE_RATE });
  const frameMs = (hopLength * 1000) / WHISPER_SAMPLE_RATE;
  // The window the transcribe driver gives a one-second utterance with its default options.
  const frames = backend.shortWindows
    ? shortWindowFrames(
        mel.nFrames + Math.ceil(DEFAULT_SHORT_WINDOW_MARGIN_MS / frameMs),
        Math.ceil(DEFAULT_SHORT_WINDOW_MIN_MS / frameMs),
        nFrames,
        frameMs,
      )
    : nFrames;
  const windows = frames < nFrames ? [frames, nFrames] : [nFrames];
  // Any language the vocabulary has: the warm-up needs a valid prompt, not the user's language.
  const language = backend.tokenizer.specials.languages.keys().next().value;
  const beamSizes: number[] = [];
  for (const [i, size] of windows.entries()) {
    const window = new Float32Array(nMels * size);
    const content = Math.min(mel.nFrames, size);
    for (let m = 0; m < nMels; m++) window.set(mel.data.subarray(m * mel.nFrames, m * mel.nFrames + content), m * size);
    const encoded = await backend.encode(window, size);
    try {
      if (language === undefined) continue;
      // The first window is what a command runs (beam, then greedy partials); a full one, beam only.
      for (const beamSize of i === 0 ? [WARM_UP_BEAM, 1] : [WARM_UP_BEAM]) {
        await backend.decode(encoded, warmUpDecodeOptions(backend, language, beamSize));
        beamSizes.push(beamSize);
      }
    } finally {
      backend.release(encoded);
    }
  }
  return { ms: now() - started, windows, beamSizes };
}

function warmUpDecodeOptions(backend: WhisperBackend, language: string, beamSize: number): DecodeOptions {
  return {
    language,
    task: 'transcribe',
    temperature: 0,
    beamSize,
    bestOf: 1,
    patience: 1,
    lengthPenalty: null,
    withoutTimestamps: false,
    maxInitialTimestampInS: 1,
    suppressTokens: backend.defaultSuppressTokens,
    suppressBlank: true,
    promptTokens: [],
    prefixTokens: [],
    maxNewTokens: WARM_UP_TOKENS,
  };
}
