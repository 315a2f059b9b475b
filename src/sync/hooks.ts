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
 * The hook programs are the files of the package's top-level `hooks/` folder: install copies each
 * into git's hooks directory (`git rev-parse --git-path hooks`, which honours `core.hooksPath`),
 * with the absolute command of this package's launcher filled in; each is a few lines of shell
 * that start `bin/acu.js`, whose commands load lazily, so a hook starts fast. A hook that is already there and is not acu's is moved
 * aside to `<name>.acu-chained` and run first by the shim, with its exit code respected; uninstall
 * puts it back. Nothing is ever overwritten.
 */
import { readFileSync } from 'node:fs';
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AcuError, assert } from '../core/errors.js';
import { gitHooksDirectory } from '../git/oneoff.js';
import { launcherCommand, launcherPath } from '../git/launcher.js';

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

const shimMarker = '# acu hook shim (acu hooks install)';
const chainedSuffix = '.acu-chained';

/** The hooks directory git uses for the repository at `cwd` (core.hooksPath honoured). */
export function hooksDirectory(cwd: string): Promise<string> {
  return gitHooksDirectory(cwd);
}

/** The folder of hook programs this package ships (`hooks/` at its top level, beside `bin/`). */
export function hookProgramsDirectory(): string {
  // bin/acu.js -> hooks/
  return join(dirname(launcherPath()), '..', 'hooks');
}

/** Where the hook program `@ACU@` stands for this package's launcher command. */
const launcherPlaceholder = '@ACU@';

/**
 * The hook as installed: the program `hooks/<name>` of this package, with the absolute command of
 * its launcher in place of `@ACU@` (git runs hooks with whatever PATH the user has). pre-push and
 * pre-receive read the refs being pushed on stdin; the program keeps a copy so that both a chained
 * hook and acu can read them, and a chained hook that refuses ends the push before acu runs.
 */
export function shimText(name: HookName): string {
  const path = join(hookProgramsDirectory(), name);
  let program: string;
  try {
    program = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new AcuError('ERR_CONFIG', `acu's hook program ${path} is missing`, { hint: 'reinstall acu: its package ships the hooks/ folder', cause });
  }
  assert(program.includes(shimMarker), `the hook program ${name} carries the shim marker`);
  assert(program.includes(`${launcherPlaceholder} hook ${name}`), `the hook program ${name} runs acu's ${name}`);
  return program.replaceAll(launcherPlaceholder, launcherCommand());
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
