/**
 * Wyoming framing: the serializer (byte-for-byte the layout of wyoming's async_write_event) and a
 * streaming parser that accepts the bytes in chunks of any size, with hard limits so a bad client
 * costs bounded memory. The parser throws a WyomingProtocolError (details.reason: a
 * WyomingErrorReason) on the first malformed frame; it is then unusable, as the byte stream has
 * lost its framing.
 */
import { WyomingProtocolError } from '../errors.js';
import { WYOMING_VERSION, type OutgoingEvent, type WyomingData, type WyomingErrorReason, type WyomingEvent } from './protocol.js';

export interface FrameLimits {
  /** Longest header line, newline excluded. */
  readonly maxHeaderBytes: number;
  readonly maxDataBytes: number;
  readonly maxPayloadBytes: number;
}

/**
 * A header is ~100 bytes; data is small JSON (info, transcribe context); a payload is an audio
 * chunk (wyoming sends 1024 samples, ≈ 2–8 KiB; 16 MiB is over a minute of 48 kHz stereo s32).
 */
export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxHeaderBytes: 64 * 1024,
  maxDataBytes: 1024 * 1024,
  maxPayloadBytes: 16 * 1024 * 1024,
};

export function wyomingError(reason: WyomingErrorReason, message: string): WyomingProtocolError {
  return new WyomingProtocolError(message, { reason });
}

/** One event as wyoming writes it: header line, then data JSON (only when non-empty), then payload. */
export function encodeEvent(event: OutgoingEvent | WyomingEvent): Buffer {
  const header: Record<string, unknown> = { type: event.type, version: WYOMING_VERSION };
  const data = event.data ?? {};
  let dataBytes: Buffer | null = null;
  if (Object.keys(data).length > 0) {
    dataBytes = Buffer.from(JSON.stringify(data), 'utf8');
    header['data_length'] = dataBytes.length;
  }
  const payload = 'payload' in event ? event.payload : null;
  if (payload && payload.length > 0) header['payload_length'] = payload.length;
  const parts: Buffer[] = [Buffer.from(`${JSON.stringify(header)}\n`, 'utf8')];
  if (dataBytes) parts.push(dataBytes);
  if (payload && payload.length > 0) parts.push(payload);
  return Buffer.concat(parts);
}

interface PendingFrame {
  readonly type: string;
  readonly inlineData: WyomingData;
  readonly dataLength: number;
  readonly payloadLength: number;
  data: WyomingData | null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lengthField(header: Record<string, unknown>, name: 'data_length' | 'payload_length', max: number): number {
  const value = header[name];
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw wyomingError('bad-length', `${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  if (value > max) {
    throw wyomingError(name === 'data_length' ? 'data-too-long' : 'payload-too-long', `${name} ${value} exceeds the limit of ${max} bytes`);
  }
  return value;
}

export class StreamFrameParser {
  readonly #limits: FrameLimits;
  /** Bytes received and not yet consumed, as a list of chunks (no quadratic re-concatenation). */
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes of #chunks already searched for a newline. */
  #scanned = 0;
  #frame: PendingFrame | null = null;
  #failed = false;

  constructor(limits: Partial<FrameLimits> = {}) {
    this.#limits = { ...DEFAULT_FRAME_LIMITS, ...limits };
  }

  /** Bytes held for an incomplete frame (0 between frames: a clean end of stream). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Whether the stream stopped inside a frame (a header without its newline, or short data/payload). */
  get midFrame(): boolean {
    return this.#buffered > 0 || this.#frame !== null;
  }

  /** Feeds bytes; returns the events they complete. Throws WyomingProtocolError on a bad frame. */
  push(chunk: Buffer): WyomingEvent[] {
    if (this.#failed) throw wyomingError('bad-header', 'the parser already failed on this stream');
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const events: WyomingEvent[] = [];
    try {
      for (;;) {
        const event = this.#next();
        if (!event) break;
        events.push(event);
      }
    } catch (err) {
      this.#failed = true;
      this.#chunks = [];
      this.#buffered = 0;
      throw err;
    }
    return events;
  }

  #next(): WyomingEvent | null {
    if (!this.#frame) {
      const line = this.#takeLine();
      if (line === null) return null;
      this.#frame = this.#parseHeader(line);
    }
    const frame = this.#frame;
    if (frame.data === null) {
      if (frame.dataLength === 0) frame.data = frame.inlineData;
      else {
        if (this.#buffered < frame.dataLength) return null;
        frame.data = { ...frame.inlineData, ...this.#parseData(this.#take(frame.dataLength)) };
      }
    }
    if (this.#buffered < frame.payloadLength) return null;
    const payload = frame.payloadLength > 0 ? this.#take(frame.payloadLength) : null;
    this.#frame = null;
    return { type: frame.type, data: frame.data, payload };
  }

  /** The next header line (without its newline), or null if no newline has arrived yet. */
  #takeLine(): Buffer | null {
    let offset = 0;
    for (const chunk of this.#chunks) {
      const from = Math.max(0, this.#scanned - offset);
      const at = from < chunk.length ? chunk.indexOf(0x0a, from) : -1;
      if (at >= 0) {
        const lineLength = offset + at;
        if (lineLength > this.#limits.maxHeaderBytes) break;
        const line = this.#take(lineLength);
        this.#take(1);
        this.#scanned = 0;
        return line;
      }
      offset += chunk.length;
    }
    this.#scanned = this.#buffered;
    if (this.#scanned > this.#limits.maxHeaderBytes) {
      throw wyomingError('header-too-long', `no header line end within ${this.#limits.maxHeaderBytes} bytes`);
    }
    return null;
  }

  /** Removes and returns the first n buffered bytes (n ≤ #buffered). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Buffer;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    this.#buffered -= n;
    return out;
  }

  #parseHeader(line: Buffer): PendingFrame {
    let header: unknown;
    try {
      header = JSON.parse(line.toString('utf8'));
    } catch {
      throw wyomingError('bad-header', `the header line is not JSON: ${JSON.stringify(preview(line))}`);
    }
    if (!isPlainObject(header)) throw wyomingError('bad-header', 'the header line is not a JSON object');
    const type = header['type'];
    if (typeof type !== 'string' || type === '') throw wyomingError('bad-header', 'the header has no event type');
    const inline = header['data'];
    if (inline !== undefined && inline !== null && !isPlainObject(inline)) {
      throw wyomingError('bad-header', `the header's data of ${type} is not an object`);
    }
    return {
      type,
      inlineData: inline ?? {},
      dataLength: lengthField(header, 'data_length', this.#limits.maxDataBytes),
      payloadLength: lengthField(header, 'payload_length', this.#limits.maxPayloadBytes),
      data: null,
    };
  }

  #parseData(bytes: Buffer): WyomingData {
    let data: unknown;
    try {
      data = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw wyomingError('bad-data', `data_length bytes are not JSON (does data_length match the data?): ${JSON.stringify(preview(bytes))}`);
    }
    if (!isPlainObject(data)) throw wyomingError('bad-data', 'the event data is not a JSON object');
    return data;
  }
}

function preview(bytes: Buffer): string {
  const text = bytes.subarray(0, 60).toString('utf8').replace(/[^\x20-\x7e]/gu, '?');
  return bytes.length > 60 ? `${text}…` : text;
}
