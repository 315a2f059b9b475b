/**
 * `composeTrees`: composition of two whole commits onto their base. Paths changed on one side take
 * that side's change (adds, deletes, renames, mode changes); paths changed on both sides are
 * merged file by file with {@link composeFile}; a rename on one side carries the other side's
 * edits of the old path to the new one. The ACUs of both sides are counted, identical ones (same
 * id) once: the summary `acu compose` prints.
 */
import { assert } from '../core/errors.js';
import type { IdentifiedAcu } from '../core/acu/model.js';
import type { GitRepo, PathChange, TreeChange } from '../git/index.js';
import { ParseCache } from '../extract/cache.js';
import { extractChangesFrom, identifyAll } from '../extract/commit.js';
import { decodeText, encodeText } from '../extract/text.js';
import { composeFile } from './file.js';
import type { Conflict } from './file.js';

/** A conflict in one file. */
export interface FileConflict {
  readonly file: string;
  readonly conflict: Conflict;
}

/** The composition of two commits. */
export interface TreeComposition {
  /** The changes to apply to the base tree (null deletes a path). */
  readonly changes: Map<string, PathChange>;
  readonly conflicts: FileConflict[];
  /** ACUs per side, identical ones on both sides, and those that commuted without conflict. */
  readonly counts: { readonly ours: number; readonly theirs: number; readonly deduplicated: number; readonly commuted: number };
  /** Files merged on both sides, by how. */
  readonly mergedFiles: number;
}

interface SideState {
  readonly byOldPath: Map<string, TreeChange>;
  readonly byNewPath: Map<string, TreeChange>;
}

function sideState(changes: readonly TreeChange[]): SideState {
  const byOldPath = new Map<string, TreeChange>();
  const byNewPath = new Map<string, TreeChange>();
  for (const change of changes) {
    if (change.oldPath !== null) byOldPath.set(change.oldPath, change);
    if (change.newPath !== null) byNewPath.set(change.newPath, change);
  }
  return { byOldPath, byNewPath };
}

function target(change: TreeChange): PathChange {
  return change.newOid === null || change.newMode === null ? null : { mode: change.newMode, oid: change.newOid };
}

/** Three-way merge of a mode: the side that changed it wins; null when both changed it differently. */
function mergeMode(base: string | null, ours: string | null, theirs: string | null): string | null {
  if (ours === base || ours === theirs) return theirs;
  if (theirs === base) return ours;
  return null;
}

/** Compose `ours` and `theirs` (commits or trees) onto `base`. */
export async function composeTrees(repo: GitRepo, revs: { base: string; ours: string; theirs: string }): Promise<TreeComposition> {
  const [toOurs, toTheirs] = await repo.diffTrees([{ from: revs.base, to: revs.ours }, { from: revs.base, to: revs.theirs }]);
  assert(toOurs !== undefined && toTheirs !== undefined, 'diffTrees answers both pairs');
  const ours = sideState(toOurs);
  const theirs = sideState(toTheirs);
  const changes = new Map<string, PathChange>();
  const conflicts: FileConflict[] = [];
  let mergedFiles = 0;
  for (const change of toOurs) {
    const oldPath = change.oldPath ?? change.newPath!;
    const other = change.oldPath === null ? theirs.byNewPath.get(change.newPath!) : theirs.byOldPath.get(oldPath);
    if (other === undefined) {
      applyOneSide(changes, change);
      continue;
    }
    mergedFiles += 1;
    await mergeBoth(repo, change, other, changes, conflicts);
  }
  for (const change of toTheirs) {
    const oldPath = change.oldPath ?? change.newPath!;
    const other = change.oldPath === null ? ours.byNewPath.get(change.newPath!) : ours.byOldPath.get(oldPath);
    if (other === undefined) applyOneSide(changes, change);
  }
  const counts = await countAcus(repo, toOurs, toTheirs, conflicts);
  return { changes, conflicts, counts, mergedFiles };
}

