/** The markdown report of an evaluation: the summary table, then one row per clip. */

import type { ClipResult } from './run.js';
import type { EvalSummary } from './summary.js';

function cell(text: string): string {
  return text.replace(/\|/gu, '\\|').replace(/\s+/gu, ' ').trim() || ' ';
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

export function renderReport(summary: EvalSummary, clips: readonly ClipResult[]): string {
  const lines: string[] = [];
  lines.push(`# Evaluation report: model ${summary.model}`, '');
  const settings = Object.entries(summary.settings).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  lines.push(`Settings: ${settings}`, '');
  lines.push(
    `Clips: ${summary.clips} (${summary.failed} failed). Audio: ${summary.audioInS.toFixed(1)} s. ` +
      `Decode: ${(summary.decodeMs / 1000).toFixed(1)} s. RTF: ${summary.rtf === null ? 'n/a' : summary.rtf.toFixed(3)}.`,
    '',
  );
  lines.push('| language | clips | WER | CER | WER raw | S | D | I | ref words |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [lang, s] of Object.entries(summary.languages)) {
    lines.push(`| ${lang} | ${s.clips} | ${pct(s.wer)} | ${pct(s.cer)} | ${pct(s.werRaw)} | ${s.substitutions} | ${s.deletions} | ${s.insertions} | ${s.refWords} |`);
  }
  lines.push('', `Non-speech clips: ${summary.noise.clips}, words emitted: ${summary.noise.wordsEmitted}.`, '');
  if (summary.failures.length > 0) {
    lines.push('## Failed clips', '', '| id | code | message |', '|---|---|---|');
    for (const f of summary.failures) lines.push(`| ${cell(f.id)} | ${f.code} | ${cell(f.message)} |`);
    lines.push('');
  }
  lines.push('## Clips', '', '| id | lang | reference (normalised) | hypothesis (normalised) | WER | ms |', '|---|---|---|---|---:|---:|');
  for (const c of clips) {
    const ms = c.decodeMs === null ? '' : String(Math.round(c.decodeMs));
    if (c.error !== null) {
      lines.push(`| ${cell(c.id)} | ${c.lang} | ${cell(c.reference)} | **${c.error.code}** | | |`);
    } else if (c.scores === null) {
      lines.push(`| ${cell(c.id)} | ${c.lang} | (no speech) | ${cell(c.text ?? '')} | ${c.wordsEmitted} words | ${ms} |`);
    } else {
      lines.push(`| ${cell(c.id)} | ${c.lang} | ${cell(c.scores.ref)} | ${cell(c.scores.hyp)} | ${pct(c.scores.wer)} | ${ms} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
