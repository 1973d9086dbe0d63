import { describe, expect, it } from 'vitest';
import { beamSearch } from '../../../src/whisper/beam.js';
import { DRAFT_MAX_GUESS, draftGuess, type DraftStats } from '../../../src/whisper/draft.js';
import { LogitFilters } from '../../../src/whisper/logit-filters.js';
import { seededRandom } from '../../../src/whisper/random.js';
import { sampleSearch, type Candidate, type DecoderModel, type SearchParams } from '../../../src/whisper/search.js';

const V = 40;
const EOT = 39;

/**
 * Logits that depend on the whole sequence a row was fed (a hash of it), so a cache that kept a
 * rejected guess, or forgot a token it should have kept, gives other logits. EOT grows likelier with
 * length, so hypotheses end after 20–30 tokens unless `eotFrom` says otherwise.
 */
function logitsOf(fed: readonly number[], out: Float32Array, offset: number, eotFrom: number): void {
  let h = 2166136261;
  for (const t of fed) h = Math.imul(h ^ t, 16777619) >>> 0;
  for (let v = 0; v < V; v++) {
    let x = Math.imul(h ^ Math.imul(v + 1, 2654435761), 2246822519) >>> 0;
    x ^= x >>> 13;
    out[offset + v] = (x % 1000) / 100;
  }
  out[offset + EOT] = (fed.length - eotFrom) * 0.4;
}

/** A decoder with a per-row cache of the tokens fed; `extend` and `rewind` only when `drafts`. */
class HashModel implements DecoderModel {
  rows: number[][] = [];
  steps = 0;
  extends = 0;
  constructor(readonly eotFrom = 5) {}
  async start(tokens: readonly number[]): Promise<Float32Array> {
    this.rows = [[...tokens]];
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) logitsOf(tokens.slice(0, i + 1), out, i * V, this.eotFrom);
    return out;
  }
  reorder(sources: Int32Array): void {
    this.rows = Array.from(sources, (s) => [...(this.rows[s] as number[])]);
  }
  async step(tokens: Int32Array): Promise<Float32Array> {
    expect(tokens.length).toBe(this.rows.length);
    this.steps++;
    const out = new Float32Array(tokens.length * V);
    this.rows.forEach((row, b) => {
      row.push(tokens[b] as number);
      logitsOf(row, out, b * V, this.eotFrom);
    });
    return out;
  }
}

class DraftingModel extends HashModel {
  readonly rewinds: number[] = [];
  async extend(tokens: readonly number[]): Promise<Float32Array> {
    expect(this.rows.length).toBe(1);
    this.extends++;
    const row = this.rows[0] as number[];
    const out = new Float32Array(tokens.length * V);
    tokens.forEach((t, i) => {
      row.push(t);
      logitsOf(row, out, i * V, this.eotFrom);
    });
    return out;
  }
  rewind(count: number): void {
    this.rewinds.push(count);
    const row = this.rows[0] as number[];
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(row.length);
    row.length -= count;
  }
}

function params(overrides: Partial<SearchParams> = {}): SearchParams {
  return {
    vocabSize: V,
    eot: EOT,
    filters: new LogitFilters({ eot: EOT, suppressTokens: [], blankTokens: [], timestamps: null }),
    maxSteps: 60,
    lengthPenalty: null,
    ...overrides,
  };
}

const START = [0, 1, 2];

async function greedy(model: HashModel, p: SearchParams): Promise<Candidate> {
  const start = await model.start(START);
  return sampleSearch(model, start.slice((START.length - 1) * V), p, 1, 0, undefined);
}

/** The draft edited as a partial of less audio, or a reworded one, would differ: seeded edits. */
function edited(tokens: readonly number[], seed: number, edits: number): number[] {
  const random = seededRandom(seed);
  const out = [...tokens];
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (out.length + 1));
    const kind = Math.floor(random() * 3);
    const token = Math.floor(random() * (V - 1));
    if (kind === 0) out.splice(at, 0, token);
    else if (kind === 1 && out.length > 0) out.splice(Math.min(at, out.length - 1), 1);
    else out[Math.min(at, out.length - 1)] = token;
  }
  return out;
}

describe('draftGuess', () => {
  const draft = [10, 11, 12, 13, 14, 10, 11, 20, 21];
  const guess = (history: number[], limit = 16): number[] => {
    const out: number[] = [];
    draftGuess(draft, Int32Array.from(history), history.length, limit, out);
    return out;
  };

  it('guesses the draft from the start, and after a prefix of it, up to the limit', () => {
    expect(guess([])).toEqual(draft);
    expect(guess([10, 11, 12])).toEqual([13, 14, 10, 11, 20, 21]);
    expect(guess([10, 11], 3)).toEqual([12, 13, 14]);
    expect(guess([], 0)).toEqual([]);
  });

  it('finds the latest tokens again where the draft holds them nearest the hypothesis position', () => {
    // [10, 11] is at draft positions 0 and 5; the hypothesis is 7 tokens long, nearer the second.
    expect(guess([30, 31, 32, 33, 34, 10, 11])).toEqual([20, 21]);
    // 4 tokens long: nearer the first.
    expect(guess([30, 31, 10, 11])).toEqual([12, 13, 14, 10, 11, 20, 21]);
  });

  it('guesses nothing where the draft does not hold the latest tokens or ends there', () => {
    expect(guess([30, 31])).toEqual([]);
    expect(guess([30, 11])).toEqual([]);
    expect(guess([30, 20, 21])).toEqual([]);
    expect(guess([...draft])).toEqual([]);
    const out = [1, 2];
    draftGuess([], Int32Array.of(), 0, 16, out);
    expect(out).toEqual([]);
  });
});

