import { describe, expect, it } from 'vitest';
import { beamSearch } from '../../../src/whisper/beam.js';
import { LogitFilters } from '../../../src/whisper/logit-filters.js';
import { sampleSearch, type DecoderModel, type SearchParams } from '../../../src/whisper/search.js';

const V = 6;
const EOT = 5;
const A = 1;
const B = 2;
const C = 3;

/**
 * A decoder whose next-token log-probs depend only on the row's own history, so a wrong cache
 * reorder gives wrong logits. After the start sequence [0]:
 *   step 1: A 0.55, B 0.45
 *   after A: C 0.35, EOT 0.35, A 0.30   (greedy takes A then a weak continuation)
 *   after B: EOT 0.95, C 0.05           (beam search finds B EOT: 0.45·0.95 > 0.55·0.35)
 *   after C: EOT 1
 */
function table(history: readonly number[]): Record<number, number> {
  const last = history.at(-1);
  if (history.length === 1) return { [A]: 0.55, [B]: 0.45 };
  if (last === A) return { [C]: 0.35, [EOT]: 0.35, [A]: 0.3 };
  if (last === B) return { [EOT]: 0.95, [C]: 0.05 };
  return { [EOT]: 1 };
}

class TableModel implements DecoderModel {
  rows: number[][] = [];
  readonly batches: number[] = [];
  constructor(private readonly probs: (history: readonly number[]) => Record<number, number> = table) {}
  private logitsOf(history: readonly number[], out: Float32Array, offset: number): void {
    out.fill(-Infinity, offset, offset + V);
    for (const [id, p] of Object.entries(this.probs(history))) out[offset + Number(id)] = Math.log(p);
  }
  async start(tokens: readonly number[]): Promise<Float32Array> {
    this.rows = [[...tokens]];
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) this.logitsOf(tokens.slice(0, i + 1), out, i * V);
    return out;
  }
  reorder(sources: Int32Array): void {
    this.rows = Array.from(sources, (s) => {
      const row = this.rows[s];
      if (!row) throw new Error(`bad source ${s}`);
      return [...row];
    });
  }
  async step(tokens: Int32Array): Promise<Float32Array> {
    expect(tokens.length).toBe(this.rows.length);
    this.batches.push(tokens.length);
    const out = new Float32Array(tokens.length * V);
    this.rows.forEach((row, b) => {
      row.push(tokens[b] as number);
      this.logitsOf(row, out, b * V);
    });
    return out;
  }
}

function params(overrides: Partial<SearchParams> = {}): SearchParams {
  return {
    vocabSize: V,
    eot: EOT,
    filters: new LogitFilters({ eot: EOT, suppressTokens: [], blankTokens: [], timestamps: null }),
    maxSteps: 10,
    lengthPenalty: null,
    ...overrides,
  };
}

async function firstRow(model: TableModel): Promise<Float32Array> {
  return (await model.start([0])).slice(0, V);
}

describe('greedy', () => {
  it('follows the argmax and sums log-probs with the EOT', async () => {
    const model = new TableModel();
    const best = await sampleSearch(model, await firstRow(model), params(), 1, 0, undefined);
    expect(best.tokens).toEqual([A, C]);
    expect(best.sumLogprob).toBeCloseTo(Math.log(0.55) + Math.log(0.35) + Math.log(1), 6);
  });

  it('stops at maxSteps without EOT', async () => {
    const model = new TableModel();
    const best = await sampleSearch(model, await firstRow(model), params({ maxSteps: 1 }), 1, 0, undefined);
    expect(best.tokens).toEqual([A]);
    expect(model.batches).toEqual([]);
  });
});

