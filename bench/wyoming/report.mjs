// Pure summary of the Wyoming benchmark: one row per system × pass × mode from the parsed wyoming-bench
// output, the target check against wyoming-faster-whisper, and the markdown table. No I/O; unit-tested in
// test/unit/bench/wyoming-report.test.ts. Types: report.d.mts.

/** Target ratios from the issue: WER no worse, mean total ≤ 0.5 × the peer's. */
export const TOTAL_RATIO_TARGET = 0.5;

/** The passes run.mjs makes: wyoming-bench's defaults (audio sent as fast as the socket takes it, both
 * modes), and streaming with chunks paced at real time, where a partial can arrive while audio still flows. */
export const PASS_LABELS = { burst: '', realtime: ' (real time)' };

/**
 * Rows of the table. Pooled WER is recomputed from the edit counts (exact), not read off the rounded
 * percentage; a mode the server does not support becomes a row with `supported: false` and its reason.
 * @param {readonly { system: string, passes: readonly { pass: 'burst' | 'realtime', modes: readonly string[],
 *   output: import('./parse.d.mts').ServerOutput | null }[] }[]} servers
 * @returns {import('./report.d.mts').Row[]}
 */
export function summarize(servers) {
  const rows = [];
  for (const s of servers) {
    for (const p of s.passes) {
      for (const mode of p.modes) {
        const base = { system: s.system, pass: p.pass, mode, label: `${mode}${PASS_LABELS[p.pass]}` };
        const reason = p.output?.notSupported[mode];
        const m = p.output?.modes[mode];
        if (p.output === null || reason !== undefined || m === undefined) {
          rows.push({ ...base, supported: false, note: reason ?? (p.output === null ? 'not run' : 'no result'), ...EMPTY });
          continue;
        }
        const e = m.edits;
        rows.push({
          ...base,
          supported: true,
          note: null,
          ok: m.ok,
          fail: m.fail,
          wer: e !== null && e.refWords > 0 ? (e.sub + e.ins + e.del) / e.refWords : m.wer,
          cer: m.cer,
          sar: m.sar,
          totalMeanMs: m.totalMs?.mean ?? null,
          totalMedianMs: m.totalMs?.median ?? null,
          totalP95Ms: m.totalMs?.p95 ?? null,
          ttftMeanMs: m.ttftMs?.mean ?? null,
          ttftMedianMs: m.ttftMs?.median ?? null,
          ttftP95Ms: m.ttftMs?.p95 ?? null,
          ttftCount: p.output.measurements.filter((x) => x.mode === mode && x.ok && x.ttftMs !== null).length,
          rtfMean: m.rtf?.mean ?? null,
        });
      }
    }
  }
  return rows;
}

const EMPTY = {
  ok: 0,
  fail: 0,
  wer: null,
  cer: null,
  sar: null,
  totalMeanMs: null,
  totalMedianMs: null,
  totalP95Ms: null,
  ttftMeanMs: null,
  ttftMedianMs: null,
  ttftP95Ms: null,
  ttftCount: 0,
  rtfMean: null,
};

const find = (rows, system, pass, mode) => rows.find((r) => r.system === system && r.pass === pass && r.mode === mode && r.supported);

/**
 * The three targets, each with its numbers and a verdict (null when a side is missing). Requests that
 * failed make a target unmet: a faster server that drops requests has not reached it.
 * @param {readonly import('./report.d.mts').Row[]} rows
 * @returns {import('./report.d.mts').Targets}
 */
