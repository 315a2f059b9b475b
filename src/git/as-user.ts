/**
 * git run the way a person at a shell runs it, for `acu demo`, which plays developers committing,
 * merging, pushing and pulling: plain `git <args>` with the user's environment, configuration and
 * hooks (the hooks are what the demo shows), and none of the settings exec.ts pins for acu's own
 * reads and writes. Output comes back as text, to be printed; a failure is a status, not an error.
 * The demo's other commands (acu itself) run through the same runner, {@link runAsUser}.
 */
import { spawn, spawnSync } from 'node:child_process';
import { assert } from '../core/errors.js';

/** How a command ended: its exit status (127 when git could not start) and what it printed. */
export interface UserCommandResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for the user's git: where it runs, and variables set over the user's environment. */
export interface AsUserOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Run `git <args>` as the user would, to completion. */
export function runGitAsUser(args: readonly string[], options: AsUserOptions): Promise<UserCommandResult> {
  assert(args.length > 0, 'runGitAsUser: a git subcommand');
  return runAsUser('git', args, options);
}

/** Run `git <args>` as the user would, to completion, blocking: for a walkthrough that prints each step as it goes. */
export function runGitAsUserSync(args: readonly string[], options: AsUserOptions): UserCommandResult {
  assert(args.length > 0, 'runGitAsUserSync: a git subcommand');
  return runAsUserSync('git', args, options);
}

/**
 * Run `program <args>` as the user would, to completion (127 when it could not start). git is one
 * such program; the demo runs acu's own launcher the same way, beside git, so one runner serves both.
 */
export function runAsUser(program: string, args: readonly string[], options: AsUserOptions): Promise<UserCommandResult> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { cwd: options.cwd, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (error) => resolve({ status: 127, stdout, stderr: `${stderr}${error.message}` }));
    child.once('close', (code) => resolve({ status: code ?? 128, stdout, stderr }));
  });
}

/** {@link runAsUser}, blocking. */
export function runAsUserSync(program: string, args: readonly string[], options: AsUserOptions): UserCommandResult {
  const result = spawnSync(program, args, { cwd: options.cwd, encoding: 'utf8', env: { ...process.env, ...options.env } });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}
