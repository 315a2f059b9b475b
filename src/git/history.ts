/**
 * Questions about history that `GitRepo`'s general walks do not answer in one call: a
 * repository's two-parent merges, the merge base of two commits, the commits of a branch that
 * nothing else holds yet, a commit object's raw text. One git process each.
 */
import { assert } from '../core/errors.js';
import { assertNotOption, runGit, runGitRaw } from './exec.js';
import { isHexOid } from './objects.js';
import type { GitRepo } from './repo.js';

/** A two-parent merge commit with its parents: `ours` the first, `theirs` the second. */
export interface MergeCommit {
  readonly oid: string;
  readonly ours: string;
  readonly theirs: string;
}

/**
 * The two-parent merges reachable from every ref, oldest first (`git rev-list --merges
 * --min-parents=2 --max-parents=2 --parents --topo-order --reverse --all`): octopus merges are
 * left out, and topological order makes the answer independent of commit dates.
 */
export async function listMergeCommits(repo: GitRepo): Promise<MergeCommit[]> {
  const out = await runGit(['rev-list', '--merges', '--min-parents=2', '--max-parents=2', '--parents', '--topo-order', '--reverse', '--all'], {
    cwd: repo.gitDir,
    gitDir: repo.gitDir,
  });
  const merges: MergeCommit[] = [];
  for (const line of out.stdout.toString('utf8').split('\n')) {
    const [oid, ours, theirs] = line.split(' ');
    if (oid !== undefined && ours !== undefined && theirs !== undefined) merges.push({ oid, ours, theirs });
  }
  assert(merges.every((merge) => isHexOid(merge.oid) && isHexOid(merge.theirs)), 'rev-list --parents printed commit ids');
  return merges;
}

/**
 * One best common ancestor of `a` and `b` (`git merge-base a b`; of several, the one git picks),
 * or null when they have none or git cannot tell (an object missing, a shallow boundary).
 */
export async function mergeBase(repo: GitRepo, a: string, b: string): Promise<string | null> {
  assert(!a.startsWith('-') && !b.startsWith('-'), 'mergeBase: commits, not options');
  const result = await runGitRaw(['merge-base', a, b], { cwd: repo.gitDir, gitDir: repo.gitDir });
  const base = result.stdout.toString('utf8').split('\n')[0] ?? '';
  return result.exitCode !== 0 || base === '' ? null : base;
}

/** What {@link listNonMergeCommits} walks: from `tip`, stopping at what the excluded revisions hold. */
export interface NonMergeWalk {
  readonly tip: string;
  /** Commits whose history is left out. */
  readonly exclude: readonly string[];
  /** Leave out what any remote-tracking ref holds too (`--remotes`). */
  readonly excludeRemotes: boolean;
  /** The most commits returned; the walk stops there. */
  readonly countMax: number;
}

/**
 * The non-merge commits reachable from `tip` and from none of the excluded ones, newest first
 * (`git rev-list --no-merges --topo-order --max-count=<n> <tip> --not [--remotes] <exclude>... --`).
 * --topo-order gives the same answer whatever the commit dates say; --max-count bounds the output,
 * and the negative side bounds the walk.
 */
export async function listNonMergeCommits(repo: GitRepo, walk: NonMergeWalk): Promise<string[]> {
  assert(Number.isSafeInteger(walk.countMax) && walk.countMax > 0, 'listNonMergeCommits: a positive count');
  for (const rev of [walk.tip, ...walk.exclude]) assert(!rev.startsWith('-'), `a revision, not an option: ${JSON.stringify(rev)}`);
  const not = [...(walk.excludeRemotes ? ['--remotes'] : []), ...walk.exclude];
  const args = ['rev-list', '--no-merges', '--topo-order', `--max-count=${walk.countMax}`, walk.tip, '--not', ...not, '--'];
  const output = await runGit(args, { cwd: repo.gitDir, gitDir: repo.gitDir });
  const commits = output.stdout.toString('utf8').split('\n').filter((line) => line !== '');
  assert(commits.length <= walk.countMax, 'rev-list honours --max-count');
  return commits;
}

/** A commit object's raw text: its headers, a blank line, its message (`git cat-file commit`). Throws ERR_GIT_FAILED for a missing commit. */
export async function readCommitText(repo: GitRepo, commit: string): Promise<string> {
  assertNotOption(commit, 'a commit');
  const result = await runGit(['cat-file', 'commit', commit], { cwd: repo.gitDir, gitDir: repo.gitDir });
  return result.stdout.toString('utf8');
}
