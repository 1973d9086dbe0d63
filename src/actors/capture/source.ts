/**
 * What CaptureActor needs from any source (file, stdin, push ring, microphone): a format and a pull
 * of chunks. Pull, not push, so the actor owns pacing and backpressure in one place; a live source
 * (the microphone) queues what its callback delivers and the actor drains it without waiting.
 */
import type { ChannelLayout } from '../../audio/resample.js';
import type { CaptureSource } from './capture.protocol.js';

export interface SourceChunk {
  /** Interleaved frames (one array) or one array per channel; valid until the next read(). */
  readonly samples: Float32Array | readonly Float32Array[];
  readonly layout: ChannelLayout;
  readonly frames: number;
}

export interface OpenedSource {
  readonly description: string;
  readonly sampleRate: number;
  readonly channels: number;
  /**
   * A live source cannot wait: its audio goes to the ring with write(), what does not fit is
   * counted as an overrun. Others wait for room (writeAll): backpressure, no loss.
   */
  readonly live: boolean;
  /** Audio enters no faster than real time (a file played as if it were a microphone). */
  readonly realtime: boolean;
  /** The next chunk, or null at end of input. */
  read(): Promise<SourceChunk | null>;
  /**
   * For a restarted worker (CaptureCommand `resume`): moves the source past the audio the ring
   * already holds (`writtenSamples` at 16 kHz) and returns the 16 kHz samples lost in the crash
   * (read from the source but never written), or null when the source cannot tell. Absent: the
   * source simply goes on from where it is (stdin, a microphone).
   */
  resumeAt?(writtenSamples: number): number | null;
  /** Releases the file descriptor / device; a pending read() may be abandoned. */
  close(): Promise<void>;
}

export type SourceFactory = (source: CaptureSource) => Promise<OpenedSource>;
