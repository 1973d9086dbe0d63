import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { PostProcessMessage, PostProcessOptions } from '../../../dist/actors/postprocess/postprocess.protocol.js';

const WORKER_URL = new URL('../../../dist/workers/postprocess.worker.js', import.meta.url);

const OPTIONS: PostProcessOptions = {
  lexicon: [{ from: 'super whispers', to: 'SuperWhisper' }],
  frenchNumbers: true,
  noSpeechThreshold: 0.6,
  logProbThreshold: -1,
  compressionRatioThreshold: 2.4,
  extraBlocklist: [],
};

function nextMessage(worker: Worker): Promise<PostProcessMessage> {
  return once(worker, 'message').then(([m]) => m as PostProcessMessage);
}

describe('post-process worker', () => {
  it('initialises, answers each request by its id, and exits on shutdown', async () => {
    const worker = new Worker(WORKER_URL);
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'init', options: OPTIONS });
    expect(await nextMessage(worker)).toMatchObject({ type: 'ready', info: { lexiconRules: 1, frenchNumbers: true } });

    const scores = { avgLogprob: -0.2, noSpeechProb: 0.02, compressionRatio: 1.1 };
    worker.postMessage({
      type: 'process',
      requestId: 41,
      input: { utteranceId: 3, kind: 'final', text: 'Lance super whispers à vingt et une heures.', language: 'fr', ...scores },
    });
    expect(await nextMessage(worker)).toEqual({
      type: 'processed',
      requestId: 41,
      output: {
        utteranceId: 3,
        kind: 'final',
        text: 'Lance SuperWhisper à 21 heures.',
        rejected: null,
        corrections: [
          { rule: 'lexicon', from: 'super whispers', to: 'SuperWhisper' },
          { rule: 'french-numbers', from: 'vingt et une', to: '21' },
        ],
      },
    });

    worker.postMessage({
      type: 'process',
      requestId: 42,
      input: { utteranceId: 4, kind: 'partial', text: "Sous-titres réalisés par la communauté d'Amara.org", language: 'fr', ...scores },
    });
    expect(await nextMessage(worker)).toMatchObject({ requestId: 42, output: { utteranceId: 4, rejected: 'blocklisted', text: '' } });

    worker.postMessage({ type: 'shutdown' });
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
  });

  it('reports bad options as fatal STT_INVALID_OPTION and exits with code 1', async () => {
    const worker = new Worker(WORKER_URL);
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'init', options: { ...OPTIONS, lexicon: [{ from: '', to: 'x' }] } });
    expect(await nextMessage(worker)).toMatchObject({ type: 'fatal', error: { code: 'STT_INVALID_OPTION' } });
    const [code] = (await exited) as [number];
    expect(code).toBe(1);
  });
});
