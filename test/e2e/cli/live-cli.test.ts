import { describe, expect, it } from 'vitest';
import { main } from '../../../dist/main.js';
import { corpusPath, hasShared, REPO_ROOT, WHISPER_BASE_DIR } from '../../helpers/paths.js';

function io() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: REPO_ROOT, stderrIsTTY: false },
    out: () => out,
    err: () => err,
  };
}

describe.skipIf(!hasShared())('stt-engine live (leading flags run live)', () => {
  it('--input --jsonl prints one JSON event per line, finals with timings', async () => {
    const t = io();
    const clip = corpusPath('long/long_fr_cmd_session_public.wav');
    const code = await main(['--input', clip, '--jsonl', '--model-dir', WHISPER_BASE_DIR, '--beam', '1', '--no-partials', '--no-drafts'], t.io);
    expect(code).toBe(0);
    const events = t.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const finals = events.filter((e) => e['type'] === 'final');
    expect(finals.length).toBeGreaterThanOrEqual(20);
    expect(finals[0]).toMatchObject({ utteranceId: expect.any(Number), text: expect.any(String), language: 'fr', timings: { decodeMs: expect.any(Number) } });
    // Greedy finals have no beam to narrow.
    expect(finals.every((f) => f['beamNarrowed'] === false)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'metrics', finals: finals.length, drafts: { decodes: 0, passes: 0, guessed: 0, accepted: 0 } });
    expect(events.some((e) => e['type'] === 'partial')).toBe(false);
  }, 240_000);

  it('--beam-narrow-after takes ms or off, anything else is a usage error before any model loads', async () => {
    for (const bad of ['soon', '-5', '']) {
      const t = io();
      const code = await main(['--input', corpusPath('fr/fr_cmd_silence.wav'), `--beam-narrow-after=${bad}`], t.io);
      expect(code).toBe(2);
      expect(t.err()).toContain('--beam-narrow-after must be a number of ms ≥ 0 or off');
    }
  });

  it('an unknown microphone is a coded error with a hint, exit 1', async () => {
    const t = io();
    const code = await main(['--mic', 'no-such-microphone-xyz', '--model-dir', WHISPER_BASE_DIR], t.io);
    expect(code).toBe(1);
    expect(t.err()).toMatch(/error \[STT_[A-Z_]+\]/);
    expect(t.err()).toContain('--input file.wav');
  }, 120_000);
});
