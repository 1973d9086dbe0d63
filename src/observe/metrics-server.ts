/**
 * A minimal HTTP endpoint for Prometheus: GET /metrics serves an exporter's render() (`--metrics-port`).
 * Bound to 127.0.0.1 by default: the figures describe a private assistant's usage, so exposing
 * them to the network is the user's explicit choice (`host`).
 */
import { createServer, type Server } from 'node:http';
import { InvalidOptionError } from '../errors.js';
import { listenHttp } from '../net/listen.js';
import type { EngineMetricsExporter } from './metrics.js';

export interface MetricsServerOptions {
  /** 0 picks a free port (see the returned `port`). */
  readonly port: number;
  readonly host?: string;
}

export interface MetricsServer {
  readonly port: number;
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(
  exporter: Pick<EngineMetricsExporter, 'render' | 'contentType'>,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const { port } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidOptionError(`metrics port must be an integer in [0, 65535], got ${String(port)}`, { option: 'metricsPort' });
  }
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    exporter.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': exporter.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(err)}\n`);
      },
    );
  });
  const { port: bound, authority } = await listenHttp(server, host, port, 'metrics', 'metricsPort');
  return {
    port: bound,
    url: `http://${authority}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
