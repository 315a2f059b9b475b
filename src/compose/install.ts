/**
 * Installing acu as a git merge driver: the `merge.acu.*` configuration and the attributes lines
 * that route TypeScript and JavaScript files, JSON, Markdown, YAML and changelogs to it. Install is idempotent; uninstall removes
 * exactly what install added (a marked block in the attributes file, the config section).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AcuError } from '../core/errors.js';
import { globalAttributesFile, removeMergeDriverConfig, setMergeDriverConfig } from '../git/config.js';
import type { ConfigScope } from '../git/config.js';
import { launcherCommand } from '../git/launcher.js';
import { workTreeTop } from '../git/workdir.js';
import { sourceExtensions } from '../extract/segment.js';

/** Where the driver is installed: one repository, or the user's global git configuration. */
export interface InstallTarget {
  /** A directory inside the repository (ignored with `global`). */
  readonly cwd: string;
  readonly global: boolean;
}

/** The driver's name in git configuration and in the attributes lines (`merge=acu`). */
const driverName = 'acu';

const blockStart = '# >>> acu merge driver (acu merge-driver install) >>>';
const blockEnd = '# <<< acu merge driver <<<';

/**
 * Changelogs, routed to acu too: two branches' entries added at one point are both kept
 * (composeFile's union of insertions), where git's default merge stops on a conflict.
 */
const changelogPatterns: readonly string[] = ['CHANGELOG*.md', '[Cc]hange[Ll]og*.md', 'CHANGES*.md', '[Cc]hanges*.md', 'HISTORY*.md', '[Hh]istory*.md'];

/**
 * JSON (merged as one object literal: two dependencies added at one place of package.json), and
 * the line lists (composeFile's isLineListPath: Markdown, YAML, ignore files), where edits of
 * neighbouring lines are two edits. Lock files among them are merged by lines, as git would.
 */
const structuredTextPatterns: readonly string[] = ['*.json', '*.md', '*.mdx', '*.markdown', '*.yml', '*.yaml', '.gitignore', '.gitattributes'];

/** The attributes lines install adds, between the markers. */
export function attributesBlock(): string {
  const lines = [...sourceExtensions.map((ext) => `*${ext}`), ...changelogPatterns, ...structuredTextPatterns].map((pattern) => `${pattern} merge=${driverName}`);
  return `${blockStart}\n${lines.join('\n')}\n${blockEnd}\n`;
}

/** The `merge.acu.driver` command line: node running this checkout's launcher. */
export function driverCommand(): string {
  return `${launcherCommand()} merge-driver %O %A %B %P --marker-size %L`;
}

async function configArgs(target: InstallTarget): Promise<{ scope: ConfigScope; attributes: string }> {
  if (target.global) return { scope: 'global', attributes: await globalAttributesPath(target.cwd) };
  const top = await workTreeTop(target.cwd);
  if (top === null) {
    throw new AcuError('ERR_NOT_A_GIT_REPO', `${target.cwd} is not in a git work tree`, {
      hint: "run 'acu merge-driver install' inside a repository's work tree, or pass --global",
    });
  }
  return { scope: 'local', attributes: join(top, '.gitattributes') };
}

async function globalAttributesPath(cwd: string): Promise<string> {
  const configured = await globalAttributesFile(cwd);
  if (configured !== null) return configured;
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.config'), 'git', 'attributes');
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return '';
    throw new AcuError('ERR_IO', `cannot read ${path}: ${String(error)}`, { cause: error });
  }
}

function withoutBlock(text: string): string {
  const start = text.indexOf(blockStart);
  if (start === -1) return text;
  const end = text.indexOf(blockEnd, start);
  if (end === -1) return text;
  const after = text.indexOf('\n', end);
  return text.slice(0, start) + (after === -1 ? '' : text.slice(after + 1));
}

/** Write the config and the attributes block; returns the attributes file written. */
export async function installDriver(target: InstallTarget): Promise<{ attributes: string; driver: string }> {
  const { scope, attributes } = await configArgs(target);
  const driver = driverCommand();
  const description = 'acu: declaration-level merge of TypeScript and JavaScript';
  await setMergeDriverConfig(target.cwd, { driver: driverName, description, command: driver }, { scope });
  const current = withoutBlock(await readOrEmpty(attributes));
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  await mkdir(dirname(attributes), { recursive: true });
  await writeFile(attributes, `${current}${separator}${attributesBlock()}`);
  return { attributes, driver };
}

/** Remove the config section and the attributes block install wrote. */
export async function uninstallDriver(target: InstallTarget): Promise<{ attributes: string }> {
  const { scope, attributes } = await configArgs(target);
  await removeMergeDriverConfig(target.cwd, driverName, { scope });
  const current = await readOrEmpty(attributes);
  const next = withoutBlock(current);
  if (next !== current) await writeFile(attributes, next);
  return { attributes };
}
