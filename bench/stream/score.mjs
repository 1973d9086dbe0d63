// Pure scoring of one streamed run: finals matched to clips by audio position, latencies, WER
// (stream vs one by one), RSS trend. No I/O and no engine: run.mjs gathers the observations and
// injects the normaliser, the WER counter and the "when did this sample enter" clock.

/** Nearest-rank percentile (q in [0, 1]) of a list of numbers; null when empty. @param {number[]} values */
export function percentile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

function median(values) {
  return percentile(values, 0.5);
}

/**
 * The occurrence (clip in the stream) a [startMs, endMs) span overlaps most; -1 for none.
 * @param {readonly { startSample: number, endSample: number }[]} occurrences
 * @param {number} startMs @param {number} endMs @param {number} sampleRate
 */
export function bestOverlap(occurrences, startMs, endMs, sampleRate) {
  const s = (startMs * sampleRate) / 1000;
  const e = (endMs * sampleRate) / 1000;
  let best = -1;
  let bestLength = 0;
  occurrences.forEach((o, i) => {
    const length = Math.min(e, o.endSample) - Math.max(s, o.startSample);
    if (length > bestLength) {
      best = i;
      bestLength = length;
    }
  });
  return best;
}

function words(text) {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/u).length;
}

/**
 * @param {{
 *   occurrences: readonly { id: string, lang: string, reference: string, startSample: number, endSample: number }[],
 *   finals: readonly { utteranceId: number, text: string, startMs: number, endMs: number, atMs: number, engineLatencyMs: number | null }[],
 *   rejected: readonly { utteranceId: number, reason: string, startMs: number, endMs: number }[],
 *   speechStarts: ReadonlyMap<number, { startMs: number }>,
 *   speechEndReasons: ReadonlyMap<number, string>,
 *   firstPartialAtMs: ReadonlyMap<number, number>,
 *   enteredAtMs: (positionSamples: number) => number | null,
 *   oneByOne: ReadonlyMap<string, string>,
 *   normalize: (text: string, lang: string) => string,
 *   wordErrors: (ref: string, hyp: string) => { substitutions: number, deletions: number, insertions: number, refLength: number },
 *   vad: { preRollMs: number, postRollMs: number },
 *   sampleRate: number,
 * }} a
 */
/** Utterances shorter than this (pre- and post-roll included) count as voice commands. */
const COMMAND_MS = 3000;

