/**
 * CaptureActor: the capture worker's logic, without threads. It opens a source, converts its chunks
 * to 16 kHz mono with one StreamResampler, and writes them into the capture → VAD ring:
 * - a live source (microphone) with ring.write, never waiting — what does not fit is counted and
 *   reported as `overrun`;
 * - other sources with ring.writeAll — backpressure, nothing lost;
 * - `realtime` sources are paced by the injected clock so audio enters no faster than it plays.
 * `progress` (every ~100 ms of audio) gives the wall clock at which samples entered the ring, which
 * the engine uses to timestamp speech. Every run ends with `ended` and a closed ring, an error
 * included (the coded `error` is posted first).
 */
import { StreamResampler, WHISPER_SAMPLE_RATE } from '../../audio/resample.js';
import { StopSignal } from '../../async/stop-signal.js';
import { InvalidOptionError, serializeError } from '../../errors.js';
import type { AudioRingShared } from '../../shm/audio-ring.js';
import type { AudioDevice, CaptureCommand, CaptureMessage, CaptureSource } from './capture.protocol.js';
import type { OpenedSource, SourceChunk, SourceFactory } from './source.js';

/** Audio between two `progress` messages. */
export const PROGRESS_INTERVAL_SAMPLES = WHISPER_SAMPLE_RATE / 10;

export interface CaptureClock {
  /** Wall clock in ms (Date.now() in production: comparable across threads). */
  nowMs(): number;
  sleepMs(ms: number): Promise<void>;
}

