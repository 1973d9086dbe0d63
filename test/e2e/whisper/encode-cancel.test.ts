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
 * An encoding is several onnxruntime runs: the encoder (whole, or cut into runs of layers as the
 * engine opens it on the CPU: src/onnx/layer-split.ts), then the decoder's cross-attention pass. A
 * cancel that arrives as a message during the first run, as the decode worker receives one, stops the
 * encoding after that run; the sessions stay usable, and the cut encoder encodes bit for bit what the
 * whole one does.
 */
describe('cancelling an encoding between its runs', () => {
  it.each([
    ['whole', 1],
    ['cut into runs of layers', 3],
  ] as const)('stops on a cancel message sent during the first encoder run (encoder %s)', async (_, pieces) => {
    const config = await loadWhisperConfig(WHISPER_BASE_DIR);
    const graphs = await prepareWhisperGraphs(BASE_MODEL, 'per-row', null, config.nFrames);
    const encoder = pieces === 1 ? graphs.encoder : graphs.encoderPieces;
    const ort = await WhisperOrt.open(encoder, graphs.decoder, OPEN);
    expect(ort.encoderPieces).toBe(pieces);
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
      await expect(encoding).rejects.toMatchObject({ code: 'STT_DECODE_CANCELLED', message: expect.stringContaining(`after encoder run 1 of ${pieces}`) as unknown });
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

  it('encodes bit for bit the same through the pieces as through the whole encoder', async () => {
    const config = await loadWhisperConfig(WHISPER_BASE_DIR);
    const graphs = await prepareWhisperGraphs(BASE_MODEL, 'per-row', null, config.nFrames);
    const pieces = graphs.encoderPieces;
    expect(pieces).toHaveLength(3);
    const whole = await WhisperOrt.open(graphs.encoder, graphs.decoder, OPEN);
    const cut = await WhisperOrt.open(pieces, graphs.decoder, OPEN);
    try {
      const audio = await loadAudioFile(corpusPath('fr/fr_fleurs_001.wav'));
      const { nMels, nFft, hopLength, sampleRate, nSamples, nFrames } = config;
      const mel = logMelSpectrogram(padOrTrimAudio(audio.samples, nSamples), { nMels, nFft, hopLength, sampleRate }).data;
      const a = await whole.encode(mel, nMels, nFrames, config.specials.sot);
      const b = await cut.encode(mel, nMels, nFrames, config.specials.sot);
      // The decoder's logits at [sot] read the encoder's output through every layer's cross-attention.
      expect(Buffer.compare(Buffer.from(b.sotLogits.buffer, b.sotLogits.byteOffset, b.sotLogits.byteLength), Buffer.from(a.sotLogits.buffer, a.sotLogits.byteOffset, a.sotLogits.byteLength))).toBe(0);
      whole.releaseCross(a);
      cut.releaseCross(b);
    } finally {
      await Promise.all([whole.close(), cut.close()]);
    }
  }, 120_000);
});
