// Drafts benchmark (`npm run bench:drafts`, which builds dist/ first): what checking an utterance's
// latest decode as a draft saves its next decode (EngineOptions.drafts, src/whisper/draft.ts).
//
// For each French and English speech clip of ../shared/corpus (groups fr, en), as the live engine
// decodes an utterance: a partial of the clip without its last second (the engine's partial options),
// whose tokens are the draft; then each decode below of the whole clip, without the draft (A) and with
// it (B), back to back, the order swapped every other clip so both see the same drift:
//   partial      the next partial (greedy)
//   final-greedy a final at beam 1
//   final-beam5  a final as the engine decodes it: beam 5, narrowed to one hypothesis after 700 ms
// Options come from the decode actor itself (transcribeOptionsFor), so they are the engine's.
// Reported per decode and language: decoder time (the searches; the encoder pass is the same in A and
// B), A / B; clips whose text differs; WER of A and of B; the draft's passes and tokens.
//
// Flags: --langs fr,en  --limit N (clips per language; such runs go to bench/.work/results)
//        --float-weights DIR|none (default: bench/.work/ct2-whisper-base as bench:stream, fetched if absent)
//        --out DIR
import { loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { transcribeOptionsFor } from '../../dist/actors/decode/decode.js';
import { loadAudioFile } from '../../dist/audio/load.js';
import { normalizeFor } from '../../dist/eval/normalize.js';
import { wordErrors } from '../../dist/eval/wer.js';
import { createTranscriber } from '../../dist/transcriber.js';
import { FINAL_BEAM_NARROW_AFTER_MS } from '../../dist/engine/options.js';
import { clipsFromManifest, selectClips } from '../decode/report.mjs';
import { ensureFloatWeights, floatWeightsFlag } from '../float-weights.mjs';
import { describeMachine, machineInfo } from '../machine.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '../..');
const SHARED_DIR = path.resolve(process.env['STT_SHARED_DIR'] ?? path.join(REPO_ROOT, '..', 'shared'));
const MODEL_DIR = path.join(SHARED_DIR, 'models', 'whisper-base');
const CORPUS_DIR = path.join(SHARED_DIR, 'corpus');
const SAMPLE_RATE = 16_000;
/** The partial that gives the draft ends this long before the clip does. */
const DRAFT_LEAD_MS = 1000;
const DECODES = ['partial', 'final-greedy', 'final-beam5'];

const log = (s) => process.stderr.write(`bench:drafts: ${s}\n`);

function flags() {
  const v = parseArgs({
    options: { langs: { type: 'string', default: 'fr,en' }, limit: { type: 'string' }, 'float-weights': { type: 'string' }, out: { type: 'string' } },
  }).values;
  const limit = v.limit === undefined ? null : Number(v.limit);
  if (limit !== null && !(Number.isInteger(limit) && limit > 0)) throw new Error(`--limit must be a positive integer, got '${v.limit}'`);
  const floatWeights = floatWeightsFlag(v['float-weights']);
  const full = limit === null;
  return {
    langs: v.langs.split(',').map((s) => s.trim()).filter(Boolean),
    limit,
    floatWeights,
    outDir: path.resolve(v.out ?? path.join(REPO_ROOT, 'bench', full ? 'results' : path.join('.work', 'results'))),
  };
}

function job(kind, language, endSamples, over = {}) {
  return {
    jobId: 1, kind, utteranceId: 1, startSamples: 0, endSamples, language,
    beamSize: kind === 'final' ? 5 : 1,
    temperatures: kind === 'final' ? [0, 0.2, 0.4, 0.6, 0.8, 1] : [0],
    initialPrompt: null, hotwords: null, speculative: false, ...over,
  };
}

function jobFor(decode, language, endSamples) {
  switch (decode) {
    case 'partial': return job('partial', language, endSamples);
    case 'final-greedy': return job('final', language, endSamples, { beamSize: 1 });
    case 'final-beam5': return job('final', language, endSamples, { beamNarrowAfterMs: FINAL_BEAM_NARROW_AFTER_MS });
    default: throw new Error(`unknown decode ${decode}`);
  }
}

const tokensOf = (r) => r.segments.flatMap((s) => s.tokens);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main() {
  const f = flags();
  ensureFloatWeights(f.floatWeights);
  const entries = readFileSync(path.join(CORPUS_DIR, 'manifest.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  const clips = selectClips(clipsFromManifest(entries, CORPUS_DIR), f.langs, f.limit);
  const transcriber = await createTranscriber({ modelDir: MODEL_DIR, dtype: 'q8', device: 'cpu', allowDownload: false, floatWeights: f.floatWeights, intraOpThreads: 2 });
  const rows = [];
  try {
    // Warm-up: the first decodes pay onnxruntime's first runs of each shape.
    const warm = await loadAudioFile(clips[0].path);
    await transcriber.transcribe(warm.samples, transcribeOptionsFor(jobFor('final-beam5', clips[0].lang, warm.samples.length)));
    for (const [index, clip] of clips.entries()) {
      const { samples } = await loadAudioFile(clip.path);
      const cut = samples.length - (DRAFT_LEAD_MS * SAMPLE_RATE) / 1000;
      if (cut <= SAMPLE_RATE) continue; // under 2 s: no partial a second before the end
      const partial = await transcriber.transcribe(samples.subarray(0, cut), transcribeOptionsFor(job('partial', clip.lang, cut)));
      const draft = tokensOf(partial);
      for (const decode of DECODES) {
        const spec = jobFor(decode, clip.lang, samples.length);
        const run = (withDraft) => transcriber.transcribe(samples, transcribeOptionsFor(spec, undefined, undefined, withDraft ? draft : null));
        const first = index % 2 === 0;
        const x = await run(!first);
        const y = await run(first);
        const [a, b] = first ? [x, y] : [y, x];
        rows.push({
          id: clip.id, lang: clip.lang, decode, durationInS: samples.length / SAMPLE_RATE, draftTokens: draft.length, reference: clip.reference,
          a: { text: a.text, decoderMs: a.timings.decodeMs, encodeMs: a.timings.encodeMs, narrowed: a.segments.some((s) => s.beamNarrowed === true) },
          b: { text: b.text, decoderMs: b.timings.decodeMs, encodeMs: b.timings.encodeMs, narrowed: b.segments.some((s) => s.beamNarrowed === true), draft: b.draft ?? null },
        });
      }
      log(`${index + 1}/${clips.length} ${clip.id}`);
    }
  } finally {
    await transcriber.close();
  }
  const summary = [];
  for (const lang of f.langs) {
    const norm = normalizeFor(lang);
    for (const decode of DECODES) {
      const rs = rows.filter((r) => r.lang === lang && r.decode === decode);
      if (rs.length === 0) continue;
      const wer = (side) => {
        let errors = 0;
        let words = 0;
        for (const r of rs) {
          const c = wordErrors(norm(r.reference), norm(r[side].text));
          errors += c.substitutions + c.deletions + c.insertions;
          words += c.refLength;
        }
        return { errors, words };
      };
      summary.push({
        lang, decode, clips: rs.length,
        decoderMsA: sum(rs.map((r) => r.a.decoderMs)), decoderMsB: sum(rs.map((r) => r.b.decoderMs)),
        medianRatio: median(rs.map((r) => r.b.decoderMs / r.a.decoderMs)),
        textsDiffer: rs.filter((r) => r.a.text !== r.b.text).length,
        narrowedA: rs.filter((r) => r.a.narrowed).length, narrowedB: rs.filter((r) => r.b.narrowed).length,
        werA: wer('a'), werB: wer('b'),
        passes: sum(rs.map((r) => r.b.draft?.passes ?? 0)), guessed: sum(rs.map((r) => r.b.draft?.guessed ?? 0)), accepted: sum(rs.map((r) => r.b.draft?.accepted ?? 0)),
      });
    }
  }
  const date = new Date().toISOString().slice(0, 10);
  const machine = { ...machineInfo(), loadAverage: loadavg() };
  const result = { date, machine, floatWeights: f.floatWeights !== null, draftLeadMs: DRAFT_LEAD_MS, narrowAfterMs: FINAL_BEAM_NARROW_AFTER_MS, summary, rows };
  mkdirSync(f.outDir, { recursive: true });
  writeFileSync(path.join(f.outDir, `drafts-${date}.json`), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(path.join(f.outDir, `drafts-${date}.md`), render(result));
  process.stdout.write(render(result));
  log(`written to ${f.outDir}`);
}

function render(r) {
  const pct = (w) => (w.words === 0 ? '–' : `${((100 * w.errors) / w.words).toFixed(1)} %`);
  const lines = [
    `# Drafts benchmark, ${r.date}`,
    '',
    `Each decode of a clip without (A) and with (B) a draft: the engine's partial of the clip ${r.draftLeadMs} ms before its end. ` +
      `whisper-base int8${r.floatWeights ? ' (per-channel weights)' : ''} on CPU, 2 threads; final-beam5 narrows to one hypothesis after ${r.narrowAfterMs} ms. ` +
      `${describeMachine(r.machine)}, load average at start ${r.machine.loadAverage.map((x) => x.toFixed(2)).join(' ')}. Method: bench/drafts/run.mjs.`,
    '',
    '| lang | decode | clips | decoder time A → B (sum) | median B / A per clip | texts differing | WER A → B | draft passes, tokens accepted / guessed |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of r.summary) {
    lines.push(
      `| ${s.lang} | ${s.decode} | ${s.clips} | ${Math.round(s.decoderMsA)} → ${Math.round(s.decoderMsB)} ms (${((100 * (s.decoderMsB - s.decoderMsA)) / s.decoderMsA).toFixed(0)} %) | ${s.medianRatio.toFixed(2)} | ${s.textsDiffer} | ${pct(s.werA)} → ${pct(s.werB)} | ${s.passes}, ${s.accepted} / ${s.guessed} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

await main();
