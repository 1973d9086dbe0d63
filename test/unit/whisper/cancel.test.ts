import { describe, expect, it } from 'vitest';
import { decodeWindow, type DecoderContext } from '../../../src/whisper/decoder.js';
import { transcribe } from '../../../src/whisper/transcribe.js';
import type { DecoderModel } from '../../../src/whisper/search.js';
import type { EncodedAudio, SpecialTokens } from '../../../src/whisper/types.js';
import { plainDecodeOptions } from './decode-options.js';
import { ScriptedBackend } from './transcribe-scripted.js';

// Four words, then the special tokens; the model never ends (it repeats word 0), so only the
// signal or maxNewTokens can stop it.
const EOT = 4;
const SPECIALS: SpecialTokens = {
  eot: EOT,
  sot: 5,
  sotPrev: 6,
  noSpeech: 7,
  noTimestamps: 8,
  transcribe: 9,
  translate: 10,
  timestampBegin: 12,
  languages: new Map([['fr', 11]]),
};
const V = 13;
const CONTEXT: DecoderContext = {
  specials: SPECIALS,
  vocabSize: V,
  maxTargetPositions: 448,
  blankTokens: [],
  timestampPrecisionInS: 0.02,
  decodeText: (ids) => ids.map((id) => ` w${id}`).join(''),
};

/** Counts its runs; `onRun(n)` is called before run n (1 = start) returns, to abort mid-decode. */
class CountingModel implements DecoderModel {
  runs = 0;
  batch = 1;
  constructor(private readonly onRun: (run: number) => void = () => undefined) {}
  #logits(rows: number): Float32Array {
    this.runs++;
    this.onRun(this.runs);
    const out = new Float32Array(rows * V).fill(-10);
    for (let r = 0; r < rows; r++) out[r * V + (r % 4)] = 0;
    return out;
  }
  async start(tokens: readonly number[]): Promise<Float32Array> {
    this.batch = 1;
    return this.#logits(tokens.length);
  }
  reorder(sources: Int32Array): void {
    this.batch = sources.length;
  }
  async step(tokens: Int32Array): Promise<Float32Array> {
    return this.#logits(tokens.length);
  }
}

const options = plainDecodeOptions;

describe('cancelling a decode with an AbortSignal', () => {
  it('an aborted signal stops the search before its next decoder run (greedy and beam)', async () => {
    for (const beamSize of [1, 4]) {
      const controller = new AbortController();
      const model = new CountingModel((run) => {
        if (run === 6) controller.abort(new Error('the supervisor has a final to run'));
      });
      await expect(decodeWindow(model, CONTEXT, options({ beamSize, signal: controller.signal }))).rejects.toMatchObject({
        code: 'STT_DECODE_CANCELLED',
        message: expect.stringContaining('the supervisor has a final to run'),
      });
      // Run 6 was under way when the signal fired: it finished, and no 7th run started.
      expect(model.runs).toBe(6);
    }
  });

  it('a signal that never fires changes nothing', async () => {
    const plain = new CountingModel();
    const watched = new CountingModel();
    const a = await decodeWindow(plain, CONTEXT, options({ maxNewTokens: 20 }));
    const b = await decodeWindow(watched, CONTEXT, options({ maxNewTokens: 20, signal: new AbortController().signal }));
    expect(b).toEqual(a);
    expect(watched.runs).toBe(plain.runs);
    expect(a.tokens).toHaveLength(20);
  });

  it('an already aborted signal runs nothing', async () => {
    const model = new CountingModel();
    await expect(decodeWindow(model, CONTEXT, options({ signal: AbortSignal.abort() }))).rejects.toMatchObject({ code: 'STT_DECODE_CANCELLED' });
    expect(model.runs).toBe(0);

    const backend = new ScriptedBackend([{ text: 'a' }]);
    await expect(transcribe(backend, new Float32Array(16_000), { language: 'fr', signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'STT_DECODE_CANCELLED',
    });
    expect(backend.windows).toHaveLength(0);
  });

  it('the driver stops after an encoder run that the signal fired during, and releases the window', async () => {
    const controller = new AbortController();
    class AbortingBackend extends ScriptedBackend {
      override async encode(mel: Float32Array, frames?: number): Promise<EncodedAudio> {
        controller.abort();
        return super.encode(mel, frames);
      }
    }
    const backend = new AbortingBackend([{ text: 'a' }]);
    await expect(transcribe(backend, new Float32Array(16_000), { language: 'fr', signal: controller.signal })).rejects.toMatchObject({
      code: 'STT_DECODE_CANCELLED',
    });
    expect(backend.windows).toHaveLength(1);
    expect(backend.decodeCalls).toHaveLength(0);
    expect(backend.released).toBe(1);
  });
});
