/**
 * `acu hooks install [--server]|uninstall|status` — manage acu's git hooks in this repository
 * (honouring core.hooksPath; an existing hook is chained, never overwritten). `--server` installs
 * the pre-receive gate of the shared repository instead of the client hooks.
 */
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { hookStatus, installHooks, uninstallHooks } from '../sync/hooks.js';
import type { Command } from './command.js';
import { parseCommandArgs, refusePositionals } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu hooks`. */
export interface HooksOptions {
  readonly action: 'install' | 'uninstall' | 'status';
  readonly json: boolean;
  /** Install the server's pre-receive gate rather than the client hooks. */
  readonly server: boolean;
}

async function run(options: HooksOptions, io: Io): Promise<ExitCodeValue> {
  const result = options.action === 'install'
    ? await installHooks(io.cwd, { server: options.server })
    : options.action === 'uninstall' ? await uninstallHooks(io.cwd) : await hookStatus(io.cwd);
  if (options.json) {
    io.stdout(`${JSON.stringify(result)}\n`);
    return ExitCode.ok;
  }
  io.stdout(`hooks directory: ${result.directory}\n`);
  for (const hook of result.hooks) io.stdout(`  ${hook.name.padEnd(12)} ${hook.state}\n`);
  return ExitCode.ok;
}

/** The `acu hooks` command. */
export const hooksCommand: Command<HooksOptions> = {
  name: 'hooks',
  usage: 'hooks (install [--server] | uninstall | status) [--json]',
  summary: 'install, remove or show the git hooks (post-commit queues commits, pre-push checks certification)',
  help: `  install            write the post-commit and pre-push hooks; a hook already there is kept and chained
  install --server   write the pre-receive gate instead, in the shared (usually bare) repository
  uninstall          remove every acu hook, and put back any hook they chained
  status             show each hook's state

post-commit queues every commit for the local sync node (durably, in a few milliseconds) and never
fails; pre-push refuses to push the protected branch beyond what the cluster certified
(refs/acu/<branch>) or to commits whose certificates do not hold, and never blocks because a peer
is unreachable. pre-receive, on the server, refuses every push that would move the protected
branch to a commit the cluster did not certify, rewrite or delete it, or rewrite the notes.`,
  parse: (argv) => {
    const [action, ...rest] = argv;
    const { values, positionals } = parseCommandArgs('hooks', rest, { json: { type: 'boolean' }, server: { type: 'boolean' } });
    refusePositionals('hooks', positionals);
    if (action !== 'install' && action !== 'uninstall' && action !== 'status') {
      throw new AcuError('ERR_USAGE', `hooks: ${action === undefined ? 'which action? install, uninstall or status' : `unknown action '${action}'`}`, {
        hint: "run 'acu hooks --help' for its usage",
      });
    }
    if (values.server === true && action !== 'install') {
      throw new AcuError('ERR_USAGE', `hooks: --server goes with install only`, { hint: `'acu hooks ${action}' covers the server's hook too` });
    }
    return { action, json: values.json === true, server: values.server === true };
  },
  run,
};
