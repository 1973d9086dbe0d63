/**
 * A page that cannot keep up: once the socket's buffer is full, batches are dropped and counted,
 * and when it drains the page gets a fresh snapshot carrying the count (a response double stands
 * in for a socket whose buffer fills on command).
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { InspectorHub } from '../../../src/inspector/hub.js';
import { SseClient, sseFrame } from '../../../src/inspector/sse.js';
import { numbered } from './scripted-records.js';

class SlowResponse extends EventEmitter {
  readonly chunks: string[] = [];
  full = false;
  writableEnded = false;
  destroyed = false;
  writeHead(): this {
    return this;
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return !this.full;
  }
  end(): void {
    this.writableEnded = true;
  }
}

describe('SSE client', () => {
  it('frames one event per message, JSON on one data line', () => {
    expect(sseFrame('batch', { text: 'deux\nlignes' })).toBe('event: batch\ndata: {"text":"deux\\nlignes"}\n\n');
  });

  it('drops batches while the socket is full, counts them, and resyncs with a snapshot on drain', () => {
    const hub = new InspectorHub({ batchMs: 60_000, metricsMs: 0 });
    const res = new SlowResponse();
    const client = new SseClient(res as unknown as ServerResponse, () => hub.snapshot());
    hub.subscribe((b) => client.batch(b));
    expect(res.chunks.map((c) => c.split('\n')[0])).toEqual(['retry: 2000', 'event: snapshot']);

    const records = numbered([
      { kind: 'state', atMs: 1, value: 'running' },
      { kind: 'utterance', atMs: 2, utteranceId: 1, state: 'speech' },
      { kind: 'utterance', atMs: 3, utteranceId: 1, state: 'endpointing' },
    ]);
    res.full = true;
    hub.record(records[0]!);
    hub.flush(); // written, but the buffer is now full
    hub.record(records[1]!);
    hub.flush(); // dropped
    hub.record(records[2]!);
    hub.flush(); // dropped
    expect(client.droppedBatches).toBe(2);
    expect(res.chunks.filter((c) => c.startsWith('event: batch'))).toHaveLength(1);

    res.full = false;
    res.emit('drain');
    const last = res.chunks.at(-1)!;
    expect(last.startsWith('event: snapshot\n')).toBe(true);
    const snap = JSON.parse(last.split('\n')[1]!.slice('data: '.length)) as { droppedBatches: number; recent: unknown[]; utterances: { state: string }[] };
    expect(snap.droppedBatches).toBe(2);
    // The snapshot holds what the dropped batches carried.
    expect(snap.recent).toEqual(records);
    expect(snap.utterances).toMatchObject([{ state: 'endpointing' }]);
    client.end();
    expect(res.writableEnded).toBe(true);
    hub.close();
  });
});
