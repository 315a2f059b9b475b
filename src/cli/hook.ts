/**
 * `acu hook <name> [<args>]` — what the shims that `acu hooks install` writes call. Not for people:
 * git runs it. post-commit always exits 0; pre-push exits 1 only on a definite policy failure;
 * pre-receive (the server's gate) exits 1 when any ref update is refused.
 */
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { runPostCommit, runPrePush, runPreReceive } from '../sync/hook-run.js';
import type { Command } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu hook`. */
export interface HookOptions {
  readonly name: 'post-commit' | 'pre-push' | 'pre-receive';
}

function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    if (process.stdin.isTTY) {
      resolve('');
      return;
    }
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

async function run(options: HookOptions, io: Io): Promise<ExitCodeValue> {
  if (options.name === 'post-commit') {
    try {
      await runPostCommit(io.cwd, io);
    } catch (error) {
      // A post-commit hook must never make `git commit` look failed.
      io.stderr(`acu: ${error instanceof Error ? error.message : String(error)} (the commit itself is fine)\n`);
    }
    return ExitCode.ok;
  }
  if (options.name === 'pre-receive') return await runPreReceive(io.cwd, await readStdin(), io);
  return await runPrePush(io.cwd, await readStdin(), io);
}

/** The `acu hook` command. */
export const hookCommand: Command<HookOptions> = {
  name: 'hook',
  usage: 'hook (post-commit | pre-push <remote> <url> | pre-receive)',
  summary: 'run one of acu\'s git hooks (git calls this through the shims of `acu hooks install`)',
  help: 'Called by the hook shims that `acu hooks install` writes; see `acu hooks --help`.',
  parse: (argv) => {
    const [name] = argv;
    if (name !== 'post-commit' && name !== 'pre-push' && name !== 'pre-receive') {
      throw new AcuError('ERR_USAGE', `hook: unknown hook '${name ?? ''}'`, { hint: 'acu runs post-commit, pre-push and pre-receive' });
    }
    return { name };
  },
  run,
};
