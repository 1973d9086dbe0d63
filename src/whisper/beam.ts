/**
 * Beam search as OpenAI's BeamSearchDecoder does it, with every beam in one batched decoder run per
 * step. Each step: filter each beam's row, take its top (beamSize + 1) log-probs, rank all candidates
 * by cumulative log-prob, keep the best beamSize that do not end in EOT (those that do become
 * finished hypotheses), and reorder the KV cache to the surviving beams' sources.
 */
import { logSumExp, topK } from './logit-filters.js';
import { greedyWithDraft } from './draft.js';
import { isRepetitionCheckpoint, pickBest, takesDrafts, usableDraft, type Candidate, type DecoderModel, type SearchParams } from './search.js';

export interface BeamOptions {
  readonly beamSize: number;
  /** Stop after round(beamSize × patience) finished hypotheses. */
  readonly patience: number;
  /** A deadline after which the search keeps fewer live hypotheses (DecodeOptions.narrowBeam). */
  readonly narrow?: BeamNarrowing | undefined;
}

/**
 * Once `now() >= atMs`, checked before each step, the search keeps only the best `beamSize` live
 * hypotheses, with a batch that small from the next decoder run on: a decoder step's cost grows with
 * its batch (whisper-base int8, 2 cores: ~6 ms at 1 row, ~10 ms at 5), and a late decode finishes
 * sooner. From then it stops after round(beamSize × patience) more finished hypotheses, so a search
 * narrowed to 1 ends as greedy search does: at the first EOT that ranks above every live one.
 */
export interface BeamNarrowing {
  readonly atMs: number;
  readonly beamSize: number;
  readonly now: () => number;
}

/** Beam state for one step, in flat typed arrays (beam-major, maxSteps tokens per beam). */
class Beams {
  readonly tokens: Int32Array;
  readonly lengths: Int32Array;
  readonly sums: Float64Array;
  constructor(beamSize: number, readonly maxSteps: number) {
    this.tokens = new Int32Array(beamSize * maxSteps);
    this.lengths = new Int32Array(beamSize);
    this.sums = new Float64Array(beamSize);
  }
  history(beam: number): Int32Array {
    return this.tokens.subarray(beam * this.maxSteps, (beam + 1) * this.maxSteps);
  }
  toCandidate(beam: number, sumLogprob: number): Candidate {
    const start = beam * this.maxSteps;
    return { tokens: Array.from(this.tokens.subarray(start, start + (this.lengths[beam] as number))), sumLogprob };
  }
}

