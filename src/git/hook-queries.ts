/**
 * What acu's git hooks ask git about the repository they run in. Each is one process, run from
 * the hook's directory (git finds the repository), and none throws on git's answer: a hook
 * must not make git unusable because a question failed, so a failure reads as "no" or "none".
 * This module loads only the process runner, so post-commit stays within its time budget.
 */
import { isAbsolute, resolve } from 'node:path';
import { assert } from '../core/errors.js';
import { assertNotOption, runGitRaw } from './exec.js';

/** Where HEAD is: the repository, its work tree, the commit, and the branch checked out. */
export interface HeadInfo {
  /** The absolute common git directory (shared by linked work trees). */
  readonly commonDir: string;
  /**
   * The top of the work tree; null when git prints an empty line for it (git 2.39 fails outside
   * a work tree instead, and then there is no HeadInfo at all).
   */
  readonly workTree: string | null;
  readonly commit: string;
  /** The branch's short name; null for a detached HEAD. */
  readonly branch: string | null;
}

/** One git call for everything the hooks need about HEAD; null when git cannot say (no commit yet, no work tree, no repository). */
export async function headInfo(cwd: string): Promise<HeadInfo | null> {
  const result = await runGitRaw(['rev-parse', '--git-common-dir', '--show-toplevel', 'HEAD', '--symbolic-full-name', 'HEAD'], { cwd, gitDir: null });
  const lines = result.stdout.toString('utf8').split('\n');
  if (result.exitCode !== 0 || lines.length < 4) return null;
  const [commonDir, workTree, commit, ref] = lines as [string, string, string, string];
  return {
    commonDir: isAbsolute(commonDir) ? commonDir : resolve(cwd, commonDir),
    workTree: workTree === '' ? null : workTree,
    commit,
    branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null,
  };
}

/** Whether `name` (an object id or `<rev>:<path>`) names an object that exists (`git cat-file -e`). */
export async function objectExists(cwd: string, name: string): Promise<boolean> {
  assertNotOption(name, 'a revision');
  return (await runGitRaw(['cat-file', '-e', name], { cwd, gitDir: null })).exitCode === 0;
}

/** Whether any ref matches one of `patterns` (`git for-each-ref --count=1`; a pattern ending in `/` takes every ref below it). */
export async function hasRefMatching(cwd: string, patterns: readonly string[]): Promise<boolean> {
  assert(patterns.length > 0, 'hasRefMatching: some patterns');
  for (const pattern of patterns) assert(pattern.startsWith('refs/'), `a ref pattern: ${JSON.stringify(pattern)}`);
  const refs = await runGitRaw(['for-each-ref', '--count=1', '--format=%(refname)', ...patterns], { cwd, gitDir: null });
  return refs.stdout.toString('utf8').trim() !== '';
}

/** The commit `rev` names (`git rev-parse --verify --quiet <rev>^{commit}`), or null when it names none. */
export async function commitOf(cwd: string, rev: string): Promise<string | null> {
  assertNotOption(rev, 'a revision');
  const result = await runGitRaw(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { cwd, gitDir: null });
  return result.exitCode === 0 ? result.stdout.toString('utf8').trim() : null;
}

/**
 * Whether `ancestor` is `descendant` or one of its ancestors (`git merge-base --is-ancestor`);
 * false when git cannot tell. The revisions may come from what git wrote to a hook's stdin, so a
 * malformed one is not our bug: git refuses it, and that reads as false.
 */
export async function isAncestorOf(cwd: string, ancestor: string, descendant: string): Promise<boolean> {
  return (await runGitRaw(['merge-base', '--is-ancestor', ancestor, descendant], { cwd, gitDir: null })).exitCode === 0;
}

/**
 * How many commits `to` has that `from` lacks (`git rev-list --count <from>..<to>`), as git
 * prints it, for a message; empty when git could not count (a malformed revision from a hook's
 * stdin among the reasons, as for {@link isAncestorOf}).
 */
export async function countCommitsText(cwd: string, range: { from: string; to: string }): Promise<string> {
  const count = await runGitRaw(['rev-list', '--count', `${range.from}..${range.to}`], { cwd, gitDir: null });
  return count.stdout.toString('utf8').trim();
}