function applyOneSide(changes: Map<string, PathChange>, change: TreeChange): void {
  if (change.status === 'R' && change.oldPath !== null) changes.set(change.oldPath, null);
  changes.set(change.newPath ?? change.oldPath!, target(change));
}

/** Both sides touched one base path (or added one new path). */
async function mergeBoth(repo: GitRepo, o: TreeChange, t: TreeChange, changes: Map<string, PathChange>, conflicts: FileConflict[]): Promise<void> {
  const file = o.newPath ?? t.newPath ?? o.oldPath!;
  if (o.newOid === t.newOid && o.newMode === t.newMode && o.newPath === t.newPath) {
    applyOneSide(changes, o);
    return;
  }
  if (o.newOid === null || t.newOid === null) {
    // Removed on one side, changed on the other: keep the changed file, report the conflict.
    const kept = o.newOid === null ? t : o;
    applyOneSide(changes, kept);
    conflicts.push({ file, conflict: { path: '', kind: o.newOid === null ? 'remove/modify' : 'modify/remove', base: null, ours: null, theirs: null } });
    return;
  }
  const path = t.status === 'R' ? t.newPath! : o.newPath!;
  if (o.status === 'R' && t.status === 'R' && o.newPath !== t.newPath) {
    conflicts.push({ file, conflict: { path: '', kind: 'modify/modify', base: null, ours: o.newPath, theirs: t.newPath } });
  }
  if (o.status === 'R' || t.status === 'R') changes.set(o.oldPath!, null);
  const mode = mergeMode(o.oldMode, o.newMode, t.newMode) ?? o.newMode!;
  const blobs = await repo.readBlobs([...(o.oldOid === null ? [] : [o.oldOid]), o.newOid, t.newOid]);
  const texts = blobs.map((blob) => decodeText(blob));
  const [baseText, oursText, theirsText] = o.oldOid === null ? ['', texts[0], texts[1]] : texts;
  if (oursText === null || theirsText === null || baseText === null || baseText === undefined || oursText === undefined || theirsText === undefined) {
    changes.set(path, { mode, oid: o.newOid });
    conflicts.push({ file, conflict: { path: '', kind: 'modify/modify', base: null, ours: null, theirs: null } });
    return;
  }
  const result = composeFile({ path, base: baseText, ours: oursText, theirs: theirsText });
  const oid = await repo.writeBlob(encodeText(result.text));
  changes.set(path, { mode, oid });
  for (const conflict of result.conflicts) conflicts.push({ file: path, conflict });
}

/** ACUs per side; identical ones deduplicate; the rest commute unless their file conflicted there. */
async function countAcus(repo: GitRepo, toOurs: TreeChange[], toTheirs: TreeChange[], conflicts: FileConflict[]): Promise<TreeComposition['counts']> {
  const cache = new ParseCache();
  const extract = async (changes: TreeChange[]): Promise<IdentifiedAcu[]> => identifyAll(await extractChangesFrom(changes, repo, cache));
  const [oursAcus, theirsAcus] = [await extract(toOurs), await extract(toTheirs)];
  const oursIds = new Set(oursAcus.map((a) => a.id));
  const deduplicated = theirsAcus.filter((a) => oursIds.has(a.id)).length;
  const conflicted = new Set(conflicts.map((c) => `${c.file}#${c.conflict.path.split('/')[0] ?? ''}`));
  const inConflict = (a: IdentifiedAcu): boolean => {
    const symbol = a.acu.level === 'decl' ? a.acu.symbol : '';
    return conflicted.has(`${a.acu.file}#`) || conflicted.has(`${a.acu.file}#${symbol.split('/')[0] ?? ''}`);
  };
  const unique = [...oursAcus, ...theirsAcus.filter((a) => !oursIds.has(a.id))];
  const commuted = unique.filter((a) => !inConflict(a)).length - deduplicated;
  return { ours: oursAcus.length, theirs: theirsAcus.length, deduplicated, commuted: Math.max(0, commuted) };
}