/** `first`: the logits row after the initial sequence (batch 1); overwritten by the filters. */
export async function beamSearch(
  model: DecoderModel,
  first: Float32Array,
  params: SearchParams,
  options: BeamOptions,
): Promise<Candidate> {
  const { vocabSize: vocab, eot, filters, maxSteps } = params;
  const { beamSize, narrow } = options;
  let maxCandidates = Math.max(1, Math.round(beamSize * options.patience));
  const perBeam = beamSize + 1;
  // Live hypotheses kept per step: beamSize until the narrowing deadline.
  let width = beamSize;
  const narrowTo = narrow === undefined ? beamSize : Math.max(1, Math.min(beamSize, narrow.beamSize));
  const draft = usableDraft(model, params);

  let current = new Beams(beamSize, maxSteps);
  let upcoming = new Beams(beamSize, maxSteps);
  const candScore = new Float64Array(beamSize * perBeam);
  const candSource = new Int32Array(beamSize * perBeam);
  const candToken = new Int32Array(beamSize * perBeam);
  const order: number[] = [];
  const topIds = new Int32Array(perBeam);
  const topValues = new Float64Array(perBeam);
  const nextTokens = new Int32Array(beamSize);
  const nextSources = new Int32Array(beamSize);
  const finished: Candidate[] = [];

  // Step 0 runs at batch 1: the beams are identical then, which is OpenAI's de-duplication of
  // identical sequences in its candidate dictionary.
  let batch = 1;
  let logits = first;
  for (let step = 0; step < maxSteps; step++) {
    if (narrow !== undefined && width > narrowTo && narrow.now() >= narrow.atMs) {
      width = narrowTo;
      // Candidates finished so far stay; the narrowed search still runs its own hypotheses to EOT.
      maxCandidates = finished.length + Math.max(1, Math.round(width * options.patience));
    }
    let count = 0;
    for (let j = 0; j < batch; j++) {
      const row = logits.subarray(j * vocab, (j + 1) * vocab);
      filters.apply(row, current.history(j), current.lengths[j] as number);
      topK(row, perBeam, topIds, topValues);
      // The best of the top k is the row's maximum: the normaliser needs only its exp pass.
      const logZ = logSumExp(row, 0, vocab, topValues[0] as number);
      for (let t = 0; t < perBeam; t++) {
        const id = topIds[t] as number;
        if (id < 0) continue;
        candScore[count] = (current.sums[j] as number) + ((topValues[t] as number) - logZ);
        candSource[count] = j;
        candToken[count] = id;
        count++;
      }
    }
    order.length = count;
    for (let c = 0; c < count; c++) order[c] = c;
    // Array.prototype.sort is stable: ties keep beam order, then top-k order, as Python's sorted().
    order.sort((a, b) => (candScore[b] as number) - (candScore[a] as number));

    let saved = 0;
    const newlyFinished: Candidate[] = [];
    for (const c of order) {
      const source = candSource[c] as number;
      const score = candScore[c] as number;
      const token = candToken[c] as number;
      if (token === eot) {
        newlyFinished.push(current.toCandidate(source, score));
        continue;
      }
      const length = current.lengths[source] as number;
      const dst = upcoming.history(saved);
      dst.set(current.history(source).subarray(0, length));
      dst[length] = token;
      upcoming.lengths[saved] = length + 1;
      upcoming.sums[saved] = score;
      nextTokens[saved] = token;
      nextSources[saved] = source;
      saved++;
      if (saved === width) break;
    }
    for (const candidate of newlyFinished) {
      if (finished.length >= maxCandidates) break;
      finished.push(candidate);
    }
    [current, upcoming] = [upcoming, current];
    batch = saved;
    if (finished.length >= maxCandidates || step + 1 === maxSteps || saved === 0) break;
    // Beam 0 is the best live hypothesis (candidates were taken in score order). Once even it fails
    // the repetition gate, the search is returning a loop; stop here rather than at maxSteps.
    const bestLength = current.lengths[0] as number;
    if (params.hopeless && isRepetitionCheckpoint(bestLength) && params.hopeless(current.history(0).subarray(0, bestLength))) {
      return { ...current.toCandidate(0, current.sums[0] as number), stoppedEarly: true, ...(width < beamSize ? { narrowed: true } : {}) };
    }
    model.reorder(nextSources.subarray(0, saved));
    if (width === 1 && draft !== null && takesDrafts(model)) {
      // Narrowed to one hypothesis: from here the search is greedy search (module comment), which
      // a draft lets check several tokens per decoder pass.
      const h = { history: current.history(0), length: current.lengths[0] as number, sum: current.sums[0] as number };
      const end = await greedyWithDraft(model, params, draft, h, null, params.draftStats);
      current.lengths[0] = h.length;
      current.sums[0] = h.sum;
      if (end === 'hopeless') return { ...current.toCandidate(0, h.sum), stoppedEarly: true, narrowed: true };
      if (end === 'eot') {
        finished.push(current.toCandidate(0, h.sum));
        batch = 0;
      }
      break;
    }
    logits = await model.step(nextTokens.subarray(0, saved));
  }

  // Too few finished (maxSteps came first): complete with the live beams, best first, as if they
  // ended here. A narrowed search stopped by its own count is complete: a live beam "ended" by
  // that stop would skip its EOT's log-prob and could outrank the greedy hypothesis that paid it.
  const narrowed = width < beamSize;
  if (finished.length < (narrowed ? maxCandidates : beamSize)) {
    const live = Array.from({ length: batch }, (_, j) => j).sort(
      (a, b) => (current.sums[b] as number) - (current.sums[a] as number),
    );
    for (const j of live) {
      if (finished.length >= beamSize) break;
      finished.push(current.toCandidate(j, current.sums[j] as number));
    }
  }
  const best = pickBest(finished, params.lengthPenalty);
  return narrowed ? { ...best, narrowed: true } : best;
}
