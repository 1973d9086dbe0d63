/**
 * Optional mDNS announcement of the server as `_wyoming._tcp` (what Home Assistant discovers), as
 * wyoming's HomeAssistantZeroconf does. The only importer of bonjour-service.
 */
import Bonjour from 'bonjour-service';

export interface ZeroconfAnnouncement {
  close(): Promise<void>;
}

/** Announces `name` on `port` until close(); mDNS errors are reported, never thrown. */
export function announceWyoming(name: string, port: number, log: (line: string) => void): ZeroconfAnnouncement {
  const bonjour = new Bonjour.Bonjour(undefined, (err: unknown) => log(`zeroconf: ${(err as Error).message}`));
  const service = bonjour.publish({ name, type: 'wyoming', protocol: 'tcp', port });
  service.on('error', (err: unknown) => log(`zeroconf: ${(err as Error).message}`));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        bonjour.unpublishAll(() => bonjour.destroy(() => resolve()));
      }),
  };
}
