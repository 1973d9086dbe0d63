// Pure scoring and rendering of the decode benchmark (no I/O, no process spawning), so it is unit-tested
// with injected normaliser and WER functions (test/unit/bench/decode-report.test.ts). Types: report.d.mts.

/** Corpus folders the benchmark knows, in report order. */
export const GROUPS = /** @type {const} */ (['fr', 'en', 'long', 'noise']);

/**
 * Turns manifest lines into benchmark clips. The group is the corpus folder; noise clips have no
 * language and are decoded with 'fr' forced for every system (the engine is French-first, and forcing
 * keeps language detection out of the timings).
 * @param {readonly Record<string, unknown>[]} entries
 * @param {string} corpusDir
 */
export function clipsFromManifest(entries, corpusDir) {
  return entries.map((e, line) => {
    const { id, lang, audio, text, duration_s: durationInS } = e;
    if (typeof id !== 'string' || typeof lang !== 'string' || typeof audio !== 'string' || typeof text !== 'string') {
      throw new Error(`manifest line ${line + 1}: id, lang, audio and text must be strings`);
    }
    if (typeof durationInS !== 'number' || !(durationInS > 0)) {
      throw new Error(`manifest line ${line + 1} (${id}): duration_s must be a positive number`);
    }
    const group = audio.split('/')[0];
    if (!GROUPS.includes(/** @type {any} */ (group))) {
      throw new Error(`manifest line ${line + 1} (${id}): audio folder '${group}' is not one of ${GROUPS.join(', ')}`);
    }
    const isNoise = group === 'noise';
    if (!isNoise && lang !== 'fr' && lang !== 'en') {
      throw new Error(`manifest line ${line + 1} (${id}): speech clip with language '${lang}' (expected fr or en)`);
    }
    return {
      id,
      group: /** @type {'fr' | 'en' | 'long' | 'noise'} */ (group),
      lang: isNoise ? 'fr' : lang,
      refLang: isNoise ? null : lang,
      path: `${corpusDir}/${audio}`,
      durationInS,
      reference: text,
    };
  });
}

/**
 * Keeps the clips of the chosen groups, at most `limit` per group (manifest order), for quick checks.
 * @template {{ group: string }} C
 * @param {readonly C[]} clips @param {readonly string[]} groups @param {number | null} limit
 */
export function selectClips(clips, groups, limit) {
  const taken = new Map();
  return clips.filter((c) => {
    if (!groups.includes(c.group)) return false;
    const n = taken.get(c.group) ?? 0;
    if (limit !== null && n >= limit) return false;
    taken.set(c.group, n + 1);
    return true;
  });
}

function countWords(text) {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/u).length;
}

/**
 * Scores one run (one system × config). WER is corpus-level per group: total S+D+I over total reference
 * words, on texts normalised for the clip's language. Noise clips have no reference: their score is the
 * number of (normalised) words emitted. A clip without a result is an error, never a silent drop.
 * @param {{ clips: readonly any[], results: readonly { id: string, text: string, decodeMs: number }[],
 *           normalize: (text: string, lang: string) => string,
 *           wordErrors: (ref: string, hyp: string) => { substitutions: number, deletions: number, insertions: number, refLength: number } }} args
 */
export function scoreRun({ clips, results, normalize, wordErrors }) {
  const byId = new Map(results.map((r) => [r.id, r]));
  /** @type {Record<string, any>} */
  const groups = {};
  const bucket = (name) =>
    (groups[name] ??= { clips: 0, audioInS: 0, decodeMs: 0, errors: 0, refWords: 0, hypWords: 0 });
  for (const clip of clips) {
    const r = byId.get(clip.id);
    if (r === undefined) throw new Error(`no result for clip ${clip.id}`);
    if (typeof r.text !== 'string' || !Number.isFinite(r.decodeMs)) throw new Error(`malformed result for clip ${clip.id}`);
    const names = clip.group === 'long' ? ['long', `long-${clip.refLang}`] : [clip.group];
    const hyp = normalize(r.text, clip.lang);
    const counts = clip.refLang === null ? null : wordErrors(normalize(clip.reference, clip.refLang), hyp);
    for (const name of names) {
      const b = bucket(name);
      b.clips += 1;
      b.audioInS += clip.durationInS;
      b.decodeMs += r.decodeMs;
      b.hypWords += countWords(hyp);
      if (counts !== null) {
        b.errors += counts.substitutions + counts.deletions + counts.insertions;
        b.refWords += counts.refLength;
      }
    }
  }
  for (const b of Object.values(groups)) {
    b.wer = b.refWords > 0 ? b.errors / b.refWords : null;
    b.rtf = b.decodeMs / (b.audioInS * 1000);
  }
  const all = Object.entries(groups).filter(([name]) => !name.startsWith('long-'));
  const decodeMs = all.reduce((s, [, b]) => s + b.decodeMs, 0);
  const audioInS = all.reduce((s, [, b]) => s + b.audioInS, 0);
  return { groups, total: { decodeMs, audioInS, rtf: audioInS > 0 ? decodeMs / (audioInS * 1000) : null } };
}

/** A run's decode time in one group, or over all clips ('total'); undefined when the group did not run. */
const decodeMsOf = (run, g) => (g === 'total' ? run.score.total.decodeMs : run.score.groups[g]?.decodeMs);

/**
 * Our decode time over the peer's at the same config, per group and in total (null when either is missing).
 * @param {any[]} runs
 */
export function ratios(runs, ours = 'ours', peer = 'faster-whisper') {
  const out = {};
  for (const mine of runs.filter((r) => r.system === ours)) {
    const theirs = runs.find((r) => r.system === peer && r.config === mine.config);
    if (theirs === undefined) continue;
    const per = {};
    for (const g of [...GROUPS, 'total']) {
      const a = decodeMsOf(mine, g);
      const b = decodeMsOf(theirs, g);
      per[g] = a !== undefined && b !== undefined && b > 0 ? a / b : null;
    }
    out[mine.config] = per;
  }
  return out;
}

