/**
 * A minimal Wyoming client for the server's e2e tests, written against the documented framing:
 * it sends raw bytes (so tests can also send broken ones) and reads events in order.
 */
import net from 'node:net';
import { encodeEvent, StreamFrameParser } from '../../../dist/wyoming/codec.js';
import type { WyomingEvent } from '../../../dist/wyoming/protocol.js';

export class TestClient {
  readonly socket: net.Socket;
  readonly #events: WyomingEvent[] = [];
  readonly #waiters: (() => void)[] = [];
  #ended = false;
  /** Resolves when the server closes the connection (end or reset). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const parser = new StreamFrameParser();
    socket.on('data', (chunk: Buffer) => {
      this.#events.push(...parser.push(chunk));
      this.#wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#ended = true;
        this.#wake();
        resolve();
      }),
    );
  }

  static connect(target: { port: number } | { path: string }): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in target ? net.createConnection(target.path) : net.createConnection(target.port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TestClient(socket));
      });
    });
  }

  send(type: string, data: Record<string, unknown> = {}, payload: Buffer | null = null): Promise<void> {
    return this.raw(encodeEvent({ type, data, payload }));
  }

  raw(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** The next event, or null once the connection is closed and everything was read. */
  async next(): Promise<WyomingEvent | null> {
    for (;;) {
      const e = this.#events.shift();
      if (e) return e;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Events up to and including the first of `type`; throws if the connection closes first. */
  async until(type: string): Promise<WyomingEvent[]> {
    const seen: WyomingEvent[] = [];
    for (;;) {
      const e = await this.next();
      if (!e) throw new Error(`connection closed before ${type}; got ${seen.map((s) => s.type).join(', ')}`);
      seen.push(e);
      if (e.type === type) return seen;
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** Mono Float32 → interleaved little-endian PCM of `width` bytes, the channel copied `channels` times. */
export function toPcm(samples: Float32Array, width: number, channels: number): Buffer {
  const out = Buffer.alloc(samples.length * width * channels);
  const max = 2 ** (8 * width - 1) - 1;
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i] as number));
    for (let c = 0; c < channels; c++) {
      const at = (i * channels + c) * width;
      if (width === 1) out[at] = Math.round(v * 127) + 128;
      else out.writeIntLE(Math.round(v * max), at, width);
    }
  }
  return out;
}

export interface SendAudioOptions {
  readonly rate: number;
  readonly width: number;
  readonly channels: number;
  /** Frames per audio-chunk (wyoming's default: 1024). */
  readonly chunkFrames?: number;
  /** Wait each chunk's duration after sending it, like a live microphone. */
  readonly realtime?: boolean;
  /** Called after each chunk is written (e.g. to note whether a transcript-chunk came already). */
  readonly onChunk?: (index: number) => void;
}

/** audio-start, the audio in chunks, and (unless `stop` is false) audio-stop. */
export async function sendAudio(client: TestClient, pcm: Buffer, o: SendAudioOptions, stop = true): Promise<void> {
  const format = { rate: o.rate, width: o.width, channels: o.channels };
  await client.send('audio-start', { ...format, timestamp: 0 });
  const step = (o.chunkFrames ?? 1024) * o.width * o.channels;
  for (let at = 0, i = 0; at < pcm.length; at += step, i++) {
    await client.send('audio-chunk', { ...format, timestamp: null }, pcm.subarray(at, at + step));
    o.onChunk?.(i);
    if (o.realtime) await new Promise((resolve) => setTimeout(resolve, ((o.chunkFrames ?? 1024) / o.rate) * 1000));
  }
  if (stop) await client.send('audio-stop', { timestamp: null });
}
