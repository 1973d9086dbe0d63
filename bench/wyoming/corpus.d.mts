// Types of corpus.mjs, so the TypeScript unit test checks its calls under `strict`.

export declare function toPcm16Wav(
  buf: Buffer,
  name: string,
): { wav: Buffer; rateHz: number; channels: number; durationInS: number; converted: boolean };

export declare function writeCorpus(
  dir: string,
  clips: readonly { readonly id: string; readonly path: string; readonly reference: string }[],
): { clips: number; audioInS: number; converted: string[] };