describe('beam search', () => {
  it('finds the sequence greedy misses, with batched beams and consistent reordering', async () => {
    const model = new TableModel();
    const best = await beamSearch(model, await firstRow(model), params(), { beamSize: 2, patience: 1 });
    expect(best.tokens).toEqual([B]);
    expect(best.sumLogprob).toBeCloseTo(Math.log(0.45) + Math.log(0.95), 6);
    // Step 0 at batch 1 (start), then every step batches both beams.
    expect(model.batches.every((b) => b === 2)).toBe(true);
  });

  it('beam 1 equals greedy', async () => {
    const greedyModel = new TableModel();
    const greedy = await sampleSearch(greedyModel, await firstRow(greedyModel), params(), 1, 0, undefined);
    const model = new TableModel();
    const beam = await beamSearch(model, await firstRow(model), params(), { beamSize: 1, patience: 1 });
    expect(beam.tokens).toEqual(greedy.tokens);
    expect(beam.sumLogprob).toBeCloseTo(greedy.sumLogprob, 6);
  });

  it('a length penalty can prefer the longer hypothesis; patience collects more candidates first', async () => {
    // [B] scores ln(0.4275)/1 = -0.85 with α = 0 (penalty 1); [A, C] scores ln(0.1925) = -1.65.
    const model = new TableModel();
    const noPenalty = await beamSearch(model, await firstRow(model), params({ lengthPenalty: 0 }), { beamSize: 2, patience: 2 });
    expect(noPenalty.tokens).toEqual([B]);
    // With a huge α the penalty ((5+len)/6)^α rewards length: [A, C] or [A, A, …] wins over [B].
    const long = new TableModel();
    const penalised = await beamSearch(long, await firstRow(long), params({ lengthPenalty: 30 }), { beamSize: 2, patience: 2 });
    expect(penalised.tokens.length).toBeGreaterThan(1);
  });

  it('completes with live beams when maxSteps ends the search early', async () => {
    const model = new TableModel();
    const best = await beamSearch(model, await firstRow(model), params({ maxSteps: 1 }), { beamSize: 2, patience: 1 });
    expect(best.tokens).toEqual([A]);
  });
});

describe('beam search narrowed at a deadline', () => {
  /** A clock that reads `times` in turn, then stays at the last one: one read per step. */
  function clock(...times: number[]): () => number {
    let i = 0;
    return () => times[Math.min(i++, times.length - 1)] as number;
  }

  it('narrowed from the first step, it is greedy search: same tokens and log-prob, batch 1', async () => {
    const greedyModel = new TableModel();
    const greedy = await sampleSearch(greedyModel, await firstRow(greedyModel), params(), 1, 0, undefined);
    const model = new TableModel();
    const narrow = { atMs: 0, beamSize: 1, now: clock(0) };
    const best = await beamSearch(model, await firstRow(model), params(), { beamSize: 2, patience: 1, narrow });
    // The full beam finds [B] (see above); from the first step on the search keeps one hypothesis.
    expect(best.tokens).toEqual([A, C]);
    expect(best.tokens).toEqual(greedy.tokens);
    expect(best.sumLogprob).toBe(greedy.sumLogprob);
    expect(model.batches).toEqual(greedyModel.batches);
  });

  it('narrowed, it ends at the EOT greedy search takes, not at a live beam that skipped its EOT', async () => {
    // After A, EOT (.51) narrowly beats C (.49). Ranked by sum / length, the live [A, C] "ended"
    // without its EOT's log-prob (−0.61 a token) would beat the finished [A] (−1.18).
    const probs = (history: readonly number[]): Record<number, number> => {
      if (history.length === 1) return { [A]: 0.6, [B]: 0.4 };
      if (history.at(-1) === A) return { [EOT]: 0.51, [C]: 0.49 };
      return { [EOT]: 1 };
    };
    const greedyModel = new TableModel(probs);
    const greedy = await sampleSearch(greedyModel, await firstRow(greedyModel), params(), 1, 0, undefined);
    expect(greedy.tokens).toEqual([A]);
    const model = new TableModel(probs);
    const best = await beamSearch(model, await firstRow(model), params(), { beamSize: 3, patience: 1, narrow: { atMs: 0, beamSize: 1, now: clock(0) } });
    expect(best.tokens).toEqual([A]);
    expect(best.sumLogprob).toBe(greedy.sumLogprob);
    expect(best.narrowed).toBe(true);
    // Cut by maxSteps instead, it keeps the live hypothesis as greedy search does.
    const cutModel = new TableModel(probs);
    const cut = await beamSearch(cutModel, await firstRow(cutModel), params({ maxSteps: 1 }), { beamSize: 3, patience: 1, narrow: { atMs: 0, beamSize: 1, now: clock(0) } });
    expect(cut.tokens).toEqual([A]);
  });

  it('a deadline never reached changes nothing', async () => {
    const model = new TableModel();
    const narrow = { atMs: 1000, beamSize: 1, now: clock(0, 10, 999) };
    const best = await beamSearch(model, await firstRow(model), params(), { beamSize: 2, patience: 1, narrow });
    expect(best.tokens).toEqual([B]);
    expect(best.narrowed).toBeUndefined();
    expect(model.batches.every((b) => b === 2)).toBe(true);
  });

  it('keeps the best live hypotheses from the step the deadline passes, with the smaller batch from the next run', async () => {
    // Every row: A .5, B .3, C .2 until three tokens are generated, then EOT.
    class Flat extends TableModel {
      override async start(tokens: readonly number[]): Promise<Float32Array> {
        this.rows = [[...tokens]];
        return flatRow(tokens.length);
      }
      override async step(tokens: Int32Array): Promise<Float32Array> {
        this.batches.push(tokens.length);
        const out = new Float32Array(tokens.length * V);
        this.rows.forEach((row, b) => {
          row.push(tokens[b] as number);
          out.set(flatRow(row.length), b * V);
        });
        return out;
      }
    }
    function flatRow(length: number): Float32Array {
      const row = new Float32Array(V).fill(-Infinity);
      if (length >= 4) row[EOT] = 0;
      else [A, B, C].forEach((id, k) => (row[id] = Math.log([0.5, 0.3, 0.2][k] as number)));
      return row;
    }
    const full = new Flat();
    const plain = await beamSearch(full, await full.start([0]), params(), { beamSize: 3, patience: 1 });
    expect(full.batches).toEqual([3, 3, 3]);
    const model = new Flat();
    // Read before step 0 (no), before step 1 (yes): step 1 ranks all three beams' candidates and keeps one.
    const narrow = { atMs: 5, beamSize: 1, now: clock(0, 5) };
    const best = await beamSearch(model, await model.start([0]), params(), { beamSize: 3, patience: 1, narrow });
    expect(model.batches).toEqual([3, 1, 1]);
    expect(best.tokens).toEqual([A, A, A]);
    expect(best.tokens).toEqual(plain.tokens);
    expect(best.sumLogprob).toBeCloseTo(plain.sumLogprob, 12);
  });

  it('narrows to at most its own beam size, and only down', async () => {
    const model = new TableModel();
    const narrow = { atMs: 0, beamSize: 4, now: clock(0) };
    const best = await beamSearch(model, await firstRow(model), params(), { beamSize: 2, patience: 1, narrow });
    expect(best.tokens).toEqual([B]);
    expect(model.batches.every((b) => b === 2)).toBe(true);
  });
});

