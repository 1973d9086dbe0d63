/**
 * Downmix and sample-rate conversion to Whisper's 16 kHz mono. The only importer of
 * @alexanderolsen/libsamplerate-js (libsamplerate compiled to wasm).
 *
 * Quality: SRC_SINC_MEDIUM_QUALITY (97 dB SNR, 90 % passband: flat to 7.2 kHz at 16 kHz out). Whisper's
 * mel filterbank stops at 8 kHz and speech holds little above 7 kHz; SINC_BEST (96 % passband) was
 * measured 2.7× slower here (380 vs 143 ms for 10 s of 48 kHz), SINC_FASTEST (80 %, flat only to
 * 6.4 kHz) would dull fricatives.
 *
 * Only libsamplerate's one-shot `simple` API is used: in libsamplerate-js 2.1.2 the streaming `full`
 * API did not return the expected frame count when fed consecutive chunks, and the library's own
 * chunking of inputs over its 1 008 000-sample buffers sizes chunks from the input rate (which we
 * reduce, see create()). Long inputs are therefore cut here into pieces aligned on
 * the rate ratio's period, each converted with enough context on both sides that the filter never sees
 * a piece edge inside the part kept.
 */
import libsamplerate from '@alexanderolsen/libsamplerate-js';
import { EmptyAudioError, InvalidSamplesError, UnsupportedAudioFormatError } from '../errors.js';
import { checkFinite, checkSampleRate } from './validate.js';

export const WHISPER_SAMPLE_RATE = 16_000;

type Src = Awaited<ReturnType<typeof libsamplerate.create>>;

/** libsamplerate-js' wasm transfer buffers hold 1 008 000 floats; stay below, in and out. */
const WASM_BUFFER_SAMPLES = 1_000_000;
/** Context converted and thrown away on each side of a piece, in output samples (the MEDIUM filter is ~50). */
const CONTEXT_OUT_SAMPLES = 1024;

export interface MonoResamplerOptions {
  /** Largest piece handed to libsamplerate at once, context included (tests lower it to exercise cutting). */
  readonly maxPieceSamples?: number;
}

/** One libsamplerate converter for a fixed rate pair; call close() to free its wasm state. */
export class MonoResampler {
  /** The rate ratio reduced to lowest terms: `inPeriod` input samples give exactly `outPeriod` outputs. */
  private readonly inPeriod: number;
  private readonly outPeriod: number;
  private closed = false;

  private constructor(
    private readonly src: Src,
    inPeriod: number,
    outPeriod: number,
    private readonly maxPieceSamples: number,
  ) {
    this.inPeriod = inPeriod;
    this.outPeriod = outPeriod;
  }

  static async create(
    inputRate: number,
    outputRate: number = WHISPER_SAMPLE_RATE,
    options: MonoResamplerOptions = {},
  ): Promise<MonoResampler> {
    checkSampleRate(inputRate, 'resampler input');
    checkSampleRate(outputRate, 'resampler output');
    // libsamplerate only uses the ratio, and libsamplerate-js rejects rates above 192 kHz: hand it the
    // reduced pair (48000 → 16000 becomes 3 → 1), which also gives the period used to cut long inputs.
    const g = gcd(inputRate, outputRate);
    const inPeriod = inputRate / g;
    const outPeriod = outputRate / g;
    const src = await libsamplerate.create(1, inPeriod, outPeriod, {
      converterType: libsamplerate.ConverterType.SRC_SINC_MEDIUM_QUALITY,
    });
    return new MonoResampler(src, inPeriod, outPeriod, options.maxPieceSamples ?? WASM_BUFFER_SAMPLES);
  }

