/**
 * What a CLI command touches of the process, injected so commands run inside tests without
 * spawning a process: output streams, environment and working directory.
 */
export interface CliIO {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Whether stderr is a terminal (progress bars only there). */
  readonly stderrIsTTY: boolean;
}

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** Bad usage: unknown flag, missing argument. */
export const EXIT_USAGE = 2;

export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
}

/** A CLI command: parses its own argv (after the command name) and returns an exit code. */
export type CliCommand = (argv: readonly string[], io: CliIO) => Promise<number>;
