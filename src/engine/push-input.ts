/**
 * engine.pushAudio(): checks a chunk (rate, finite samples), converts Int16 to Float32 and writes
 * it into the push ring with backpressure. Chunks are written in call order (one chain), and a
 * rejected chunk never blocks or corrupts the ones after it.
 */
import { BadSampleRateError, InvalidOptionError, InvalidSamplesError } from '../errors.js';
import { AudioRingWriter, type AudioRingShared } from '../shm/audio-ring.js';

export class PushInput {
  readonly sampleRate: number;
  readonly channels: number;
  readonly #writer: AudioRingWriter;
  #chain: Promise<unknown> = Promise.resolve();
  #ended = false;
  /** Frames of every chunk accepted so far (written, or queued behind the chain). */
  #frames = 0;

  constructor(ring: AudioRingShared, sampleRate: number, channels: number) {
    this.#writer = new AudioRingWriter(ring);
    this.sampleRate = sampleRate;
    this.channels = channels;
  }

  /** Throws a coded error for a bad chunk (nothing is written); otherwise the Float32 samples to write. */
  check(samples: Float32Array | Int16Array, sampleRate: number): Float32Array {
    if (this.#ended) throw new InvalidOptionError('pushAudio after flush(): the input has ended', { option: 'pushAudio' });
    if (!(samples instanceof Float32Array) && !(samples instanceof Int16Array)) {
      throw new InvalidOptionError('pushAudio takes a Float32Array or an Int16Array', { option: 'samples' });
    }
    if (sampleRate !== this.sampleRate) {
      throw new BadSampleRateError(`pushAudio at ${String(sampleRate)} Hz, but this engine's push input runs at ${this.sampleRate} Hz`, {
        sampleRate: typeof sampleRate === 'number' ? sampleRate : String(sampleRate),
        expected: this.sampleRate,
      });
    }
    if (samples.length % this.channels !== 0) {
      throw new InvalidSamplesError(`a chunk of ${samples.length} samples is not whole frames of ${this.channels} channels`, {
        samples: samples.length,
      });
    }
    if (samples instanceof Int16Array) {
      const out = new Float32Array(samples.length);
      for (let i = 0; i < samples.length; i++) out[i] = (samples[i] ?? 0) / 32768;
      return out;
    }
    for (let i = 0; i < samples.length; i++) {
      if (!Number.isFinite(samples[i])) {
        throw new InvalidSamplesError(`sample ${i} of the pushed chunk is ${String(samples[i])}`, { index: i });
      }
    }
    return samples;
  }

  /** Queues a checked chunk behind the previous ones; resolves once it is in the ring. */
  write(samples: Float32Array): Promise<void> {
    this.#frames += samples.length / this.channels;
    const next = this.#chain.then(async () => {
      await this.#writer.writeAll(samples);
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** The frame count of every chunk accepted so far, once they are all in the ring. */
  async framesWritten(): Promise<number> {
    const frames = this.#frames;
    await this.#chain;
    return frames;
  }

  /** End of input: after the queued chunks, close the ring (capture then ends, and the VAD flushes). */
  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#chain;
    this.#writer.close();
  }
}
