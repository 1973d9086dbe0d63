/**
 * Download progress for humans: a live bar per file on a terminal, one line per finished file
 * elsewhere (logs and pipes should not fill with carriage returns). The only importer of cli-progress.
 */

import cliProgress from 'cli-progress';

import type { DownloadProgress } from './download.js';

export interface ProgressSink {
  write(chunk: string): unknown;
}

export interface DownloadReporter {
  readonly onProgress: (progress: DownloadProgress) => void;
  /** Ends a bar left open (by a failed download) so the next output starts on a fresh line. */
  close(): void;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)} GB`;
}

/** One line per completed file. */
function lineReporter(sink: ProgressSink): DownloadReporter {
  return {
    onProgress(p) {
      if (p.done) sink.write(`downloaded ${p.file} (${formatBytes(p.receivedBytes)})\n`);
    },
    close() {},
  };
}

/** A cli-progress bar for the file being downloaded; a new bar starts when the file changes. */
function barReporter(stream: NodeJS.WritableStream): DownloadReporter {
  let bar: cliProgress.SingleBar | null = null;
  let barFile: string | null = null;
  const stop = (): void => {
    bar?.stop();
    bar = null;
    barFile = null;
  };
  return {
    onProgress(p) {
      if (barFile !== p.file) {
        stop();
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: '{file} [{bar}] {percentage}% | {received}/{totalText}',
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        barFile = p.file;
        // Unknown length: the bar tracks what has arrived so far rather than showing a false 0 %.
        bar.start(p.totalBytes ?? Math.max(p.receivedBytes, 1), p.receivedBytes, {
          file: p.file,
          received: formatBytes(p.receivedBytes),
          totalText: p.totalBytes === null ? '?' : formatBytes(p.totalBytes),
        });
      }
      if (!bar) return;
      if (p.totalBytes === null) bar.setTotal(Math.max(p.receivedBytes, 1));
      bar.update(p.receivedBytes, { received: formatBytes(p.receivedBytes) });
      if (p.done) stop();
    },
    close: stop,
  };
}

/**
 * `stream` is the process's stderr when it is a terminal; cli-progress needs a real stream there
 * (cursor moves), so the bar is used only when the caller can hand one over.
 */
export function createDownloadReporter(
  sink: ProgressSink,
  isTTY: boolean,
): DownloadReporter {
  if (isTTY && isWritableStream(sink)) return barReporter(sink);
  return lineReporter(sink);
}

function isWritableStream(sink: ProgressSink): sink is ProgressSink & NodeJS.WritableStream {
  const s = sink as Partial<NodeJS.WritableStream>;
  return typeof s.on === 'function' && typeof s.end === 'function';
}
