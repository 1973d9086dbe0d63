import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  clipsFromManifest,
  ratios,
  renderMarkdown,
  roundRatios,
  scoreRun,
  selectClips,
  type BenchClip,
  type ScoredRun,
} from '../../../bench/decode/report.mjs';
import { wordErrors } from '../../../src/eval/wer.js';
import { SHARED_CORPUS, corpusPath, hasShared } from '../../helpers/paths.js';

// A stand-in normaliser with visible effects (case and punctuation), so tests see that both sides of
// the WER go through it and which language it is called with.
const calls: string[] = [];
function normalize(text: string, lang: string): string {
  calls.push(lang);
  return text.toLowerCase().replace(/[.,!?]/gu, '').trim();
}

function clip(id: string, group: BenchClip['group'], refLang: string | null, reference: string, durationInS: number): BenchClip {
  return { id, group, lang: refLang ?? 'fr', refLang, path: `/x/${id}.wav`, durationInS, reference };
}

describe('clipsFromManifest', () => {
  it('takes the group from the audio folder and forces fr on noise clips', () => {
    const clips = clipsFromManifest(
      [
        { id: 'a', lang: 'fr', audio: 'fr/a.wav', text: 'bonjour', duration_s: 1.5 },
        { id: 'n', lang: 'none', audio: 'noise/n.wav', text: '', duration_s: 2 },
        { id: 'l', lang: 'en', audio: 'long/l.wav', text: 'hello', duration_s: 40 },
      ],
      '/corpus',
    );
    expect(clips.map((c) => [c.group, c.lang, c.refLang, c.path])).toEqual([
      ['fr', 'fr', 'fr', '/corpus/fr/a.wav'],
      ['noise', 'fr', null, '/corpus/noise/n.wav'],
      ['long', 'en', 'en', '/corpus/long/l.wav'],
    ]);
  });

  it('refuses unknown folders, speech without fr/en, and bad durations', () => {
    expect(() => clipsFromManifest([{ id: 'a', lang: 'fr', audio: 'x/a.wav', text: '', duration_s: 1 }], '/c')).toThrow(
      /audio folder 'x'/u,
    );
    expect(() => clipsFromManifest([{ id: 'a', lang: 'de', audio: 'fr/a.wav', text: '', duration_s: 1 }], '/c')).toThrow(
      /language 'de'/u,
    );
    expect(() => clipsFromManifest([{ id: 'a', lang: 'fr', audio: 'fr/a.wav', text: '', duration_s: 0 }], '/c')).toThrow(
      /duration_s/u,
    );
    expect(() => clipsFromManifest([{ id: 7, lang: 'fr', audio: 'fr/a.wav', text: '', duration_s: 1 }], '/c')).toThrow(
      /must be strings/u,
    );
  });

  it.skipIf(!hasShared())('reads the whole shared corpus: 65 clips in four groups', () => {
    const lines = readFileSync(corpusPath('manifest.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
    const clips = clipsFromManifest(lines.map((l) => JSON.parse(l) as Record<string, unknown>), SHARED_CORPUS);
    const count = (g: string): number => clips.filter((c) => c.group === g).length;
    expect([clips.length, count('fr'), count('en'), count('long'), count('noise')]).toEqual([65, 36, 21, 3, 5]);
  });
});

describe('selectClips', () => {
  const clips = [
    clip('f1', 'fr', 'fr', '', 1),
    clip('e1', 'en', 'en', '', 1),
    clip('f2', 'fr', 'fr', '', 1),
    clip('f3', 'fr', 'fr', '', 1),
    clip('n1', 'noise', null, '', 1),
  ];
  it('keeps the chosen groups, at most `limit` per group, in manifest order', () => {
    expect(selectClips(clips, ['fr', 'noise'], 2).map((c) => c.id)).toEqual(['f1', 'f2', 'n1']);
    expect(selectClips(clips, ['fr', 'en', 'long', 'noise'], null)).toHaveLength(5);
  });
});

describe('scoreRun', () => {
  const clips = [
    clip('f1', 'fr', 'fr', 'Allume la lumière.', 2),
    clip('f2', 'fr', 'fr', 'ouvre les volets', 3),
    clip('e1', 'en', 'en', 'set a timer', 2),
    clip('lf', 'long', 'fr', 'un deux trois quatre', 40),
    clip('le', 'long', 'en', 'one two', 50),
    clip('n1', 'noise', null, '', 10),
  ];
  const results = [
    { id: 'f1', text: 'allume la lumiere', decodeMs: 100 }, // 1 substitution / 3
    { id: 'f2', text: 'Ouvre les volets !', decodeMs: 200 }, // 0 / 3
    { id: 'e1', text: 'set a timer for', decodeMs: 150 }, // 1 insertion / 3
    { id: 'lf', text: 'un trois quatre', decodeMs: 1000 }, // 1 deletion / 4
    { id: 'le', text: 'one two', decodeMs: 1500 }, // 0 / 2
    { id: 'n1', text: 'Merci. Sous-titres', decodeMs: 300 }, // 2 words emitted
  ];

  it('computes corpus-level WER per group, splits long by language and counts noise words', () => {
    calls.length = 0;
    const score = scoreRun({ clips, results, normalize, wordErrors });
    expect(score.groups['fr']?.wer).toBeCloseTo(1 / 6, 12);
    expect(score.groups['en']?.wer).toBeCloseTo(1 / 3, 12);
    expect(score.groups['long']?.wer).toBeCloseTo(1 / 6, 12);
    expect(score.groups['long-fr']?.wer).toBeCloseTo(1 / 4, 12);
    expect(score.groups['long-en']?.wer).toBe(0);
    expect(score.groups['noise']?.wer).toBeNull();
    expect(score.groups['noise']?.hypWords).toBe(2);
    expect(score.groups['fr']?.decodeMs).toBe(300);
    expect(score.groups['long']?.decodeMs).toBe(2500);
    expect(score.groups['fr']?.rtf).toBeCloseTo(300 / 5000, 12);
    // long-fr / long-en are views of `long`: counted once in the total.
    expect(score.total.decodeMs).toBe(3250);
    expect(score.total.audioInS).toBe(107);
    // Noise hypotheses are normalised as French (the forced language); references by their own language.
    expect(calls).toContain('en');
    expect(calls.filter((l) => l === 'fr').length).toBe(2 * 3 + 1);
  });

  it('refuses a run with a missing clip instead of dropping it', () => {
    expect(() => scoreRun({ clips, results: results.slice(1), normalize, wordErrors })).toThrow(/no result for clip f1/u);
  });

  it('refuses a malformed result line', () => {
    const bad = results.map((r) => (r.id === 'e1' ? { ...r, decodeMs: Number.NaN } : r));
    expect(() => scoreRun({ clips, results: bad, normalize, wordErrors })).toThrow(/malformed result for clip e1/u);
  });
});

describe('ratios and renderMarkdown', () => {
  const clips = [clip('f1', 'fr', 'fr', 'a b', 2), clip('n1', 'noise', null, '', 4)];
  const run = (system: string, config: string, frMs: number, noiseMs: number): ScoredRun => ({
    system,
    config,
    summary: { peakRssBytes: 300 * 1024 * 1024, loadMs: 812.4 },
    score: scoreRun({
      clips,
      results: [
        { id: 'f1', text: 'a b', decodeMs: frMs },
        { id: 'n1', text: '', decodeMs: noiseMs },
      ],
      normalize,
      wordErrors,
    }),
  });
  const runs = [
    run('ours', 'greedy', 300, 100),
    run('faster-whisper', 'greedy', 600, 400),
    run('transformers.js', 'greedy', 700, 500),
    run('ours', 'beam5', 900, 100),
  ];

  it('divides our decode time by faster-whisper’s at the same config only', () => {
    const r = ratios(runs);
    expect(Object.keys(r)).toEqual(['greedy']);
    expect(r['greedy']?.fr).toBeCloseTo(0.5, 12);
    expect(r['greedy']?.noise).toBeCloseTo(0.25, 12);
    expect(r['greedy']?.total).toBeCloseTo(0.4, 12);
    expect(r['greedy']?.long).toBeNull();
  });

  it('renders one row per system × config and the ratio table', () => {
    const md = renderMarkdown({ runs });
    const rows = md.split('\n').filter((l) => l.startsWith('| ours') || l.startsWith('| faster') || l.startsWith('| transformers'));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toBe('| ours | greedy | 0.0 % | – | – | 0 | 300 | – | 100 | 0.067 | 300 | 812 |');
    expect(md).toContain('| greedy | 0.50 | – | – | 0.25 | 0.40 |');
  });
});

describe('interleaved rounds', () => {
  const clips = [clip('f1', 'fr', 'fr', 'a b', 2), clip('n1', 'noise', null, '', 4)];
  const run = (system: string, round: number, frMs: number, noiseMs: number, text = 'a b') => {
    const results = [
      { id: 'f1', text, decodeMs: frMs },
      { id: 'n1', text: '', decodeMs: noiseMs },
    ];
    return {
      system,
      config: 'beam5',
      round,
      results,
      summary: { peakRssBytes: 300 * 1024 * 1024, loadMs: 800 },
      score: scoreRun({ clips, results, normalize, wordErrors }),
    };
  };
  // The machine slows down in round 2: both systems take twice as long, the ratio stays.
  const runs = [
    run('ours-x', 1, 300, 100),
    run('faster-whisper', 1, 600, 400),
    run('faster-whisper', 2, 1200, 800),
    run('ours-x', 2, 600, 300),
  ];

  it('gives each round’s ratio and the pooled one, per group', () => {
    const r = roundRatios(runs, 'ours-x')['beam5'];
    expect(r?.perRound.map((x) => x.round)).toEqual([1, 2]);
    expect(r?.perRound[0]?.total).toBeCloseTo(0.4, 12);
    expect(r?.perRound[1]?.total).toBeCloseTo(0.45, 12);
    // (400 + 900) / (1000 + 2000); speech fr (300 + 600) / (600 + 1200).
    expect(r?.pooled.total).toBeCloseTo(1300 / 3000, 12);
    expect(r?.pooled.fr).toBeCloseTo(0.5, 12);
    expect(r?.pooled.long).toBeNull();
    expect(r?.sameTexts).toBe(true);
  });

  it('says when a round of ours wrote other texts, and skips configs the peer did not run', () => {
    const changed = [...runs.slice(0, 3), run('ours-x', 2, 600, 300, 'a c')];
    expect(roundRatios(changed, 'ours-x')['beam5']?.sameTexts).toBe(false);
    expect(roundRatios([run('ours-x', 1, 300, 100)], 'ours-x')).toEqual({});
  });

  it('renders the first round as the table and a rounds table below it', () => {
    const md = renderMarkdown({ runs, rounds: 2 });
    const rows = md.split('\n').filter((l) => l.startsWith('| ours-x | beam5 | 0.0 %') || l.startsWith('| faster-whisper | beam5 |'));
    expect(rows).toHaveLength(2);
    expect(md).toContain('Interleaved rounds (2;');
    expect(md).toContain('| ours-x | beam5 | 0.40, 0.45 | 0.50 | – | – | 0.33 | **0.43** | yes |');
  });
});
