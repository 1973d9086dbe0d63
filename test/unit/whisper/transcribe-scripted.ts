/**
 * A scripted WhisperBackend for the driver's unit tests: decode() returns planned results in order
 * and records what it was asked; the mel is the frame index, so each window's first value is its seek.
 * Tokens: words get ids from 1000 up and decode as " word"; ids ≥ TB are timestamps.
 */
import type {
  DecodeOptions,
  DecodingResult,
  EncodedAudio,
  LanguageDetection,
  SpecialTokens,
  WhisperBackend,
  WhisperTokenizerLike,
} from '../../../src/whisper/types.js';
import type { LogMel } from '../../../src/whisper/transcribe.js';

export const EOT = 50257;
export const TB = 50364;
export const ts = (seconds: number): number => TB + Math.round(seconds / 0.02);

class WordTokenizer implements WhisperTokenizerLike {
  readonly specials: SpecialTokens = {
    eot: EOT,
    sot: 50258,
    sotPrev: 50361,
    noSpeech: 50362,
    noTimestamps: 50363,
    timestampBegin: TB,
    transcribe: 50359,
    translate: 50358,
    languages: new Map([
      ['en', 50259],
      ['fr', 50265],
    ]),
  };
  private readonly ids = new Map<string, number>();
  private readonly words: string[] = [];

  encode(text: string): number[] {
    return text
      .split(' ')
      .filter((w) => w !== '')
      .map((w) => {
        let id = this.ids.get(w);
        if (id === undefined) {
          id = 1000 + this.words.length;
          this.ids.set(w, id);
          this.words.push(w);
        }
        return id;
      });
  }

  decode(ids: readonly number[]): string {
    return ids
      .filter((id) => id >= 1000 && id < EOT)
      .map((id) => ` ${this.words[id - 1000] ?? '?'}`)
      .join('');
  }
}

export interface Plan {
  readonly text?: string;
  /** Explicit tokens (timestamps included); default: the text's words. */
  readonly tokens?: readonly (number | string)[];
  readonly avgLogprob?: number;
  readonly noSpeechProb?: number;
  readonly throws?: Error;
}

interface Encoded extends EncodedAudio {
  readonly seekFrame: number;
}

export class ScriptedBackend implements WhisperBackend {
  readonly modelName = 'scripted';
  readonly device = { kind: 'cpu' } as const;
  readonly nMels = 2;
  readonly hopLength = 160;
  readonly nFrames = 3000;
  readonly maxTargetPositions: number;
  readonly defaultSuppressTokens: readonly number[] = [1, 2];
  readonly tokenizer = new WordTokenizer();
  readonly decodeCalls: (DecodeOptions & { seekFrame: number })[] = [];
  readonly shortWindows: boolean;
  /** Each encoded window: first value (= seek), the number of non-zero frames in row 0, and its length. */
  readonly windows: { first: number; contentFrames: number; row1First: number; frames: number }[] = [];
  detectCalls = 0;
  released = 0;
  private readonly plans: Plan[];

  constructor(plans: readonly Plan[], maxTargetPositions = 448, shortWindows = false) {
    this.plans = plans.slice();
    this.maxTargetPositions = maxTargetPositions;
    this.shortWindows = shortWindows;
  }

  async encode(mel: Float32Array, frames = this.nFrames): Promise<EncodedAudio> {
    if (mel.length !== this.nMels * frames || (frames !== this.nFrames && !this.shortWindows)) {
      throw new Error(`scripted backend: a window of ${mel.length} values for ${frames} frames`);
    }
    let contentFrames = 0;
    // Frame f of the scripted mel holds f + 1 in row 0, so zeros mark the padding.
    for (let f = 0; f < frames; f++) if (mel[f] !== 0) contentFrames = f + 1;
    this.windows.push({ first: (mel[0] ?? 0) - 1, contentFrames, row1First: mel[frames] ?? 0, frames });
    const encoded: Encoded = { kind: 'encoded-audio', seekFrame: (mel[0] ?? 0) - 1 };
    return encoded;
  }

  async detectLanguage(): Promise<LanguageDetection> {
    this.detectCalls++;
    return { language: 'fr', probability: 0.93, candidates: [{ language: 'fr', probability: 0.93 }] };
  }

  async decode(audio: EncodedAudio, options: DecodeOptions): Promise<DecodingResult> {
    this.decodeCalls.push({ ...options, seekFrame: (audio as Encoded).seekFrame });
    const plan = this.plans.shift();
    if (plan === undefined) throw new Error('scripted backend: no plan left for this decode call');
    if (plan.throws) throw plan.throws;
    const tokens = (plan.tokens ?? this.tokenizer.encode(plan.text ?? '')).flatMap((t) =>
      typeof t === 'number' ? [t] : this.tokenizer.encode(t),
    );
    const avgLogprob = plan.avgLogprob ?? -0.2;
    return {
      tokens,
      text: this.tokenizer.decode(tokens),
      language: options.language,
      temperature: options.temperature,
      sumLogprob: avgLogprob * (tokens.length + 1),
      avgLogprob,
      noSpeechProb: plan.noSpeechProb ?? 0.01,
    };
  }

  release(): void {
    this.released++;
  }

  async close(): Promise<void> {}
}

/** Row 0: frame index + 1 (so padding zeros are visible); row 1: minus that. Shape as mel.ts's. */
export function indexMel(samples: Float32Array, padTailSamples: number): LogMel {
  const nFrames = Math.floor((samples.length + padTailSamples) / 160);
  const data = new Float32Array(2 * nFrames);
  for (let f = 0; f < nFrames; f++) {
    data[f] = f + 1;
    data[nFrames + f] = -(f + 1);
  }
  return { data, nMels: 2, nFrames };
}

export function seconds(s: number): Float32Array {
  return new Float32Array(Math.round(s * 16000));
}
