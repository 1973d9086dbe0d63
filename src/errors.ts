/**
 * The engine's one error family. Every error a user can meet has a class with a literal `code`
 * (as undici does), so callers can `switch (err.code)` exhaustively and tests can assert on codes.
 *
 * Structured clone (postMessage between worker threads) keeps `message` and `name` of an Error but
 * drops own properties such as `code`: errors cross threads only through `serializeError` /
 * `deserializeError`, which rebuild the right class on the other side.
 *
 * | code                          | when                                                              |
 * | ----------------------------- | ----------------------------------------------------------------- |
 * | STT_AUDIO_FILE_NOT_FOUND      | an input path does not exist or is not a readable file             |
 * | STT_AUDIO_NOT_AUDIO           | the bytes are not a WAV (RIFF/WAVE) file                          |
 * | STT_AUDIO_TRUNCATED           | the WAV header promises more data than the file holds             |
 * | STT_AUDIO_EMPTY               | the audio holds no samples                                        |
 * | STT_AUDIO_UNSUPPORTED_FORMAT  | a WAV encoding we cannot decode (e.g. ADPCM, 0 channels)          |
 * | STT_AUDIO_INVALID_SAMPLES     | samples are NaN or infinite                                       |
 * | STT_AUDIO_BAD_SAMPLE_RATE     | a sample rate that is not a positive integer in [1 kHz, 384 kHz]  |
 * | STT_MODEL_UNKNOWN             | a model name the manifest does not know                           |
 * | STT_MODEL_NOT_FOUND           | no source (dir, cache, mirror, hub) has the model                 |
 * | STT_MODEL_INCOMPLETE          | a model file is missing or shorter than expected                  |
 * | STT_MODEL_CHECKSUM            | a model file's sha256 differs from the hub's, or from its stamp   |
 * | STT_MODEL_DOWNLOAD            | a hub download failed (network, HTTP status)                      |
 * | STT_MODEL_CORRUPT             | the runtime could not load a model file                           |
 * | STT_MODEL_MISMATCH            | float weights (floatWeights) that are not the loaded model's      |
 * | STT_DEVICE_UNKNOWN            | a device string that is not `cpu` or `cuda[:N]`                   |
 * | STT_DEVICE_UNAVAILABLE        | the device cannot be used and `strictDevice` forbids CPU fallback |
 * | STT_INVALID_OPTION            | an option out of range or of the wrong type                       |
 * | STT_DECODE_FAILED             | the runtime failed while decoding                                 |
 * | STT_DECODE_CANCELLED          | a decode was cancelled (its AbortSignal fired) before it finished |
 * | STT_MANIFEST_INVALID          | an evaluation manifest line cannot be parsed                      |
 * | STT_SHM_RANGE_UNAVAILABLE     | audio asked of the utterance arena is not written yet or evicted  |
 * | STT_TRACE_INVALID             | a --trace JSONL file cannot be read back or replayed              |
 * | STT_INSPECTOR_TOKEN_REQUIRED  | the inspector bound to a non-loopback address without a token    |
 * | STT_WYOMING_PROTOCOL          | a Wyoming client broke the protocol (framing, lengths, order)     |
 */

export type ErrorCode =
  | 'STT_AUDIO_FILE_NOT_FOUND'
  | 'STT_AUDIO_NOT_AUDIO'
  | 'STT_AUDIO_TRUNCATED'
  | 'STT_AUDIO_EMPTY'
  | 'STT_AUDIO_UNSUPPORTED_FORMAT'
  | 'STT_AUDIO_INVALID_SAMPLES'
  | 'STT_AUDIO_BAD_SAMPLE_RATE'
  | 'STT_MODEL_UNKNOWN'
  | 'STT_MODEL_NOT_FOUND'
  | 'STT_MODEL_INCOMPLETE'
  | 'STT_MODEL_CHECKSUM'
  | 'STT_MODEL_DOWNLOAD'
  | 'STT_MODEL_CORRUPT'
  | 'STT_MODEL_MISMATCH'
  | 'STT_DEVICE_UNKNOWN'
  | 'STT_DEVICE_UNAVAILABLE'
  | 'STT_INVALID_OPTION'
  | 'STT_DECODE_FAILED'
  | 'STT_DECODE_CANCELLED'
  | 'STT_MANIFEST_INVALID'
  | 'STT_SHM_RANGE_UNAVAILABLE'
  | 'STT_TRACE_INVALID'
  | 'STT_INSPECTOR_TOKEN_REQUIRED'
  | 'STT_WYOMING_PROTOCOL';

/** Extra facts about an error (a path, a byte count, the expected hash…), JSON-serialisable. */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | null>>;

export abstract class SttError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.details = details;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

