/**
 * Splits one window's decoded tokens into timed pieces and says how far to seek, as OpenAI's
 * transcribe() does: a segment ends at each pair of consecutive timestamp tokens; when the output
 * ends with a single timestamp the model saw no cut, so the whole window is consumed; otherwise the
 * next window starts at the last timestamp, so speech cut by the window edge is decoded again whole.
 */

/** One piece of a window, times in milliseconds from the start of the input. */
export interface WindowPiece {
  readonly startMs: number;
  readonly endMs: number;
  /** The piece's tokens, timestamp tokens included (they condition the next window). */
  readonly tokens: readonly number[];
}

export interface WindowSplit {
  readonly pieces: readonly WindowPiece[];
  /** Mel frames to advance `seek` by (always ≥ 1, so a degenerate output cannot stall the loop). */
  readonly seekFrames: number;
}

export interface WindowGeometry {
  /** <|0.00|>: ids ≥ this are timestamps. */
  readonly timestampBegin: number;
  /** Where the window starts in the input. */
  readonly offsetMs: number;
  /** Mel frames of real audio in the window (≤ the window size; less in the last window). */
  readonly contentFrames: number;
  /** Duration of one mel frame (hop / sample rate), in ms. */
  readonly frameMs: number;
  /** Duration of one timestamp step (20 ms in every Whisper model). */
  readonly timestampStepMs: number;
}

export function splitWindow(tokens: readonly number[], g: WindowGeometry): WindowSplit {
  const isTs = (id: number | undefined): boolean => id !== undefined && id >= g.timestampBegin;
  const posMs = (id: number): number => (id - g.timestampBegin) * g.timestampStepMs;
  const n = tokens.length;
  const singleTimestampEnding = n >= 2 && !isTs(tokens[n - 2]) && isTs(tokens[n - 1]);

  const cuts: number[] = [];
  for (let i = 1; i < n; i++) {
    if (isTs(tokens[i - 1]) && isTs(tokens[i])) cuts.push(i);
  }
  const windowFrames = Math.max(1, g.contentFrames);

  if (cuts.length > 0) {
    if (singleTimestampEnding) cuts.push(n);
    const pieces: WindowPiece[] = [];
    let last = 0;
    let previousEndMs = 0;
    for (const cut of cuts) {
      const sliced = tokens.slice(last, cut);
      const first = sliced[0];
      const end = sliced[sliced.length - 1];
      // With OpenAI's timestamp rules a piece always opens and closes on a timestamp; fall back to
      // the neighbours' times rather than produce negative offsets if a backend ever breaks that.
      const startRel = first !== undefined && isTs(first) ? posMs(first) : previousEndMs;
      const endRel = end !== undefined && isTs(end) ? posMs(end) : startRel;
      pieces.push({ startMs: g.offsetMs + startRel, endMs: g.offsetMs + endRel, tokens: sliced });
      previousEndMs = endRel;
      last = cut;
    }
    let seekFrames = windowFrames;
    if (!singleTimestampEnding) {
      const lastTs = tokens[last - 1];
      if (lastTs !== undefined && isTs(lastTs)) {
        seekFrames = Math.round(posMs(lastTs) / g.frameMs);
      }
    }
    // <|0.00|><|0.00|> would seek by 0 and decode the same window forever.
    return { pieces, seekFrames: Math.max(1, seekFrames) };
  }

  let durationMs = g.contentFrames * g.frameMs;
  for (let i = n - 1; i >= 0; i--) {
    const id = tokens[i];
    if (id !== undefined && isTs(id)) {
      if (id !== g.timestampBegin) durationMs = posMs(id);
      break;
    }
  }
  return {
    pieces: [{ startMs: g.offsetMs, endMs: g.offsetMs + durationMs, tokens: tokens.slice() }],
    seekFrames: windowFrames,
  };
}