describe('sampling', () => {
  it('is reproducible for the same uniform stream and picks the best-ranked of bestOf rows', async () => {
    const draws = [0.6, 0.1, 0.99, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    const run = async () => {
      let i = 0;
      const model = new TableModel();
      return sampleSearch(model, await firstRow(model), params(), 3, 1, () => draws[i++ % draws.length] as number);
    };
    const a = await run();
    const b = await run();
    expect(b).toEqual(a);
    // Rows: 0.6 → B, 0.1 → A, 0.99 → B; then 0.5 → EOT, C, EOT. Ranked by sum/length:
    // [A, C] = (ln .55 + ln .35 + ln 1) / 2 = -0.82 beats [B] = ln .45 + ln .95 = -0.85.
    expect(a.tokens).toEqual([A, C]);
  });

  it('drops finished rows from the batch and keeps each candidate on its own logits', async () => {
    // Every row the search filters must be the table's row for that candidate's own history: a
    // candidate reading another one's logits after the batch shrinks fails here.
    class CheckedFilters extends LogitFilters {
      override apply(row: Float32Array, generated: ArrayLike<number>, length: number): void {
        const expected = new Float32Array(V).fill(-Infinity);
        for (const [id, p] of Object.entries(table([0, ...Array.from(generated).slice(0, length)]))) expected[Number(id)] = Math.log(p);
        expect(Array.from(row)).toEqual(Array.from(expected));
        super.apply(row, generated, length);
      }
    }
    const filters = new CheckedFilters({ eot: EOT, suppressTokens: [], blankTokens: [], timestamps: null });
    // Candidates: [B] ends at step 1, [A, C] at step 2, [A, A, C] at step 3 (draws in candidate order).
    const draws = [0.6, 0.1, 0.1, 0.5, 0.5, 0.1, 0.5, 0.5, 0.5];
    let i = 0;
    const model = new TableModel();
    const best = await sampleSearch(model, await firstRow(model), params({ filters }), 3, 1, () => draws[i++ % draws.length] as number);
    expect(i).toBe(9);
    expect(model.batches).toEqual([3, 2, 1]);
    // Sum / length: [B] −0.85, [A, C] −0.82, [A, A, C] −0.95.
    expect(best.tokens).toEqual([A, C]);
  });
});
