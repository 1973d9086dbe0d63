// The reference the stream's WER is compared with: each clip decoded on its own, whole, with the
// engine's own final path minus the stream — createTranscriber (same model folder, dtype, threads),
// the decode actor's job options and segment scoring (DecodeActor, a final job spanning the clip),
// then the post-processor with the engine's resolved options. So the only difference left between
// the two WERs is what streaming does: VAD cuts, pre/post-roll, the endpoint.
import { DecodeActor } from '../../dist/actors/decode/decode.js';
import { PostProcessor } from '../../dist/actors/postprocess/postprocess.js';
import { createTranscriber } from '../../dist/transcriber.js';

/**
 * @param {readonly { id: string, samples: Float32Array }[]} clips
 * @param {{ model: Record<string, unknown>, language: string, beamSize: number, temperatures: readonly number[],
 *           postProcess: Record<string, unknown> }} o
 * @returns {Promise<{ texts: Map<string, string>, rejected: Record<string, string>, decodeMs: number[] }>}
 */
export async function decodeOneByOne(clips, o) {
  const transcriber = await createTranscriber(o.model);
  const post = new PostProcessor(o.postProcess);
  const texts = new Map();
  /** @type {Record<string, string>} */
  const rejected = {};
  const decodeMs = [];
  try {
    for (const [index, clip] of clips.entries()) {
      const message = await new Promise((resolve) => {
        const actor = new DecodeActor({
          transcriber,
          // The "arena" is the clip itself: the job spans all of it.
          arena: { read: (start, end, into) => {
            const out = into && into.length >= end - start ? into.subarray(0, end - start) : new Float32Array(end - start);
            out.set(clip.samples.subarray(start, end));
            return out;
          } },
          post: resolve,
        });
        actor.submit({
          jobId: index + 1,
          kind: 'final',
          utteranceId: index + 1,
          startSamples: 0,
          endSamples: clip.samples.length,
          language: o.language,
          beamSize: o.beamSize,
          temperatures: o.temperatures,
          initialPrompt: null,
          hotwords: null,
          speculative: false,
        });
      });
      if (message.type !== 'result') throw new Error(`one-by-one decode of ${clip.id} failed: ${JSON.stringify(message)}`);
      decodeMs.push(message.timings.totalMs);
      const out = post.process({
        utteranceId: index + 1,
        kind: 'final',
        text: message.text,
        language: message.language,
        avgLogprob: message.avgLogprob,
        noSpeechProb: message.noSpeechProb,
        compressionRatio: message.compressionRatio,
      });
      if (out.rejected !== null) rejected[clip.id] = out.rejected;
      texts.set(clip.id, out.text);
    }
  } finally {
    await transcriber.close();
  }
  return { texts, rejected, decodeMs };
}
