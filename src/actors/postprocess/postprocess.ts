/**
 * The post-processor: what a decoded text goes through before users see it. Pure and synchronous
 * (no model, no I/O), so it runs identically in its worker and in a test.
 *
 * Order, and why:
 * 1. the hallucination guard — empty text; the decoder's no-speech gate; a repetition loop
 *    (compression ratio over the threshold) unless collapsing the repeats brings the ratio back
 *    under it; a phantom phrase (blocklist.ts) as the whole utterance. Rejected texts stop here.
 *    A phantom phrase trailing real speech is stripped instead.
 * 2. repetition collapse (repetition.ts), before the lexicon so a looped name is fixed once;
 * 3. lexicon rules (lexicon.ts), before numbers so a rule may name a number word;
 * 4. optional French numbers in digits (numbers.ts), French text only.
 * Every change is reported as a Correction, in the order applied.
 *
 * Partials go through the same steps: a partial is rejected as blocklisted only when it is, as a
 * whole, a phantom phrase — never because it is the beginning of one (the user may be saying
 * "Merci de fermer les volets").
 */
import { InvalidOptionError } from '../../errors.js';
import { compressionRatio } from '../../whisper/compression.js';
import { Blocklist } from './blocklist.js';
import { Lexicon } from './lexicon.js';
import { frenchNumbersToDigits } from './numbers.js';
import type {
  Correction,
  PostProcessInput,
  PostProcessOptions,
  PostProcessOutput,
  RejectReason,
} from './postprocess.protocol.js';
import { collapseRepetitions } from './repetition.js';

/** OpenAI whisper's gate defaults; an empty lexicon; numbers as spoken. */
export const DEFAULT_POST_PROCESS_OPTIONS: PostProcessOptions = {
  lexicon: [],
  frenchNumbers: false,
  noSpeechThreshold: 0.6,
  logProbThreshold: -1,
  compressionRatioThreshold: 2.4,
  extraBlocklist: [],
};

function checkNumber(name: keyof PostProcessOptions, value: unknown): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new InvalidOptionError(`post-process option ${name} must be a number, got ${String(value)}`, { option: name });
  }
}

export class PostProcessor {
  readonly options: PostProcessOptions;
  readonly #blocklist: Blocklist;
  readonly #lexicon: Lexicon;

  constructor(options: Partial<PostProcessOptions> = {}) {
    const merged: PostProcessOptions = { ...DEFAULT_POST_PROCESS_OPTIONS, ...options };
    checkNumber('noSpeechThreshold', merged.noSpeechThreshold);
    checkNumber('logProbThreshold', merged.logProbThreshold);
    checkNumber('compressionRatioThreshold', merged.compressionRatioThreshold);
    if (!Array.isArray(merged.extraBlocklist) || merged.extraBlocklist.some((p) => typeof p !== 'string')) {
      throw new InvalidOptionError('post-process option extraBlocklist must be a list of strings', {
        option: 'extraBlocklist',
      });
    }
    if (!Array.isArray(merged.lexicon)) {
      throw new InvalidOptionError('post-process option lexicon must be a list of rules', { option: 'lexicon' });
    }
    this.options = merged;
    this.#blocklist = new Blocklist(merged.extraBlocklist);
    this.#lexicon = new Lexicon(merged.lexicon);
  }

  process(input: PostProcessInput): PostProcessOutput {
    const reject = (reason: RejectReason): PostProcessOutput => ({
      utteranceId: input.utteranceId,
      kind: input.kind,
      text: '',
      rejected: reason,
      corrections: [],
    });
    const o = this.options;
    const trimmed = input.text.trim();
    if (trimmed === '') return reject('empty');
    if (input.noSpeechProb > o.noSpeechThreshold && input.avgLogprob < o.logProbThreshold) return reject('no-speech');

    const collapsed = collapseRepetitions(trimmed);
    const corrections: Correction[] = collapsed.collapses.map((c) => ({ rule: 'repetition-collapse', ...c }));
    if (input.compressionRatio > o.compressionRatioThreshold) {
      // A loop the collapse undid is real speech plus a stutter of the decoder; anything else is noise.
      const rescued = collapsed.collapses.length > 0 && compressionRatio(collapsed.text) <= o.compressionRatioThreshold;
      if (!rescued) return reject('repetition');
    }
    if (collapsed.text.trim() === '') return reject('repetition');

    let text = collapsed.text;
    const phantom = this.#blocklist.match(text);
    switch (phantom.kind) {
      case 'whole':
        return reject('blocklisted');
      case 'trailing': {
        const kept = text.slice(0, phantom.cutAt).replace(/[\s,;:–—-]+$/u, '');
        corrections.push({ rule: 'blocklist', from: text.slice(phantom.cutAt), to: '' });
        text = kept;
        break;
      }
      case 'none':
        break;
      default:
        assertNever(phantom);
    }

    const lexicon = this.#lexicon.apply(text);
    text = lexicon.text;
    for (const a of lexicon.applied) corrections.push({ rule: 'lexicon', from: a.from, to: a.to });

    if (o.frenchNumbers && isFrench(input.language)) {
      const numbers = frenchNumbersToDigits(text);
      text = numbers.text;
      for (const r of numbers.replacements) corrections.push({ rule: 'french-numbers', from: r.from, to: r.to });
    }

    return { utteranceId: input.utteranceId, kind: input.kind, text, rejected: null, corrections };
  }
}

function isFrench(language: string): boolean {
  const lower = language.toLowerCase();
  return lower === 'fr' || lower.startsWith('fr-') || lower.startsWith('fr_');
}

function assertNever(value: never): never {
  throw new Error(`unexpected blocklist match ${JSON.stringify(value)}`);
}
