/**
 * `--trace FILE`: an engine's trace as JSON Lines.
 *
 * File format (version 1):
 *   line 1     the TraceHeader (kind 'header': options, clock origin, sample rate)
 *   then       one TraceRecord per line, in `seq` order (src/engine/trace.ts)
 *   optional   with audio on, right after the `command` record of each final decode job, one
 *              TraceAudio line holding that job's audio: 16 kHz mono float32, little-endian, base64
 *              (f32 rather than PCM16 so a re-decode sees exactly the samples the decoder saw).
 *              A job resent after a decoder crash is not written twice. When the arena no longer
 *              holds the range, the line carries `error` instead of `data`.
 *
 * Records arrive through `onTrace` (pass it as createEngine's `onTrace`, so nothing is missed while
 * the engine starts); they are held until attach(engine) supplies the header, then streamed.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { endianness } from 'node:os';
import type { TraceHeader, TraceRecord } from '../engine/trace.js';
import { InvalidOptionError, serializeError, type SerializedError } from '../errors.js';

export interface TraceAudio {
  readonly kind: 'audio';
  readonly jobId: number;
  readonly startSamples: number;
  readonly endSamples: number;
  readonly encoding: 'f32le-base64';
  /** Absent when `error` says why the audio could not be read. */
  readonly data?: string;
  readonly error?: SerializedError;
}

/** What the writer needs of an Engine. */
export interface TraceTarget {
  traceHeader(): TraceHeader;
  readAudio(startSamples: number, endSamples: number): Float32Array;
}

export interface TraceWriterOptions {
  /** Write each final decode job's audio (TraceAudio lines). */
  readonly audio?: boolean;
}

/** The final decode job a record sends, if it is one. */
export function finalJobOf(record: TraceRecord): { jobId: number; startSamples: number; endSamples: number } | null {
  if (record.kind !== 'command' || record.actor !== 'decode') return null;
  const command = record.command as { type?: unknown; job?: { jobId?: unknown; kind?: unknown; startSamples?: unknown; endSamples?: unknown } };
  const job = command.job;
  if (command.type !== 'job' || !job || job.kind !== 'final') return null;
  const { jobId, startSamples, endSamples } = job;
  if (typeof jobId !== 'number' || typeof startSamples !== 'number' || typeof endSamples !== 'number') return null;
  return { jobId, startSamples, endSamples };
}

export function encodeAudio(samples: Float32Array): string {
  const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  return (endianness() === 'LE' ? bytes : Buffer.from(bytes).swap32()).toString('base64');
}

export class TraceWriter {
  readonly path: string;
  readonly #audio: boolean;
  readonly #stream: WriteStream;
  readonly #pending: TraceRecord[] = [];
  readonly #audioWritten = new Set<number>();
  #target: TraceTarget | null = null;
  #error: Error | null = null;
  #closed = false;

  /** Opens (creates or truncates) `path` now, so a bad path fails before the engine starts. */
  constructor(path: string, options: TraceWriterOptions = {}) {
    this.path = path;
    this.#audio = options.audio ?? false;
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (err) {
      throw new InvalidOptionError(`cannot write the trace file ${path}: ${(err as Error).message}`, { option: 'trace', path });
    }
    this.#stream = createWriteStream(path, { fd });
    this.#stream.on('error', (err) => {
      this.#error ??= err;
    });
  }

  /** The engine's `trace` listener. */
  readonly onTrace = (record: TraceRecord): void => {
    if (this.#closed) return;
    if (this.#target === null) this.#pending.push(record);
    else this.#write(record);
  };

  /** Writes the header, then what arrived before it; later records go straight to the file. */
  attach(target: TraceTarget): void {
    if (this.#target !== null) return;
    this.#target = target;
    this.#line(target.traceHeader());
    for (const record of this.#pending.splice(0)) this.#write(record);
  }

  /** Flushes and closes the file; rejects if a write failed. Records after close are ignored. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => this.#stream.end(resolve));
    if (this.#error) {
      throw new InvalidOptionError(`writing the trace file ${this.path} failed: ${this.#error.message}`, { option: 'trace', path: this.path });
    }
  }

  #write(record: TraceRecord): void {
    this.#line(record);
    if (!this.#audio) return;
    const job = finalJobOf(record);
    if (!job || this.#audioWritten.has(job.jobId)) return;
    this.#audioWritten.add(job.jobId);
    const base = { kind: 'audio', jobId: job.jobId, startSamples: job.startSamples, endSamples: job.endSamples, encoding: 'f32le-base64' } as const;
    let line: TraceAudio;
    try {
      line = { ...base, data: encodeAudio((this.#target as TraceTarget).readAudio(job.startSamples, job.endSamples)) };
    } catch (err) {
      line = { ...base, error: serializeError(err) };
    }
    this.#line(line);
  }

  #line(value: unknown): void {
    // Backpressure is left to the stream's buffer: a trace is a debugging aid, and dropping lines
    // would make it useless for replay.
    this.#stream.write(`${JSON.stringify(value)}\n`);
  }
}
