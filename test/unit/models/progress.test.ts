import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { createDownloadReporter, formatBytes } from '../../../src/models/progress.js';

describe('download progress reporter', () => {
  it('writes one line per finished file when stderr is not a terminal', () => {
    let out = '';
    const r = createDownloadReporter({ write: (c: string) => (out += c) }, false);
    r.onProgress({ file: 'config.json', receivedBytes: 0, totalBytes: 2248, done: false });
    r.onProgress({ file: 'config.json', receivedBytes: 2248, totalBytes: 2248, done: false });
    expect(out).toBe('');
    r.onProgress({ file: 'config.json', receivedBytes: 2248, totalBytes: 2248, done: true });
    r.onProgress({ file: 'onnx/big.onnx', receivedBytes: 79208649, totalBytes: 79208649, done: true });
    r.close();
    expect(out).toBe('downloaded config.json (2.2 KB)\ndownloaded onnx/big.onnx (75.5 MB)\n');
  });

  it('falls back to lines when the TTY sink is not a real stream', () => {
    let out = '';
    const r = createDownloadReporter({ write: (c: string) => (out += c) }, true);
    r.onProgress({ file: 'a', receivedBytes: 3, totalBytes: 3, done: true });
    expect(out).toBe('downloaded a (3 B)\n');
  });

  it('draws a bar on a terminal stream, also for an unknown length', () => {
    const stream = new PassThrough();
    Object.assign(stream, { isTTY: true, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    let out = '';
    stream.on('data', (c: Buffer) => (out += c.toString()));
    const r = createDownloadReporter(stream, true);
    r.onProgress({ file: 'tokenizer.json', receivedBytes: 0, totalBytes: null, done: false });
    r.onProgress({ file: 'tokenizer.json', receivedBytes: 2480466, totalBytes: 2480466, done: true });
    r.close();
    expect(out).toContain('tokenizer.json');
    expect(out).toContain('2.4 MB');
  });

  it('formats byte counts', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.00 GB');
  });
});
