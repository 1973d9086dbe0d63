/**
 * The Wyoming protocol as the `wyoming` package (PyPI, 1.10.2) defines it: the event types this
 * server reads and writes, their `data` shapes, and the codes of the `error` events it sends.
 *
 * On the wire an event is one JSON header line {type, version, data_length?, payload_length?}, then
 * data_length bytes of JSON (the event's data, merged over any inline `data` of the header), then
 * payload_length raw bytes (audio). Unknown event types are ignored: the protocol's forward-compat
 * rule (clients may send e.g. `select-program` to servers that predate it).
 */

/** The protocol version written in every header (the `wyoming` package release it matches). */
export const WYOMING_VERSION = '1.10.2';

/** Events a client sends that this server acts on. */
export type WyomingClientEventType = 'describe' | 'ping' | 'transcribe' | 'audio-start' | 'audio-chunk' | 'audio-stop';

/** Events this server sends. */
export type WyomingServerEventType =
  | 'info'
  | 'pong'
  | 'error'
  | 'transcript'
  | 'transcript-start'
  | 'transcript-chunk'
  | 'transcript-stop';

export type WyomingData = Readonly<Record<string, unknown>>;

/** One decoded or to-be-encoded event; `type` is any string on input (unknown types are ignored). */
export interface WyomingEvent {
  readonly type: string;
  readonly data: WyomingData;
  readonly payload: Buffer | null;
}

export interface OutgoingEvent {
  readonly type: WyomingServerEventType;
  readonly data?: WyomingData;
}

/**
 * The `code` of the `error` events this server sends (the event's `text` explains). Framing
 * errors close the connection (the byte stream can no longer be trusted); the others keep it.
 */
export type WyomingErrorReason =
  /** The header line is not a JSON object with a non-empty string `type`. */
  | 'bad-header'
  /** No newline within the header limit (e.g. a stream of garbage). */
  | 'header-too-long'
  /** data_length / payload_length not a non-negative integer. */
  | 'bad-length'
  | 'data-too-long'
  | 'payload-too-long'
  /** The data_length bytes are not a JSON object (a declared length that does not match). */
  | 'bad-data'
  /** audio-chunk or audio-stop with no audio-start before it (the event is ignored). */
  | 'audio-before-start'
  /** rate / width / channels missing or out of range (the request is dropped). */
  | 'bad-audio-format'
  /** The engine could not transcribe the request. */
  | 'transcription-failed'
  /** The server is shutting down and took no new request. */
  | 'server-closing';

/** Reasons after which the connection is closed: the rest of the byte stream cannot be framed. */
export const FATAL_REASONS: ReadonlySet<WyomingErrorReason> = new Set([
  'bad-header',
  'header-too-long',
  'bad-length',
  'data-too-long',
  'payload-too-long',
  'bad-data',
]);

export interface AudioFormat {
  /** Hz. */
  readonly rate: number;
  /** Bytes per sample: 1 (unsigned 8-bit), 2, 3 or 4 (signed little-endian). */
  readonly width: number;
  readonly channels: number;
}

export interface TranscribeRequest {
  /** Model name the client asked for (this server has one model; recorded, not enforced). */
  readonly name: string | null;
  readonly language: string | null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function parseTranscribe(data: WyomingData): TranscribeRequest {
  return { name: stringOrNull(data['name']), language: stringOrNull(data['language']) };
}
