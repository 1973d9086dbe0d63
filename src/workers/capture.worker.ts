/**
 * The capture worker: thin wiring only. Posts `ready` at once (saying whether the microphone is
 * usable: naudiodon loads lazily and may be missing), then hands every command to CaptureActor,
 * which reads the source itself (file, fd 0, push ring, PortAudio) and writes the output ring.
 * On `shutdown` it stops the source, lets the actor flush and post `ended`, then exits.
 */
import { parentPort } from 'node:worker_threads';
import { CaptureActor, systemClock } from '../actors/capture/capture.js';
import type { CaptureCommand, CaptureMessage } from '../actors/capture/capture.protocol.js';
import { listDevices, loadNaudiodon } from '../actors/capture/microphone.js';
import { openCaptureSource } from '../actors/capture/open-source.js';
import { serializeError } from '../errors.js';
import { AudioRingWriter } from '../shm/audio-ring.js';
import { obeyControl } from './control.js';

const port = parentPort;
if (!port) throw new Error('capture.worker.ts must run as a worker thread');

const post = (message: CaptureMessage): void => port.postMessage(message);

const actor = new CaptureActor({
  openSource: openCaptureSource,
  openRing: (shared) => new AudioRingWriter(shared),
  listDevices,
  clock: systemClock,
  post,
});

async function shutdown(): Promise<void> {
  actor.handle({ type: 'shutdown' });
  await actor.done;
  process.exit(0);
}

port.on('message', (command: CaptureCommand) => {
  if (command.type === 'exit' || command.type === 'crash') {
    obeyControl(command);
    return;
  }
  if (command.type === 'shutdown') {
    shutdown().catch((err: unknown) => {
      post({ type: 'fatal', error: serializeError(err) });
      process.exit(1);
    });
    return;
  }
  actor.handle(command);
});

loadNaudiodon().then(
  (lib) =>
    post({
      type: 'ready',
      info: {
        sources: lib instanceof Error ? 'file,stdin,push' : 'file,stdin,push,microphone',
        microphone: !(lib instanceof Error),
        microphoneError: lib instanceof Error ? lib.message : null,
        outputSampleRate: 16_000,
      },
    }),
  (err: unknown) => {
    post({ type: 'fatal', error: serializeError(err) });
    process.exit(1);
  },
);
