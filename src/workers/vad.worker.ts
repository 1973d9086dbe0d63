/**
 * The VAD worker: thin wiring only. On `start` it attaches the capture → VAD ring (reader) and the
 * utterance arena (writer) from the shared buffers, loads Silero, measures its cost on a few silent
 * windows, posts `ready`, and runs VadActor's read loop (which waits with Atomics.waitAsync, so
 * this thread keeps serving `flush` and `shutdown`). A model failure is `fatal`: the supervisor
 * decides whether to restart the worker.
 */
import { parentPort } from 'node:worker_threads';
import { SILERO_MAX_RUN_WINDOWS, SileroVad, measureMsPerWindow } from '../actors/vad/silero.js';
import { VadActor } from '../actors/vad/vad.js';
import type { VadCommand, VadMessage } from '../actors/vad/vad.protocol.js';
import { serializeError } from '../errors.js';
import { AudioRingReader } from '../shm/audio-ring.js';
import { UtteranceArenaWriter } from '../shm/utterance-arena.js';
import { obeyControl } from './control.js';

const port = parentPort;
if (!port) throw new Error('vad.worker.ts must run as a worker thread');

/** Silent windows timed before `ready`, after one run of as many: past ORT's first-run allocations for both lengths. */
const WARM_UP_WINDOWS = SILERO_MAX_RUN_WINDOWS;

const post = (message: VadMessage): void => port.postMessage(message);
let model: SileroVad | null = null;
let actor: VadActor | null = null;
let running: Promise<void> | null = null;
let flushBeforeReady = false;
let cutBeforeReady: number | null = null;

async function start(command: Extract<VadCommand, { type: 'start' }>): Promise<void> {
  if (model) throw new Error('the VAD worker was started twice');
  const source = new AudioRingReader(command.input);
  const arena = new UtteranceArenaWriter(command.arena);
  model = await SileroVad.load(command.modelPath, { threads: 1 });
  const msPerWindow = await measureMsPerWindow(model, command.options.windowSamples, WARM_UP_WINDOWS);
  // A restarted worker carries on where its predecessor's reads ended: the arena's head.
  const resume = { positionSamples: arena.headSamples, firstUtteranceId: command.firstUtteranceId };
  actor = new VadActor({ source, arena, model, post, options: command.options, resume, maxRunWindows: SILERO_MAX_RUN_WINDOWS });
  post({
    type: 'ready',
    info: {
      model: 'silero-vad',
      modelPath: command.modelPath,
      windowSamples: command.options.windowSamples,
      sampleRate: command.options.sampleRate,
      msPerWindow: Math.round(msPerWindow * 1000) / 1000,
    },
  });
  if (cutBeforeReady !== null) actor.cut(cutBeforeReady);
  if (flushBeforeReady) actor.flush();
  running = actor.run();
  await running;
}

function fail(err: unknown): void {
  post({ type: 'fatal', error: serializeError(err) });
  process.exit(1);
}

async function shutdown(): Promise<void> {
  actor?.stop();
  await running?.catch(() => undefined);
  await model?.close();
  process.exit(0);
}

port.on('message', (command: VadCommand) => {
  switch (command.type) {
    case 'start':
      start(command).catch(fail);
      break;
    case 'flush':
      if (actor) actor.flush();
      else flushBeforeReady = true;
      break;
    case 'cut':
      if (actor) actor.cut(command.atSamples);
      else cutBeforeReady = command.atSamples;
      break;
    case 'shutdown':
      shutdown().catch(fail);
      break;
    case 'exit':
    case 'crash':
      obeyControl(command);
      break;
    default:
      assertNever(command);
  }
});

function assertNever(value: never): never {
  throw new Error(`unknown VAD command ${JSON.stringify(value)}`);
}
