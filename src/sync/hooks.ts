/**
 * acu's git hooks, and how they are installed.
 *
 * - `post-commit` queues the new commit in the outbox (fsynced) and pokes the local node. It always
 *   exits 0 and does no heavy work: extraction and proposal happen in the node.
 * - `pre-push` refuses to push the protected branch beyond what the cluster certified
 *   (`refs/acu/<branch>`), or to commits whose certificates do not hold. It reads only local state,
 *   so an unreachable peer never blocks a push.
 * - `pre-receive` (`acu hooks install --server`, in the shared repository) is the gate where
 *   commits land: the protected branch moves only to certified commits, the notes only forward.
 *
 * Install writes a small shim per hook into git's hooks directory (`git rev-parse --git-path
 * hooks`, which honours `core.hooksPath`). A hook that is already there and is not acu's is moved
 * aside to `<name>.acu-chained` and run first by the shim, with its exit code respected; uninstall
 * puts it back. Nothing is ever overwritten.
 */
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AcuError } from '../core/errors.js';
import { gitHooksDirectory } from '../git/oneoff.js';
import { launcherCommand } from '../git/launcher.js';

/** The hooks acu installs in a clone where people commit. */
export const clientHookNames = ['post-commit', 'pre-push'] as const;

/** The hooks acu installs in the shared repository pushes land in (`--server`). */
export const serverHookNames = ['pre-receive'] as const;

/** Every hook acu knows: status and uninstall cover them all. */
export const hookNames = [...clientHookNames, ...serverHookNames] as const;

/** One of {@link hookNames}. */
export type HookName = (typeof hookNames)[number];

/** Which hooks an install writes. */
export interface InstallOptions {
  /** The server's gate (pre-receive) instead of the client hooks. */
  readonly server?: boolean;
}

/** Hooks that read their input on stdin: the shim keeps a copy for the chained hook and for acu. */
const stdinHooks: ReadonlySet<HookName> = new Set(['pre-push', 'pre-receive']);

const shimMarker = '# acu hook shim (acu hooks install)';
const chainedSuffix = '.acu-chained';

/** The hooks directory git uses for the repository at `cwd` (core.hooksPath honoured). */
export function hooksDirectory(cwd: string): Promise<string> {
  return gitHooksDirectory(cwd);
}

/**
 * The shim for one hook. pre-push and pre-receive read the refs being pushed on stdin; the shim
 * keeps a copy so that both a chained hook and acu can read them, and a chained hook that refuses
 * ends the push before acu runs.
 */
export function shimText(name: HookName): string {
  const chained = `"$(dirname "$0")/${name}${chainedSuffix}"`;
  const acu = `${launcherCommand()} hook ${name} "$@"`;
  if (stdinHooks.has(name)) {
    return [
      '#!/bin/sh',
      shimMarker,
      '# A hook that was here before is kept beside this one and runs first.',
      'input=$(cat)',
      `if [ -x ${chained} ]; then printf '%s\\n' "$input" | ${chained} "$@" || exit $?; fi`,
      `printf '%s\\n' "$input" | exec ${acu}`,
      '',
    ].join('\n');
  }
  return [
    '#!/bin/sh',
    shimMarker,
    '# A hook that was here before is kept beside this one and runs first.',
    `if [ -x ${chained} ]; then ${chained} "$@"; fi`,
    `exec ${acu}`,
    '',
  ].join('\n');
}

/** The state of one hook. */
export type HookState = 'installed' | 'installed, chaining an earlier hook' | 'absent' | 'another tool\'s hook';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function isShim(path: string): Promise<boolean> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.includes(shimMarker);
}

/** Each hook's state. */
export async function hookStatus(cwd: string): Promise<{ directory: string; hooks: { name: HookName; state: HookState }[] }> {
  const directory = await hooksDirectory(cwd);
  const hooks = await Promise.all(hookNames.map(async (name) => {
    const path = join(directory, name);
    if (!(await exists(path))) return { name, state: 'absent' as const };
    if (!(await isShim(path))) return { name, state: "another tool's hook" as const };
    return { name, state: (await exists(path + chainedSuffix)) ? ('installed, chaining an earlier hook' as const) : ('installed' as const) };
  }));
  return { directory, hooks };
}

/**
 * Install the client hooks, or with `server` the pre-receive gate; idempotent. Returns every
 * hook's state afterwards.
 */
export async function installHooks(cwd: string, options: InstallOptions = {}): Promise<{ directory: string; hooks: { name: HookName; state: HookState }[] }> {
  const directory = await hooksDirectory(cwd);
  await mkdir(directory, { recursive: true });
  for (const name of options.server === true ? serverHookNames : clientHookNames) {
    const path = join(directory, name);
    if ((await exists(path)) && !(await isShim(path))) {
      if (await exists(path + chainedSuffix)) {
        throw new AcuError('ERR_CONFIG', `both ${path} and ${path}${chainedSuffix} exist, and neither is acu's`, {
          hint: `merge them by hand into ${path}${chainedSuffix}, remove ${path}, and install again`,
        });
      }
      await rename(path, path + chainedSuffix);
    }
    await writeFile(path, shimText(name));
    await chmod(path, 0o755);
  }
  return hookStatus(cwd);
}

/** Remove acu's hooks and put back the hooks they chained. */
export async function uninstallHooks(cwd: string): Promise<{ directory: string; hooks: { name: HookName; state: HookState }[] }> {
  const directory = await hooksDirectory(cwd);
  for (const name of hookNames) {
    const path = join(directory, name);
    if (!(await exists(path)) || !(await isShim(path))) continue;
    await rm(path);
    if (await exists(path + chainedSuffix)) await rename(path + chainedSuffix, path);
  }
  return hookStatus(cwd);
}