export function scoreStream(a) {
  const perMs = a.sampleRate / 1000;
  const byOccurrence = a.occurrences.map(() => ({ finals: /** @type {any[]} */ ([]), rejected: /** @type {string[]} */ ([]) }));
  const spurious = [];
  const latencies = [];
  /** The same, for utterances under COMMAND_MS: the voice commands the assistant mostly hears. */
  const commandLatencies = [];
  const engineLatencies = [];
  const otherEndpoints = {};
  for (const f of a.finals) {
    const i = bestOverlap(a.occurrences, f.startMs, f.endMs, a.sampleRate);
    if (i < 0) spurious.push(f);
    else byOccurrence[i]?.finals.push(f);
    const reason = a.speechEndReasons.get(f.utteranceId) ?? 'unknown';
    if (reason !== 'silence') {
      // Flush and max-length cuts have no endpoint pause: the latency target does not apply.
      otherEndpoints[reason] = (otherEndpoints[reason] ?? 0) + 1;
      continue;
    }
    // The VAD's last speech window ends postRoll before the utterance's end.
    const lastSpeechSample = Math.round((f.endMs - a.vad.postRollMs) * perMs) - 1;
    const entered = a.enteredAtMs(lastSpeechSample);
    if (entered !== null) {
      latencies.push(f.atMs - entered);
      if (f.endMs - f.startMs < COMMAND_MS) commandLatencies.push(f.atMs - entered);
    }
    if (f.engineLatencyMs !== null) engineLatencies.push(f.engineLatencyMs);
  }
  for (const r of a.rejected) {
    const i = bestOverlap(a.occurrences, r.startMs, r.endMs, a.sampleRate);
    if (i >= 0) byOccurrence[i]?.rejected.push(r.reason);
  }

  // Secondary: from the clip's last sample, for the clip's last final (trailing silence inside the
  // clip counts as endpoint silence here, so this understates the latency; see README).
  const clipEndLatencies = [];
  let stream = { errors: 0, refWords: 0 };
  let single = { errors: 0, refWords: 0 };
  const clips = a.occurrences.map((o, i) => {
    const mine = (byOccurrence[i]?.finals ?? []).sort((x, y) => x.startMs - y.startMs);
    const last = mine.at(-1);
    if (last) {
      const entered = a.enteredAtMs(o.endSample - 1);
      if (entered !== null) clipEndLatencies.push(last.atMs - entered);
    }
    const ref = a.normalize(o.reference, o.lang);
    const hypStream = mine.map((f) => f.text).join(' ');
    const hypSingle = a.oneByOne.get(o.id) ?? null;
    const cs = a.wordErrors(ref, a.normalize(hypStream, o.lang));
    stream = { errors: stream.errors + cs.substitutions + cs.deletions + cs.insertions, refWords: stream.refWords + cs.refLength };
    let singleErrors = null;
    if (hypSingle !== null) {
      const c1 = a.wordErrors(ref, a.normalize(hypSingle, o.lang));
      singleErrors = c1.substitutions + c1.deletions + c1.insertions;
      single = { errors: single.errors + singleErrors, refWords: single.refWords + c1.refLength };
    }
    return {
      id: o.id,
      finals: mine.length,
      rejected: byOccurrence[i]?.rejected ?? [],
      stream: hypStream,
      oneByOne: hypSingle,
      streamErrors: cs.substitutions + cs.deletions + cs.insertions,
      oneByOneErrors: singleErrors,
      refWords: cs.refLength,
    };
  });
  // Words of finals that overlap no clip (decoded pause noise) are insertions of the stream.
  const spuriousWords = spurious.reduce((s, f) => s + words(a.normalize(f.text, a.occurrences[0]?.lang ?? 'fr')), 0);
  stream.errors += spuriousWords;

  const firstPartial = [];
  let utterancesWithoutPartial = 0;
  for (const [id, start] of a.speechStarts) {
    const at = a.firstPartialAtMs.get(id);
    if (at === undefined) {
      utterancesWithoutPartial++;
      continue;
    }
    // First speech window = utterance start + pre-roll (the VAD reaches back pre-roll before it).
    const entered = a.enteredAtMs(Math.round((start.startMs + a.vad.preRollMs) * perMs));
    if (entered !== null) firstPartial.push(at - entered);
  }

  const summary = (values) => ({
    count: values.length,
    p50Ms: percentile(values, 0.5),
    p95Ms: percentile(values, 0.95),
    maxMs: values.length === 0 ? null : Math.max(...values),
  });
  return {
    clips: a.occurrences.length,
    clipsWithFinal: clips.filter((c) => c.finals > 0).length,
    clipsRejectedOnly: clips.filter((c) => c.finals === 0 && c.rejected.length > 0).length,
    clipsMissed: clips.filter((c) => c.finals === 0 && c.rejected.length === 0).length,
    spuriousFinals: spurious.map((f) => ({ text: f.text, startMs: f.startMs, endMs: f.endMs })),
    latency: { ...summary(latencies), otherEndpoints },
    commandLatency: { ...summary(commandLatencies), underMs: COMMAND_MS },
    engineReportedLatency: summary(engineLatencies),
    clipEndLatency: summary(clipEndLatencies),
    firstPartial: { ...summary(firstPartial), utterancesWithoutPartial },
    wer: {
      stream: stream.refWords > 0 ? stream.errors / stream.refWords : null,
      oneByOne: single.refWords > 0 ? single.errors / single.refWords : null,
      streamErrors: stream.errors,
      oneByOneErrors: single.errors,
      refWords: stream.refWords,
      spuriousWords,
    },
    perClip: clips,
  };
}

/**
 * RSS trend: warm-up level (median of the samples within ±5 s of the warm-up point: 60 s, or a third
 * of a run shorter than 3 minutes) against the end level (median of the last 10 s). With the clip
 * list streamed several times, the level over the last 10 s of each repetition too: the same audio
 * at each, so growth between them is not the content changing (long utterances need bigger tensors).
 * @param {readonly { tS: number, rss: number, heapUsed: number }[]} samples
 * @param {readonly number[]} repetitionEndsS seconds since the first sample at which each repetition ended
 */
export function rssTrend(samples, repetitionEndsS = []) {
  if (samples.length === 0) return null;
  const lastS = samples.at(-1)?.tS ?? 0;
  const warmUpS = Math.min(60, lastS / 3);
  const near = samples.filter((s) => Math.abs(s.tS - warmUpS) <= 5).map((s) => s.rss);
  const tail = samples.filter((s) => s.tS >= lastS - 10).map((s) => s.rss);
  const warm = median(near.length > 0 ? near : [samples[0]?.rss ?? 0]) ?? 0;
  const end = median(tail) ?? 0;
  return {
    warmUpS,
    warmBytes: warm,
    endBytes: end,
    peakBytes: Math.max(...samples.map((s) => s.rss)),
    changeFraction: warm > 0 ? (end - warm) / warm : null,
    repetitionEndBytes: repetitionEndsS.map((t) => median(samples.filter((s) => s.tS > t - 10 && s.tS <= t).map((s) => s.rss))),
    // Every 10th sample (~10 s apart) keeps the result file small and still shows a trend.
    series: samples.filter((_, i) => i % 10 === 0 || i === samples.length - 1),
  };
}
