/**
 * Binds an HTTP server (the inspector, the metrics endpoint) and reports a failed bind (port in use,
 * address not on this machine, no permission) as a coded error naming the option that chose it.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../errors.js';

export interface Bound {
  /** The real port (the one asked for, or the one the OS picked for 0). */
  readonly port: number;
  /** host:port as a URL authority (IPv6 in brackets). */
  readonly authority: string;
}

export async function listenHttp(server: Server, host: string, port: number, what: string, option: string): Promise<Bound> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(new InvalidOptionError(`cannot serve ${what} on ${host}:${port}: ${err.message}`, { option, code: err.code ?? null }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return { port: bound, authority: `${host.includes(':') ? `[${host}]` : host}:${bound}` };
}
