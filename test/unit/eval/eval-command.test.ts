import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { createEvalCommand, type EvalTranscriberFactory } from '../../../src/cli/eval.js';
import type { CliIO } from '../../../src/cli/io.js';
import { EmptyAudioError } from '../../../src/errors.js';
import type { TranscriberOptions } from '../../../src/whisper/types.js';
import { ScriptedTranscriber, type Script } from './scripted-transcriber.js';

function memoryIO(cwd: string): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (c: string) => (out += c) },
    stderr: { write: (c: string) => (err += c) },
    env: {},
    cwd,
    stderrIsTTY: false,
    out: () => out,
    err: () => err,
  };
}

function setup(): { dir: string; factory: EvalTranscriberFactory; made: { options: TranscriberOptions; t: ScriptedTranscriber }[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'stt-eval-cmd-'));
  writeFileSync(
    path.join(dir, 'm.jsonl'),
    [
      '{"id":"a","lang":"fr","audio":"a.wav","text":"ouvre les volets"}',
      '{"id":"b","lang":"fr","audio":"b.wav","text":"silence"}',
      '{"id":"n","lang":"none","audio":"n.wav","text":""}',
    ].join('\n'),
  );
  const scripts = new Map<string, Script>([
    [path.join(dir, 'a.wav'), { text: ' Ouvre les volets.' }],
    [path.join(dir, 'b.wav'), { error: new EmptyAudioError('no samples') }],
    [path.join(dir, 'n.wav'), { text: '' }],
  ]);
  const made: { options: TranscriberOptions; t: ScriptedTranscriber }[] = [];
  const factory: EvalTranscriberFactory = async (options) => {
    const t = new ScriptedTranscriber(scripts);
    made.push({ options, t });
    return t;
  };
  return { dir, factory, made };
}

describe('eval command (scripted transcriber)', () => {
  it('writes hypotheses, the report and the summary, and exits 1 when a clip failed', async () => {
    const { dir, factory, made } = setup();
    const io = memoryIO(dir);
    const code = await createEvalCommand(factory)(
      ['--manifest', 'm.jsonl', '--out', 'hyps.jsonl', '--report', 'r.md', '--beam', '3', '--threads', '2', '--device', 'cuda:1'],
      io,
    );
    expect(code).toBe(1);
    expect(made).toHaveLength(1);
    expect(made[0]?.options).toMatchObject({ model: 'base', device: 'cuda:1', intraOpThreads: 2 });
    expect(made[0]?.t.closed).toBe(true);
    expect(made[0]?.t.calls.map((c) => c.options)).toEqual([
      { beamSize: 3, language: 'fr' },
      { beamSize: 3, language: 'fr' },
      { beamSize: 3, language: 'auto' },
    ]);

    const lines = readFileSync(path.join(dir, 'hyps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['id'])).toEqual(['a', 'b', 'n']);
    expect(lines[0]).toMatchObject({ id: 'a', text: ' Ouvre les volets.', language: 'fr' });
    expect(typeof lines[0]?.['decodeMs']).toBe('number');
    expect(lines[1]).toMatchObject({ id: 'b', error: { code: 'STT_AUDIO_EMPTY' } });

    const summary = JSON.parse(io.out()) as Record<string, unknown>;
    expect(summary).toMatchObject({
      model: 'base',
      clips: 3,
      failed: 1,
      languages: { fr: { clips: 1, wer: 0, refWords: 3 } },
      noise: { clips: 1, wordsEmitted: 0 },
      settings: { language: 'from-manifest', beam: 3, threads: 2, device: 'cuda:1' },
    });
    expect(readFileSync(path.join(dir, 'r.md'), 'utf8')).toContain('| b | STT_AUDIO_EMPTY |');
    expect(io.err()).toContain('[2/3] b: STT_AUDIO_EMPTY');
  });

  it('pads every window to 30 s with --full-windows', async () => {
    const { dir, factory, made } = setup();
    expect(await createEvalCommand(factory)(['--manifest', 'm.jsonl', '--ids', 'a', '--full-windows'], memoryIO(dir))).toBe(0);
    expect(made[0]?.t.calls.map((c) => c.options)).toEqual([{ shortWindowMarginMs: null, language: 'fr' }]);
  });

  it('exits 0 when every selected clip succeeds', async () => {
    const { dir, factory } = setup();
    const io = memoryIO(dir);
    expect(await createEvalCommand(factory)(['--manifest', 'm.jsonl', '--ids', 'a,n'], io)).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({ clips: 2, failed: 0 });
  });

  it.each([
    [['--out', 'x'], /--manifest is required/],
    [['--manifest', 'm.jsonl', '--beam', '0'], /--beam must be a positive integer/],
    [['--manifest', 'm.jsonl', '--limit', 'ten'], /--limit must be a positive integer/],
    [['--manifest', 'm.jsonl', '--language', 'French'], /--language must be/],
    [['--manifest', 'm.jsonl', '--bogus'], /bogus/],
  ])('rejects bad usage %j with exit 2 before building a transcriber', async (argv, message) => {
    const { dir, factory, made } = setup();
    const io = memoryIO(dir);
    expect(await createEvalCommand(factory)(argv, io)).toBe(2);
    expect(io.err()).toMatch(message);
    expect(made).toHaveLength(0);
  });

  it('reports a bad manifest line with its code and exits 1', async () => {
    const { dir, factory, made } = setup();
    writeFileSync(path.join(dir, 'bad.jsonl'), '{"id":"a","lang":"fr","audio":"a.wav","text":"x"}\n{"id":"b"}\n');
    const io = memoryIO(dir);
    expect(await createEvalCommand(factory)(['--manifest', 'bad.jsonl'], io)).toBe(1);
    expect(io.err()).toMatch(/STT_MANIFEST_INVALID: .*bad\.jsonl:2: missing required key "lang"/);
    expect(made).toHaveLength(0);
  });

  it('rejects an unknown --ids entry with STT_INVALID_OPTION', async () => {
    const { dir, factory } = setup();
    const io = memoryIO(dir);
    expect(await createEvalCommand(factory)(['--manifest', 'm.jsonl', '--ids', 'a,zzz'], io)).toBe(1);
    expect(io.err()).toMatch(/STT_INVALID_OPTION: .*zzz/);
  });

  it('prints help', async () => {
    const { dir, factory } = setup();
    const io = memoryIO(dir);
    expect(await createEvalCommand(factory)(['--help'], io)).toBe(0);
    expect(io.out()).toContain('--manifest FILE');
  });
});
