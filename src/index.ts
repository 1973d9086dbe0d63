/**
 * The package's public API. The decoding core (usable without threads) and its contracts; the
 * real-time engine (`createEngine`) will build on these.
 */
export { createTranscriber } from './transcriber.js';
export { transcribe } from './whisper/transcribe.js';
export { Whisper } from './whisper/whisper.js';
export { resolveModel } from './models/resolve.js';
export { loadAudioFile } from './audio/load.js';
export * from './errors.js';
export type * from './whisper/types.js';
