/**
 * The real engine: real workers from dist/, Whisper base, Silero, the 22-command French session.
 * Skipped when the shared models are absent.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine, type FinalEvent } from '../../../dist/index.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { normalizeFrench } from '../../../dist/eval/normalize-fr.js';
import { wordErrors } from '../../../dist/eval/wer.js';
import { corpusPath, hasShared, WHISPER_BASE_DIR } from '../../helpers/paths.js';

const LONG = corpusPath('long/long_fr_cmd_session_public.wav');
const MODEL = { modelDir: WHISPER_BASE_DIR, beamSize: 1, threads: 2, metricsIntervalMs: 0 } as const;

interface ManifestEntry {
  id: string;
  text: string;
  segments?: { start: number; end: number; text: string }[];
}

function manifestEntry(id: string): ManifestEntry {
  const lines = readFileSync(corpusPath('manifest.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const entry = lines.map((l) => JSON.parse(l) as ManifestEntry).find((e) => e.id === id);
  if (!entry) throw new Error(`no ${id} in the manifest`);
  return entry;
}

describe.skipIf(!hasShared())('engine e2e (real workers, real model)', () => {
  it('transcribes the 22-command session from a file: count, order, WER, no final lost', async () => {
    const t0 = Date.now();
    const engine = await createEngine({ ...MODEL, input: { kind: 'file', path: LONG, realtime: false } });
    const finals: FinalEvent[] = [];
    const errors: unknown[] = [];
    engine.on('final', (f) => finals.push(f));
    engine.on('error', (e) => errors.push(e));
    const metrics = await engine.done();
    await engine.close();
    const wallMs = Date.now() - t0;

    const entry = manifestEntry('long_fr_cmd_session_public');
    expect(finals.length).toBeGreaterThanOrEqual(20);
    expect(finals.length).toBeLessThanOrEqual(24);
    // In order of the audio, and each final overlaps its reference segment when the manifest has them.
    for (let i = 1; i < finals.length; i++) expect(finals[i]!.startMs).toBeGreaterThan(finals[i - 1]!.startMs);
    if (entry.segments) {
      const matched = finals.filter((f) => entry.segments!.some((s) => f.startMs / 1000 < s.end && f.endMs / 1000 > s.start));
      expect(matched.length).toBe(finals.length);
    }
    const hyp = normalizeFrench(finals.map((f) => f.text).join(' '));
    const counts = wordErrors(normalizeFrench(entry.text), hyp);
    const wer = (counts.substitutions + counts.deletions + counts.insertions) / counts.refLength;
    expect(wer).toBeLessThan(0.5);
    // Every utterance ends as a final or a counted rejection; partial drops are counted, not lost.
    expect(metrics.finals + metrics.rejected).toBe(metrics.utterances);
    expect(metrics.finals).toBe(finals.length);
    expect(errors).toEqual([]);
    for (const f of finals) expect(f.timings.decodeMs).toBeGreaterThan(0);
    console.log(
      `[engine e2e] ${finals.length} finals, WER ${(wer * 100).toFixed(1)} %, ${(122_551 / wallMs).toFixed(1)}× real time, ` +
        `drops ${JSON.stringify(metrics.partialDrops)}, speculative reused ${metrics.speculativeReused}, decode p50 ${metrics.decodeMs.final.p50Ms} ms`,
    );
  }, 240_000);

  it("decodes a sentence pushed in real time with each decode checking the utterance's latest decode as a draft", async () => {
    const { samples } = await loadAudioFile(corpusPath('fr/fr_fleurs_005.wav'));
    const engine = await createEngine({ ...MODEL, input: { kind: 'push' } });
    const finals: FinalEvent[] = [];
    engine.on('final', (f) => finals.push(f));
    const audio = new Float32Array(samples.length + 16_000);
    audio.set(samples);
    // 100 ms chunks on a cumulative real-time schedule: partials come on their cadence while it is spoken.
    const t0 = performance.now();
    for (let k = 0; k * 1600 < audio.length; k++) {
      const wait = t0 + (k + 1) * 100 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await engine.pushAudio(audio.subarray(k * 1600, (k + 1) * 1600), 16_000);
    }
    const metrics = await engine.flush();
    await engine.close();
    expect(finals).toHaveLength(1);
    // Each partial after the first, and the final, had the previous decode's words, and guesses held
    // (a partial's last words, cut mid-word, often do not: about a fifth of the guesses here).
    expect(metrics.partials).toBeGreaterThanOrEqual(2);
    expect(metrics.drafts.decodes).toBeGreaterThanOrEqual(2);
    expect(metrics.drafts.accepted).toBeGreaterThanOrEqual(5);
    expect(metrics.drafts.accepted).toBeLessThanOrEqual(metrics.drafts.guessed);
    const c = wordErrors(normalizeFrench(manifestEntry('fr_fleurs_005').text), normalizeFrench(finals[0]!.text));
    expect((c.substitutions + c.deletions + c.insertions) / c.refLength).toBeLessThan(0.4);
  }, 120_000);

  it('delivers every final exactly once when the decode worker is killed mid-utterance', async () => {
    const engine = await createEngine({ ...MODEL, partials: { enabled: false }, input: { kind: 'push' } });
    const finals: FinalEvent[] = [];
    engine.on('final', (f) => finals.push(f));
    let killed = false;
    engine.on('speechEnd', () => {
      if (killed) return;
      killed = true;
      // The final of this utterance is queued or in flight right now.
      void engine.killWorker('decode');
    });
    const audio = await loadAudioFile(LONG);
    const clip = audio.samples.subarray(0, 16_000 * 25); // the first five commands
    for (let i = 0; i < clip.length; i += 4000) await engine.pushAudio(clip.subarray(i, i + 4000), 16_000);
    const metrics = await engine.flush();
    await engine.close();
    expect(killed).toBe(true);
    expect(metrics.restarts.decode).toBe(1);
    const ids = finals.map((f) => f.utteranceId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(metrics.finals + metrics.rejected).toBe(metrics.utterances);
    expect(finals.length).toBeGreaterThanOrEqual(4);
  }, 180_000);

  it('restarts a crashed capture worker mid-stream: the stream goes on where it was, the loss is reported', async () => {
    const resumed: { resumedAtSamples: number | null; lostSamples: number | null }[] = [];
    const engine = await createEngine({
      ...MODEL,
      partials: { enabled: false },
      input: { kind: 'push' },
      onTrace: (r) => {
        if (r.kind !== 'event' || r.actor !== 'capture') return;
        const m = r.data as { type?: string; resumedAtSamples?: number | null; lostSamples?: number | null };
        if (m.type === 'started' && m.resumedAtSamples !== null && m.resumedAtSamples !== undefined) {
          resumed.push({ resumedAtSamples: m.resumedAtSamples, lostSamples: m.lostSamples ?? null });
        }
      },
    });
    const finals: FinalEvent[] = [];
    const warnings: { code: string; message: string }[] = [];
    engine.on('final', (f) => finals.push(f));
    engine.on('warning', (w) => warnings.push(w));
    const audio = await loadAudioFile(LONG);
    const clip = audio.samples.subarray(0, 16_000 * 25); // the first five commands
    const killAt = 16_000 * 8;
    for (let i = 0; i < clip.length; i += 4000) {
      if (i === killAt) await engine.killWorker('capture'); // resolves once the thread is gone
      expect(await engine.pushAudio(clip.subarray(i, i + 4000), 16_000)).toBe(true);
    }
    const metrics = await engine.flush();
    await engine.close();
    expect(metrics.restarts.capture).toBe(1);
    expect(warnings.map((w) => w.code)).toEqual(['STT_WARN_CAPTURE_RESTARTED']);
    expect(resumed).toHaveLength(1);
    // It resumed at what the capture ring had taken: the pushed audio minus what still waited in the
    // push ring (2 s) and the chunk being pushed; and lost at most the chunk the dead worker held.
    expect(resumed[0]?.resumedAtSamples).toBeGreaterThanOrEqual(killAt - 2 * 16_000 - 4000);
    expect(resumed[0]?.resumedAtSamples).toBeLessThanOrEqual(killAt);
    expect(resumed[0]?.lostSamples).toBeLessThanOrEqual(1600);
    expect(metrics.finals + metrics.rejected).toBe(metrics.utterances);
    expect(finals.length).toBeGreaterThanOrEqual(4);
    const last = finals.at(-1);
    expect(last && last.endMs).toBeGreaterThan(16_000);
  }, 180_000);

  it('rejects bad pushed chunks with coded errors and keeps transcribing', async () => {
    const engine = await createEngine({ ...MODEL, partials: { enabled: false }, input: { kind: 'push', sampleRate: 16_000 } });
    const codes: string[] = [];
    engine.on('error', (e) => codes.push((e.error as { code?: string }).code ?? 'none'));
    const nan = new Float32Array(1600);
    nan[7] = Number.NaN;
    expect(await engine.pushAudio(nan, 16_000)).toBe(false);
    expect(await engine.pushAudio(new Float32Array(1600), 44_100)).toBe(false);
    expect(codes).toEqual(['STT_AUDIO_INVALID_SAMPLES', 'STT_AUDIO_BAD_SAMPLE_RATE']);
    const audio = await loadAudioFile(LONG);
    const clip = audio.samples.subarray(16_000 * 4, 16_000 * 9); // "média suivant" with silence around
    const int16 = Int16Array.from(clip, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32767))));
    expect(await engine.pushAudio(int16, 16_000)).toBe(true);
    const finals: FinalEvent[] = [];
    for await (const f of (async function* () {
      const it = engine.results();
      void engine.flush();
      yield* it;
    })()) finals.push(f);
    await engine.close();
    expect(finals.length).toBe(1);
    expect(normalizeFrench(finals[0]!.text)).toContain('suivant');
    expect(finals[0]!.timings.endOfSpeechToFinalMs).not.toBeNull();
  }, 120_000);

  it('fails to start on a corrupt WAV with a coded error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stt-engine-'));
    const bad = path.join(dir, 'corrupt.wav');
    writeFileSync(bad, Buffer.from('RIFF\x10\x00\x00\x00WAVEjunkjunkjunk'));
    await expect(createEngine({ ...MODEL, input: { kind: 'file', path: bad, realtime: false } })).rejects.toMatchObject({
      code: expect.stringMatching(/^STT_AUDIO_/),
    });
  }, 60_000);
});
