// transformers.js peer of the decode benchmark: the same ONNX files (../shared/models/whisper-base,
// dtype q8 → *_quantized.onnx) on the same onnxruntime-node build as ours.
//
// Usage: node transformers_runner.mjs --clips clips.json --config config.json --out r.jsonl --summary s.json
//        (env STT_BENCH_MODELS: the folder holding whisper-base/; set by run.mjs)
//
// What transformers.js 4.3 can and cannot match:
// - threads: session_options reach InferenceSession.create unchanged, so intraOpNumThreads /
//   interOpNumThreads are set exactly like ours.
// - greedy only: generate() with num_beams > 1 picks a BeamSearchSampler but keeps only its first
//   candidate per step (no beams are carried), and there is no temperature fallback; run.mjs therefore
//   never asks this runner for the beam config, and refuses here too rather than mislabel a result.
// - long audio: the pipeline's chunk_length_s 30 with the default 5 s stride (its own long-form method,
//   not sequential 30 s windows); for clips ≤ 30 s that is one chunk, identical to no chunking.
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import { packageVersion, runBenchmark } from './runner_common.mjs';

await runBenchmark(async (config) => {
  if (config.beamSize !== 1 || config.temperatures.length !== 1 || config.temperatures[0] !== 0) {
    throw new Error(`transformers.js runs greedy only (beamSize 1, temperatures [0]); got config ${config.name}`);
  }
  const modelsDir = process.env['STT_BENCH_MODELS'];
  if (!modelsDir) throw new Error('STT_BENCH_MODELS is not set');
  env.localModelPath = modelsDir;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;

  const asr = await pipeline('automatic-speech-recognition', 'whisper-base', {
    dtype: 'q8',
    device: 'cpu',
    session_options: { intraOpNumThreads: config.threads, interOpNumThreads: 1 },
  });

  return {
    async transcribe(samples, lang) {
      const out = await asr(samples, {
        language: lang === 'en' ? 'english' : lang === 'fr' ? 'french' : lang,
        task: 'transcribe',
        chunk_length_s: 30,
        stride_length_s: 5,
        return_timestamps: false,
        do_sample: false,
        num_beams: 1,
      });
      return /** @type {{ text: string }} */ (out).text;
    },
    summary: {
      system: 'transformers.js',
      versions: {
        '@huggingface/transformers': packageVersion('@huggingface/transformers'),
        'onnxruntime-node': packageVersion('onnxruntime-node'),
        node: process.versions.node,
      },
      modelFiles: path.join(modelsDir, 'whisper-base', 'onnx', '*_quantized.onnx'),
      threads: { intraOpNumThreads: config.threads, interOpNumThreads: 1 },
    },
  };
});
