/**
 * The engine's actors as ports for the supervisor: one WorkerBridge per worker thread (or the
 * shared decoder's session), wired to the engine's shared memory — the capture → VAD ring, the
 * utterance arena, and for push input the push ring that pushAudio() writes.
 */
import type { CaptureCommand, CaptureMessage, CaptureSource } from '../actors/capture/capture.protocol.js';
import type { DecodeCommand, DecodeMessage } from '../actors/decode/decode.protocol.js';
import type { PostProcessCommand, PostProcessMessage } from '../actors/postprocess/postprocess.protocol.js';
import { sileroModelPath } from '../actors/vad/silero-path.js';
import type { VadCommand, VadMessage } from '../actors/vad/vad.protocol.js';
import { InvalidOptionError, deserializeError } from '../errors.js';
import { createAudioRing, type UtteranceArenaShared } from '../shm/index.js';
import type { ActorPort } from './worker-bridge.js';
import type { EngineOptions, ResolvedEngineOptions } from './options.js';
import { PushInput } from './push-input.js';
import { decodeModelOptions, warmUpOption } from './shared-decoder.js';
import { WorkerBridge } from './worker-bridge.js';

/** Everything after capture runs at Whisper's rate. */
const SAMPLE_RATE = 16_000;
/** Capture → VAD ring: 4 s of 16 kHz audio, room for a slow VAD window without overrunning a live source. */
const CAPTURE_RING_SAMPLES = 4 * SAMPLE_RATE;
/** Crashes a worker may have before its actor is given up on (and the engine fails). */
const MAX_RESTARTS = 3;

export interface ActorPorts {
  readonly capture: WorkerBridge<CaptureCommand, CaptureMessage>;
  readonly vad: WorkerBridge<VadCommand, VadMessage>;
  readonly decode: ActorPort<DecodeCommand, DecodeMessage>;
  readonly postprocess: WorkerBridge<PostProcessCommand, PostProcessMessage>;
}

function workerUrl(name: string): URL {
  return new URL(`../workers/${name}.worker.js`, import.meta.url);
}

/**
 * The four actors of one engine, not started yet. `nextUtteranceId` names the first id a restarted
 * VAD may use (the pipeline's: ids are never reused). `push` is the push input, for input kind 'push'.
 */
export function createActorPorts(
  resolved: ResolvedEngineOptions,
  options: EngineOptions,
  arena: UtteranceArenaShared,
  nextUtteranceId: () => number,
): { readonly ports: ActorPorts; readonly push: PushInput | null } {
  const captureRing = createAudioRing(CAPTURE_RING_SAMPLES);
  const input = resolved.input;
  let push: PushInput | null = null;
  let source: CaptureSource;
  switch (input.kind) {
    case 'push': {
      // 2 s of source audio: pushAudio waits (backpressure) rather than overrun.
      const ring = createAudioRing(resolved.pushSampleRate * resolved.pushChannels * 2);
      push = new PushInput(ring, resolved.pushSampleRate, resolved.pushChannels);
      source = { kind: 'push', ring, sampleRate: resolved.pushSampleRate, channels: resolved.pushChannels };
      break;
    }
    case 'file':
      source = { kind: 'file', path: input.path, realtime: input.realtime ?? false };
      break;
    case 'stdin':
      source = input;
      break;
    case 'microphone':
      source = { kind: 'microphone', device: input.device ?? null, sampleRate: input.sampleRate ?? null, channels: input.channels ?? null };
      break;
  }
  const decodeInit = { type: 'init', model: decodeModelOptions(options), arena, warmUp: warmUpOption(options.warmUp) } as const;
  const captureStart = { type: 'start', source, output: captureRing } as const;
  const capture = new WorkerBridge<CaptureCommand, CaptureMessage>({
    name: 'capture',
    url: workerUrl('capture'),
    init: captureStart,
    // A restarted capture goes on writing where its predecessor stopped (the ring counts it).
    restartInit: () => ({ ...captureStart, resume: true }),
    maxRestarts: MAX_RESTARTS,
    isReady: (m) => m.type === 'started',
    // A source that fails before `started` (unknown microphone, corrupt WAV) posts a coded `error`.
    startFailure: (m) =>
      m.type === 'error'
        ? deserializeError(m.error)
        : m.type === 'ended'
          ? new InvalidOptionError('the capture source ended before it started', { option: 'input' })
          : null,
  });
  const vadStart = { type: 'start', input: captureRing, arena, options: resolved.vad, modelPath: sileroModelPath(), firstUtteranceId: 1 } as const;
  const ports: ActorPorts = {
    capture,
    vad: new WorkerBridge<VadCommand, VadMessage>({
      name: 'vad',
      url: workerUrl('vad'),
      init: vadStart,
      // A restarted VAD continues at the arena's head with utterance ids the pipeline has not seen.
      restartInit: () => ({ ...vadStart, firstUtteranceId: nextUtteranceId() }),
      maxRestarts: MAX_RESTARTS,
    }),
    decode:
      options.decoder?.session(arena) ??
      new WorkerBridge<DecodeCommand, DecodeMessage>({
        name: 'decode',
        url: workerUrl('decode'),
        init: decodeInit,
        // A restarted worker replays the utterances in flight at once: a warm-up would delay them.
        restartInit: () => ({ ...decodeInit, warmUp: false }),
        maxRestarts: MAX_RESTARTS,
      }),
    postprocess: new WorkerBridge<PostProcessCommand, PostProcessMessage>({
      name: 'postprocess',
      url: workerUrl('postprocess'),
      init: { type: 'init', options: resolved.postProcess },
      maxRestarts: MAX_RESTARTS,
    }),
  };
  return { ports, push };
}
