/**
 * Whisper's log-mel frontend, matching OpenAI's `log_mel_spectrogram` and transformers'
 * `WhisperFeatureExtractor`: periodic Hann window of n_fft, centred STFT with reflect padding, power
 * spectrum, slaney mel filterbank, log10(max(x, 1e-10)), clamp to (global max − 8), (x + 4) / 4, and
 * the last STFT frame dropped (480 000 samples → exactly 3000 frames).
 *
 * Computed in float64 (the references compute in float32 or float64; float64 keeps us within
 * rounding of both) and stored as float32.
 *
 * Frames that see only zeros (Whisper's 30 s tail padding, digital silence) skip the DFT: their value
 * is known exactly, and a 2 s clip would otherwise pay for 32 s of spectrum.
 */
import { InvalidOptionError, InvalidSamplesError } from '../errors.js';
import { RealPairDft } from './fft.js';

/** Values from the model's preprocessor_config.json (feature_size, n_fft, hop_length, sampling_rate). */
export interface MelOptions {
  nMels: number;
  nFft: number;
  hopLength: number;
  sampleRate: number;
}

export interface MelSpectrogram {
  /** Row-major [nMels][nFrames]. */
  data: Float32Array;
  nMels: number;
  nFrames: number;
}

/** Each triangular filter spans a few FFT bins: only those are stored (about 2 weights per bin in all). */
export interface SparseFilterBank {
  readonly nMels: number;
  readonly nBins: number;
  /** First bin of filter m. */
  readonly firstBin: Int32Array;
  /** Offset of filter m's weights in `weights`; filter m has offsets[m+1] − offsets[m] of them. */
  readonly offsets: Int32Array;
  readonly weights: Float64Array;
}

const LOG_FLOOR = 1e-10;
/**
 * log10 of an all-zero frame's energy, computed as project() does: zero samples give an exactly zero
 * DFT (±0 inputs, finite twiddles), hence zero power and energy in every band, floored to LOG_FLOOR.
 */
const SILENT_LOG = Math.log10(LOG_FLOOR);
/** Whisper keeps 8 decades (80 dB) below the loudest value. */
const DYNAMIC_RANGE = 8;

/** Slaney's mel scale (librosa htk=False): linear below 1 kHz, logarithmic above. */
function hzToMel(hz: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return hz >= minLogHz ? minLogMel + Math.log(hz / minLogHz) / logStep : hz / fSp;
}

function melToHz(mel: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return mel >= minLogMel ? minLogHz * Math.exp(logStep * (mel - minLogMel)) : fSp * mel;
}

/** librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney'), stored sparsely. */
export function melFilterBank(nMels: number, nFft: number, sampleRate: number, fMin = 0, fMax = sampleRate / 2): SparseFilterBank {
  const nBins = Math.floor(nFft / 2) + 1;
  const melMin = hzToMel(fMin);
  const melMax = hzToMel(fMax);
  const edges = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) edges[i] = melToHz(melMin + ((melMax - melMin) * i) / (nMels + 1));
  const firstBin = new Int32Array(nMels);
  const offsets = new Int32Array(nMels + 1);
  const weights: number[] = [];
  for (let m = 0; m < nMels; m++) {
    const lo = edges[m] as number;
    const centre = edges[m + 1] as number;
    const hi = edges[m + 2] as number;
    const enorm = 2 / (hi - lo); // slaney: each filter has unit area
    const weightAt = (k: number): number => {
      const f = (k * sampleRate) / nFft;
      return Math.max(0, Math.min((f - lo) / (centre - lo), (hi - f) / (hi - centre))) * enorm;
    };
    // A triangle covers one contiguous run of bins; store only that run.
    let first = 0;
    while (first < nBins && weightAt(first) === 0) first++;
    let last = nBins - 1;
    while (last >= first && weightAt(last) === 0) last--;
    for (let k = first; k <= last; k++) weights.push(weightAt(k));
    firstBin[m] = first;
    offsets[m + 1] = weights.length;
  }
  return { nMels, nBins, firstBin, offsets, weights: Float64Array.from(weights) };
}

function checkOptions(options: MelOptions): void {
  const { nMels, nFft, hopLength, sampleRate } = options;
  const bad = (name: string, value: number): never => {
    throw new InvalidOptionError(`mel option ${name} must be a positive integer, got ${value}`, { [name]: value });
  };
  if (!Number.isInteger(nMels) || nMels < 1) bad('nMels', nMels);
  if (!Number.isInteger(nFft) || nFft < 2 || nFft % 2 !== 0) bad('nFft (even)', nFft);
  if (!Number.isInteger(hopLength) || hopLength < 1) bad('hopLength', hopLength);
  if (!Number.isInteger(sampleRate) || sampleRate < 1) bad('sampleRate', sampleRate);
}