export function checkTargets(rows) {
  const ours = find(rows, 'ours', 'burst', 'non_streaming');
  const peer = find(rows, 'peer', 'burst', 'non_streaming');
  const clean = (r) => r !== undefined && r.fail === 0 && r.ok > 0;
  let wer = null;
  let total = null;
  if (ours !== undefined && peer !== undefined && ours.wer !== null && peer.wer !== null) {
    const delta = ours.wer - peer.wer;
    wer = { ours: ours.wer, peer: peer.wer, delta, met: clean(ours) && delta <= 0 };
  }
  if (ours !== undefined && peer !== undefined && ours.totalMeanMs !== null && peer.totalMeanMs !== null && peer.totalMeanMs > 0) {
    const ratio = ours.totalMeanMs / peer.totalMeanMs;
    total = { ours: ours.totalMeanMs, peer: peer.totalMeanMs, ratio, met: clean(ours) && ratio <= TOTAL_RATIO_TARGET };
  }
  const burst = rows.find((r) => r.system === 'ours' && r.pass === 'burst' && r.mode === 'streaming');
  const realtime = rows.find((r) => r.system === 'ours' && r.pass === 'realtime' && r.mode === 'streaming');
  let streaming = null;
  if (burst !== undefined) {
    // Supported = every request answered and a time to first partial measured on each one.
    const measured = (r) => r !== undefined && r.supported && clean(r) && r.ttftCount === r.ok;
    streaming = {
      supported: burst.supported,
      ttftMeanMs: burst.ttftMeanMs,
      ttftP95Ms: burst.ttftP95Ms,
      realtimeTtftMeanMs: realtime?.ttftMeanMs ?? null,
      realtimeTtftP95Ms: realtime?.ttftP95Ms ?? null,
      met: measured(burst) && (realtime === undefined || measured(realtime)),
    };
  }
  return { wer, total, streaming };
}

const pct = (x) => (x === null ? '–' : `${(100 * x).toFixed(1)} %`);
const ms = (x) => (x === null ? '–' : `${Math.round(x)}`);
const mark = (met) => (met === true ? ' ✅' : met === false ? ' ❌' : '');

/**
 * The table (one row per system × mode) and the target lines.
 * @param {{ rows: readonly import('./report.d.mts').Row[], targets: import('./report.d.mts').Targets,
 *           names: Readonly<Record<string, string>> }} report
 */
export function renderMarkdown({ rows, targets, names }) {
  const lines = [
    '| server | mode | ok / fail | WER | CER | total ms mean | median | p95 | first partial ms mean | p95 | RTF mean |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const name = names[r.system] ?? r.system;
    if (!r.supported) {
      lines.push(`| ${name} | ${r.label} | not supported (${r.note}) | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${name} | ${r.label} | ${r.ok} / ${r.fail} | ${pct(r.wer)} | ${pct(r.cer)} | ${ms(r.totalMeanMs)} | ${ms(r.totalMedianMs)} | ` +
        `${ms(r.totalP95Ms)} | ${ms(r.ttftMeanMs)} | ${ms(r.ttftP95Ms)} | ${r.rtfMean === null ? '–' : r.rtfMean.toFixed(2)} |`,
    );
  }
  const { wer, total, streaming } = targets;
  lines.push('', '| target | measured | |', '| --- | --- | --- |');
  lines.push(
    wer === null
      ? '| WER no worse than wyoming-faster-whisper | – (both servers needed) | |'
      : `| WER no worse than wyoming-faster-whisper | ${pct(wer.ours)} vs ${pct(wer.peer)} (${wer.delta > 0 ? '+' : ''}${(100 * wer.delta).toFixed(1)} points) |${mark(wer.met)} |`,
  );
  lines.push(
    total === null
      ? `| mean total ≤ ${TOTAL_RATIO_TARGET} × wyoming-faster-whisper's | – (both servers needed) | |`
      : `| mean total ≤ ${TOTAL_RATIO_TARGET} × wyoming-faster-whisper's | ${ms(total.ours)} ms vs ${ms(total.peer)} ms = ${total.ratio.toFixed(2)} × |${mark(total.met)} |`,
  );
  if (streaming === null) {
    lines.push('| streaming supported, time to first partial | – (ours not run) | |');
  } else if (!streaming.supported) {
    lines.push('| streaming supported, time to first partial | not supported |  ❌ |');
  } else {
    const rt = streaming.realtimeTtftMeanMs === null ? '' : `; real time: mean ${ms(streaming.realtimeTtftMeanMs)} ms, p95 ${ms(streaming.realtimeTtftP95Ms)} ms`;
    lines.push(
      `| streaming supported, time to first partial | mean ${ms(streaming.ttftMeanMs)} ms, p95 ${ms(streaming.ttftP95Ms)} ms${rt} |${mark(streaming.met)} |`,
    );
  }
  return lines.join('\n');
}
