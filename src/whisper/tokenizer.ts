/**
 * Whisper's byte-level BPE, backed by @huggingface/tokenizers (the only importer of that package).
 * Special and timestamp ids are the tokenizer's added tokens; decode() drops them so callers can
 * pass raw decoder output.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelCorruptError, ModelIncompleteError } from '../errors.js';
import type { WhisperConfig } from './config.js';
import type { SpecialTokens, WhisperTokenizerLike } from './types.js';

async function readJsonFile(filePath: string): Promise<object> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (cause) {
    throw new ModelIncompleteError(`Tokenizer file missing or unreadable: ${filePath}`, { path: filePath }, { cause });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    return parsed;
  } catch (cause) {
    throw new ModelCorruptError(`Tokenizer file is not a JSON object: ${filePath}`, { path: filePath }, { cause });
  }
}

export class WhisperTokenizer implements WhisperTokenizerLike {
  readonly specials: SpecialTokens;
  /** Seconds between two consecutive timestamp tokens (0.02 for every released Whisper). */
  readonly timestampPrecisionInS: number;
  readonly #tokenizer: Tokenizer;
  readonly #addedIds: ReadonlySet<number>;

  private constructor(tokenizer: Tokenizer, config: WhisperConfig) {
    this.#tokenizer = tokenizer;
    this.specials = config.specials;
    // The encoder halves the mel frames (conv stride 2): one timestamp step per encoder position.
    this.timestampPrecisionInS = config.nSamples / config.sampleRate / (config.nFrames / 2);
    this.#addedIds = new Set(tokenizer.get_added_tokens_decoder().keys());
  }

  static async fromDir(dir: string, config: WhisperConfig): Promise<WhisperTokenizer> {
    const tokenizerPath = path.join(dir, 'tokenizer.json');
    const [json, tokenizerConfig] = await Promise.all([
      readJsonFile(tokenizerPath),
      readJsonFile(path.join(dir, 'tokenizer_config.json')),
    ]);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, tokenizerConfig);
    } catch (cause) {
      throw new ModelCorruptError(`Cannot build the tokenizer from ${tokenizerPath}`, { path: tokenizerPath }, { cause });
    }
    return new WhisperTokenizer(tokenizer, config);
  }

  encode(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    const textIds = ids.filter((id) => !this.#addedIds.has(id) && !this.isTimestamp(id));
    // A window's output can be timestamps alone (<|1.00|> then EOT: "no speech from here"), and the
    // tokenizers library refuses an empty list.
    if (textIds.length === 0) return '';
    // No clean-up: it would glue French punctuation (" ?", " :") to the previous word.
    return this.#tokenizer.decode(textIds, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  isTimestamp(id: number): boolean {
    return id >= this.specials.timestampBegin;
  }

  timestampSeconds(id: number): number {
    return (id - this.specials.timestampBegin) * this.timestampPrecisionInS;
  }
}