export interface MelExtractorTuning {
  /**
   * Skip the DFT of frames whose whole analysis window is zero (default true). The output is
   * bit-identical either way; false runs every frame through the DFT, for tests and benchmarks.
   */
  skipSilentFrames?: boolean;
}

/** Precomputed window, DFT and filterbank for one configuration, with preallocated frame buffers. */
export class MelExtractor {
  readonly options: Readonly<MelOptions>;
  private readonly skipSilentFrames: boolean;
  private readonly window: Float64Array;
  private readonly dft: RealPairDft;
  private readonly bank: SparseFilterBank;
  private readonly frameA: Float64Array;
  private readonly frameB: Float64Array;
  private readonly powerA: Float64Array;
  private readonly powerB: Float64Array;
  /** Edge frames (reflect padding) are materialised here to test them for silence. */
  private readonly edgeFrame: Float64Array;

  constructor(options: MelOptions, tuning: MelExtractorTuning = {}) {
    checkOptions(options);
    this.options = { ...options };
    this.skipSilentFrames = tuning.skipSilentFrames ?? true;
    const { nFft, nMels, sampleRate } = options;
    // Periodic Hann (torch.hann_window default, scipy 'hann' with fftbins): the DFT-even window.
    this.window = new Float64Array(nFft);
    for (let n = 0; n < nFft; n++) this.window[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft);
    this.dft = new RealPairDft(nFft);
    this.bank = melFilterBank(nMels, nFft, sampleRate);
    this.frameA = new Float64Array(nFft);
    this.frameB = new Float64Array(nFft);
    this.powerA = new Float64Array(this.bank.nBins);
    this.powerB = new Float64Array(this.bank.nBins);
    this.edgeFrame = new Float64Array(nFft);
  }

  /** See logMelSpectrogram. */
  compute(samples: Float32Array, padTailSamples = 0): MelSpectrogram {
    if (!Number.isInteger(padTailSamples) || padTailSamples < 0) {
      throw new InvalidOptionError(`padTailSamples must be a non-negative integer, got ${padTailSamples}`, {
        padTailSamples,
      });
    }
    // nonZero[i] = how many of samples[0, i) are non-zero, so "is [a, b) all zero" is O(1) per frame.
    // Built in the pass that validates the samples; per call, not per frame.
    const nonZero = new Int32Array(samples.length + 1);
    let count = 0;
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i] as number;
      if (v - v !== 0) throw new InvalidSamplesError(`sample ${i} is ${v}`, { index: i });
      if (v !== 0) count++;
      nonZero[i + 1] = count;
    }
    const { nMels, hopLength } = this.options;
    const total = samples.length + padTailSamples;
    const nFrames = Math.floor(total / hopLength);
    const data = new Float32Array(nMels * nFrames);
    if (nFrames === 0) return { data, nMels, nFrames };
    // Skipped frames keep this value; computed frames overwrite theirs. One contiguous fill is cheaper
    // than writing each skipped column at a stride of nFrames.
    if (this.skipSilentFrames) data.fill(SILENT_LOG);

    let max = -Infinity;
    let skipped = false;
    for (let f = 0; f < nFrames; f += 2) {
      const hasB = f + 1 < nFrames;
      // Only whole pairs are skipped: a frame's rounding depends on its DFT partner, so every computed
      // frame must keep the partner it has on the full path for the output to stay bit-identical.
      if (
        this.skipSilentFrames &&
        this.isSilent(samples, nonZero, total, f) &&
        (!hasB || this.isSilent(samples, nonZero, total, f + 1))
      ) {
        skipped = true;
        continue;
      }
      this.fillFrame(samples, total, f, this.frameA);
      if (hasB) this.fillFrame(samples, total, f + 1, this.frameB);
      else this.frameB.fill(0);
      this.dft.powerPair(this.frameA, this.frameB, this.powerA, this.powerB);
      max = Math.max(max, this.project(this.powerA, data, f, nFrames));
      if (hasB) max = Math.max(max, this.project(this.powerB, data, f + 1, nFrames));
    }
    // project() floors every value at SILENT_LOG, so a skipped frame never raises the global max: the
    // max, and with it the (max − 8) clamp, is the full path's. Only when every frame was skipped is
    // SILENT_LOG itself the max, as it is on the full path.
    if (skipped) max = Math.max(max, SILENT_LOG);
    const floor = max - DYNAMIC_RANGE;
    for (let i = 0; i < data.length; i++) data[i] = (Math.max(data[i] as number, floor) + 4) / 4;
    return { data, nMels, nFrames };
  }

  /**
   * Windowed frame `f` of the centred STFT: the signal is `samples`, then `total − samples.length`
   * zeros, reflect-padded by nFft/2 on both sides (numpy/torch 'reflect': the edge sample not repeated).
   */
  private fillFrame(samples: Float32Array, total: number, f: number, out: Float64Array): void {
    const { nFft, hopLength } = this.options;
    const window = this.window;
    const start = f * hopLength - nFft / 2;
    if (start >= 0 && start + nFft <= samples.length) {
      for (let n = 0; n < nFft; n++) out[n] = (window[n] as number) * (samples[start + n] as number);
      return;
    }
    const period = 2 * (total - 1);
    for (let n = 0; n < nFft; n++) {
      let i = start + n;
      if (i < 0 || i >= total) {
        // Reflection, repeated when the signal is shorter than half a window.
        i = period === 0 ? 0 : ((i % period) + period) % period;
        if (i >= total) i = period - i;
      }
      out[n] = i < samples.length ? (window[n] as number) * (samples[i] as number) : 0;
    }
  }

  /** Whether frame `f`'s whole analysis window (see fillFrame) is zero. */
  private isSilent(samples: Float32Array, nonZero: Int32Array, total: number, f: number): boolean {
    const { nFft, hopLength } = this.options;
    const start = f * hopLength - nFft / 2;
    const end = start + nFft;
    if (start >= 0 && end <= total) {
      // Indices from samples.length to total are the tail padding: zeros.
      if (start >= samples.length) return true;
      return nonZero[Math.min(end, samples.length)] === nonZero[start];
    }
    // Reflected edges (a couple of frames at each end): materialise the frame rather than
    // re-derive the reflection. A windowed ±0 counts as zero: its DFT is exactly zero too.
    const frame = this.edgeFrame;
    this.fillFrame(samples, total, f, frame);
    for (let n = 0; n < nFft; n++) if (frame[n] !== 0) return false;
    return true;
  }

  /** Filterbank → log10 into column f of `data`; returns the column's largest value. */
  private project(power: Float64Array, data: Float32Array, f: number, nFrames: number): number {
    const { firstBin, offsets, weights, nMels } = this.bank;
    let max = -Infinity;
    for (let m = 0; m < nMels; m++) {
      const from = offsets[m] as number;
      const to = offsets[m + 1] as number;
      let k = firstBin[m] as number;
      let energy = 0;
      for (let w = from; w < to; w++, k++) energy += (weights[w] as number) * (power[k] as number);
      const value = Math.log10(Math.max(energy, LOG_FLOOR));
      data[m * nFrames + f] = value;
      if (value > max) max = value;
    }
    return max;
  }
}

