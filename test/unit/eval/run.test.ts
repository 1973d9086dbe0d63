import { describe, expect, it } from 'vitest';

import { TruncatedAudioError } from '../../../src/errors.js';
import type { ManifestEntry } from '../../../src/eval/manifest.js';
import { renderReport } from '../../../src/eval/report.js';
import { hypothesisLine, languageFor, runEval, selectEntries } from '../../../src/eval/run.js';
import { summarize } from '../../../src/eval/summary.js';
import { ScriptedTranscriber, type Script } from './scripted-transcriber.js';

function entry(id: string, lang: string, text: string): ManifestEntry {
  return { id, lang, audio: `${id}.wav`, audioPath: `/corpus/${id}.wav`, text, durationInS: null };
}

const ENTRIES: readonly ManifestEntry[] = [
  entry('fr1', 'fr', 'allume la chambre à 80%'), // 6 words normalised: allume la chambre à 80 pour cent → 7
  entry('fr2', 'fr', 'minuteur 10 minutes'),
  entry('en1', 'en', 'set a timer for 5 minutes'),
  entry('bad', 'fr', 'ouvre les volets'),
  entry('noise', 'none', ''),
];

const SCRIPTS = new Map<string, Script>([
  ['/corpus/fr1.wav', { text: ' Allume la chambre à quatre-vingts pour cent.', durationMs: 3000 }],
  ['/corpus/fr2.wav', { text: ' Minuteur dix minute', durationMs: 2000 }],
  ['/corpus/en1.wav', { text: ' Set it timer for five minutes.', language: 'en', durationMs: 2500 }],
  ['/corpus/bad.wav', { error: new TruncatedAudioError('the header promises 1000 bytes, the file has 10') }],
  ['/corpus/noise.wav', { text: ' Sous-titrage ST’ 501', durationMs: 1500 }],
]);

/** A clock that advances 50 ms per reading: each clip "takes" 50 ms between its two readings. */
function fakeClock(): () => number {
  let t = 0;
  return () => (t += 50);
}

