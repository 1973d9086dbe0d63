import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadAudioFile } from '../../../src/audio/load.js';
import { loadWhisperConfig } from '../../../src/whisper/config.js';
import { prepareWhisperGraphs } from '../../../src/whisper/graphs.js';
import { logMelSpectrogram, padOrTrimAudio } from '../../../src/whisper/mel.js';
import { WhisperOrt } from '../../../src/whisper/ort.js';
import { corpusPath, WHISPER_BASE_DIR } from '../../helpers/paths.js';
import { BASE_MODEL } from './helpers.js';

const OPEN = { device: { kind: 'cpu' as const }, strictDevice: false, intraOpThreads: 2, interOpThreads: 1 };

/**
 * An encoding is two onnxruntime runs (the encoder, then the decoder's cross-attention pass). A
 * cancel that arrives as a message while the first runs, as the decode worker receives one, stops
 * the encoding before the second; the session stays usable.
 */
describe('cancelling an encoding between the encoder run and the cross-attention pass', () => {
  it('stops on a cancel message sent during the encoder run, and encodes the next window normally', async () => {
    const config = await loadWhisperConfig(WHISPER_BASE_DIR);
    const graphs = await prepareWhisperGraphs(BASE_MODEL, 'per-row', null, config.nFrames);
    const ort = await WhisperOrt.open(graphs.encoder, graphs.decoder, OPEN);
    const channel = new MessageChannel();
    try {
      const audio = await loadAudioFile(corpusPath('fr/fr_fleurs_001.wav'));
      const { nMels, nFft, hopLength, sampleRate, nSamples, nFrames } = config;
      const mel = logMelSpectrogram(padOrTrimAudio(audio.samples, nSamples), { nMels, nFft, hopLength, sampleRate }).data;
      const sot = config.specials.sot;

      const controller = new AbortController();
      channel.port2.on('message', () => controller.abort(new Error('a final was queued')));
      const encoding = ort.encode(mel, nMels, nFrames, sot, controller.signal);
      // The encoder run starts from an immediate; the message is delivered by the event loop's poll.
      setImmediate(() => channel.port1.postMessage('cancel'));
      await expect(encoding).rejects.toMatchObject({ code: 'STT_DECODE_CANCELLED' });
      expect(controller.signal.aborted).toBe(true);

      // Not cancelled: the same window encodes, and the decoder's logits at [sot] come with it.
      const cross = await ort.encode(mel, nMels, nFrames, sot, new AbortController().signal);
      expect(cross.sotLogits.length).toBeGreaterThan(50_000);
      ort.releaseCross(cross);
    } finally {
      channel.port1.close();
      await ort.close();
    }
  }, 120_000);
});
