/** Validation inputs read from a git repository: a base tree and proposals extracted from commits. */
import type { GitRepo } from '../git/index.js';
import { ParseCache } from '../extract/cache.js';
import { extractChangesFrom, identifyAll } from '../extract/commit.js';
import type { BaseTree, Proposal } from './validate.js';

/** The tree of `treeish` as validation reads it. */
export async function gitBaseTree(repo: GitRepo, treeish: string): Promise<BaseTree> {
  const id = await repo.resolveTree(treeish);
  const entries = new Map<string, { mode: string; oid: string }>();
  for (const entry of await repo.readTree(id, { recursive: true })) {
    if (entry.type !== 'tree') entries.set(entry.path, { mode: entry.mode, oid: entry.oid });
  }
  return { id, entries, readBlobs: (oids) => repo.readBlobs(oids) };
}

/** The ACUs that turn `base` into `commit`, as one proposal of `site`. */
export async function proposalFromCommit(repo: GitRepo, options: { base: string; commit: string; site: string; cache?: ParseCache }): Promise<Proposal> {
  const [changes] = await repo.diffTrees([{ from: options.base, to: options.commit }]);
  const acus = await extractChangesFrom(changes ?? [], repo, options.cache ?? new ParseCache());
  return { site: options.site, acus: identifyAll(acus) };
}