describe('runEval with a scripted transcriber', () => {
  it('scores each clip, keeps going after a failure and aggregates per language', async () => {
    const transcriber = new ScriptedTranscriber(SCRIPTS);
    const seen: string[] = [];
    const clips = await runEval(ENTRIES, transcriber, {
      transcribe: { beamSize: 5 },
      now: fakeClock(),
      onClip: (clip, index, count) => {
        seen.push(`${index + 1}/${count} ${clip.id}`);
      },
    });
    expect(seen).toEqual(['1/5 fr1', '2/5 fr2', '3/5 en1', '4/5 bad', '5/5 noise']);
    // from-manifest: each clip's lang; the noise clip gets auto; decode options pass through.
    expect(transcriber.calls.map((c) => c.options)).toEqual([
      { beamSize: 5, language: 'fr' },
      { beamSize: 5, language: 'fr' },
      { beamSize: 5, language: 'en' },
      { beamSize: 5, language: 'fr' },
      { beamSize: 5, language: 'auto' },
    ]);

    const [fr1, fr2, en1, bad, noise] = clips;
    expect(fr1?.scores?.wer).toBe(0);
    expect(fr2?.scores?.hyp).toBe('minuteur 10 minute');
    expect(fr2?.scores?.words).toMatchObject({ substitutions: 1, deletions: 0, insertions: 0, hits: 2 });
    expect(en1?.scores?.words).toMatchObject({ substitutions: 1, hits: 5 });
    expect(bad?.error).toEqual({ code: 'STT_AUDIO_TRUNCATED', message: 'the header promises 1000 bytes, the file has 10' });
    expect(bad?.scores).toBeNull();
    expect(noise?.scores).toBeNull();
    expect(noise?.wordsEmitted).toBe(4); // sous titrage st 501
    expect(fr1?.decodeMs).toBe(50);

    const summary = summarize(clips, 'base', { language: 'from-manifest' });
    expect(summary.clips).toBe(5);
    expect(summary.failed).toBe(1);
    expect(summary.failures).toEqual([{ id: 'bad', code: 'STT_AUDIO_TRUNCATED', message: 'the header promises 1000 bytes, the file has 10' }]);
    // fr: 7 + 3 reference words, 1 substitution.
    expect(summary.languages['fr']).toEqual({
      clips: 2,
      wer: 0.1,
      cer: expect.any(Number),
      // raw (lower case only): fr1 "allume la chambre à 80%" vs "allume la chambre à quatre-vingts pour cent."
      // = 1 sub + 2 ins on 5 words; fr2 = 2 subs on 3 words → 5 / 8.
      werRaw: 0.625,
      substitutions: 1,
      deletions: 0,
      insertions: 0,
      refWords: 10,
    });
    expect(summary.languages['en']).toMatchObject({ clips: 1, wer: Number((1 / 6).toFixed(4)), refWords: 6 });
    expect(summary.noise).toEqual({ clips: 1, wordsEmitted: 4 });
    expect(summary.audioInS).toBe(9);
    expect(summary.decodeMs).toBe(200);
    expect(summary.rtf).toBe(Number((200 / 9000).toFixed(4)));
  });

  it('records a non-SttError as STT_INTERNAL and forces the language when asked', async () => {
    const transcriber = new ScriptedTranscriber(new Map([['/corpus/fr2.wav', { error: new Error('boom') }]]));
    const clips = await runEval([ENTRIES[1] as ManifestEntry, ENTRIES[0] as ManifestEntry], transcriber, { language: 'en' });
    expect(clips.map((c) => c.error?.code)).toEqual(['STT_INTERNAL', 'STT_INTERNAL']);
    expect(transcriber.calls.map((c) => c.options?.language)).toEqual(['en', 'en']);
    expect(summarize(clips, 'base', {}).rtf).toBeNull();
  });

  it('writes hypothesis lines with the documented keys', async () => {
    const transcriber = new ScriptedTranscriber(SCRIPTS);
    const clips = await runEval(ENTRIES.slice(2, 4), transcriber, { now: fakeClock() });
    expect(JSON.parse(hypothesisLine(clips[0]!))).toEqual({ id: 'en1', text: ' Set it timer for five minutes.', language: 'en', decodeMs: 50 });
    expect(JSON.parse(hypothesisLine(clips[1]!))).toMatchObject({ id: 'bad', text: null, error: { code: 'STT_AUDIO_TRUNCATED' } });
  });

  it('renders a markdown report with the summary and every clip', async () => {
    const clips = await runEval(ENTRIES, new ScriptedTranscriber(SCRIPTS), { now: fakeClock() });
    const md = renderReport(summarize(clips, 'base', { beam: 5 }), clips);
    expect(md).toContain('| fr | 2 | 10.0 % |');
    expect(md).toContain('| bad | STT_AUDIO_TRUNCATED |');
    expect(md).toContain('| fr2 | fr | minuteur 10 minutes | minuteur 10 minute | 33.3 % |');
    expect(md).toContain('(no speech)');
  });
});

describe('languageFor / selectEntries', () => {
  it('maps the language mode per clip', () => {
    expect(languageFor(entry('a', 'fr', ''), 'from-manifest')).toBe('fr');
    expect(languageFor(entry('a', 'none', ''), 'from-manifest')).toBe('auto');
    expect(languageFor(entry('a', 'fr', ''), 'auto')).toBe('auto');
    expect(languageFor(entry('a', 'fr', ''), 'en')).toBe('en');
  });

  it('selects ids in manifest order, then limits', () => {
    expect(selectEntries(ENTRIES, { ids: ['noise', 'fr2', 'en1'], limit: 2 }).map((e) => e.id)).toEqual(['fr2', 'en1']);
    expect(selectEntries(ENTRIES, { limit: 1 }).map((e) => e.id)).toEqual(['fr1']);
  });

  it('rejects unknown ids and a bad limit with STT_INVALID_OPTION', () => {
    expect(() => selectEntries(ENTRIES, { ids: ['nope'] })).toThrow(/nope/);
    expect(() => selectEntries(ENTRIES, { limit: 0 })).toThrowError(expect.objectContaining({ code: 'STT_INVALID_OPTION' }));
  });
});
