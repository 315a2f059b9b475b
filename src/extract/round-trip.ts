/**
 * The round-trip check of extraction (`--check`): apply a commit's ACUs back to its parent and
 * compare the result with the commit's own changes, path by path. Used by extraction in this
 * thread (range.ts) and by the extraction workers (worker.ts).
 */
import type { GitRepo, TreeChange } from '../git/index.js';
import type { ParentFiles, TreeEdits } from './apply.js';

/**
 * The parent tree as the round trip sees it: the old side of every changed path. Paths the commit
 * does not change are never touched by its ACUs; if one were, the comparison below reports it.
 */
export function parentView(repo: GitRepo, changes: readonly TreeChange[], blobs: ReadonlyMap<string, Uint8Array>): ParentFiles {
  const entries = new Map<string, { mode: string; oid: string }>();
  for (const change of changes) {
    if (change.oldPath !== null && change.oldMode !== null && change.oldOid !== null) {
      entries.set(change.oldPath, { mode: change.oldMode, oid: change.oldOid });
    }
  }
  return {
    entry: (path) => Promise.resolve(entries.get(path) ?? null),
    read: async (oid) => blobs.get(oid) ?? (await repo.readBlob(oid)),
  };
}

/** Compare applied edits with the commit's own changes; each difference is one line. */
export function verifyRoundTrip(edits: TreeEdits, changes: readonly TreeChange[]): string[] {
  const expected = new Map<string, { mode: string; oid: string } | null>();
  for (const change of changes) {
    if (change.status === 'D' || change.status === 'R') expected.set(change.oldPath!, null);
    if (change.status !== 'D') expected.set(change.newPath!, { mode: change.newMode!, oid: change.newOid! });
  }
  const failures: string[] = [];
  for (const [path, want] of expected) {
    const got = edits.get(path);
    if (!edits.has(path)) {
      failures.push(`${path}: not changed by the ACUs`);
    } else if (want === null || got === null || got === undefined) {
      if (want !== got) failures.push(`${path}: ${want === null ? 'should be deleted' : 'was deleted'}`);
    } else if (want.oid !== got.oid || want.mode !== got.mode) {
      failures.push(`${path}: got ${got.mode} ${got.oid.slice(0, 12)}, want ${want.mode} ${want.oid.slice(0, 12)}`);
    }
  }
  for (const path of edits.keys()) {
    if (!expected.has(path)) failures.push(`${path}: changed by the ACUs but not by the commit`);
  }
  return failures;
}
