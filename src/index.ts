/**
 * The package's public API. The decoding core (usable without threads) and its contracts; the
 * real-time engine (`createEngine`) will build on these.
 */
export { createTranscriber } from './transcriber.js';
export { transcribe } from './whisper/transcribe.js';
export { Whisper } from './whisper/whisper.js';
export { resolveModel } from './models/resolve.js';
export { resolveFloatWeights } from './models/float-weights.js';
export type { ResolvedFloatWeights } from './models/float-weights.js';
export { loadAudioFile } from './audio/load.js';
export * from './errors.js';
export type * from './whisper/types.js';
export { createEngine, Engine, listAudioDevices } from './engine.js';
export type { EngineOptions, EngineInput } from './engine/options.js';
export type * from './engine/events.js';
export type * from './engine/trace.js';
export { createSharedDecoder, SharedDecoder } from './engine/shared-decoder.js';
export type { SharedDecoderOptions } from './engine/shared-decoder.js';
export { startInspector } from './inspector/server.js';
export { createEngineMetrics } from './observe/metrics.js';
