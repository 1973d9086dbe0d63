/**
 * The Wyoming listener (tcp://HOST:PORT or unix://PATH): one WyomingSession per connection, fed
 * the events of a StreamFrameParser in order. A framing error gets an `error` event, then the
 * connection is ended (what the client sends after it is read and dropped, so it can still read
 * the error); the server and its other clients go on.
 *
 * close(): stops accepting, lets each open request finish (up to graceMs), ends the connections,
 * then closes the sessions' engines and the backend.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { InvalidOptionError, WyomingProtocolError } from '../errors.js';
import type { SessionBackend } from './backend.js';
import { encodeEvent, StreamFrameParser, wyomingError, type FrameLimits } from './codec.js';
import { FATAL_REASONS, type OutgoingEvent, type WyomingData, type WyomingEvent } from './protocol.js';
import { reasonOf, WyomingSession } from './session.js';

export type WyomingAddress = { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

/** Events queued per connection before the socket is paused (backpressure toward the client). */
const HIGH_WATER_EVENTS = 64;
/** How long a connection ended for a framing error may keep sending before it is dropped. */
const LINGER_MS = 2_000;

export function parseWyomingUri(uri: string): WyomingAddress {
  const unix = /^unix:\/\/(.+)$/u.exec(uri);
  if (unix) return { kind: 'unix', path: unix[1] as string };
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/u.exec(uri);
  if (tcp && Number(tcp[2]) <= 65_535) return { kind: 'tcp', host: (tcp[1] as string).replace(/^\[|\]$/gu, ''), port: Number(tcp[2]) };
  throw new InvalidOptionError(`a Wyoming URI is tcp://HOST:PORT or unix://PATH, got "${uri}"`, { option: 'wyoming' });
}

export interface WyomingServerOptions {
  readonly uri: string;
  readonly backend: SessionBackend;
  readonly info: WyomingData;
  readonly vadEndpoint: boolean;
  readonly limits?: Partial<FrameLimits>;
  readonly log?: (line: string) => void;
}

interface Connection {
  readonly socket: net.Socket;
  readonly session: WyomingSession;
}

export class WyomingServer {
  readonly #server: net.Server;
  readonly #options: WyomingServerOptions;
  readonly #connections = new Set<Connection>();
  readonly #log: (line: string) => void;
  #address: WyomingAddress;
  #closing = false;

  private constructor(server: net.Server, options: WyomingServerOptions, address: WyomingAddress) {
    this.#server = server;
    this.#options = options;
    this.#address = address;
    this.#log = options.log ?? (() => undefined);
  }

  static async listen(options: WyomingServerOptions): Promise<WyomingServer> {
    const address = parseWyomingUri(options.uri);
    // A socket file left by a killed server would make listen() fail with EADDRINUSE.
    if (address.kind === 'unix' && existsSync(address.path) && lstatSync(address.path).isSocket()) unlinkSync(address.path);
    const server = net.createServer({ allowHalfOpen: true });
    const self = new WyomingServer(server, options, address);
    server.on('connection', (socket) => self.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (address.kind === 'unix') server.listen(address.path, done);
      else server.listen(address.port, address.host, done);
    });
    server.on('error', (err) => self.#log(`server error: ${err.message}`));
    const bound = server.address();
    if (address.kind === 'tcp' && bound !== null && typeof bound === 'object') self.#address = { ...address, port: bound.port };
    return self;
  }

  /** The address actually bound (port 0 replaced by the real port). */
  get address(): WyomingAddress {
    return this.#address;
  }

  get uri(): string {
    const a = this.#address;
    return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  }

  get connections(): number {
    return this.#connections.size;
  }

  async close(graceMs = 10_000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const connections = [...this.#connections];
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(connections.map((c) => c.session.whenIdle())), grace]);
    clearTimeout(timer);
    for (const c of connections) c.socket.end();
    await Promise.all(connections.map((c) => c.session.close()));
    for (const c of connections) c.socket.destroy();
    await stopped;
    await this.#options.backend.close();
  }

  #accept(socket: net.Socket): void {
    // Named now: once the peer is gone, a TCP socket no longer knows its remote address.
    const peer = describe(socket);
    const write = (event: OutgoingEvent): void => {
      if (socket.writable) socket.write(encodeEvent(event));
    };
    const session = new WyomingSession(
      { backend: this.#options.backend, info: this.#options.info, vadEndpoint: this.#options.vadEndpoint, closing: () => this.#closing, log: this.#log },
      write,
    );
    const connection: Connection = { socket, session };
    this.#connections.add(connection);
    const parser = new StreamFrameParser(this.#options.limits);
    const queue: WyomingEvent[] = [];
    let pumping = false;
    let failed = false;
    let inputEnded = false;

    const finishIfDone = (): void => {
      if (!inputEnded || pumping || queue.length > 0) return;
      // The client half-closed: an open request without its audio-stop can never complete.
      if (session.busy) void session.close();
      socket.end();
    };
    const pump = async (): Promise<void> => {
      if (pumping) return;
      pumping = true;
      for (let event = queue.shift(); event; event = queue.shift()) {
        await session.handle(event);
        if (socket.isPaused() && queue.length < HIGH_WATER_EVENTS / 2 && !failed) socket.resume();
      }
      pumping = false;
      finishIfDone();
    };
    const fail = (err: WyomingProtocolError): void => {
      failed = true;
      queue.length = 0;
      this.#log(`client ${peer}: ${err.message}`);
      write({ type: 'error', data: { text: err.message, code: reasonOf(err) } });
      socket.end();
      void session.close();
      // Keep reading (and dropping) so the client is not reset before it reads the error.
      socket.resume();
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };

    socket.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        queue.push(...parser.push(chunk));
      } catch (err) {
        // The parser only throws framing errors; anything else is a bug, still answered, never thrown here.
        return fail(err instanceof WyomingProtocolError && FATAL_REASONS.has(reasonOf(err)) ? err : wyomingError('bad-header', String(err)));
      }
      if (queue.length >= HIGH_WATER_EVENTS) socket.pause();
      void pump();
    });
    socket.on('end', () => {
      inputEnded = true;
      if (parser.midFrame && !failed) this.#log(`client ${peer}: closed inside a frame (${parser.bufferedBytes} bytes dropped)`);
      finishIfDone();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A client that hangs up while we answer (wyoming-bench's streaming probe does) is not a fault.
      const gone = err.code === 'EPIPE' || err.code === 'ECONNRESET';
      this.#log(`client ${peer}: ${gone ? `left (${err.code})` : err.message}`);
    });
    socket.on('close', () => {
      this.#connections.delete(connection);
      // A client that leaves mid-utterance: its engine is closed, nothing else is touched.
      void session.close();
    });
  }
}

function describe(socket: net.Socket): string {
  return socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort ?? ''}` : 'unix';
}
