// The stream benchmark's markdown table: one column per language run, one row per measure, and the
// issue's target beside it with a pass/fail mark where a target exists.

const ms = (x) => (x === null || x === undefined ? '–' : `${Math.round(x)} ms`);
const pct = (x) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)} %`);
const mib = (bytes) => `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
const mark = (ok) => (ok === null ? '' : ok ? ' ✅' : ' ❌');

/** @param {number | null | undefined} value @param {number} limit */
function atMost(value, limit) {
  return value === null || value === undefined ? null : value <= limit;
}

/**
 * @param {{ endpointSilenceMs: number, runs: readonly any[] }} report
 * @returns {string}
 */
export function renderMarkdown(report) {
  const e = report.endpointSilenceMs;
  const runs = report.runs;
  const head = `| measure | ${runs.map((r) => `${r.lang} (${r.clipIds.length} clips${r.repeat > 1 ? ` × ${r.repeat}` : ''})`).join(' | ')} | target |`;
  const lines = [head, `| --- | ${runs.map(() => '---:').join(' | ')} | --- |`];
  /** @param {string} name @param {(r: any) => string} cell @param {string} target */
  const row = (name, cell, target = '') => lines.push(`| ${name} | ${runs.map(cell).join(' | ')} | ${target} |`);

  row('audio streamed (speech + pauses)', (r) => `${r.audioInS.toFixed(0)} s (${r.speechInS.toFixed(0)} s speech)`);
  row('VAD utterances / finals / rejected', (r) => `${r.metrics.utterances} / ${r.metrics.finals} / ${r.metrics.rejected}`);
  row('**lost** (utterances − finals − rejected)', (r) => `${r.lost}${mark(r.lost === 0)}`, '0');
  row(
    'clips with a final / only rejected / missed',
    (r) => `${r.score.clipsWithFinal} / ${r.score.clipsRejectedOnly} / ${r.score.clipsMissed}`,
  );
  row('finals outside any clip (pause noise)', (r) => `${r.score.spuriousFinals.length}`, '0');
  row(
    '**end of speech → final p50**',
    (r) => `${ms(r.score.latency.p50Ms)}${mark(atMost(r.score.latency.p50Ms, e + 150))}`,
    `≤ ${e} + 150 = ${e + 150} ms`,
  );
  row(
    '**end of speech → final p95**',
    (r) => `${ms(r.score.latency.p95Ms)}${mark(atMost(r.score.latency.p95Ms, e + 400))}`,
    `≤ ${e} + 400 = ${e + 400} ms`,
  );
  row('end of speech → final max (n)', (r) => `${ms(r.score.latency.maxMs)} (${r.score.latency.count})`);
  row(
    'same, utterances under 3 s (commands): p50 / p95 (n)',
    (r) =>
      r.score.commandLatency === undefined
        ? '–'
        : `${ms(r.score.commandLatency.p50Ms)} / ${ms(r.score.commandLatency.p95Ms)} (${r.score.commandLatency.count})`,
  );
  row('same, as the engine reports it (p50 / p95)', (r) => `${ms(r.score.engineReportedLatency.p50Ms)} / ${ms(r.score.engineReportedLatency.p95Ms)}`);
  row('from the clip file’s last sample (p50 / p95)', (r) => `${ms(r.score.clipEndLatency.p50Ms)} / ${ms(r.score.clipEndLatency.p95Ms)}`);
  row(
    'first partial after speech start (p50 / p95)',
    (r) => `${ms(r.score.firstPartial.p50Ms)} / ${ms(r.score.firstPartial.p95Ms)} (${r.score.firstPartial.utterancesWithoutPartial} utt. without)`,
  );
  row('**WER streamed**', (r) => pct(r.score.wer.stream));
  row('WER same clips one by one', (r) => pct(r.score.wer.oneByOne));
  row(
    '**main-thread event-loop lag p99** (max)',
    (r) => `${r.loopLag.p99Ms.toFixed(2)} ms${mark(r.loopLag.p99Ms < 5)} (${r.loopLag.maxMs.toFixed(1)} ms)`,
    '< 5 ms',
  );
  row(
    'messages main ⇄ workers per s of audio',
    (r) => `${r.traffic.messagesPerAudioS.toFixed(1)} msg/s, ${r.traffic.bytesPerAudioS.toFixed(0)} B/s`,
  );
  row(
    '**audio bytes through messages per s of audio**',
    (r) => `${r.traffic.copiedBinaryBytesPerAudioS.toFixed(0)} B/s${mark(r.traffic.copiedBinaryBytesPerAudioS === 0)}`,
    '0 (audio in shared memory)',
  );
  row(
    '**RSS warm-up → end** (change)',
    (r) =>
      r.rss === null
        ? '–'
        : `${mib(r.rss.warmBytes)} → ${mib(r.rss.endBytes)} (${r.rss.changeFraction >= 0 ? '+' : ''}${pct(r.rss.changeFraction)})` +
          mark(r.rss.changeFraction === null ? null : Math.abs(r.rss.changeFraction) <= 0.05),
    'flat within 5 %',
  );
  row('RSS peak', (r) => (r.rss === null ? '–' : mib(r.rss.peakBytes)));
  if (runs.some((r) => (r.rss?.repetitionEndBytes.length ?? 0) > 1)) {
    row('RSS at the end of each repetition', (r) => (r.rss === null ? '–' : r.rss.repetitionEndBytes.map((b) => (b === null ? '–' : mib(b))).join(' → ')));
  }
  row('final decode p50 / p90 (worker)', (r) => `${r.metrics.decodeMs.final.p50Ms} / ${r.metrics.decodeMs.final.p90Ms} ms`);
  // Older result files predate the count.
  row('finals whose beam narrowed at its deadline', (r) => (r.metrics.beamNarrowedFinals === undefined ? '–' : `${r.metrics.beamNarrowedFinals} of ${r.metrics.finals}`));
  row('draft tokens accepted / guessed (decodes, passes)', (r) =>
    r.metrics.drafts === undefined ? '–' : `${r.metrics.drafts.accepted} / ${r.metrics.drafts.guessed} (${r.metrics.drafts.decodes}, ${r.metrics.drafts.passes})`,
  );
  row('speculative finals reused / discarded', (r) => `${r.metrics.speculativeReused} / ${r.metrics.speculativeDiscarded}`);
  row('partials shown / dropped by reason', (r) => `${r.metrics.partials} / ${JSON.stringify(r.metrics.partialDrops).replace(/"/g, '')}`);
  row('pacer: max chunk lateness', (r) => ms(r.feed.maxLateMs));
  return lines.join('\n');
}
