/**
 * The worker side of the `exit` and `crash` control commands (src/workers/worker.protocol.ts),
 * the same in every worker.
 */
import type { ControlMessage } from './worker.protocol.js';

/** Fault injection: the error a worker told to `crash` dies of. */
export class CrashDrillError extends Error {
  constructor() {
    super('fault injection: this worker was told to crash');
  }
  override get name(): string {
    return 'CrashDrillError';
  }
}

/**
 * Carries out `exit` (process.exit(0): the thread ends once a native run in flight returns) or
 * `crash` (an uncaught error on the next turn of the event loop: the worker's `error` and `exit`
 * events follow, as for a real bug). A no-op for `shutdown`, which each worker does its own way.
 */
export function obeyControl(command: ControlMessage): void {
  switch (command.type) {
    case 'exit':
      process.exit(0);
      break;
    case 'crash':
      setImmediate(() => {
        throw new CrashDrillError();
      });
      break;
    case 'shutdown':
      break;
    default:
      assertNever(command);
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown control command ${JSON.stringify(value)}`);
}