/** Extractors by configuration: building one (filterbank, chirp, FFT tables) costs more than a short clip. */
const extractors = new Map<string, MelExtractor>();

/**
 * Log-mel features of `samples` (at options.sampleRate) followed by `padTailSamples` zeros (Whisper's
 * long-form appends 30 s). nFrames = floor((samples.length + padTailSamples) / hopLength).
 */
export function logMelSpectrogram(samples: Float32Array, options: MelOptions, padTailSamples = 0): MelSpectrogram {
  const key = `${options.nMels}/${options.nFft}/${options.hopLength}/${options.sampleRate}`;
  let extractor = extractors.get(key);
  if (extractor === undefined) {
    extractor = new MelExtractor(options);
    extractors.set(key, extractor);
  }
  return extractor.compute(samples, padTailSamples);
}

/** Zero-pads or cuts to exactly `lengthSamples`; returns the input itself, or a view of it, when no padding is needed. */
export function padOrTrimAudio(samples: Float32Array, lengthSamples: number): Float32Array {
  if (!Number.isInteger(lengthSamples) || lengthSamples < 0) {
    throw new InvalidOptionError(`lengthSamples must be a non-negative integer, got ${lengthSamples}`, { lengthSamples });
  }
  if (samples.length === lengthSamples) return samples;
  if (samples.length > lengthSamples) return samples.subarray(0, lengthSamples);
  const out = new Float32Array(lengthSamples);
  out.set(samples);
  return out;
}

/** Frames [startFrame, startFrame + nFrames) of every mel row, row-major, zeros past the end. */
export function melWindow(mel: MelSpectrogram, startFrame: number, nFrames: number): Float32Array {
  if (!Number.isInteger(startFrame) || startFrame < 0 || !Number.isInteger(nFrames) || nFrames < 0) {
    throw new InvalidOptionError(`bad mel window: start ${startFrame}, ${nFrames} frames`, { startFrame, nFrames });
  }
  const out = new Float32Array(mel.nMels * nFrames);
  const available = Math.max(0, Math.min(nFrames, mel.nFrames - startFrame));
  if (available === 0) return out;
  for (let m = 0; m < mel.nMels; m++) {
    const from = m * mel.nFrames + startFrame;
    out.set(mel.data.subarray(from, from + available), m * nFrames);
  }
  return out;
}
