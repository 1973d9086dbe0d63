/**
 * `stt-engine serve`, run in-process until it listens, then stopped as by Ctrl-C: what it says at start-up.
 * Skipped when ../shared (the whisper-base model it loads) is absent: without a model the server cannot start.
 * The --float-weights case also needs models/faster-whisper-base (scripts/fetch-faster-whisper-base.sh; .ci/run
 * fetches it, and with CI=true its absence fails).
 */
import { describe, expect, it } from 'vitest';
import { runServe } from '../../../dist/cli/serve.js';
import { FLOAT_WEIGHTS_DIR, hasFloatWeights, hasShared, REPO_ROOT, WHISPER_BASE_DIR } from '../../helpers/paths.js';

/** Starts the server with `args`, stops it once it listens; resolves with its exit code and stderr. */
async function startAndStop(args: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  let listening: () => void = () => undefined;
  const listens = new Promise<void>((resolve) => (listening = resolve));
  const stop: { signal?: () => void } = {};
  const io = {
    stdout: { write: () => true },
    stderr: {
      write: (s: string) => {
        err += s;
        if (err.includes('listening on ')) listening();
        return true;
      },
    },
    env: {},
    cwd: REPO_ROOT,
    stderrIsTTY: false,
  };
  const running = runServe({ onSignal: (handler) => ((stop.signal = handler), () => undefined) })(
    ['--wyoming', 'tcp://127.0.0.1:0', '--model-dir', WHISPER_BASE_DIR, '--threads', '2', ...args],
    io,
  );
  await Promise.race([listens, running.then((code) => Promise.reject(new Error(`serve exited with ${code}: ${err}`)))]);
  stop.signal?.();
  return { code: await running, err };
}

describe.skipIf(!hasShared())('stt-engine serve: start-up', () => {
  it('warms the decoder up before it listens, and says how long that took', async () => {
    const { code, err } = await startAndStop([]);
    expect(code).toBe(0);
    const lines = err.split('\n');
    const decoderLine = lines.findIndex((l) => /^wyoming: decoder \S+ on cpu, warmed up in \d+ ms$/u.test(l));
    expect(decoderLine).toBeGreaterThanOrEqual(0);
    expect(decoderLine).toBeLessThan(lines.findIndex((l) => l.startsWith('listening on ')));
  }, 60_000);

  it('--beam-narrow-after takes ms or off (with --no-drafts); anything else is a usage error before the model loads', async () => {
    const off = await startAndStop(['--no-warm-up', '--beam-narrow-after', 'off', '--no-drafts']);
    expect(off.code).toBe(0);
    let err = '';
    const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((err += s), true) }, env: {}, cwd: REPO_ROOT, stderrIsTTY: false };
    const code = await runServe()(['--wyoming', 'tcp://127.0.0.1:0', '--beam-narrow-after', 'later'], io);
    expect(code).toBe(2);
    expect(err).toContain('--beam-narrow-after must be a number of ms ≥ 0 or off, got "later"');
  }, 60_000);

  it('--no-warm-up listens without it', async () => {
    const { code, err } = await startAndStop(['--no-warm-up']);
    expect(code).toBe(0);
    expect(err).toMatch(/^wyoming: decoder \S+ on cpu, no warm-up$/mu);
    expect(err).not.toContain('warmed up');
  }, 60_000);

  it.skipIf(!hasFloatWeights())('--float-weights: says the decoder’s int8 weights are per channel', async () => {
    const { code, err } = await startAndStop(['--no-warm-up', '--float-weights', FLOAT_WEIGHTS_DIR]);
    expect(code).toBe(0);
    expect(err).toMatch(/^wyoming: decoder \S+ on cpu \(int8 weights per channel\), no warm-up$/mu);
  }, 60_000);
});
