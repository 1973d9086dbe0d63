import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudioFile } from '../../../src/audio/load.js';
import { compressionRatio } from '../../../src/whisper/compression.js';
import { transcribe } from '../../../src/whisper/transcribe.js';
import { Whisper } from '../../../src/whisper/whisper.js';
import { corpusPath } from '../../helpers/paths.js';
import { BASE_MODEL, recordingBackend } from './helpers.js';

// On this clip (1.4 s of silence) beam 5 at temperature 0 loops "… sur le site de l'écriture du site de
// l'écriture …" up to the 224-token limit, which the compression gate then rejects.
describe('early exit of a hallucinated repetition loop (beam 5, noise_empty.wav)', () => {
  let whisper: Whisper;
  beforeAll(async () => {
    whisper = await Whisper.load(BASE_MODEL);
  });
  afterAll(async () => {
    await whisper.close();
  });

  it('stops the looping decode early, falls back as before, and still outputs nothing', async () => {
    const { samples } = await loadAudioFile(corpusPath('noise/noise_empty.wav'));
    const { backend, decodes } = recordingBackend(whisper);
    // Full windows: the loop described above is the 30 s window's (a short window decodes differently).
    const result = await transcribe(backend, samples, { language: 'fr', beamSize: 5, bestOf: 5, shortWindowMarginMs: null });
    expect(result.text).toBe('');

    const first = decodes[0];
    expect(first?.options.temperature).toBe(0);
    expect(first?.result.stoppedEarly).toBe('repetition');
    decodes.forEach(({ options, result: decoded }, i) => {
      expect(options.compressionRatioThreshold).toBe(2.4);
      // Nothing runs to the token limit any more.
      expect(decoded.tokens.length).toBeLessThan(options.maxNewTokens);
      if (decoded.stoppedEarly === 'repetition') {
        // A stopped decode fails the driver's gate, which moves on to the next temperature.
        expect(compressionRatio(decoded.text.trim())).toBeGreaterThan(2.4);
        expect(decodes[i + 1]?.options.temperature).toBeGreaterThan(options.temperature);
      }
    });
  });
});
