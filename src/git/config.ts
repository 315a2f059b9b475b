/**
 * git configuration: the settings acu writes (the merge driver's `merge.<driver>.*` section, a
 * cloned site's copied settings) and the ones it reads (`acu.*`, the global attributes file).
 * Each call is one `git config` process in the repository that contains `cwd` (or the user's
 * global file), run where it is needed and never on a per-object path.
 */
import { assert } from '../core/errors.js';
import { assertNotOption, runGit, runGitRaw } from './exec.js';

/** Which configuration file a write goes to: the repository's own, or the user's global one. */
export type ConfigScope = 'local' | 'global';

/** Options for the configuration writes. */
export interface ConfigWriteOptions {
  /** The file written; omitted: git's default for a write, the repository's own file. */
  readonly scope?: ConfigScope;
}

/** One `key value` line of `git config --get-regexp`: the key as git prints it (lower-cased section and name). */
export interface ConfigEntry {
  readonly key: string;
  readonly value: string;
}

function scopeArgs(scope: ConfigScope | undefined): string[] {
  if (scope === undefined) return [];
  return scope === 'global' ? ['--global'] : ['--local'];
}

/** Set `key` to `value` (`git config [--local|--global] <key> <value>`); throws ERR_GIT_FAILED when git refuses. */
export async function setConfig(cwd: string, key: string, value: string, options: ConfigWriteOptions = {}): Promise<void> {
  assertNotOption(key, 'a config key');
  await runGit(['config', ...scopeArgs(options.scope), key, value], { cwd, gitDir: null });
}

/** What names a merge driver in git configuration (gitattributes(5), "Defining a custom merge driver"). */
export interface MergeDriverConfig {
  /** The driver's name, as `merge=<driver>` in the attributes names it. */
  readonly driver: string;
  /** `merge.<driver>.name`: the description git shows. */
  readonly description: string;
  /** `merge.<driver>.driver`: the command line git runs, with its `%O %A %B %P %L` placeholders. */
  readonly command: string;
}

/**
 * Write a merge driver's section (`merge.<driver>.name`, then `merge.<driver>.driver`). Writing
 * it again replaces the values, so install can run any number of times.
 */
export async function setMergeDriverConfig(cwd: string, config: MergeDriverConfig, options: { scope: ConfigScope }): Promise<void> {
  assert(/^[A-Za-z0-9-]+$/.test(config.driver), `a merge driver name git accepts: ${JSON.stringify(config.driver)}`);
  assert(config.command !== '', 'a merge driver has a command line');
  await setConfig(cwd, `merge.${config.driver}.name`, config.description, options);
  await setConfig(cwd, `merge.${config.driver}.driver`, config.command, options);
}

/**
 * Remove a merge driver's section (`git config --remove-section merge.<driver>`). A section that
 * is not there is nothing to remove: git exits 128 for it, which is not an error here.
 */
export async function removeMergeDriverConfig(cwd: string, driver: string, options: { scope: ConfigScope }): Promise<void> {
  assert(/^[A-Za-z0-9-]+$/.test(driver), `a merge driver name git accepts: ${JSON.stringify(driver)}`);
  await runGit(['config', ...scopeArgs(options.scope), '--remove-section', `merge.${driver}`], { cwd, gitDir: null, okExitCodes: [0, 128] });
}

/**
 * Every `acu.*` setting visible in `cwd`'s repository (system, global, local), in git's order; a
 * key set twice appears twice. None set is an empty list (git exits 1 for it). A key with no
 * value (`[acu] flag` without `=`) prints without a space and is left out. Read without `-z`, as
 * the callers always have: a value with a newline in it is not one of acu's settings.
 */
export async function readAcuConfig(cwd: string): Promise<ConfigEntry[]> {
  const result = await runGit(['config', '--get-regexp', '^acu\\.'], { cwd, gitDir: null, okExitCodes: [0, 1] });
  const entries: ConfigEntry[] = [];
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) entries.push({ key: line.slice(0, space), value: line.slice(space + 1) });
  }
  return entries;
}

/**
 * The user's global attributes file as `core.attributesFile` names it (`~` expanded by git), or
 * null when it is not set: then git reads `$XDG_CONFIG_HOME/git/attributes`, which the caller works out.
 */
export async function globalAttributesFile(cwd: string): Promise<string | null> {
  const configured = await runGitRaw(['config', '--global', '--path', 'core.attributesFile'], { cwd, gitDir: null });
  const value = configured.stdout.toString('utf8').trim();
  return configured.exitCode === 0 && value !== '' ? value : null;
}
