/**
 * One Server-Sent Events connection of the inspector. Frames are `event: NAME\ndata: JSON\n\n`
 * (JSON.stringify never emits a raw newline, so one data line suffices). A page that cannot keep up
 * (the socket's buffer is full) loses batches, counted; once the socket drains it gets a fresh
 * snapshot carrying that count, so what it shows is whole again.
 */
import type { ServerResponse } from 'node:http';
import type { InspectorBatch, InspectorSnapshot } from './hub.js';

const HEARTBEAT_MS = 15_000;

export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SseClient {
  readonly #res: ServerResponse;
  readonly #snapshot: () => InspectorSnapshot;
  readonly #heartbeat: NodeJS.Timeout;
  #blocked = false;
  droppedBatches = 0;

  constructor(res: ServerResponse, snapshot: () => InspectorSnapshot) {
    this.#res = res;
    this.#snapshot = snapshot;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.#write(sseFrame('snapshot', { ...snapshot(), droppedBatches: 0 }));
    this.#heartbeat = setInterval(() => this.#write(': ping\n\n'), HEARTBEAT_MS);
    this.#heartbeat.unref();
    res.on('close', () => clearInterval(this.#heartbeat));
    res.on('drain', () => {
      if (!this.#blocked) return;
      this.#blocked = false;
      this.#write(sseFrame('snapshot', { ...this.#snapshot(), droppedBatches: this.droppedBatches }));
    });
  }

  batch(batch: InspectorBatch): void {
    if (this.#blocked) {
      this.droppedBatches++;
      return;
    }
    this.#write(sseFrame('batch', batch));
  }

  end(): void {
    clearInterval(this.#heartbeat);
    this.#res.end();
  }

  #write(chunk: string): void {
    if (this.#res.writableEnded || this.#res.destroyed) return;
    if (!this.#res.write(chunk)) this.#blocked = true;
  }
}
