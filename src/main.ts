#!/usr/bin/env node
/**
 * `node dist/main.js <command> …` — the engine's command line. Each command lives in src/cli/ and
 * is imported on demand, so `models list` does not load onnxruntime and `--help` is instant.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EXIT_FAILURE, EXIT_USAGE, processIO, type CliCommand, type CliIO } from './cli/io.js';
import { serializeError } from './errors.js';

type CommandName = 'live' | 'transcribe' | 'eval' | 'models' | 'serve' | 'replay';

const COMMANDS: Readonly<Record<CommandName, { summary: string; load: () => Promise<CliCommand> }>> = {
  live: {
    summary: 'real-time transcription: microphone (default), --input file.wav or --stdin (the default command)',
    load: async () => (await import('./cli/live.js')).runLiveCommand,
  },
  transcribe: {
    summary: 'transcribe WAV files (text, or JSON segments with --json)',
    load: async () => (await import('./cli/transcribe.js')).runTranscribeCommand,
  },
  eval: {
    summary: 'score a manifest of clips: WER/CER per language, noise words, RTF',
    load: async () => (await import('./cli/eval.js')).runEvalCommand,
  },
  models: {
    summary: 'list supported models, or pull one from the hub or a mirror',
    load: async () => (await import('./cli/models.js')).runModelsCommand,
  },
  serve: {
    summary: 'a Wyoming STT server (Home Assistant, Rhasspy…): --wyoming tcp://HOST:PORT or unix://PATH',
    load: async () => (await import('./cli/serve.js')).runServeCommand,
  },
  replay: {
    summary: 're-run a --trace JSONL session and report any difference from its recorded finals',
    load: async () => (await import('./cli/replay.js')).runReplayCommand,
  },
};

function isCommandName(value: string): value is CommandName {
  return Object.hasOwn(COMMANDS, value);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: stt-engine [command] [options]   (no command, or leading flags: live)',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `stt-engine <command> --help` for the options of a command.',
    'Models resolve from --model-dir, the cache (models/), STT_MODEL_MIRROR, then the Hugging Face hub.',
    '',
  ].join('\n');
}

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  // No command, or leading flags (`stt-engine --input f.wav`): the live engine, the assistant's default.
  if (first === undefined || (first.startsWith('-') && !['--help', '-h', '--version', '-v'].includes(first))) {
    const live = await COMMANDS.live.load();
    return live(argv, io);
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    io.stdout.write(usage());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!isCommandName(first)) {
    io.stderr.write(`error: unknown command '${first}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const command = await COMMANDS[first].load();
  return command(rest, io);
}

// Run only when executed as a program, not when imported by a test.
// npm's bin shim is a symlink: compare real paths.
const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(realpathSync(invokedPath)).href) {
  main(process.argv.slice(2), processIO()).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // Commands report their own coded errors; this is the last line of defence for a bug.
      const e = serializeError(err);
      process.stderr.write(`error [${e.code}]: ${e.message}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
