import { readFileSync } from 'node:fs';
import { AcuError, AssertionFailure, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import type { Command } from './command.js';
import { processIo } from './io.js';
import type { Io } from './io.js';

/** A command's entry in the registry: what `--help` prints, and how to load it on demand. */
interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<Command<unknown>>;
}

// Commands are imported only when invoked: a git hook that runs `acu hook post-commit` must not pay
// for loading the TypeScript compiler or the consensus code.
const commands: Readonly<Record<string, CommandEntry>> = {
  extract: {
    summary: 'split commits into atomic change units (ACUs); --check verifies the round trip',
    load: async () => (await import('./extract.js')).extractCommand,
  },
  compose: {
    summary: 'compose two commits onto their merge base, declaration by declaration',
    load: async () => (await import('./compose.js')).composeCommand,
  },
  'merge-driver': {
    summary: "git merge driver: 'acu merge-driver %O %A %B %P'; install / uninstall",
    load: async () => (await import('./merge-driver.js')).mergeDriverCommand,
  },
  'replay-merges': {
    summary: "replay a history's merges with acu and git; compare both with the human merges",
    load: async () => (await import('./replay-merges.js')).replayMergesCommand,
  },
  score: {
    summary: "score a range's ACUs (interference, near-duplicates, risk) and show the backend",
    load: async () => (await import('./score.js')).scoreCommand,
  },
  init: {
    summary: "create this repository's sync-node identity (an Ed25519 key, mode 0600)",
    load: async () => (await import('./init.js')).initCommand,
  },
  cluster: {
    summary: 'manage the cluster document (.acu/cluster.json): members, keys, addresses, protected branch',
    load: async () => (await import('./cluster.js')).clusterCommand,
  },
  node: {
    summary: "run this repository's sync node (start [--detach], stop), or print its systemd unit (service)",
    load: async () => (await import('./node-service.js')).nodeWithServiceCommand,
  },
  status: {
    summary: "the sync node's height, round, phase, leader, peers, pending ACUs and open conflicts",
    load: async () => (await import('./node-client.js')).statusCommand,
  },
  propose: {
    summary: "hand a commit's ACUs to the sync node (the post-commit hook does this for every commit)",
    load: async () => (await import('./node-client.js')).proposeCommand,
  },
  vote: {
    summary: "a person's vote on an open conflict (the node's policy votes after a timeout)",
    load: async () => (await import('./node-client.js')).voteCommand,
  },
  log: {
    summary: 'agreed commits of the cluster, with their ACUs, deferrals, rejections and signers',
    load: async () => (await import('./log.js')).logCommand,
  },
  verify: {
    summary: 'check every agreed commit\'s certificate against the cluster document, offline',
    load: async () => (await import('./verify.js')).verifyCommand,
  },
  hooks: {
    summary: 'install, remove or show the git hooks (post-commit queues commits, pre-push checks certification)',
    load: async () => (await import('./hooks.js')).hooksCommand,
  },
  demo: {
    summary: 'a walkthrough on a generated repository: ACUs, and a merge git conflicts on but acu does not',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  hook: {
    summary: "run one of acu's git hooks (git calls this through the installed shims)",
    load: async () => (await import('./hook.js')).hookCommand,
  },
};

function packageVersion(): string {
  const raw = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  const parsed = JSON.parse(raw) as { version?: unknown };
  return typeof parsed.version === 'string' ? parsed.version : '0.0.0';
}

function topLevelHelp(invokedAs: string): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return [
    `usage: ${invokedAs} <command> [<args>]`,
    '',
    'acu agrees, across the sites of one team, on which semantic changes land on a shared branch.',
    '',
    'commands:',
    ...lines,
    '',
    `Run '${invokedAs} <command> --help' for a command's options.`,
    `Options: --help, --version, --debug (print stack traces).`,
    '',
  ].join('\n');
}

/** Print an error the way git does, and pick the exit code for it. */
export function reportError(error: unknown, io: Io, debug: boolean): ExitCodeValue {
  if (error instanceof AcuError) {
    io.stderr(`error: ${error.message}\n`);
    if (error.hint !== undefined) io.stderr(`hint: ${error.hint}\n`);
    if (debug && error.cause instanceof Error) io.stderr(`${error.cause.stack ?? error.cause.message}\n`);
    if (error.code === 'ERR_USAGE') return ExitCode.usage;
    if (error.code === 'ERR_INTERRUPTED') return ExitCode.interrupted;
    return ExitCode.fatal;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  const kind = error instanceof AssertionFailure ? 'an invariant failed' : 'an unexpected error';
  io.stderr(`BUG: ${kind}: ${detail}\n`);
  io.stderr('hint: this is a bug in acu; please report it with the command you ran\n');
  return ExitCode.internalBug;
}

/** Run one invocation and return its exit code (the in-process entry point used by tests). */
export async function runCli(argv: readonly string[], io: Io, invokedAs = 'acu'): Promise<ExitCodeValue> {
  const debug = argv.includes('--debug');
  const args = argv.filter((arg) => arg !== '--debug');
  const [name, ...rest] = args;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      if (name === 'help' && rest[0] !== undefined) return await runCli([rest[0], '--help'], io, invokedAs);
      io.stdout(topLevelHelp(invokedAs));
      return name === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (name === '--version' || name === '-v' || name === 'version') {
      io.stdout(`acu ${packageVersion()}\n`);
      return ExitCode.ok;
    }
    const entry = commands[name];
    if (entry === undefined) {
      throw new AcuError('ERR_USAGE', `'${name}' is not an acu command`, {
        hint: `run '${invokedAs} --help' for the list of commands`,
      });
    }
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(`usage: ${invokedAs} ${command.usage}\n\n${command.help}\n`);
      return ExitCode.ok;
    }
    return await command.run(command.parse(rest), io);
  } catch (error) {
    return reportError(error, io, debug);
  }
}

/** The process entry point: the only place that calls process.exit. */
export async function main(argv: readonly string[], options: { invokedAs: string }): Promise<void> {
  const io = processIo();
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    io.stderr('\nerror: interrupted\n');
    process.exit(ExitCode.interrupted);
  });
  const code = await runCli(argv, io, options.invokedAs);
  if (!interrupted) {
    // Let stdout drain before exiting: a pipe reader must see every byte we wrote.
    process.stdout.write('', () => process.exit(code));
  }
}
