/**
 * The repetition gate's measure, as OpenAI's `get_compression_ratio`: UTF-8 bytes of the text over
 * the bytes of its zlib stream (default level, zlib wrapper — Python's `zlib.compress`). Looping
 * hallucinations ("merci merci merci …") compress well, so a high ratio flags them.
 *
 * Node bundles Chromium's zlib, whose match finder differs slightly from CPython's stock zlib: the
 * stream can be a byte longer or shorter. On the corpus transcripts the ratio differs from Python's
 * by at most 0.04, far below the gap between normal text (< 2.2) and a loop (> 2.4, usually > 4).
 */
import { deflateSync } from 'node:zlib';

export function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  // zlib output is never empty (header + checksum), so the division is always defined.
  return bytes.length / deflateSync(bytes).length;
}