export class AudioFileNotFoundError extends SttError {
  readonly code = 'STT_AUDIO_FILE_NOT_FOUND' as const;
}
export class NotAudioError extends SttError {
  readonly code = 'STT_AUDIO_NOT_AUDIO' as const;
}
export class TruncatedAudioError extends SttError {
  readonly code = 'STT_AUDIO_TRUNCATED' as const;
}
export class EmptyAudioError extends SttError {
  readonly code = 'STT_AUDIO_EMPTY' as const;
}
export class UnsupportedAudioFormatError extends SttError {
  readonly code = 'STT_AUDIO_UNSUPPORTED_FORMAT' as const;
}
export class InvalidSamplesError extends SttError {
  readonly code = 'STT_AUDIO_INVALID_SAMPLES' as const;
}
export class BadSampleRateError extends SttError {
  readonly code = 'STT_AUDIO_BAD_SAMPLE_RATE' as const;
}
export class UnknownModelError extends SttError {
  readonly code = 'STT_MODEL_UNKNOWN' as const;
}
export class ModelNotFoundError extends SttError {
  readonly code = 'STT_MODEL_NOT_FOUND' as const;
}
export class ModelIncompleteError extends SttError {
  readonly code = 'STT_MODEL_INCOMPLETE' as const;
}
export class ModelChecksumError extends SttError {
  readonly code = 'STT_MODEL_CHECKSUM' as const;
}
export class ModelDownloadError extends SttError {
  readonly code = 'STT_MODEL_DOWNLOAD' as const;
}
export class ModelCorruptError extends SttError {
  readonly code = 'STT_MODEL_CORRUPT' as const;
}
export class ModelMismatchError extends SttError {
  readonly code = 'STT_MODEL_MISMATCH' as const;
}
export class UnknownDeviceError extends SttError {
  readonly code = 'STT_DEVICE_UNKNOWN' as const;
}
export class DeviceUnavailableError extends SttError {
  readonly code = 'STT_DEVICE_UNAVAILABLE' as const;
}
export class InvalidOptionError extends SttError {
  readonly code = 'STT_INVALID_OPTION' as const;
}
export class DecodeFailedError extends SttError {
  readonly code = 'STT_DECODE_FAILED' as const;
}
/** A decode stopped at an AbortSignal (between model runs: a run already started finishes first). */
export class DecodeCancelledError extends SttError {
  readonly code = 'STT_DECODE_CANCELLED' as const;
}
export class ManifestInvalidError extends SttError {
  readonly code = 'STT_MANIFEST_INVALID' as const;
}

export class ShmRangeUnavailableError extends SttError {
  readonly code = 'STT_SHM_RANGE_UNAVAILABLE' as const;
}
export class TraceInvalidError extends SttError {
  readonly code = 'STT_TRACE_INVALID' as const;
}
export class InspectorTokenRequiredError extends SttError {
  readonly code = 'STT_INSPECTOR_TOKEN_REQUIRED' as const;
}
export class WyomingProtocolError extends SttError {
  readonly code = 'STT_WYOMING_PROTOCOL' as const;
}

type SttErrorClass = new (message: string, details?: ErrorDetails, options?: { cause?: unknown }) => SttError;

/** One entry per code: the compiler fails here when a code is added without its class. */
const CLASS_BY_CODE: { readonly [C in ErrorCode]: SttErrorClass } = {
  STT_AUDIO_FILE_NOT_FOUND: AudioFileNotFoundError,
  STT_AUDIO_NOT_AUDIO: NotAudioError,
  STT_AUDIO_TRUNCATED: TruncatedAudioError,
  STT_AUDIO_EMPTY: EmptyAudioError,
  STT_AUDIO_UNSUPPORTED_FORMAT: UnsupportedAudioFormatError,
  STT_AUDIO_INVALID_SAMPLES: InvalidSamplesError,
  STT_AUDIO_BAD_SAMPLE_RATE: BadSampleRateError,
  STT_MODEL_UNKNOWN: UnknownModelError,
  STT_MODEL_NOT_FOUND: ModelNotFoundError,
  STT_MODEL_INCOMPLETE: ModelIncompleteError,
  STT_MODEL_CHECKSUM: ModelChecksumError,
  STT_MODEL_DOWNLOAD: ModelDownloadError,
  STT_MODEL_CORRUPT: ModelCorruptError,
  STT_MODEL_MISMATCH: ModelMismatchError,
  STT_DEVICE_UNKNOWN: UnknownDeviceError,
  STT_DEVICE_UNAVAILABLE: DeviceUnavailableError,
  STT_INVALID_OPTION: InvalidOptionError,
  STT_DECODE_FAILED: DecodeFailedError,
  STT_DECODE_CANCELLED: DecodeCancelledError,
  STT_TRACE_INVALID: TraceInvalidError,
  STT_INSPECTOR_TOKEN_REQUIRED: InspectorTokenRequiredError,
  STT_WYOMING_PROTOCOL: WyomingProtocolError,
  STT_MANIFEST_INVALID: ManifestInvalidError,
  STT_SHM_RANGE_UNAVAILABLE: ShmRangeUnavailableError,
};

export const ERROR_CODES = Object.keys(CLASS_BY_CODE) as readonly ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(CLASS_BY_CODE, value);
}

/** The plain-object form of an error that survives postMessage and JSON. */
export interface SerializedError {
  readonly code: ErrorCode | 'STT_INTERNAL';
  readonly message: string;
  readonly details: ErrorDetails;
  readonly stack?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof SttError) {
    return { code: err.code, message: err.message, details: err.details, ...(err.stack ? { stack: err.stack } : {}) };
  }
  if (err instanceof Error) {
    return { code: 'STT_INTERNAL', message: err.message, details: { name: err.name }, ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { code: 'STT_INTERNAL', message: String(err), details: {} };
}

/** Rebuilds the class for a known code; an unknown one becomes a plain Error (a bug, not an input problem). */
export function deserializeError(data: SerializedError): Error {
  if (data.code === 'STT_INTERNAL') {
    const err = new Error(data.message);
    if (data.stack) err.stack = data.stack;
    return err;
  }
  const Cls = CLASS_BY_CODE[data.code];
  const err = new Cls(data.message, data.details);
  if (data.stack) err.stack = data.stack;
  return err;
}
