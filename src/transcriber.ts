/**
 * createTranscriber(): the one-call way to get a model ready — resolve it (explicit folder, cache,
 * mirror, hub), load the ORT sessions on the asked device, and wire the transcribe driver to the
 * model's own front-end parameters (preprocessor_config.json), so nothing here is hard-coded.
 */
import { loadAudioFile } from './audio/load.js';
import { createSileroSpeechProbe } from './actors/vad/speech-probe.js';
import { InvalidOptionError } from './errors.js';
import { checkFloatWeightsOption, defaultFloatWeights, floatWeightsPath } from './models/float-weights.js';
import { defaultCacheDir, resolveModel, type ResolveOptions } from './models/resolve.js';
import { checkFloatWeightsApply, isActivationQuant } from './whisper/graphs.js';
import { logMelSpectrogram } from './whisper/mel.js';
import { transcribe, type MelFunction } from './whisper/transcribe.js';
import type { TranscribeOptions, Transcriber, TranscriberOptions, TranscriptionResult } from './whisper/types.js';
import { Whisper } from './whisper/whisper.js';

const DEFAULT_MODEL = 'base';

/** What the embedding program decides rather than the user: where env defaults come from, progress. */
export interface TranscriberHost {
  /** Environment for STT_MODEL_MIRROR and the other defaults (default process.env); the CLI passes its own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly onProgress?: ResolveOptions['onProgress'];
}

function positiveInteger(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 1)) {
    throw new InvalidOptionError(`option ${name} must be an integer ≥ 1, got ${String(value)}`, { option: name });
  }
}

function optionalString(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || value.trim() === '')) {
    throw new InvalidOptionError(`option ${name} must be a non-empty string, got ${JSON.stringify(value)}`, {
      option: name,
    });
  }
}

function validate(options: TranscriberOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('transcriber options must be an object', { option: 'options' });
  }
  positiveInteger('intraOpThreads', options.intraOpThreads);
  positiveInteger('interOpThreads', options.interOpThreads);
  optionalString('model', options.model);
  optionalString('modelDir', options.modelDir);
  optionalString('mirror', options.mirror);
  if (options.dtype !== undefined && !['q8', 'fp16', 'fp32'].includes(options.dtype)) {
    throw new InvalidOptionError(`option dtype must be q8, fp16 or fp32, got ${String(options.dtype)}`, {
      option: 'dtype',
    });
  }
  if (options.strictDevice !== undefined && typeof options.strictDevice !== 'boolean') {
    throw new InvalidOptionError('option strictDevice must be a boolean', { option: 'strictDevice' });
  }
  if (options.verifySkips !== undefined && typeof options.verifySkips !== 'boolean') {
    throw new InvalidOptionError('option verifySkips must be a boolean', { option: 'verifySkips' });
  }
  checkFloatWeightsOption(options.floatWeights);
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
    throw new InvalidOptionError('option onWarning must be a function', { option: 'onWarning' });
  }
}

export async function createTranscriber(options: TranscriberOptions = {}, host: TranscriberHost = {}): Promise<Transcriber> {
  validate(options);
  // The model and its float weights (floatWeights: true) are found the same way: cache, mirror, hub.
  const sources: ResolveOptions = {
    ...(options.mirror !== undefined ? { mirror: options.mirror } : {}),
    ...(options.allowDownload !== undefined ? { allowDownload: options.allowDownload } : {}),
    ...(host.env !== undefined ? { env: host.env } : {}),
    ...(host.onProgress !== undefined ? { onProgress: host.onProgress } : {}),
  };
  const model = await resolveModel(options.model ?? DEFAULT_MODEL, {
    ...sources,
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    ...(options.modelDir !== undefined ? { dir: options.modelDir } : {}),
  });
  const floatOption = options.floatWeights !== undefined ? options.floatWeights : defaultFloatWeights(host.env);
  // A model the float weights cannot apply to is refused before their copy is fetched (145 MB for base).
  const mode = options.activationQuant ?? 'per-row';
  if (floatOption && isActivationQuant(mode)) checkFloatWeightsApply(model.dtype, mode);
  const floatWeights = await floatWeightsPath(floatOption, model.name, sources);
  const whisper = await Whisper.load(model, {
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.strictDevice !== undefined ? { strictDevice: options.strictDevice } : {}),
    ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads !== undefined ? { interOpThreads: options.interOpThreads } : {}),
    ...(options.activationQuant !== undefined ? { activationQuant: options.activationQuant } : {}),
    floatWeights,
    // Rewritten graphs go to the same cache as downloads (the host's env decides where).
    derivedCacheDir: options.derivedCacheDir !== undefined ? options.derivedCacheDir : defaultCacheDir(host.env),
    ...(options.onWarning !== undefined ? { onWarning: options.onWarning } : {}),
  });

  const { nMels, nFft, hopLength, sampleRate } = whisper.config;
  const melOptions = { nMels, nFft, hopLength, sampleRate };
  const mel: MelFunction = (samples, padTailSamples) => logMelSpectrogram(samples, melOptions, padTailSamples);

  // Silero checks a skip the model asks for before the driver takes it (TranscribeDeps.hasSpeech).
  const probe = options.verifySkips === false ? null : createSileroSpeechProbe();
  const deps = probe === null ? { mel } : { mel, hasSpeech: probe.hasSpeech };
  let closed = false;
  const checkOpen = (): void => {
    if (closed) throw new InvalidOptionError('this transcriber was closed', { option: 'transcriber' });
  };

  return {
    backend: whisper,
    async transcribe(samples: Float32Array, opts?: TranscribeOptions): Promise<TranscriptionResult> {
      checkOpen();
      return transcribe(whisper, samples, opts, deps);
    },
    async transcribeFile(path: string, opts?: TranscribeOptions): Promise<TranscriptionResult> {
      checkOpen();
      const audio = await loadAudioFile(path);
      return transcribe(whisper, audio.samples, opts, deps);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([whisper.close(), probe?.close()]);
    },
  };
}