describe('greedy search checked against a draft', () => {
  it('samples the same tokens and log-prob as plain greedy, whatever the draft, in fewer passes when it is right', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const eotFrom = 5 + seed;
      const plainModel = new HashModel(eotFrom);
      const plain = await greedy(plainModel, params());
      expect(plain.tokens.length).toBeGreaterThan(8);
      const drafts = [plain.tokens, edited(plain.tokens, seed, 1), edited(plain.tokens, seed + 100, 4), edited([], seed, 30), plain.tokens.slice(0, 5)];
      for (const draft of drafts) {
        const model = new DraftingModel(eotFrom);
        const stats: DraftStats = { passes: 0, guessed: 0, accepted: 0 };
        const checked = await greedy(model, params({ draft, draftStats: stats }));
        expect(checked.tokens).toEqual(plain.tokens);
        expect(checked.sumLogprob).toBe(plain.sumLogprob);
        expect(stats.passes).toBe(model.extends);
        expect(stats.accepted).toBeLessThanOrEqual(stats.guessed);
        // Every pass samples one token more than it accepted: passes + steps = sampled tokens.
        expect(model.extends + model.steps + stats.accepted).toBe(plain.tokens.length);
      }
      // The right draft: one pass per DRAFT_MAX_GUESS + 1 tokens, every guess accepted but the last pass's EOT row.
      const model = new DraftingModel(eotFrom);
      const stats: DraftStats = { passes: 0, guessed: 0, accepted: 0 };
      await greedy(model, params({ draft: plain.tokens, draftStats: stats }));
      expect(model.steps + model.extends).toBe(Math.ceil(plain.tokens.length / (DRAFT_MAX_GUESS + 1)));
      expect(stats.accepted).toBe(plain.tokens.length - model.extends - model.steps);
    }
  });

  it('forgets exactly the rejected guesses (the logits hash every token a row was fed)', async () => {
    const plain = await greedy(new HashModel(8), params());
    const draft = [...plain.tokens];
    draft[3] = (draft[3]! + 1) % EOT;
    const model = new DraftingModel(8);
    const checked = await greedy(model, params({ draft }));
    expect(checked.tokens).toEqual(plain.tokens);
    // The first token comes from the start logits; the first pass feeds it and guesses draft[1..17).
    // Its third guess (draft[3]) is wrong: the rows after it are dropped, 16 - 2 guesses.
    expect(draft.length).toBeGreaterThan(DRAFT_MAX_GUESS + 1);
    expect(model.rewinds[0]).toBe(DRAFT_MAX_GUESS - 2);
    expect(model.rows[0]).toEqual([...START, ...plain.tokens]);
  });

  it('stops at maxSteps as plain greedy does, a guess never taking it past', async () => {
    const long = await greedy(new HashModel(40), params({ maxSteps: 60 }));
    for (const maxSteps of [1, 2, 7, 17, 18, 19]) {
      const plain = await greedy(new HashModel(40), params({ maxSteps }));
      expect(plain.tokens.length).toBe(maxSteps);
      const checked = await greedy(new DraftingModel(40), params({ maxSteps, draft: long.tokens }));
      expect(checked).toEqual(plain);
    }
  });

  it('stops at the same repetition checkpoint as plain greedy', async () => {
    const hopeless = (tokens: Int32Array): boolean => tokens.length >= 48;
    const plain = await greedy(new HashModel(1000), params({ maxSteps: 100, hopeless }));
    expect(plain.stoppedEarly).toBe(true);
    expect(plain.tokens.length).toBe(48);
    const checked = await greedy(new DraftingModel(1000), params({ maxSteps: 100, hopeless, draft: plain.tokens }));
    expect(checked).toEqual(plain);
  });

  it('is not used by a model without extend and rewind, nor by sampling', async () => {
    const plain = await greedy(new HashModel(8), params());
    const model = new HashModel(8);
    expect(await greedy(model, params({ draft: plain.tokens }))).toEqual(plain);
    expect(model.steps).toBe(plain.tokens.length);
    const sampling = new DraftingModel(8);
    const start = await sampling.start(START);
    await sampleSearch(sampling, start.slice(2 * V), params({ draft: plain.tokens }), 1, 0.5, seededRandom(3));
    expect(sampling.extends).toBe(0);
  });
});

describe('a beam search narrowed to one hypothesis checks the draft from there', () => {
  async function beam(model: HashModel, p: SearchParams, atMs: number | null): Promise<Candidate> {
    const start = await model.start(START);
    let clock = 0;
    const narrow = atMs === null ? undefined : { atMs, beamSize: 1, now: () => clock++ };
    return beamSearch(model, start.slice((START.length - 1) * V), p, { beamSize: 5, patience: 1, narrow });
  }

  it('returns what the narrowed search returns without a draft, in fewer passes', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const eotFrom = 6 + seed;
      for (const atMs of [0, 3, 6]) {
        const plainModel = new HashModel(eotFrom);
        const plain = await beam(plainModel, params(), atMs);
        const draftModel = new DraftingModel(eotFrom);
        const greedyTokens = (await greedy(new HashModel(eotFrom), params())).tokens;
        const checked = await beam(draftModel, params({ draft: edited(greedyTokens, seed, 2) }), atMs);
        expect(checked).toEqual(plain);
        expect(draftModel.steps + draftModel.extends).toBeLessThanOrEqual(plainModel.steps);
      }
    }
  });

  it('leaves a beam search that is never narrowed alone', async () => {
    const plain = await beam(new HashModel(9), params(), null);
    const model = new DraftingModel(9);
    expect(await beam(model, params({ draft: plain.tokens }), null)).toEqual(plain);
    expect(model.extends).toBe(0);
  });
});