  /** Converts a whole signal; the output has round(length × outRate / inRate) samples, ± 1. */
  resample(input: Float32Array): Float32Array {
    if (this.closed) throw new Error('MonoResampler used after close()');
    if (this.inPeriod === this.outPeriod) return input.slice();
    const p = this.inPeriod;
    const q = this.outPeriod;
    const growth = Math.max(1, q / p);
    if (input.length * growth <= this.maxPieceSamples) return this.src.simple(input).slice();

    const context = Math.ceil(CONTEXT_OUT_SAMPLES / q) * p; // ≥ CONTEXT_OUT_SAMPLES outputs, a multiple of p
    // Pieces start and end on multiples of p so each maps to a whole number of output samples.
    const core = Math.floor((this.maxPieceSamples / growth - 2 * context) / p) * p;
    if (core < p) throw new Error(`maxPieceSamples ${this.maxPieceSamples} is too small for ratio ${q}/${p}`);
    const out = new Float32Array(Math.ceil((input.length * q) / p) + 2);
    let written = 0;
    for (let start = 0; start < input.length; start += core) {
      const from = Math.max(0, start - context);
      const isLast = start + core >= input.length;
      const to = isLast ? input.length : Math.min(input.length, start + core + context);
      const converted = this.src.simple(input.subarray(from, to));
      const skip = ((start - from) * q) / p;
      const keep = isLast ? converted.length - skip : (core * q) / p;
      out.set(converted.subarray(skip, skip + keep), written);
      written += keep;
    }
    return out.slice(0, written);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src.destroy();
  }
}

/** Mean of the channels; a single channel is copied so the caller never aliases the input. */
export function downmix(channels: readonly Float32Array[]): Float32Array {
  const first = channels[0];
  if (first === undefined) throw new UnsupportedAudioFormatError('audio with 0 channels', { channels: 0 });
  const n = first.length;
  for (const ch of channels) {
    if (ch.length !== n) {
      throw new InvalidSamplesError(`channels have different lengths (${n} and ${ch.length} samples)`, {
        first: n,
        other: ch.length,
      });
    }
  }
  if (channels.length === 1) return first.slice();
  const out = new Float64Array(n);
  for (const ch of channels) for (let i = 0; i < n; i++) out[i] = (out[i] as number) + (ch[i] as number);
  const mono = new Float32Array(n);
  const scale = 1 / channels.length;
  for (let i = 0; i < n; i++) mono[i] = (out[i] as number) * scale;
  return mono;
}

/**
 * Any channel count and rate → 16 kHz mono. A fresh converter per call: creating one costs ~5 ms
 * against ≥ 100 ms of conversion for a clip, and a cached one would pin ~8 MB of wasm buffers.
 */
