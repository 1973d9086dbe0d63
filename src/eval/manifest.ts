/**
 * Evaluation manifests: JSON Lines, one clip per line, in the format of
 * ../shared/corpus/manifest.jsonl. Required keys: id, lang, audio (relative to the manifest's
 * folder, or absolute), text (the reference; empty for non-speech). Other keys are ignored here.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { ManifestInvalidError } from '../errors.js';

export interface ManifestEntry {
  readonly id: string;
  /** 'fr', 'en'…, or 'none' for a non-speech clip. */
  readonly lang: string;
  /** The audio path as the manifest writes it. */
  readonly audio: string;
  /** The audio path resolved against the manifest's folder. */
  readonly audioPath: string;
  readonly text: string;
  /** duration_s when the manifest gives it. */
  readonly durationInS: number | null;
}

export const NO_SPEECH_LANG = 'none';

function invalid(source: string, line: number, message: string): ManifestInvalidError {
  return new ManifestInvalidError(`${source}:${line}: ${message}`, { path: source, line });
}

function requireString(obj: Record<string, unknown>, key: string, source: string, line: number): string {
  const value = obj[key];
  if (value === undefined) throw invalid(source, line, `missing required key "${key}"`);
  if (typeof value !== 'string') throw invalid(source, line, `"${key}" must be a string, got ${typeof value}`);
  return value;
}

/**
 * Parses manifest text. `baseDir` is the folder audio paths are relative to; `source` names the
 * manifest in error messages. Blank lines are skipped; any other bad line throws
 * ManifestInvalidError with its 1-based line number in the message and in details.line.
 */
export function parseManifest(content: string, baseDir: string, source = '<manifest>'): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  const lines = content.split(/\r?\n/u);
  for (let k = 0; k < lines.length; k++) {
    const lineNo = k + 1;
    const raw = (lines[k] as string).trim();
    if (raw === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      throw invalid(source, lineNo, `not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalid(source, lineNo, 'each line must be a JSON object');
    }
    const obj = parsed as Record<string, unknown>;
    const id = requireString(obj, 'id', source, lineNo);
    const lang = requireString(obj, 'lang', source, lineNo);
    const audio = requireString(obj, 'audio', source, lineNo);
    const text = requireString(obj, 'text', source, lineNo);
    if (id.trim() === '') throw invalid(source, lineNo, '"id" is empty');
    if (lang !== NO_SPEECH_LANG && !/^[a-z]{2,3}([-_][A-Za-z0-9]+)*$/u.test(lang)) {
      throw invalid(source, lineNo, `"lang" must be a language code such as "fr" or "none", got "${lang}"`);
    }
    if (audio.trim() === '') throw invalid(source, lineNo, '"audio" is empty');
    if (seen.has(id)) throw invalid(source, lineNo, `duplicate id "${id}"`);
    seen.add(id);
    const duration = obj['duration_s'];
    if (duration !== undefined && (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0)) {
      throw invalid(source, lineNo, '"duration_s" must be a non-negative number');
    }
    entries.push({
      id,
      lang,
      audio,
      audioPath: path.resolve(baseDir, audio),
      text,
      durationInS: typeof duration === 'number' ? duration : null,
    });
  }
  if (entries.length === 0) throw new ManifestInvalidError(`${source}: the manifest holds no clips`, { path: source });
  return entries;
}

/** Reads and parses a manifest file; audio paths resolve against the file's folder. */
export async function loadManifest(manifestPath: string): Promise<ManifestEntry[]> {
  let content: string;
  try {
    content = await readFile(manifestPath, 'utf8');
  } catch (err) {
    throw new ManifestInvalidError(`cannot read manifest ${manifestPath}: ${(err as Error).message}`, { path: manifestPath }, { cause: err });
  }
  return parseManifest(content, path.dirname(path.resolve(manifestPath)), manifestPath);
}
