/**
 * The decode worker: thin wiring only. On `init` it loads the one Whisper session
 * (createTranscriber; device fallbacks become `warning` messages), warms it up (src/whisper/warm-up.ts,
 * unless `warmUp: false`), attaches the utterance arena as a reader and posts `ready`; jobs go to
 * DecodeActor, which answers each with `result` or `jobFailed`.
 * An init failure (unknown model, missing files, unusable device) is `fatal`, then exit(1): the
 * supervisor decides whether to retry. `shutdown` lets every job already received finish (finals
 * are never dropped), closes the session and exits 0.
 */
import { parentPort } from 'node:worker_threads';
import { DecodeActor } from '../actors/decode/decode.js';
import type { DecodeCommand, DecodeMessage } from '../actors/decode/decode.protocol.js';
import { InvalidOptionError, serializeError } from '../errors.js';
import { UtteranceArenaReader } from '../shm/utterance-arena.js';
import { createTranscriber } from '../transcriber.js';
import type { Transcriber } from '../whisper/types.js';
import { warmUp } from '../whisper/warm-up.js';
import { obeyControl } from './control.js';

const port = parentPort;
if (!port) throw new Error('decode.worker.ts must run as a worker thread');

const post = (message: DecodeMessage): void => port.postMessage(message);
let transcriber: Transcriber | null = null;
/** Arena 0 is init's; a shared decoder's engines attach theirs (≥ 1), possibly before init completes. */
const arenas = new Map<number, UtteranceArenaReader>();
let actor: DecodeActor | null = null;
let initializing = false;
let shuttingDown = false;

async function init(command: Extract<DecodeCommand, { type: 'init' }>): Promise<void> {
  initializing = true;
  if (command.arena) arenas.set(0, new UtteranceArenaReader(command.arena));
  // onWarning cannot cross postMessage (a function): the worker supplies its own.
  transcriber = await createTranscriber({ ...command.model, onWarning: (warning) => post({ type: 'warning', warning }) });
  const { backend } = transcriber;
  // Before `ready`, so that no job waits behind it; a model that cannot encode fails here, at start.
  const warmUpMs = command.warmUp === false ? null : Math.round((await warmUp(backend)).ms);
  actor = new DecodeActor({ transcriber, arena: (id) => arenas.get(id), post });
  const device = backend.device.kind === 'cuda' ? `cuda:${backend.device.index}` : 'cpu';
  const arenaCapacitySamples = arenas.get(0)?.capacitySamples ?? null;
  const guard = backend.saturationGuard;
  post({
    type: 'ready',
    info: {
      model: backend.modelName,
      device,
      weights: backend.weightQuant ?? null,
      encoderSaturationGuard: guard?.encoder ?? null,
      decoderSaturationGuard: guard?.decoder ?? null,
      arenaCapacitySamples,
      warmUpMs,
    },
  });
}

function job(command: Extract<DecodeCommand, { type: 'job' }>): void {
  if (!actor || shuttingDown) {
    // Not silently dropped: the supervisor gets the job back as failed, with the reason.
    const why = shuttingDown ? 'the decode worker is shutting down' : 'the decode worker got a job before init';
    post({
      type: 'jobFailed',
      jobId: command.job.jobId,
      utteranceId: command.job.utteranceId,
      error: serializeError(new InvalidOptionError(why, { option: 'job' })),
    });
    return;
  }
  actor.submit(command.job);
}

function fail(err: unknown): void {
  post({ type: 'fatal', error: serializeError(err) });
  process.exit(1);
}

async function shutdown(): Promise<void> {
  shuttingDown = true;
  await actor?.whenIdle();
  await transcriber?.close();
  process.exit(0);
}

port.on('message', (command: DecodeCommand) => {
  switch (command.type) {
    case 'init':
      if (initializing) {
        // A repeated init is the supervisor's bug, not a reason to kill a loaded model.
        const err = new InvalidOptionError('the decode worker was initialised twice', { option: 'init' });
        post({ type: 'error', error: serializeError(err), utteranceId: null });
        break;
      }
      init(command).catch(fail);
      break;
    case 'job':
      job(command);
      break;
    case 'cancel':
      // A job this worker does not hold was answered already (or never came): nothing to do.
      actor?.cancel(command.jobId);
      break;
    case 'attach':
      arenas.set(command.arenaId, new UtteranceArenaReader(command.arena));
      break;
    case 'detach':
      // Jobs of this arena still queued fail as jobFailed (not attached): their engine is gone.
      arenas.delete(command.arenaId);
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
  throw new Error(`unknown decode command ${JSON.stringify(value)}`);
}
