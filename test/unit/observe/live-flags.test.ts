/** The live command's --trace / --trace-audio / --metrics-port usage errors (before any engine starts). */
import { describe, expect, it } from 'vitest';
import { runLiveCommand } from '../../../src/cli/live.js';

function memoryIO() {
  let err = '';
  return { io: { stdout: { write: () => true }, stderr: { write: (c: string) => (err += c) }, env: {}, cwd: '/', stderrIsTTY: false }, err: () => err };
}

describe('live observe flags', () => {
  it('bad combinations and values are usage errors (exit 2)', async () => {
    for (const [args, message] of [
      [['--input', 'x.wav', '--trace-audio'], '--trace-audio needs --trace FILE'],
      [['--input', 'x.wav', '--metrics-port', 'abc'], '--metrics-port must be a port number'],
      [['--input', 'x.wav', '--metrics-port', '70000'], '--metrics-port must be a port number'],
      [['--input', 'x.wav', '--trace'], "Option '--trace <value>' argument missing"],
    ] as const) {
      const t = memoryIO();
      expect(await runLiveCommand([...args], t.io)).toBe(2);
      expect(t.err()).toContain(message);
    }
  });

  it('a trace path that cannot be written is a coded error before the engine starts (exit 1)', async () => {
    const t = memoryIO();
    expect(await runLiveCommand(['--input', 'x.wav', '--trace', '/no/such/dir/t.jsonl'], t.io)).toBe(1);
    expect(t.err()).toMatch(/^error \[STT_INVALID_OPTION\]: cannot write the trace file \/no\/such\/dir\/t\.jsonl/u);
  });
});
