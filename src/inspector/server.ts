/**
 * The local web inspector (`--inspect`): node:http, no framework. Routes:
 *   GET /             the page (src/inspector/public, copied to dist by scripts/postbuild.mjs)
 *   GET /inspector.js, /inspector.css   its assets (nothing is fetched from anywhere else: CSP 'self')
 *   GET /events       Server-Sent Events: `snapshot` on connect, then `batch` every ~100 ms
 *   GET /machine.json the supervisor's statechart, read from the XState machine
 *   GET /snapshot.json what a new connection would get
 *   GET /metrics      Prometheus text, when a metrics provider is given
 *
 * Security: bound to 127.0.0.1 unless `host` says otherwise; any other address needs a `token`
 * (InspectorTokenRequiredError, before listening): the page shows what was said in a private
 * assistant's room. With a token every request must carry it: `?token=` on the page URL (the server
 * answers with an HttpOnly SameSite=Strict cookie, which the page's EventSource then sends), the
 * cookie, or `Authorization: Bearer TOKEN`. Without a token (loopback only), requests must name a
 * loopback Host, so a web page using DNS rebinding cannot read the stream.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { InspectorTokenRequiredError, InvalidOptionError } from '../errors.js';
import { listenHttp } from '../net/listen.js';
import type { TraceRecord } from '../engine/trace.js';
import { InspectorHub, SUPERVISOR_MACHINE, type InspectorSource } from './hub.js';
import { SseClient } from './sse.js';

export const DEFAULT_INSPECTOR_PORT = 9465;
export const TOKEN_COOKIE = 'stt_inspector_token';
const MIN_TOKEN_LENGTH = 8;

export interface MetricsProvider {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface InspectorOptions {
  /** Default 9465; 0 picks a free port (see `port` / `url`). */
  readonly port?: number;
  /** Default 127.0.0.1. Anything but a loopback address needs `token`. */
  readonly host?: string;
  readonly token?: string;
  /** Serves GET /metrics (e.g. createEngineMetrics(engine)). */
  readonly metrics?: MetricsProvider;
  /** How often SSE batches go out. */
  readonly batchMs?: number;
}

export interface Inspector {
  readonly port: number;
  readonly host: string;
  /** The page's URL, with `?token=` when a token is set. */
  readonly url: string;
  /** Give to createEngine's `onTrace` (then attach with subscribe: false) to see the engine start. */
  readonly onTrace: (record: TraceRecord) => void;
  attach(source: InspectorSource, options?: { readonly subscribe?: boolean }): void;
  readonly hub: InspectorHub;
  close(): Promise<void>;
}

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/inspector.js': { file: 'inspector.js', type: 'text/javascript; charset=utf-8' },
  '/inspector.css': { file: 'inspector.css', type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** 127.0.0.0/8, ::1, ::ffff:127.x and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/gu, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{0,4}:){5}0{0,4}:?ffff:127\./u.test(h) || h.startsWith('::ffff:127.');
  return false;
}

function loadAssets(): Map<string, Buffer> {
  const dir = new URL('./public/', import.meta.url);
  const files = new Map<string, Buffer>();
  for (const { file } of Object.values(ASSETS)) {
    if (files.has(file)) continue;
    try {
      files.set(file, readFileSync(new URL(file, dir)));
    } catch (err) {
      throw new InvalidOptionError(`the inspector's page is missing (${new URL(file, dir).pathname}): rebuild with \`npm run build\``, {
        option: 'inspect',
        file,
        cause: String(err),
      });
    }
  }
  return files;
}

function checkOptions(options: InspectorOptions): { port: number; host: string; token: string | null } {
  const port = options.port ?? DEFAULT_INSPECTOR_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidOptionError(`inspector port must be an integer in [0, 65535], got ${String(port)}`, { option: 'inspectPort' });
  }
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? null;
  if (token !== null && (token.length < MIN_TOKEN_LENGTH || /\s/u.test(token))) {
    throw new InvalidOptionError(`the inspector token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`, { option: 'inspectToken' });
  }
  if (!isLoopbackHost(host) && token === null) {
    throw new InspectorTokenRequiredError(
      `the inspector shows what is said near the microphone: binding it to ${host} (not loopback) needs a token (--inspect-token or STT_INSPECTOR_TOKEN)`,
      { host },
    );
  }
  return { port, host, token };
}

function sameSecret(given: string | null | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

export async function startInspector(options: InspectorOptions = {}): Promise<Inspector> {
  const { port, host, token } = checkOptions(options);
  const assets = loadAssets();
  const hub = new InspectorHub({ ...(options.batchMs !== undefined ? { batchMs: options.batchMs } : {}) });
  const clients = new Set<SseClient>();
  const unsubscribe = hub.subscribe((batch) => {
    for (const c of clients) c.batch(batch);
  });

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://inspector.invalid');
    if (token === null) {
      const hostHeader = (req.headers.host ?? '').replace(/:\d+$/u, '');
      if (!isLoopbackHost(hostHeader) && hostHeader !== host) return send(res, 403, 'text/plain; charset=utf-8', 'forbidden: not a loopback Host\n');
    } else {
      const bearer = /^Bearer\s+(.+)$/iu.exec(req.headers.authorization ?? '')?.[1];
      const given = url.searchParams.get('token') ?? cookie(req, TOKEN_COOKIE) ?? bearer;
      if (!sameSecret(given, token)) return send(res, 401, 'text/plain; charset=utf-8', 'unauthorized: open the URL with ?token=… printed by --inspect\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    const asset = ASSETS[url.pathname];
    if (asset) {
      const extra: Record<string, string> = {};
      if (token !== null && url.searchParams.has('token')) extra['set-cookie'] = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
      return send(res, 200, asset.type, assets.get(asset.file) ?? '', extra);
    }
    switch (url.pathname) {
      case '/events': {
        const client = new SseClient(res, () => hub.snapshot());
        clients.add(client);
        res.on('close', () => clients.delete(client));
        return;
      }
      case '/machine.json':
        return send(res, 200, 'application/json', JSON.stringify(SUPERVISOR_MACHINE));
      case '/snapshot.json':
        return send(res, 200, 'application/json', JSON.stringify(hub.snapshot()));
      case '/metrics': {
        const provider = options.metrics;
        if (!provider) return send(res, 404, 'text/plain; charset=utf-8', 'no metrics: start the inspector with a metrics provider\n');
        provider.render().then(
          (text) => send(res, 200, provider.contentType, text),
          (err: unknown) => send(res, 500, 'text/plain; charset=utf-8', `${String(err)}\n`),
        );
        return;
      }
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      // One bad request never takes the inspector (or the engine beside it) down.
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `${String(err)}\n`);
      else res.destroy();
    }
  });
  const { port: bound, authority } = await listenHttp(server, host, port, 'the inspector', 'inspectPort');
  return {
    port: bound,
    host,
    url: `http://${authority}/${token !== null ? `?token=${encodeURIComponent(token)}` : ''}`,
    onTrace: hub.record,
    attach: (source, opts) => hub.attach(source, opts),
    hub,
    close: async () => {
      hub.close();
      unsubscribe();
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