/**
 * Ratios over interleaved rounds (run.mjs --rounds): per config, our total decode time over the peer's in
 * each round both ran, and pooled (the sum of our rounds over the sum of theirs), in total and per group;
 * plus whether every round of ours gave the same texts (the decoders are deterministic: a difference would
 * mean the rounds did not measure the same work). Configs with no common round are left out.
 * @param {any[]} runs
 */
export function roundRatios(runs, ours = 'ours', peer = 'faster-whisper') {
  const out = {};
  for (const config of new Set(runs.filter((r) => r.system === ours).map((r) => r.config))) {
    const mine = runs.filter((r) => r.system === ours && r.config === config);
    const perRound = [];
    const sums = { mine: {}, theirs: {} };
    for (const run of mine) {
      const theirs = runs.find((r) => r.system === peer && r.config === config && (r.round ?? 1) === (run.round ?? 1));
      if (theirs === undefined) continue;
      perRound.push({ round: run.round ?? 1, total: run.score.total.decodeMs / theirs.score.total.decodeMs });
      for (const g of [...GROUPS, 'total']) {
        const a = decodeMsOf(run, g);
        const b = decodeMsOf(theirs, g);
        if (a === undefined || b === undefined) continue;
        sums.mine[g] = (sums.mine[g] ?? 0) + a;
        sums.theirs[g] = (sums.theirs[g] ?? 0) + b;
      }
    }
    if (perRound.length === 0) continue;
    const pooled = {};
    for (const g of [...GROUPS, 'total']) pooled[g] = sums.theirs[g] > 0 ? sums.mine[g] / sums.theirs[g] : null;
    const texts = (run) => run.results.map((r) => `${r.id}\t${r.text}`).join('\n');
    const sameTexts = mine.every((run) => texts(run) === texts(mine[0]));
    out[config] = { perRound: perRound.sort((a, b) => a.round - b.round), pooled, sameTexts };
  }
  return out;
}

const pct = (x) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)} %`);
const ms = (x) => (x === undefined ? '–' : `${Math.round(x)}`);
const mib = (bytes) => `${Math.round(bytes / (1024 * 1024))}`;

/** The markdown table: one row per system × config, then the ratio lines. @param {any} report */
export function renderMarkdown(report) {
  const lines = [
    '| system | config | French WER | English WER | long WER (fr / en) | noise words | decode ms speech | decode ms long | decode ms noise | RTF | peak RSS MiB | load ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  // With --rounds, the table shows the first round (later rounds decode the same texts; their times are below).
  const first = report.runs.filter((r) => (r.round ?? 1) === 1);
  for (const run of first) {
    const g = run.score.groups;
    const speechMs = (g.fr?.decodeMs ?? 0) + (g.en?.decodeMs ?? 0);
    const hasSpeech = g.fr !== undefined || g.en !== undefined;
    const long = g.long === undefined ? '–' : `${pct(g.long.wer)} (${pct(g['long-fr']?.wer)} / ${pct(g['long-en']?.wer)})`;
    lines.push(
      `| ${run.system} | ${run.config} | ${pct(g.fr?.wer)} | ${pct(g.en?.wer)} | ${long} | ${g.noise?.hypWords ?? '–'} | ` +
        `${hasSpeech ? ms(speechMs) : '–'} | ${ms(g.long?.decodeMs)} | ${ms(g.noise?.decodeMs)} | ` +
        `${run.score.total.rtf === null ? '–' : run.score.total.rtf.toFixed(3)} | ${mib(run.summary.peakRssBytes)} | ${ms(run.summary.loadMs)} |`,
    );
  }
  const f = (x) => (x === null || x === undefined ? '–' : x.toFixed(2));
  // One ratio table per variant of ours that ran (the hub's weights, per channel, per channel in full windows).
  const variants = [...new Set(report.runs.map((r) => r.system).filter((s) => s === 'ours' || s.startsWith('ours-')))];
  for (const ours of variants) {
    const r = ratios(first, ours);
    if (Object.keys(r).length === 0) continue;
    lines.push('', `Decode time of ${ours} ÷ faster-whisper int8 at the same settings (target ≤ 0.67):`, '');
    lines.push('| config | speech fr | speech en | long | noise | all clips |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [config, per] of Object.entries(r)) {
      lines.push(`| ${config} | ${f(per.fr)} | ${f(per.en)} | ${f(per.long)} | ${f(per.noise)} | ${f(per.total)} |`);
    }
  }
  const rounds = report.rounds ?? 1;
  if (rounds > 1) {
    lines.push(
      '',
      `Interleaved rounds (${rounds}; odd rounds in the order of the table, even ones reversed): decode time of ours ÷ faster-whisper int8, ` +
        'all clips per round, and pooled (the sum of all rounds of ours ÷ the sum of the peer\'s) per group (target ≤ 0.67):',
      '',
      '| system | config | each round, all clips | pooled: speech fr | speech en | long | noise | all clips | same texts every round |',
      '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const ours of variants) {
      for (const [config, r] of Object.entries(roundRatios(report.runs, ours))) {
        const p = r.pooled;
        lines.push(
          `| ${ours} | ${config} | ${r.perRound.map((x) => f(x.total)).join(', ')} | ${f(p.fr)} | ${f(p.en)} | ${f(p.long)} | ${f(p.noise)} | ` +
            `**${f(p.total)}** | ${r.sameTexts ? 'yes' : 'no'} |`,
        );
      }
    }
  }
  return lines.join('\n');
}
