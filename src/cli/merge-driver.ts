/**
 * `acu merge-driver %O %A %B %P [--marker-size %L]`, and `acu merge-driver install|uninstall [--global]`.
 *
 * git's merge-driver contract: %O holds the ancestor's version, %A ours, %B theirs, %P is the
 * path. The driver writes the result to %A and exits 0 when the merge is clean, 1 when the result
 * holds conflict markers. Anything else (an unreadable file) exits 128, and git reports a conflict.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import type { DriverMergeInput, DriverMergeResult } from '../compose/service-merge.js';
import { mergeViaService } from '../compose/service-client.js';
import { enableCompileCache, runtimeDirectory } from '../compose/service-protocol.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';

// This module is what git loads once per conflicting file. It imports no parser and no merge code:
// the warm service merges (service-client.ts), and only when it cannot does the driver load the
// merge function itself. install / uninstall are loaded when asked for.

/** Parsed options of `acu merge-driver`. */
export type MergeDriverOptions =
  | { readonly action: 'merge'; readonly base: string; readonly ours: string; readonly theirs: string; readonly path: string; readonly markerSize: number }
  | { readonly action: 'install' | 'uninstall'; readonly global: boolean };

const help = `As a git merge driver: merge %O (ancestor), %A (ours; the result is written here) and %B
(theirs) for the file at %P, declaration by declaration. Exit 0 when clean, 1 with conflict markers.

  install [--global]    configure merge.acu.* and route *.ts, *.tsx, *.js... to it in .gitattributes
                        (--global: the global config and attributes file)
  uninstall [--global]  remove both again
  --marker-size N       conflict marker length (git's %L; default 7)

The first file starts a per-user merge service that keeps the parser loaded (socket in
$XDG_RUNTIME_DIR/acu or <tmpdir>/acu-<uid>; it exits after 10 idle minutes), so the files after it
do not load the parser again. Same results either way; ACU_MERGE_SERVICE=0 merges every file in
the driver's own process.`;

/** The longest conflict marker accepted (git's own limit is far below). */
const markerSizeMax = 100;

/** git's conflict marker length when %L is not passed. */
const markerSizeDefault = 7;

function parse(argv: readonly string[]): MergeDriverOptions {
  const { values, positionals } = parseCommandArgs('merge-driver', argv, {
    global: { type: 'boolean' },
    'marker-size': { type: 'string' },
  });
  const [first] = positionals;
  if ((first === 'install' || first === 'uninstall') && positionals.length === 1) return { action: first, global: values.global === true };
  const [base, ours, theirs, path] = positionals;
  if (base === undefined || ours === undefined || theirs === undefined || positionals.length > 4) {
    throw new AcuError('ERR_USAGE', 'merge-driver: expected %O %A %B [%P], or install / uninstall', { hint: "run 'acu merge-driver --help' for its usage" });
  }
  const markerSize = parseCount('merge-driver', 'marker-size', values['marker-size']) ?? markerSizeDefault;
  if (markerSize < 1 || markerSize > markerSizeMax) {
    throw new AcuError('ERR_USAGE', `merge-driver: --marker-size must be between 1 and ${markerSizeMax}`, { hint: "run 'acu merge-driver --help' for its usage" });
  }
  return { action: 'merge', base, ours, theirs, path: path ?? ours, markerSize };
}

async function readBytes(io: Io, file: string): Promise<Uint8Array> {
  try {
    return await readFile(resolve(io.cwd, file));
  } catch (error) {
    throw new AcuError('ERR_IO', `cannot read ${file}: ${String(error)}`, { cause: error, hint: 'git passes the files as %O %A %B' });
  }
}

/**
 * The merge, through the warm service when it can, else in this process. Both run
 * mergeForDriver on the same bytes: where a file is merged never changes its result.
 */
async function mergeFile(input: DriverMergeInput, env: Io['env']): Promise<DriverMergeResult> {
  const served = await mergeViaService(input, env);
  if (served.result !== null) return served.result;
  const dir = runtimeDirectory(env);
  if (dir !== null) await enableCompileCache(dir);
  const { mergeForDriver } = await import('../compose/service-merge.js');
  return mergeForDriver(input);
}

async function runMerge(options: MergeDriverOptions & { action: 'merge' }, io: Io): Promise<ExitCodeValue> {
  const [base, ours, theirs] = await Promise.all([readBytes(io, options.base), readBytes(io, options.ours), readBytes(io, options.theirs)]);
  const result = await mergeFile({ path: options.path, base, ours, theirs, markerSize: options.markerSize }, io.env);
  if (result.type === 'binary') {
    // Binary content: leave ours in place and let the user decide, as git's binary driver does.
    io.stderr(`warning: ${options.path}: binary content, kept ours\n`);
    return ExitCode.negative;
  }
  if (result.bug !== null) {
    io.stderr(`BUG: acu merge-driver: ${result.bug}\n`);
    io.stderr(`hint: ${options.path} was merged by lines instead; please report this bug\n`);
  }
  await writeFile(resolve(io.cwd, options.ours), result.text);
  if (result.conflicts.length === 0) return ExitCode.ok;
  for (const conflict of result.conflicts) {
    io.stderr(`CONFLICT (${conflict.kind}): ${options.path}${conflict.path === '' ? '' : `#${conflict.path}`}\n`);
  }
  return ExitCode.negative;
}

async function run(options: MergeDriverOptions, io: Io): Promise<ExitCodeValue> {
  if (options.action === 'merge') return await runMerge(options, io);
  const target = { cwd: io.cwd, global: options.global };
  const { installDriver, uninstallDriver } = await import('../compose/install.js');
  if (options.action === 'install') {
    const { attributes, driver } = await installDriver(target);
    io.stdout(`installed merge driver 'acu' (${options.global ? 'global' : 'local'} config): ${driver}\nattributes: ${attributes}\n`);
  } else {
    const { attributes } = await uninstallDriver(target);
    io.stdout(`removed merge driver 'acu' (${options.global ? 'global' : 'local'} config) and its lines in ${attributes}\n`);
  }
  return ExitCode.ok;
}

/** The `acu merge-driver` command. */
export const mergeDriverCommand: Command<MergeDriverOptions> = {
  name: 'merge-driver',
  usage: 'merge-driver %O %A %B %P [--marker-size %L] | merge-driver (install | uninstall) [--global]',
  summary: "git merge driver: 'acu merge-driver %O %A %B %P'; install / uninstall",
  help,
  parse,
  run,
};
