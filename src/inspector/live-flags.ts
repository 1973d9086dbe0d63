/**
 * The live command's `--inspect*` flags, kept here so src/cli/live.ts only spreads them into its
 * options, checks them and starts the inspector. The token may come from STT_INSPECTOR_TOKEN so it
 * does not show in the process list.
 */
import { DEFAULT_INSPECTOR_PORT, type InspectorOptions } from './server.js';

export const INSPECT_USAGE = `  --inspect             a local web page of the live engine: statechart, timeline, VAD strip,
                        latency per utterance (URL on stderr; nothing is fetched from outside)
  --inspect-port N      its port (default ${DEFAULT_INSPECTOR_PORT}; 0: a free port)
  --inspect-host ADDR   bind address (default 127.0.0.1); any other address needs a token
  --inspect-token T     a token every request must carry (or STT_INSPECTOR_TOKEN); the printed
                        URL holds it as ?token=
  --inspect-keep        keep serving the page after the input ends, until Ctrl-C
`;

export const INSPECT_OPTIONS = {
  inspect: { type: 'boolean' },
  'inspect-port': { type: 'string' },
  'inspect-host': { type: 'string' },
  'inspect-token': { type: 'string' },
  'inspect-keep': { type: 'boolean' },
} as const;

export interface InspectValues {
  readonly inspect?: boolean | undefined;
  readonly 'inspect-port'?: string | undefined;
  readonly 'inspect-host'?: string | undefined;
  readonly 'inspect-token'?: string | undefined;
  readonly 'inspect-keep'?: boolean | undefined;
}

export interface InspectFlags extends InspectorOptions {
  readonly keep: boolean;
}

/** null without --inspect; a string is a usage error to report. */
export function inspectFlags(values: InspectValues, env: Readonly<Record<string, string | undefined>>): InspectFlags | string | null {
  if (!values.inspect) {
    const stray = (['inspect-port', 'inspect-host', 'inspect-token', 'inspect-keep'] as const).find((k) => values[k] !== undefined);
    return stray ? `--${stray} needs --inspect` : null;
  }
  const portText = values['inspect-port'];
  if (portText !== undefined && !(/^\d{1,5}$/u.test(portText) && Number(portText) <= 65_535)) return `--inspect-port must be a port number, got "${portText}"`;
  const token = values['inspect-token'] ?? env['STT_INSPECTOR_TOKEN'];
  return {
    keep: values['inspect-keep'] ?? false,
    ...(portText !== undefined ? { port: Number(portText) } : {}),
    ...(values['inspect-host'] !== undefined ? { host: values['inspect-host'] } : {}),
    ...(token !== undefined && token !== '' ? { token } : {}),
  };
}
