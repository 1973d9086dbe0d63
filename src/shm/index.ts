/** Shared-memory transport between actors: audio rings, their doorbells, the utterance arena. */
export { Doorbell, type WaitOutcome } from './doorbell.js';
export {
  AudioRingReader,
  AudioRingWriter,
  createAudioRing,
  type AudioRingShared,
  type AudioRingStats,
  type ReadableOutcome,
} from './audio-ring.js';
export {
  UtteranceArenaPin,
  UtteranceArenaReader,
  UtteranceArenaWriter,
  createUtteranceArena,
  type UtteranceArenaShared,
} from './utterance-arena.js';
