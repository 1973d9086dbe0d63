/**
 * Reads a `--trace` JSONL file (format: trace-writer.ts) back into its header, records and audio.
 * A malformed line is a coded error naming the line; only a cut last line (a process killed while
 * writing) is tolerated, and reported as a warning.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { createInterface } from 'node:readline';
import type { TraceHeader, TraceRecord } from '../engine/trace.js';
import { TraceInvalidError, type SerializedError } from '../errors.js';
import type { TraceAudio } from './trace-writer.js';

/** A trace file that cannot be read as one (code STT_INVALID_OPTION, details.line). */
export { TraceInvalidError };

export interface Trace {
  readonly header: TraceHeader;
  readonly records: readonly TraceRecord[];
  /** Final jobs' audio by jobId (traces written with audio): samples, or why they are missing. */
  readonly audio: ReadonlyMap<number, { readonly samples: Float32Array } | { readonly error: SerializedError }>;
  readonly warnings: readonly string[];
}

const RECORD_KINDS = new Set(['event', 'control', 'command', 'state', 'utterance', 'output']);

export function decodeAudio(data: string): Float32Array {
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length % 4 !== 0) throw new RangeError(`audio of ${bytes.length} bytes is not float32 samples`);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (endianness() !== 'LE') Buffer.from(copy.buffer).swap32();
  return new Float32Array(copy.buffer);
}

/** Parses the lines of a trace (for files, readTraceFile). */
export function parseTrace(lines: readonly string[], source = 'trace'): Trace {
  const fail = (line: number, why: string): never => {
    throw new TraceInvalidError(`${source}:${line}: ${why}`, { option: 'trace', line });
  };
  const warnings: string[] = [];
  const records: TraceRecord[] = [];
  const audio = new Map<number, { samples: Float32Array } | { error: SerializedError }>();
  let header: TraceHeader | null = null;
  let last = lines.length;
  while (last > 0 && (lines[last - 1] ?? '').trim() === '') last--;
  for (let i = 0; i < last; i++) {
    const text = (lines[i] ?? '').trim();
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      if (i === last - 1 && header !== null) {
        warnings.push(`${source}:${i + 1}: the last line is cut (the session was killed while writing?), ignored`);
        break;
      }
      fail(i + 1, 'not JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(i + 1, 'not a JSON object');
    const o = value as Record<string, unknown>;
    if (header === null) {
      if (o['kind'] !== 'header') fail(i + 1, 'the first line must be the trace header (kind "header")');
      if (o['version'] !== 1) fail(i + 1, `unsupported trace version ${JSON.stringify(o['version'])}`);
      if (typeof o['sampleRate'] !== 'number' || typeof o['startedAtEpochMs'] !== 'number') fail(i + 1, 'header without sampleRate or startedAtEpochMs');
      header = o as unknown as TraceHeader;
      continue;
    }
    if (o['kind'] === 'audio') {
      const a = o as unknown as TraceAudio;
      if (typeof a.jobId !== 'number') fail(i + 1, 'audio line without jobId');
      if (typeof a.data === 'string') {
        try {
          audio.set(a.jobId, { samples: decodeAudio(a.data) });
        } catch (err) {
          fail(i + 1, (err as Error).message);
        }
      } else audio.set(a.jobId, { error: a.error ?? { code: 'STT_INTERNAL', message: 'no audio data', details: {} } });
      continue;
    }
    if (typeof o['kind'] !== 'string' || !RECORD_KINDS.has(o['kind'])) fail(i + 1, `unknown record kind ${JSON.stringify(o['kind'])}`);
    if (typeof o['seq'] !== 'number' || typeof o['atMs'] !== 'number') fail(i + 1, 'record without seq or atMs');
    records.push(o as unknown as TraceRecord);
  }
  if (header === null) throw new TraceInvalidError(`${source}: empty trace (no header line)`, { option: 'trace', line: 1 });
  return { header, records, audio, warnings };
}

export async function readTraceFile(path: string): Promise<Trace> {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new TraceInvalidError(`trace file not found: ${path}`, { option: 'trace', path });
  }
  const lines: string[] = [];
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) lines.push(line);
  return parseTrace(lines, path);
}
