/**
 * End to end: the real `eval` command (real transcriber, whisper-base int8 from ../shared) on a
 * 3-clip manifest: two French commands and one noise clip from the shared corpus.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { runEvalCommand } from '../../../src/cli/eval.js';
import type { CliIO } from '../../../src/cli/io.js';
import { WHISPER_BASE_DIR, corpusPath, hasShared } from '../../helpers/paths.js';

describe.skipIf(!hasShared())('eval command on real audio', () => {
  it('transcribes, scores French under 0.5 WER and records the noise clip', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stt-eval-e2e-'));
    const manifest = path.join(dir, 'manifest.jsonl');
    const clips = [
      { id: 'fr_cmd_allume_la_chambre_a_80_pourcent', lang: 'fr', audio: corpusPath('fr/fr_cmd_allume_la_chambre_a_80_pourcent.wav'), text: 'allume la chambre à 80%' },
      { id: 'fr_cmd_eteins_la_lumiere', lang: 'fr', audio: corpusPath('fr/fr_cmd_eteins_la_lumiere.wav'), text: 'éteins la lumière' },
      { id: 'noise_synth_hum_pink', lang: 'none', audio: corpusPath('noise/noise_synth_hum_pink.wav'), text: '' },
    ];
    writeFileSync(manifest, clips.map((c) => JSON.stringify(c)).join('\n'));
    let out = '';
    let err = '';
    const io: CliIO = {
      stdout: { write: (c: string) => (out += c) },
      stderr: { write: (c: string) => (err += c) },
      env: {},
      cwd: dir,
      stderrIsTTY: false,
    };
    const code = await runEvalCommand(
      ['--manifest', manifest, '--out', 'hyps.jsonl', '--report', 'report.md', '--model-dir', WHISPER_BASE_DIR, '--threads', '2'],
      io,
    );
    expect(code, err).toBe(0);

    const lines = readFileSync(path.join(dir, 'hyps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['id'])).toEqual(clips.map((c) => c.id));
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['decodeMs', 'id', 'language', 'text']);
      expect(line['decodeMs']).toBeGreaterThan(0);
    }
    expect(lines[0]?.['language']).toBe('fr');
    expect(String(lines[0]?.['text']).toLowerCase()).toContain('chambre');

    const summary = JSON.parse(out) as {
      languages: Record<string, { clips: number; wer: number; refWords: number }>;
      noise: { clips: number; wordsEmitted: number };
      failed: number;
      rtf: number;
      audioInS: number;
    };
    expect(summary.failed).toBe(0);
    expect(summary.languages['fr']?.clips).toBe(2);
    expect(summary.languages['fr']?.refWords).toBe(10);
    expect(summary.languages['fr']?.wer).toBeLessThan(0.5);
    expect(summary.noise.clips).toBe(1);
    expect(summary.audioInS).toBeGreaterThan(10);
    expect(summary.rtf).toBeGreaterThan(0);
    expect(readFileSync(path.join(dir, 'report.md'), 'utf8')).toContain('| fr | 2 |');
  });
});
