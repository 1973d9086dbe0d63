/** The live command's --inspect* flags: usage errors (exit 2) and the token policy (exit 1), before any engine starts. */
import { describe, expect, it } from 'vitest';
import { runLiveCommand } from '../../../src/cli/live.js';
import { inspectFlags } from '../../../src/inspector/live-flags.js';

function memoryIO(env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (c: string) => ((out += c), true) }, stderr: { write: (c: string) => ((err += c), true) }, env, cwd: '/', stderrIsTTY: false },
    out: () => out,
    err: () => err,
  };
}

describe('live --inspect flags', () => {
  it('are documented in --help', async () => {
    const t = memoryIO();
    expect(await runLiveCommand(['--help'], t.io)).toBe(0);
    for (const flag of ['--inspect ', '--inspect-port N', '--inspect-host ADDR', '--inspect-token T', '--inspect-keep']) expect(t.out()).toContain(flag);
  });

  it('bad values and stray flags are usage errors (exit 2)', async () => {
    for (const [args, message] of [
      [['--input', 'x.wav', '--inspect-port', '9000'], '--inspect-port needs --inspect'],
      [['--input', 'x.wav', '--inspect-keep'], '--inspect-keep needs --inspect'],
      [['--input', 'x.wav', '--inspect', '--inspect-port', 'abc'], '--inspect-port must be a port number'],
      [['--input', 'x.wav', '--inspect', '--inspect-port', '65536'], '--inspect-port must be a port number'],
    ] as const) {
      const t = memoryIO();
      expect(await runLiveCommand([...args], t.io)).toBe(2);
      expect(t.err()).toContain(message);
    }
  });

  it('a non-loopback host without a token fails with its code before the engine starts (exit 1)', async () => {
    const t = memoryIO();
    expect(await runLiveCommand(['--input', '/no/such.wav', '--inspect', '--inspect-host', '0.0.0.0', '--inspect-port', '0'], t.io)).toBe(1);
    expect(t.err()).toMatch(/^error \[STT_INSPECTOR_TOKEN_REQUIRED\]: .*0\.0\.0\.0/u);
    expect(t.err()).not.toContain('inspector: http');
  });

  it('takes the token from STT_INSPECTOR_TOKEN (kept out of the process list)', () => {
    expect(inspectFlags({ inspect: true, 'inspect-host': '0.0.0.0' }, { STT_INSPECTOR_TOKEN: 'from-the-env-123' })).toEqual({ keep: false, host: '0.0.0.0', token: 'from-the-env-123' });
    expect(inspectFlags({ inspect: true, 'inspect-token': 'flag-wins-12345' }, { STT_INSPECTOR_TOKEN: 'from-the-env-123' })).toMatchObject({ token: 'flag-wins-12345' });
    expect(inspectFlags({ inspect: true, 'inspect-port': '0', 'inspect-keep': true }, {})).toEqual({ keep: true, port: 0 });
    expect(inspectFlags({}, { STT_INSPECTOR_TOKEN: 'x' })).toBeNull();
  });
});
