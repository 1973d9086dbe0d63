/**
 * The VAD worker killed while an utterance is open: the utterance it had open still ends (where the
 * VAD last reported) and gets its final or a counted rejection, the worker is restarted at the
 * arena's head with fresh utterance ids, and the next command is transcribed. Skipped when the
 * shared models are absent.
 *
 * The kill lands at a known stream position, while the VAD waits on its ring: the pushed audio is a
 * multiple of the VAD's progress cadence (4 windows × 512 samples), so the progress message at the
 * pushed length is the VAD's last act before it waits for more audio. (A kill during a Silero run is
 * safe too since kill() asks the worker to crash instead of terminating it: see
 * test/integration/decode/decode-leave.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { createEngine, type FinalEvent, type RejectedEvent, type SpeechStartEvent } from '../../../dist/index.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { normalizeFrench } from '../../../dist/eval/normalize-fr.js';
import { errorRate, wordErrors } from '../../../dist/eval/wer.js';
import { corpusPath, hasShared, WHISPER_BASE_DIR } from '../../helpers/paths.js';

const RATE = 16_000;

describe.skipIf(!hasShared())('VAD worker crash (real workers, real model)', () => {
  it('ends the open utterance, restarts the VAD at the arena head, and transcribes what follows', async () => {
    let vadAt = 0;
    let onVadProgress: () => void = () => undefined;
    const engine = await createEngine({
      modelDir: WHISPER_BASE_DIR,
      beamSize: 1,
      metricsIntervalMs: 0,
      partials: { enabled: false },
      input: { kind: 'push' },
      onTrace: (r) => {
        if (r.kind !== 'event' || r.actor !== 'vad') return;
        const m = r.data as { type: string; positionSamples?: number };
        if (m.type === 'progress' && m.positionSamples !== undefined) {
          vadAt = m.positionSamples;
          onVadProgress();
        }
      },
    });
    const finals: FinalEvent[] = [];
    const rejected: RejectedEvent[] = [];
    const starts: SpeechStartEvent[] = [];
    let firstStart: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (firstStart = resolve));
    engine.on('final', (f) => finals.push(f));
    engine.on('rejected', (r) => rejected.push(r));
    engine.on('speechStart', (s) => {
      starts.push(s);
      firstStart();
    });
    const push = async (samples: Float32Array): Promise<void> => {
      for (let at = 0; at < samples.length; at += RATE / 10) expect(await engine.pushAudio(samples.subarray(at, at + RATE / 10), RATE)).toBe(true);
    };
    const silence = (s: number): Float32Array => new Float32Array(Math.round(s * RATE));
    const lumiere = (await loadAudioFile(corpusPath('fr/fr_cmd_allume_la_lumiere.wav'))).samples;
    const volets = (await loadAudioFile(corpusPath('fr/fr_cmd_ferme_tous_les_volets.wav'))).samples;

    // Speech runs to the end of what was pushed: the utterance is open when the VAD dies.
    const CADENCE = 4 * 512;
    const head = lumiere.subarray(0, Math.floor((lumiere.length * 0.8) / CADENCE) * CADENCE);
    await push(silence(CADENCE * 4 / RATE));
    await push(head);
    const pushed = CADENCE * 4 + head.length;
    await started;
    await new Promise<void>((resolve) => {
      onVadProgress = () => {
        if (vadAt >= pushed) resolve();
      };
      onVadProgress();
    });
    await engine.killWorker('vad');
    await push(silence(1));
    await push(volets);
    await push(silence(1));
    const metrics = await engine.flush();
    await engine.close();

    expect(metrics.restarts.vad).toBe(1);
    // Nothing lost: every utterance ended as a final or a counted rejection, each id once.
    expect(metrics.finals + metrics.rejected).toBe(metrics.utterances);
    const ids = starts.map((s) => s.utteranceId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    // The command after the restart is transcribed.
    const last = finals.at(-1);
    expect(last).toBeDefined();
    const c = wordErrors(normalizeFrench('ferme tous les volets'), normalizeFrench(last?.text ?? ''));
    // "ferme"/"fermes" and "volets"/"volés" are homophones: either spelling may come out.
    expect(errorRate(c)).toBeLessThanOrEqual(0.5);
    // The utterance open at the crash ended too (a final or a rejection), before the next one.
    expect(finals.length + rejected.length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
