/**
 * `node dist/main.js --input FILE --inspect --inspect-port 0 --inspect-keep` as a real process: the
 * URL is printed on stderr before the model loads, the session's final reaches the inspector, the
 * page stays served after the input ends, and Ctrl-C (SIGINT) then exits 0. Skipped without ../shared.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusPath, hasShared, REPO_ROOT, WHISPER_BASE_DIR } from '../../helpers/paths.js';

describe.skipIf(!hasShared())('live --inspect (real process, real model)', () => {
  it('prints the URL, serves the session, keeps serving until Ctrl-C', async () => {
    const args = ['--input', corpusPath('fr/fr_cmd_allume_la_lumiere.wav'), '--model-dir', WHISPER_BASE_DIR, '--beam', '1', '--jsonl', '--inspect', '--inspect-port', '0', '--inspect-keep'];
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'main.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, STT_MODEL_MIRROR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const waiters = new Set<() => void>();
    child.stdout.setEncoding('utf8').on('data', (c: string) => ((stdout += c), waiters.forEach((w) => w())));
    child.stderr.setEncoding('utf8').on('data', (c: string) => ((stderr += c), waiters.forEach((w) => w())));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const until = (pattern: RegExp, stream: 'stdout' | 'stderr' = 'stderr'): Promise<RegExpExecArray> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(stream === 'stdout' ? stdout : stderr);
          if (!m) return;
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
        check();
        void exited.then(({ code, signal }) => {
          if (waiters.delete(check)) reject(new Error(`exited (${code ?? signal}) before ${pattern}; stderr: ${stderr.slice(-2000)}`));
        });
      });
    try {
      const [, url] = await until(/^inspector: (http:\/\/127\.0\.0\.1:\d+\/)\n/mu);
      await until(/inspector: input ended, still serving/u);
      // stdout and stderr are separate pipes: the JSONL's last line may arrive after stderr's.
      await until(/"type":"metrics"/u, 'stdout');
      const finals = stdout.split('\n').filter((l) => l.includes('"type":"final"')).map((l) => JSON.parse(l) as { text: string; utteranceId: number });
      expect(finals).toHaveLength(1);
      const snapshot = (await (await fetch(new URL('snapshot.json', url!))).json()) as {
        state: unknown;
        utterances: { id: number; state: string; final: string | null; rejected: string | null; latency: { totalMs: number | null } | null }[];
        recent: { kind: string; value?: unknown }[];
      };
      expect(snapshot.state).toBe('closed');
      const emitted = snapshot.utterances.filter((u) => u.state === 'emitted');
      expect(emitted).toMatchObject([{ id: finals[0]!.utteranceId, final: finals[0]!.text }]);
      expect(emitted[0]!.latency).not.toBeNull();
      // Anything else the VAD opened was a blip it rejected (the room tone after the command can
      // reach Silero's threshold for a window or two), never a lost final.
      for (const u of snapshot.utterances.filter((x) => x.state !== 'emitted')) expect(u).toMatchObject({ final: null, rejected: 'misfire' });
      // The inspector was there from the engine's first state.
      expect(JSON.stringify(snapshot.recent.find((r) => r.kind === 'state')?.value)).toContain('starting');
      const page = await fetch(url!);
      expect(page.status).toBe(200);
      child.kill('SIGINT');
      expect(await exited).toEqual({ code: 0, signal: null });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
