// Our engine in the decode benchmark: createTranscriber from the build (dist/transcriber.js, so
// `npm run bench:decode` builds first), on the same ONNX files as transformers.js and the same
// samples as every peer.
//
// Usage: node ours_runner.mjs --clips clips.json --config config.json --out r.jsonl --summary s.json
//        (env STT_BENCH_MODELS: the folder holding whisper-base/; STT_BENCH_FLOAT_WEIGHTS: a CTranslate2
//        folder to requantise the int8 weights per channel from, or empty for the files as they are; both
//        set by run.mjs, so a user's STT_FLOAT_WEIGHTS never leaks into the plain row; STT_BENCH_FULL_WINDOWS=1:
//        every window padded to 30 s, shortWindowMarginMs null, as faster-whisper does)
//
// The options below spell out every setting faster_whisper_runner.py passes, even where they equal our
// defaults, so a change of default cannot silently make the two systems decode differently.
import path from 'node:path';
import { createTranscriber } from '../../dist/transcriber.js';
import { engineVersion, packageVersion, runBenchmark } from './runner_common.mjs';

await runBenchmark(async (config) => {
  const modelsDir = process.env['STT_BENCH_MODELS'];
  if (!modelsDir) throw new Error('STT_BENCH_MODELS is not set');
  const fullWindows = process.env['STT_BENCH_FULL_WINDOWS'] === '1';
  const transcriber = await createTranscriber({
    modelDir: path.join(modelsDir, 'whisper-base'),
    dtype: 'q8',
    device: 'cpu',
    intraOpThreads: config.threads,
    interOpThreads: 1,
    allowDownload: false,
    floatWeights: process.env['STT_BENCH_FLOAT_WEIGHTS'] || null,
  });
  return {
    async transcribe(samples, lang) {
      const result = await transcriber.transcribe(samples, {
        language: lang,
        task: 'transcribe',
        beamSize: config.beamSize,
        bestOf: config.bestOf,
        patience: 1,
        lengthPenalty: null,
        temperatures: config.temperatures,
        compressionRatioThreshold: 2.4,
        logProbThreshold: -1.0,
        noSpeechThreshold: 0.6,
        conditionOnPreviousText: config.conditionOnPreviousText,
        withoutTimestamps: config.withoutTimestamps,
        ...(fullWindows ? { shortWindowMarginMs: null } : {}),
      });
      return result.text;
    },
    summary: {
      system: 'ours',
      versions: {
        'stt-engine': engineVersion(),
        'onnxruntime-node': packageVersion('onnxruntime-node'),
        node: process.versions.node,
      },
      modelFiles: path.join(modelsDir, 'whisper-base', 'onnx', '*_quantized.onnx'),
      // 'per-row': the int8 graphs rewritten at load (src/onnx/row-quant.ts); 'per-tensor': as exported.
      activationQuant: transcriber.backend.activationQuant,
      // 'per-channel': weights requantised from the CTranslate2 file (src/onnx/weight-requant.ts).
      weightQuant: transcriber.backend.weightQuant,
      // 'full': every window 30 s (shortWindowMarginMs null); 'short': the default short windows (README → Short windows).
      windows: fullWindows ? 'full' : 'short',
      threads: { intraOpThreads: config.threads, interOpThreads: 1 },
    },
  };
});
