/**
 * Capture actor: turns a source (microphone, WAV file, raw PCM on stdin, or audio pushed through
 * the API) into 16 kHz mono Float32 samples written into the capture → VAD AudioRing. Audio never
 * travels in these messages: sources the worker reads itself (file, stdin fd 0, the microphone), or
 * the main thread writes pushed audio into a second ring (`push` source) the worker converts.
 * All times in ms unless the name ends InS.
 */
import type { AudioRingShared } from '../../shm/audio-ring.js';
import type { LifecycleMessage, ControlMessage } from '../../workers/worker.protocol.js';

/** Raw sample formats accepted on stdin and through the push ring. */
export type PcmFormat = 's16le' | 's32le' | 'f32le' | 'u8';

export type CaptureSource =
  /** A WAV file of any PCM/float format; `realtime` paces it at the speed of its audio. */
  | { readonly kind: 'file'; readonly path: string; readonly realtime: boolean }
  /** Raw interleaved PCM read from the process's fd 0. */
  | { readonly kind: 'stdin'; readonly sampleRate: number; readonly channels: number; readonly format: PcmFormat }
  /** PortAudio input (naudiodon): by device id, by (part of its) name, or the default device. */
  | {
      readonly kind: 'microphone';
      readonly device: number | string | null;
      readonly sampleRate: number | null;
      readonly channels: number | null;
    }
  /** Float32 samples the main thread writes into `ring` at `sampleRate` (engine.pushAudio). */
  | { readonly kind: 'push'; readonly ring: AudioRingShared; readonly sampleRate: number; readonly channels: number };

export type CaptureSourceKind = CaptureSource['kind'];

export interface AudioDevice {
  readonly id: number;
  readonly name: string;
  readonly maxInputChannels: number;
  readonly defaultSampleRate: number;
  readonly hostApi: string;
  readonly isDefault: boolean;
}

/** Main → capture worker. */
export type CaptureCommand =
  /**
   * `resume`: a worker restarted after a crash. The ring already holds what its predecessor wrote
   * (the ring counts it), and the stream goes on from there: a file from the matching frame, the
   * push ring and stdin from where they are, a microphone from now.
   */
  | { readonly type: 'start'; readonly source: CaptureSource; readonly output: AudioRingShared; readonly resume?: boolean }
  /** Stop reading: what was read is flushed to the ring, then `ended` is posted and the ring closed. */
  | { readonly type: 'stop' }
  | { readonly type: 'listDevices' }
  | ControlMessage;

/** Capture worker → main. */
export type CaptureMessage =
  | LifecycleMessage
  | {
      readonly type: 'started';
      readonly sourceKind: CaptureSourceKind;
      readonly sourceSampleRate: number;
      readonly sourceChannels: number;
      readonly description: string;
      /** A resumed start: the 16 kHz position the stream continues at; null for a first start. */
      readonly resumedAtSamples: number | null;
      /** A resumed start: 16 kHz samples the crash lost (read but never written), or null if unknown. */
      readonly lostSamples: number | null;
    }
  /** Samples written so far (16 kHz), posted at most every ~100 ms of audio, with the wall clock of the write. */
  | { readonly type: 'progress'; readonly writtenSamples: number; readonly atMs: number }
  /** A live source lost audio because the ring was full: counted, never silent. */
  | { readonly type: 'overrun'; readonly droppedSamples: number; readonly totalDroppedSamples: number }
  /** The source is exhausted (end of file, stdin closed, stop): the ring is closed. */
  | { readonly type: 'ended'; readonly writtenSamples: number; readonly reason: 'end-of-input' | 'stopped' | 'error' }
  | { readonly type: 'devices'; readonly devices: readonly AudioDevice[] };

export type CaptureMessageType = CaptureMessage['type'];
