/**
 * The one model of a tree that validation and the agreed commit share. A tree is a flat map from
 * `/`-separated path to a git entry (mode and object id) holding files only: regular files
 * (100644, 100755), symlinks (120000) and gitlinks (160000). Directories are implied by the paths,
 * so the map is a git tree only when no path is both a file and a directory of another file. The
 * composition (compose-batch.ts) changes the map path by path; the checks here say which changed
 * paths break that rule or write something git itself would refuse, and whose change is to blame,
 * so the record behind it is rejected at validation — the same on every node — and the writer of
 * the agreed commit (src/sync/batch.ts) only ever sees a map that is a tree.
 */
import { assert } from '../core/errors.js';
import type { FileState } from '../extract/apply.js';
import { fileMode } from '../extract/commit.js';

/** A changed path's new entry, or null when the path is deleted. */
export type EntryChange = FileState | null;

/** Whether a mode is a regular file's: the only entries whose content is text to merge or parse. */
export function isRegularMode(mode: string): boolean {
  return mode === fileMode.regular || mode === fileMode.executable;
}

/** A changed path that cannot stand in the tree, and why. */
export interface TreeFault {
  readonly path: string;
  readonly message: string;
}

/**
 * Names git refuses as symlinks (it would follow them when reading its own configuration files):
 * `.gitmodules`, `.gitattributes`, `.gitignore`, `.mailmap`, compared the way the most lenient
 * file system compares them (any case, trailing dots and spaces dropped) and with the NTFS short
 * names git checks for `.gitmodules`.
 */
function isGitControlName(name: string): boolean {
  const folded = name.toLowerCase().replace(/[. ]+$/, '');
  if (['.gitmodules', '.gitattributes', '.gitignore', '.mailmap'].includes(folded)) return true;
  return /^gitmod~[1-4]$/.test(folded) || /^gi7eba~[1-9]$/.test(folded);
}

/** Each directory above `path`, nearest first. */
function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let cut = path.lastIndexOf('/'); cut > 0; cut = path.lastIndexOf('/', cut - 1)) out.push(path.slice(0, cut));
  return out;
}

/**
 * The changed paths that cannot stand, in path order, each to be put back as the base has it:
 *
 * - a file and a directory at one path (a file `p` and a file `p/q`): the base has no such pair,
 *   so at least one of the two was added by the changes. A path added below a file the base
 *   already had is at fault; of two added paths, the one whose change came later (`order`, the
 *   proposal index) is, and on a tie the deeper one;
 * - a symlink named like one of git's control files (isGitControlName).
 *
 * Putting an added path back removes it, which can break no other path: the answer needs one pass.
 */
export function treeFaults(
  base: ReadonlyMap<string, FileState>,
  changes: ReadonlyMap<string, EntryChange>,
  order: (path: string) => number,
): TreeFault[] {
  const faults = new Map<string, string>();
  for (const [path, change] of changes) {
    if (change === null || change.mode !== fileMode.symlink) continue;
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (isGitControlName(name)) faults.set(path, `'${path}' may not be a symlink (git refuses a symlinked '${name}')`);
  }
  const isFile = (path: string): boolean => (changes.has(path) ? changes.get(path) !== null : base.has(path)) && !faults.has(path);
  const added = [...changes].filter(([path, change]) => change !== null && !base.has(path)).map(([path]) => path).sort();
  const isAdded = new Set(added);
  if (added.length === 0) return sortedFaults(faults, changes);
  // The files below each added path, sorted (the first is named in a message every node signs).
  const below = new Map<string, string[]>();
  const visit = (file: string): void => {
    if (!isFile(file)) return;
    for (const dir of ancestorsOf(file)) if (isAdded.has(dir)) below.set(dir, [...(below.get(dir) ?? []), file]);
  };
  for (const file of base.keys()) if (!changes.has(file)) visit(file);
  for (const file of changes.keys()) visit(file);
  for (const list of below.values()) list.sort();
  for (const path of added) {
    if (faults.has(path)) continue;
    const fileAbove = ancestorsOf(path).find((dir) => isFile(dir) && !faults.has(dir));
    if (fileAbove !== undefined && (!isAdded.has(fileAbove) || order(fileAbove) <= order(path))) {
      faults.set(path, `'${path}' is below '${fileAbove}', which is a file`);
      continue;
    }
    const under = (below.get(path) ?? []).filter((file) => !faults.has(file));
    if (under.length === 0) continue;
    if (under.some((file) => !isAdded.has(file) || order(file) < order(path))) {
      faults.set(path, `'${path}' is a file where the tree has a directory ('${under[0]!}' is below it)`);
      continue;
    }
    for (const file of under) faults.set(file, `'${file}' is below '${path}', which is a file`);
  }
  return sortedFaults(faults, changes);
}

function sortedFaults(faults: ReadonlyMap<string, string>, changes: ReadonlyMap<string, EntryChange>): TreeFault[] {
  const out = [...faults].map(([path, message]) => ({ path, message })).sort((a, b) => (a.path < b.path ? -1 : 1));
  assert(out.every((fault) => changes.has(fault.path)), 'treeFaults: only changed paths are at fault');
  assert(new Set(out.map((fault) => fault.path)).size === out.length, 'treeFaults: one fault per path');
  return out;
}
