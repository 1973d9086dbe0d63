/**
 * Ending a decode worker in the middle of an onnxruntime run. worker.terminate() there aborts the
 * whole process (onnxruntime-node throws into the torn-down thread), so the bridge asks the worker
 * to crash (kill, fault injection) or exit (close past its deadline) and it leaves once the run
 * returns. If that regressed, this file's process would die and the run report it as crashed.
 */
import { describe, expect, it } from 'vitest';
import type { DecodeCommand, DecodeJobSpec, DecodeMessage } from '../../../dist/actors/decode/decode.protocol.js';
import { loadAudioFile } from '../../../dist/audio/load.js';
import { WorkerBridge, type PortEvent } from '../../../dist/engine/worker-bridge.js';
import { UtteranceArenaWriter, createUtteranceArena } from '../../../dist/shm/index.js';
import { decodeJob } from '../../helpers/decode-job.js';
import { WHISPER_BASE_DIR, corpusPath, hasShared } from '../../helpers/paths.js';

const WORKER_URL = new URL('../../../dist/workers/decode.worker.js', import.meta.url);
/** Into a ~1.2 s beam-5 decode of 11.6 s of audio: inside the encoder or the first decoder runs. */
const MID_RUN_MS = 300;

async function setup() {
  const { samples } = await loadAudioFile(corpusPath('fr/fr_fleurs_007.wav'));
  const arena = createUtteranceArena(samples.length);
  new UtteranceArenaWriter(arena).append(samples);
  const bridge = new WorkerBridge<DecodeCommand, DecodeMessage>({
    name: 'decode',
    url: WORKER_URL,
    init: { type: 'init', model: { modelDir: WHISPER_BASE_DIR, intraOpThreads: 2 }, arena },
    maxRestarts: 1,
  });
  const events: PortEvent<DecodeMessage>[] = [];
  const waiters: (() => void)[] = [];
  bridge.subscribe((e) => {
    events.push(e);
    for (const w of waiters.splice(0)) w();
  });
  const until = async (pred: (e: PortEvent<DecodeMessage>) => boolean): Promise<PortEvent<DecodeMessage>> => {
    for (;;) {
      const found = events.find(pred);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const job = (jobId: number): DecodeJobSpec => decodeJob(jobId, 'final', 0, samples.length);
  await bridge.start();
  return { bridge, events, until, job };
}

describe.skipIf(!hasShared())('ending a decode worker during an onnxruntime run', () => {
  it('kill() mid-run: the worker dies of an uncaught error, is restarted, and decodes the job again', async () => {
    const { bridge, until, job } = await setup();
    bridge.send({ type: 'job', job: job(1) });
    await new Promise((resolve) => setTimeout(resolve, MID_RUN_MS));
    await bridge.kill();
    const crashed = await until((e) => e.type === 'crashed');
    expect(crashed).toMatchObject({ type: 'crashed', restarting: true, error: { message: expect.stringContaining('fault injection') } });
    await until((e) => e.type === 'restarted');
    bridge.send({ type: 'job', job: job(2) });
    const result = await until((e) => e.type === 'message' && e.message.type === 'result');
    expect(result).toMatchObject({ message: { jobId: 2, text: expect.stringContaining('circulation') } });
    await bridge.close();
  }, 60_000);

  it('close() past its deadline mid-run: the worker leaves without waiting for the decode', async () => {
    const { bridge, events, job } = await setup();
    bridge.send({ type: 'job', job: job(1) });
    await new Promise((resolve) => setTimeout(resolve, MID_RUN_MS));
    await bridge.close(50);
    // It left before the decode ended (no result came), and closing is not a crash.
    expect(events.filter((e) => e.type === 'crashed')).toEqual([]);
    expect(events.some((e) => e.type === 'message' && e.message.type === 'result')).toBe(false);
  }, 60_000);
});
