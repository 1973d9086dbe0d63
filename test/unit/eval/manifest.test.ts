import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ManifestInvalidError } from '../../../src/errors.js';
import { loadManifest, parseManifest } from '../../../src/eval/manifest.js';
import { SHARED_CORPUS, corpusPath } from '../../helpers/paths.js';

const GOOD = '{"id":"a","lang":"fr","audio":"fr/a.wav","text":"allume la lumière","duration_s":2.5}';

function parseError(content: string): ManifestInvalidError {
  try {
    parseManifest(content, '/data', 'm.jsonl');
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestInvalidError);
    return err as ManifestInvalidError;
  }
  throw new Error('parseManifest accepted bad input');
}

describe('parseManifest', () => {
  it('parses entries and resolves audio against the base folder', () => {
    const entries = parseManifest(`${GOOD}\n\n{"id":"n","lang":"none","audio":"/abs/n.wav","text":""}\n`, '/data');
    expect(entries).toEqual([
      { id: 'a', lang: 'fr', audio: 'fr/a.wav', audioPath: path.resolve('/data', 'fr/a.wav'), text: 'allume la lumière', durationInS: 2.5 },
      { id: 'n', lang: 'none', audio: '/abs/n.wav', audioPath: path.resolve('/abs/n.wav'), text: '', durationInS: null },
    ]);
  });

  it.each([
    ['not JSON', `${GOOD}\n{"id": "b",`, 2, /not valid JSON/],
    ['an array', `${GOOD}\n["b"]`, 2, /JSON object/],
    ['missing text', `${GOOD}\n${GOOD.replace('"a"', '"b"')}\n{"id":"c","lang":"fr","audio":"c.wav"}`, 3, /missing required key "text"/],
    ['a number id', '{"id":1,"lang":"fr","audio":"a.wav","text":""}', 1, /"id" must be a string/],
    ['a bad lang', '{"id":"a","lang":"French","audio":"a.wav","text":""}', 1, /"lang" must be a language code/],
    ['an empty audio', '{"id":"a","lang":"fr","audio":"","text":""}', 1, /"audio" is empty/],
    ['a duplicate id', `${GOOD}\n${GOOD}`, 2, /duplicate id "a"/],
    ['a negative duration', '{"id":"a","lang":"fr","audio":"a.wav","text":"","duration_s":-1}', 1, /duration_s/],
  ])('rejects %s with the line number', (_name, content, line, pattern) => {
    const err = parseError(content);
    expect(err.code).toBe('STT_MANIFEST_INVALID');
    expect(err.details['line']).toBe(line);
    expect(err.message).toContain(`m.jsonl:${line}:`);
    expect(err.message).toMatch(pattern);
  });

  it('rejects a manifest with no clips', () => {
    expect(parseError('\n  \n').message).toMatch(/no clips/);
  });
});

describe('loadManifest', () => {
  it('loads the shared corpus manifest with every audio path under the corpus folder', async () => {
    const entries = await loadManifest(corpusPath('manifest.jsonl'));
    expect(entries.length).toBe(65);
    for (const e of entries) expect(e.audioPath.startsWith(SHARED_CORPUS + path.sep)).toBe(true);
    expect(new Set(entries.map((e) => e.lang))).toEqual(new Set(['fr', 'en', 'none']));
  });

  it('resolves relative paths against the manifest folder and reports a missing file as STT_MANIFEST_INVALID', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stt-manifest-'));
    const file = path.join(dir, 'm.jsonl');
    writeFileSync(file, `${GOOD}\n`);
    const [entry] = await loadManifest(file);
    expect(entry?.audioPath).toBe(path.join(dir, 'fr', 'a.wav'));
    await expect(loadManifest(path.join(dir, 'missing.jsonl'))).rejects.toMatchObject({ code: 'STT_MANIFEST_INVALID' });
  });
});
