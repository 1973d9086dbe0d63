import { describe, expect, it } from 'vitest';
import { beamSearch } from '../../../src/whisper/beam.js';
import { decodeWindow, type DecoderContext } from '../../../src/whisper/decoder.js';
import { LogitFilters } from '../../../src/whisper/logit-filters.js';
import { isRepetitionCheckpoint, sampleSearch, type DecoderModel, type SearchParams } from '../../../src/whisper/search.js';
import type { SpecialTokens } from '../../../src/whisper/types.js';
import { plainDecodeOptions } from './decode-options.js';

// A vocabulary of 8 words, then the special tokens, then one timestamp.
const WORDS = [' du', ' site', ' de', " l'écriture", ' merci', ' bonjour', ' à', ' tous'];
const EOT = 8;
const SPECIALS: SpecialTokens = {
  eot: EOT,
  sot: 9,
  sotPrev: 10,
  noSpeech: 11,
  noTimestamps: 12,
  transcribe: 13,
  translate: 14,
  timestampBegin: 16,
  languages: new Map([['fr', 15]]),
};
const V = 17;
const LOOP = [0, 1, 2, 3]; // " du site de l'écriture" for ever

/**
 * Per row, the next token follows `script(row, history)` with probability `confidence(row)` (the rest
 * spread over the other words); EOT only when the script says so. Rows are tracked through reorders,
 * as a KV cache would be.
 */
class ScriptModel implements DecoderModel {
  rows: number[][] = [];
  steps = 0;
  constructor(
    private readonly script: (row: number, generated: readonly number[]) => number,
    private readonly confidence: (row: number) => number = () => 0.9,
  ) {}
  private fill(row: number, generated: readonly number[], out: Float32Array, offset: number): void {
    const next = this.script(row, generated);
    const p = this.confidence(row);
    out.fill(Math.log((1 - p) / 7), offset, offset + 8);
    out.fill(-Infinity, offset + 8, offset + V);
    out[offset + next] = Math.log(p);
  }
  async start(tokens: readonly number[]): Promise<Float32Array> {
    this.rows = [[]];
    const out = new Float32Array(tokens.length * V);
    this.fill(0, [], out, (tokens.length - 1) * V);
    return out;
  }
  reorder(sources: Int32Array): void {
    this.rows = Array.from(sources, (s) => [...(this.rows[s] ?? [])]);
  }
  async step(tokens: Int32Array): Promise<Float32Array> {
    this.steps++;
    const out = new Float32Array(tokens.length * V);
    this.rows.forEach((row, b) => {
      row.push(tokens[b] as number);
      this.fill(b, row, out, b * V);
    });
    return out;
  }
}

const looping = (_row: number, generated: readonly number[]): number => LOOP[generated.length % LOOP.length] as number;

const CONTEXT: DecoderContext = {
  specials: SPECIALS,
  vocabSize: V,
  maxTargetPositions: 448,
  blankTokens: [],
  timestampPrecisionInS: 0.02,
  decodeText: (ids) => ids.filter((id) => id < WORDS.length).map((id) => WORDS[id]).join(''),
};

const options = plainDecodeOptions;

function params(hopeless: SearchParams['hopeless'], maxSteps = 224): SearchParams {
  return {
    vocabSize: V,
    eot: EOT,
    filters: new LogitFilters({ eot: EOT, suppressTokens: [], blankTokens: [], timestamps: null }),
    maxSteps,
    lengthPenalty: null,
    hopeless,
  };
}

async function first(model: ScriptModel): Promise<Float32Array> {
  return (await model.start([SPECIALS.sot])).slice(0, V);
}

describe('repetition checkpoints', () => {
  it('come every 16 tokens from the 32nd', () => {
    const points = Array.from({ length: 100 }, (_, i) => i + 1).filter(isRepetitionCheckpoint);
    expect(points).toEqual([32, 48, 64, 80, 96]);
  });
});

describe('early exit of a looping decode (driver threshold 2.4)', () => {
  it('greedy stops at the first checkpoint and marks the result', async () => {
    const model = new ScriptModel(looping);
    const result = await decodeWindow(model, CONTEXT, options({ compressionRatioThreshold: 2.4 }));
    expect(result.stoppedEarly).toBe('repetition');
    expect(result.tokens).toHaveLength(32);
    expect(result.tokens.slice(0, 4)).toEqual(LOOP);
    expect(model.steps).toBe(31);
    // The stopped text fails the driver's gate, so its fallback moves on as before.
    expect(result.avgLogprob).toBeCloseTo((32 * Math.log(0.9)) / 33, 6);
  });

  it('without a threshold the same loop runs to maxNewTokens', async () => {
    const model = new ScriptModel(looping);
    for (const threshold of [undefined, null]) {
      const result = await decodeWindow(model, CONTEXT, options({ compressionRatioThreshold: threshold }));
      expect(result.stoppedEarly).toBeUndefined();
      expect(result.tokens).toHaveLength(224);
    }
  });

  it('beam search returns the best live beam at the checkpoint', async () => {
    const model = new ScriptModel(looping);
    const result = await decodeWindow(model, CONTEXT, options({ beamSize: 3, compressionRatioThreshold: 2.4 }));
    expect(result.stoppedEarly).toBe('repetition');
    expect(result.tokens).toEqual(Array.from({ length: 32 }, (_, i) => LOOP[i % 4]));
    expect(model.steps).toBe(31);
  });

  it('a text that is not repetitive yet is checked again 16 tokens later', async () => {
    const calls: number[] = [];
    const model = new ScriptModel(looping);
    const best = await beamSearch(model, await first(model), params((ids) => (calls.push(ids.length), ids.length >= 64)), {
      beamSize: 2,
      patience: 1,
    });
    expect(calls).toEqual([32, 48, 64]);
    expect(best.stoppedEarly).toBe(true);
    expect(best.tokens).toHaveLength(64);
  });

  it('sampling stops only the looping candidate; the others finish and can win', async () => {
    // Every row starts from the same " du"; row 0 then loops (unsure of itself, as sampled loops
    // are), rows 1 and 2 go on with " merci à tous" and EOT.
    const script = (row: number, generated: readonly number[]): number =>
      row === 0 || generated.length === 0 ? looping(row, generated) : ([4, 6, 7, EOT][generated.length - 1] ?? EOT);
    const model = new ScriptModel(script, (row) => (row === 0 ? 0.5 : 0.9));
    const hopelessCalls: number[] = [];
    const best = await sampleSearch(
      model,
      await first(model),
      params((ids) => (hopelessCalls.push(ids.length), true)),
      3,
      1e-6, // near-greedy sampling: every row follows its script
      () => 0.5,
    );
    expect(best.tokens).toEqual([0, 4, 6, 7]);
    expect(best.stoppedEarly).toBeUndefined();
    expect(hopelessCalls).toEqual([32]);
    expect(model.steps).toBe(31);
  });

  it('rejects a threshold that is not a positive number', async () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(decodeWindow(new ScriptModel(looping), CONTEXT, options({ compressionRatioThreshold: bad }))).rejects.toMatchObject({
        code: 'STT_INVALID_OPTION',
        details: { option: 'compressionRatioThreshold' },
      });
    }
  });
});
