/**
 * The post-process worker: thin wiring only. `init` builds the PostProcessor (bad options are
 * `fatal`: nothing could be processed with them), `process` answers `processed` with the request's
 * id, `shutdown` exits (processing is synchronous, so nothing is ever in flight).
 */
import { parentPort } from 'node:worker_threads';
import { PostProcessor } from '../actors/postprocess/postprocess.js';
import type { PostProcessCommand, PostProcessMessage } from '../actors/postprocess/postprocess.protocol.js';
import { InvalidOptionError, serializeError } from '../errors.js';
import { obeyControl } from './control.js';

const port = parentPort;
if (!port) throw new Error('postprocess.worker.ts must run as a worker thread');

const post = (message: PostProcessMessage): void => port.postMessage(message);
let processor: PostProcessor | null = null;

function fail(err: unknown): void {
  post({ type: 'fatal', error: serializeError(err) });
  process.exit(1);
}

function handle(command: PostProcessCommand): void {
  switch (command.type) {
    case 'init':
      processor = new PostProcessor(command.options);
      post({
        type: 'ready',
        info: { lexiconRules: processor.options.lexicon.length, frenchNumbers: processor.options.frenchNumbers },
      });
      break;
    case 'process':
      if (!processor) throw new InvalidOptionError('the post-process worker got a text before init', { option: 'process' });
      try {
        post({ type: 'processed', requestId: command.requestId, output: processor.process(command.input) });
      } catch (err) {
        // One bad input (a malformed message) is confined to its utterance; the worker goes on.
        post({ type: 'error', error: serializeError(err), utteranceId: command.input.utteranceId });
      }
      break;
    case 'shutdown':
      process.exit(0);
      break;
    case 'exit':
    case 'crash':
      obeyControl(command);
      break;
    default:
      assertNever(command);
  }
}

port.on('message', (command: PostProcessCommand) => {
  try {
    handle(command);
  } catch (err) {
    fail(err);
  }
});

function assertNever(value: never): never {
  throw new Error(`unknown post-process command ${JSON.stringify(value)}`);
}
