/**
 * Exact DFT of any length (Whisper's n_fft = 400 is not a power of two) by Bluestein's chirp-z
 * algorithm on fft.js's power-of-two FFT. The only importer of fft.js.
 *
 * Zero-padding a 400-sample frame to 512 would move the bins (31.25 Hz apart instead of 40 Hz) and
 * break the match with Whisper's features; Bluestein computes the same 400-point DFT exactly:
 *   X[k] = c[k] · Σₙ (x[n] c[n]) · conj(c[k − n]),  c[n] = exp(−iπ n² / N),
 * a convolution done with two FFTs of size M ≥ 2N − 1. Real frames come in pairs, packed as the real
 * and imaginary parts of one complex signal, so each pair costs one Bluestein transform.
 */
import FFT from 'fft.js';

export class RealPairDft {
  readonly size: number;
  private readonly fft: FFT;
  private readonly paddedSize: number;
  private readonly chirpRe: Float64Array;
  private readonly chirpIm: Float64Array;
  /** FFT of conj(c) laid out circularly, pre-scaled by 1/M (the inverse FFT's factor). */
  private readonly kernel: number[];
  // Interleaved complex work buffers of length 2M, allocated once. Plain arrays from fft.js itself:
  // its transform ran ~18 % faster on them than on Float64Arrays (V8 packed-double arrays).
  private readonly input: number[];
  private readonly spectrum: number[];
  private readonly product: number[];
  private readonly conv: number[];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2) throw new RangeError(`DFT size must be an integer ≥ 2, got ${size}`);
    this.size = size;
    let m = 4; // fft.js needs a power of two > 1
    while (m < 2 * size - 1) m *= 2;
    this.paddedSize = m;
    this.fft = new FFT(m);
    this.chirpRe = new Float64Array(size);
    this.chirpIm = new Float64Array(size);
    for (let n = 0; n < size; n++) {
      // n² mod 2N keeps the angle small, so cos/sin stay exact to double precision for large n.
      const angle = (Math.PI * ((n * n) % (2 * size))) / size;
      this.chirpRe[n] = Math.cos(angle);
      this.chirpIm[n] = -Math.sin(angle);
    }
    const b = this.complexArray();
    for (let n = 0; n < size; n++) {
      const re = this.chirpRe[n] as number;
      const im = -(this.chirpIm[n] as number);
      b[2 * n] = re;
      b[2 * n + 1] = im;
      if (n > 0) {
        b[2 * (m - n)] = re;
        b[2 * (m - n) + 1] = im;
      }
    }
    this.kernel = this.complexArray();
    this.fft.transform(this.kernel, b);
    for (let i = 0; i < 2 * m; i++) this.kernel[i] = (this.kernel[i] as number) / m;
    this.input = this.complexArray();
    this.spectrum = this.complexArray();
    this.product = this.complexArray();
    this.conv = this.complexArray();
  }

  private complexArray(): number[] {
    return (this.fft.createComplexArray() as number[]).fill(0);
  }

  /**
   * Power spectra |X[k]|², k = 0 … N/2, of two real frames of length N (frameB may be all zeros).
   * powerA and powerB need floor(N/2) + 1 entries.
   */
  powerPair(frameA: Float64Array, frameB: Float64Array, powerA: Float64Array, powerB: Float64Array): void {
    const n = this.size;
    const m = this.paddedSize;
    const { chirpRe, chirpIm, input, spectrum, product, conv, kernel } = this;
    for (let i = 0; i < n; i++) {
      const xr = frameA[i] as number;
      const xi = frameB[i] as number;
      const cr = chirpRe[i] as number;
      const ci = chirpIm[i] as number;
      input[2 * i] = xr * cr - xi * ci;
      input[2 * i + 1] = xr * ci + xi * cr;
    }
    // input[2N … 2M) is never written: it stays the zero padding.
    this.fft.transform(spectrum, input);
    // Multiply by the kernel and conjugate: FFT(conj(P)) = M · conj(IFFT(P)), and 1/M is in the kernel.
    for (let i = 0; i < 2 * m; i += 2) {
      const sr = spectrum[i] as number;
      const si = spectrum[i + 1] as number;
      const kr = kernel[i] as number;
      const ki = kernel[i + 1] as number;
      product[i] = sr * kr - si * ki;
      product[i + 1] = -(sr * ki + si * kr);
    }
    this.fft.transform(conv, product);
    // Z[k] = c[k] · conj(conv[k]); then split Z into the two real frames' spectra.
    const half = n >> 1;
    for (let k = 0; k <= half; k++) {
      const j = k === 0 ? 0 : n - k;
      const zr = zRe(chirpRe, chirpIm, conv, k);
      const zi = zIm(chirpRe, chirpIm, conv, k);
      const wr = zRe(chirpRe, chirpIm, conv, j);
      const wi = zIm(chirpRe, chirpIm, conv, j);
      // X_A[k] = (Z[k] + conj(Z[N−k])) / 2,  X_B[k] = (Z[k] − conj(Z[N−k])) / 2i
      const ar = zr + wr;
      const ai = zi - wi;
      const br = zi + wi;
      const bi = zr - wr;
      powerA[k] = 0.25 * (ar * ar + ai * ai);
      powerB[k] = 0.25 * (br * br + bi * bi);
    }
  }
}

function zRe(cRe: Float64Array, cIm: Float64Array, conv: readonly number[], k: number): number {
  // c · conj(v) = (cr·vr + ci·vi) + i(ci·vr − cr·vi)
  return (cRe[k] as number) * (conv[2 * k] as number) + (cIm[k] as number) * (conv[2 * k + 1] as number);
}

function zIm(cRe: Float64Array, cIm: Float64Array, conv: readonly number[], k: number): number {
  return (cIm[k] as number) * (conv[2 * k] as number) - (cRe[k] as number) * (conv[2 * k + 1] as number);
}