export const systemClock: CaptureClock = {
  nowMs: () => Date.now(),
  sleepMs: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The part of AudioRingWriter the actor uses (tests may wrap it). */
export interface CaptureRing {
  /** What the ring has taken so far (a restarted worker continues the count). */
  stats(): { readonly writtenSamples: number };
  write(samples: Float32Array): number;
  writeAll(samples: Float32Array): Promise<boolean>;
  close(): void;
}

export interface CaptureDeps {
  readonly openSource: SourceFactory;
  readonly openRing: (shared: AudioRingShared) => CaptureRing;
  readonly listDevices: () => Promise<AudioDevice[]>;
  readonly clock: CaptureClock;
  readonly post: (message: CaptureMessage) => void;
}

type EndReason = Extract<CaptureMessage, { type: 'ended' }>['reason'];

export class CaptureActor {
  private running: Promise<void> | null = null;
  /** `stop`: every wait of the pump (a read, a pacing sleep) gives up at once. */
  private readonly stopSignal = new StopSignal();
  private writtenSamples = 0;
  private lastProgressAt = 0;
  private totalDroppedSamples = 0;

  constructor(private readonly deps: CaptureDeps) {}

  /** The run in progress (resolves after `ended`), or null before `start`. */
  get done(): Promise<void> | null {
    return this.running;
  }

  handle(command: CaptureCommand): void {
    switch (command.type) {
      case 'start':
        if (this.running) {
          this.postError(new InvalidOptionError('the capture actor was started twice', {}));
          return;
        }
        this.running = this.run(command.source, command.output, command.resume ?? false);
        return;
      case 'stop':
        this.stop();
        return;
      case 'listDevices':
        this.deps.listDevices().then(
          (devices) => this.deps.post({ type: 'devices', devices }),
          (err: unknown) => this.postError(err),
        );
        return;
      case 'shutdown':
        // The worker waits for `done` before exiting; here it only means stop reading.
        this.stop();
        return;
      case 'exit':
      case 'crash':
        return; // the worker's own (src/workers/control.ts)
      default:
        assertNever(command);
    }
  }

  stop(): void {
    this.stopSignal.stop();
  }

  private async run(source: CaptureSource, output: AudioRingShared, resume: boolean): Promise<void> {
    const ring = this.deps.openRing(output);
    let opened: OpenedSource | null = null;
    let resampler: StreamResampler | null = null;
    let reason: EndReason = 'end-of-input';
    if (resume) {
      // Stream positions go on from what the crashed worker wrote, so timestamps stay continuous.
      this.writtenSamples = ring.stats().writtenSamples;
      this.lastProgressAt = this.writtenSamples;
    }
    try {
      opened = await this.deps.openSource(source);
      const lostSamples = resume ? (opened.resumeAt?.(this.writtenSamples) ?? null) : null;
      resampler = await StreamResampler.create({ inputRate: opened.sampleRate, channels: opened.channels });
      this.deps.post({
        type: 'started',
        sourceKind: source.kind,
        sourceSampleRate: opened.sampleRate,
        sourceChannels: opened.channels,
        description: opened.description,
        resumedAtSamples: resume ? this.writtenSamples : null,
        lostSamples,
      });
      reason = await this.pump(opened, resampler, ring);
    } catch (err) {
      this.postError(err);
      reason = 'error';
    }
    // What the resampler still holds is real audio: flush it even after a stop or a bad chunk.
    if (resampler) {
      try {
        await this.emit(resampler.flush(), opened?.live ?? false, ring);
      } catch (err) {
        this.postError(err);
        reason = 'error';
      }
      resampler.close();
    }
    await opened?.close().catch((err: unknown) => this.postError(err));
    ring.close();
    this.postProgress(true);
    this.deps.post({ type: 'ended', writtenSamples: this.writtenSamples, reason });
  }

  private async pump(source: OpenedSource, resampler: StreamResampler, ring: CaptureRing): Promise<EndReason> {
    const startMs = this.deps.clock.nowMs();
    let sourceFrames = 0;
    for (;;) {
      if (this.stopSignal.stopped) return 'stopped';
      // A read may wait indefinitely (a silent pipe, a quiet device): `stop` must not wait with it.
      const chunk: SourceChunk | null = await this.stopSignal.race(source.read());
      if (this.stopSignal.stopped) {
        if (chunk) await this.emit(resampler.push(chunk.samples, chunk.layout), source.live, ring);
        return 'stopped';
      }
      if (!chunk) return 'end-of-input';
      sourceFrames += chunk.frames;
      if (source.realtime) {
        // A chunk is released once its last frame "has been heard", like a microphone buffer.
        const dueMs = startMs + (sourceFrames / source.sampleRate) * 1000;
        const waitMs = dueMs - this.deps.clock.nowMs();
        if (waitMs > 0) await this.stopSignal.race(this.deps.clock.sleepMs(waitMs));
      }
      if (!(await this.emit(resampler.push(chunk.samples, chunk.layout), source.live, ring))) return 'stopped';
    }
  }

  /** Writes converted audio; false when the ring was closed under us (the reader gave up). */
  private async emit(samples: Float32Array, live: boolean, ring: CaptureRing): Promise<boolean> {
    if (samples.length === 0) return true;
    if (live) {
      const written = ring.write(samples);
      const dropped = samples.length - written;
      this.writtenSamples += written;
      if (dropped > 0) {
        this.totalDroppedSamples += dropped;
        this.deps.post({ type: 'overrun', droppedSamples: dropped, totalDroppedSamples: this.totalDroppedSamples });
      }
    } else {
      if (!(await ring.writeAll(samples))) return false;
      this.writtenSamples += samples.length;
    }
    this.postProgress(false);
    return true;
  }

  private postProgress(final: boolean): void {
    const due = this.writtenSamples - this.lastProgressAt >= PROGRESS_INTERVAL_SAMPLES;
    if (!due && !(final && this.writtenSamples > this.lastProgressAt)) return;
    this.lastProgressAt = this.writtenSamples;
    this.deps.post({ type: 'progress', writtenSamples: this.writtenSamples, atMs: this.deps.clock.nowMs() });
  }

  private postError(err: unknown): void {
    this.deps.post({ type: 'error', error: serializeError(err), utteranceId: null });
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown capture command ${JSON.stringify(value)}`);
}