export async function toMono16k(channels: Float32Array[], sampleRate: number): Promise<Float32Array> {
  checkSampleRate(sampleRate, 'audio');
  const mono = downmix(channels);
  if (mono.length === 0) throw new EmptyAudioError('audio with 0 samples', { sampleRate });
  checkFinite(channels, sampleRate, 'audio');
  if (sampleRate === WHISPER_SAMPLE_RATE) return mono;
  const resampler = await MonoResampler.create(sampleRate, WHISPER_SAMPLE_RATE);
  try {
    return resampler.resample(mono);
  } finally {
    resampler.close();
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** How a chunk pushed into a StreamResampler lays out its channels. */
export type ChannelLayout = 'interleaved' | 'planar';

export interface StreamResamplerOptions {
  readonly inputRate: number;
  readonly channels: number;
  /** Input samples per converted block, rounded up to the ratio's period (default ~20 ms). */
  readonly blockInSamples?: number;
}

/**
 * Half the MEDIUM sinc filter, in input zero-crossings (libsamplerate: 22 438 coefficients at 491
 * per crossing ≈ 46), with margin. When downsampling the filter is stretched by the ratio.
 */
const SINC_HALF_CROSSINGS = 64;
const DEFAULT_BLOCK_MS = 20;

/**
 * Continuous 16 kHz mono conversion of a stream cut into chunks of any size.
 *
 * libsamplerate-js' streaming `full` API miscounted frames across calls (see MonoResampler), so this
 * uses the stateless `simple` API on overlapping blocks instead: block k covers input
 * [k·B − C, (k+1)·B + C) where B (block) and C (context) are multiples of the ratio's period p, so
 * each block's start maps to a whole output index, and only the outputs of [k·B, (k+1)·B) are kept —
 * they lie at least C input samples from the block's zero-padded edges, beyond the filter's reach.
 * The kept outputs therefore equal the one-shot conversion's (to float rounding, ~1e-7), except:
 * the very last output sample, whose count libsamplerate rounds per call (flush may give one sample
 * more or fewer than one-shot). Latency: output for input t is released once t + C + B has arrived
 * (~30 ms at 44.1/48 kHz; rates with a large period, e.g. 44 101 Hz, wait for a whole period ≈ 1 s).
 *
 * Outputs are views into a buffer reused by the next push()/flush(): copy or consume them at once.
 */
export class StreamResampler {
  readonly inputRate: number;
  readonly channels: number;
  private readonly src: Src | null;
  private readonly inPeriod: number;
  private readonly outPeriod: number;
  private readonly blockIn: number;
  private readonly contextIn: number;
  /** Mono input not yet released; history[0] is absolute input sample `historyStart`. */
  private history: Float32Array;
  private historyStart = 0;
  private historyLength = 0;
  /** Absolute input index of the next block's first kept sample (a multiple of inPeriod). */
  private nextBlock = 0;
  private out: Float32Array;
  private mono: Float32Array;
  private closed = false;
  private flushed = false;

  private constructor(src: Src | null, options: Required<StreamResamplerOptions>, p: number, q: number) {
    this.src = src;
    this.inputRate = options.inputRate;
    this.channels = options.channels;
    this.inPeriod = p;
    this.outPeriod = q;
    this.blockIn = Math.max(p, Math.ceil(options.blockInSamples / p) * p);
    const halfWidthIn = SINC_HALF_CROSSINGS * Math.max(1, p / q);
    this.contextIn = Math.ceil(halfWidthIn / p) * p;
    this.history = new Float32Array(this.blockIn + 2 * this.contextIn + 4096);
    this.out = new Float32Array(1024);
    this.mono = new Float32Array(1024);
  }

  static async create(options: StreamResamplerOptions): Promise<StreamResampler> {
    checkSampleRate(options.inputRate, 'stream resampler input');
    if (!Number.isInteger(options.channels) || options.channels < 1) {
      throw new UnsupportedAudioFormatError(`stream resampler: ${options.channels} channels`, {
        channels: options.channels,
      });
    }
    const g = gcd(options.inputRate, WHISPER_SAMPLE_RATE);
    const p = options.inputRate / g;
    const q = WHISPER_SAMPLE_RATE / g;
    const full = {
      inputRate: options.inputRate,
      channels: options.channels,
      blockInSamples: options.blockInSamples ?? Math.round((options.inputRate * DEFAULT_BLOCK_MS) / 1000),
    };
    // 16 kHz input only needs the downmix: no wasm converter at all.
    const src =
      p === q
        ? null
        : await libsamplerate.create(1, p, q, { converterType: libsamplerate.ConverterType.SRC_SINC_MEDIUM_QUALITY });
    return new StreamResampler(src, full, p, q);
  }

  /** Mono 16 kHz samples the next push() would release at the latest, in input samples of latency. */
  get latencyInSamples(): number {
    return this.src ? this.blockIn + this.contextIn : 0;
  }

  /**
   * Adds a chunk: interleaved frames (length a multiple of `channels`) or one array per channel.
   * Returns the 16 kHz mono samples now final (a view valid until the next call).
   */
  push(chunk: Float32Array | readonly Float32Array[], layout: ChannelLayout = 'interleaved'): Float32Array {
    this.checkOpen();
    const frames = this.downmixInto(chunk, layout);
    if (!this.src) return this.mono.subarray(0, frames);
    this.append(this.mono.subarray(0, frames));
    return this.convertReady(false);
  }

  /** End of input: converts what is left (its tail against silence, as one-shot does). */
  flush(): Float32Array {
    this.checkOpen();
    if (this.flushed) return this.out.subarray(0, 0);
    this.flushed = true;
    if (!this.src) return this.out.subarray(0, 0);
    return this.convertReady(true);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src?.destroy();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('StreamResampler used after close()');
    if (this.flushed) throw new Error('StreamResampler used after flush()');
  }

  private downmixInto(chunk: Float32Array | readonly Float32Array[], layout: ChannelLayout): number {
    const c = this.channels;
    let frames: number;
    if (layout === 'interleaved') {
      if (!(chunk instanceof Float32Array)) throw new TypeError('an interleaved chunk is one Float32Array');
      if (chunk.length % c !== 0) {
        throw new InvalidSamplesError(`a chunk of ${chunk.length} samples is not whole frames of ${c} channels`, {
          samples: chunk.length,
          channels: c,
        });
      }
      frames = chunk.length / c;
    } else {
      if (chunk instanceof Float32Array || chunk.length !== c) {
        throw new InvalidSamplesError(`a planar chunk needs ${c} channel arrays`, { channels: c });
      }
      frames = (chunk[0] as Float32Array).length;
      for (const ch of chunk) {
        if (ch.length !== frames) {
          throw new InvalidSamplesError(`planar channels differ in length (${frames} and ${ch.length})`, {
            first: frames,
            other: ch.length,
          });
        }
      }
    }
    if (this.mono.length < frames) this.mono = new Float32Array(Math.max(frames, this.mono.length * 2));
    const mono = this.mono;
    const scale = 1 / c;
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let k = 0; k < c; k++) {
        sum += layout === 'interleaved' ? ((chunk as Float32Array)[i * c + k] as number) : ((chunk as readonly Float32Array[])[k] as Float32Array)[i] as number;
      }
      // v - v is NaN exactly for NaN and ±Infinity (the same check as validate.checkFinite).
      if (sum - sum !== 0) {
        const at = this.historyStart + this.historyLength + i;
        throw new InvalidSamplesError(
          `stream: frame ${at} (at ${((at / this.inputRate) * 1000).toFixed(1)} ms) is not finite`,
          { source: 'stream', index: at },
        );
      }
      mono[i] = c === 1 ? sum : sum * scale;
    }
    return frames;
  }

  private append(samples: Float32Array): void {
    const needed = this.historyLength + samples.length;
    if (needed > this.history.length) {
      const grown = new Float32Array(Math.max(needed, this.history.length * 2));
      grown.set(this.history.subarray(0, this.historyLength));
      this.history = grown;
    }
    this.history.set(samples, this.historyLength);
    this.historyLength = needed;
  }

  private convertReady(final: boolean): Float32Array {
    const src = this.src as Src;
    const p = this.inPeriod;
    const q = this.outPeriod;
    const end = this.historyStart + this.historyLength;
    let written = 0;
    for (;;) {
      const blockEnd = this.nextBlock + this.blockIn;
      const last = final && blockEnd + this.contextIn >= end;
      if (!last && blockEnd + this.contextIn > end) break;
      if (this.nextBlock >= end) break;
      const from = Math.max(0, this.nextBlock - this.contextIn);
      const to = last ? end : blockEnd + this.contextIn;
      const converted = src.simple(this.history.subarray(from - this.historyStart, to - this.historyStart));
      const skip = ((this.nextBlock - from) * q) / p;
      const keep = last ? Math.max(0, converted.length - skip) : (this.blockIn * q) / p;
      this.reserveOut(written + keep);
      this.out.set(converted.subarray(skip, skip + keep), written);
      written += keep;
      this.nextBlock = blockEnd;
      if (last) break;
    }
    this.dropBefore(Math.max(0, this.nextBlock - this.contextIn));
    return this.out.subarray(0, written);
  }

  private reserveOut(samples: number): void {
    if (samples <= this.out.length) return;
    const grown = new Float32Array(Math.max(samples, this.out.length * 2));
    grown.set(this.out);
    this.out = grown;
  }

  /** Forgets input before absolute index `start`: no later block reaches back that far. */
  private dropBefore(start: number): void {
    const drop = Math.min(this.historyLength, start - this.historyStart);
    if (drop <= 0) return;
    this.history.copyWithin(0, drop, this.historyLength);
    this.historyLength -= drop;
    this.historyStart += drop;
  }
}
