/**
 * Porcelain commands run in a work tree, the way a developer runs them there: git finds the
 * repository from `cwd` (no `--git-dir`), reads the index and the files, and runs the
 * repository's hooks. The CLI commands and the demo use these; the sync node, which works on
 * objects and refs, goes through `GitRepo` instead.
 */
import { assert } from '../core/errors.js';
import { assertNotOption, runGit, runGitRaw } from './exec.js';

/** How a command that the caller explains in its own words ended: exit code and output as text. */
export interface CommandOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

function checkPaths(paths: readonly string[]): void {
  assert(paths.length > 0, 'at least one path');
  for (const path of paths) assert(path !== '' && !path.includes('\0'), `a path: ${JSON.stringify(path)}`);
}

/** The top of the work tree that contains `cwd`, or null when `cwd` is in none (a bare repository, no repository). */
export async function workTreeTop(cwd: string): Promise<string | null> {
  const top = await runGitRaw(['rev-parse', '--show-toplevel'], { cwd, gitDir: null });
  return top.exitCode === 0 ? top.stdout.toString('utf8').trim() : null;
}

/** Stage `paths` (`git add -- <paths>`); throws ERR_GIT_FAILED when git refuses. */
export async function addPaths(cwd: string, paths: readonly string[]): Promise<void> {
  checkPaths(paths);
  await runGit(['add', '--', ...paths], { cwd, gitDir: null });
}

/** Stage `paths` (`git add -- <paths>`) and report how it went, for a caller that explains a refusal itself. */
export async function tryAddPaths(cwd: string, paths: readonly string[]): Promise<CommandOutcome> {
  checkPaths(paths);
  return outcome(await runGitRaw(['add', '--', ...paths], { cwd, gitDir: null }));
}

/**
 * Commit `paths` alone, whatever else is staged (`git commit -q -m <message> -- <paths>`), with
 * the user's identity and hooks; reports how it went rather than throwing.
 */
export async function commitPaths(cwd: string, options: { message: string; paths: readonly string[] }): Promise<CommandOutcome> {
  checkPaths(options.paths);
  assert(options.message !== '', 'a commit message');
  return outcome(await runGitRaw(['commit', '-q', '-m', options.message, '--', ...options.paths], { cwd, gitDir: null }));
}

/** Bring the checked-out branch up to its upstream, fast-forward only (`git pull -q --ff-only`); throws ERR_GIT_FAILED otherwise. */
export async function pullFastForward(cwd: string): Promise<void> {
  await runGit(['pull', '-q', '--ff-only'], { cwd, gitDir: null });
}

/**
 * The object `rev` names (`git rev-parse --verify --quiet`), or null when it names none; any
 * other failure (no repository at `cwd`) throws ERR_GIT_FAILED.
 */
export async function verifyRevision(cwd: string, rev: string): Promise<string | null> {
  assertNotOption(rev, 'a revision');
  const result = await runGit(['rev-parse', '--verify', '--quiet', rev], { cwd, gitDir: null, okExitCodes: [0, 1] });
  return result.exitCode === 0 ? result.stdout.toString('utf8').trim() : null;
}

/** The file at `path` in `rev`'s tree as text (`git show <rev>:<path>`); throws ERR_GIT_FAILED when there is none. */
export async function showFileAt(cwd: string, rev: string, path: string): Promise<string> {
  assertNotOption(rev, 'a revision');
  checkPaths([path]);
  return (await runGit(['show', `${rev}:${path}`], { cwd, gitDir: null })).stdout.toString('utf8');
}

/**
 * The last `count` commits of `rev`, each as `<short id> <subject>` followed by its note in
 * `notes` (`git log --notes=<notes> --format='%h %s%n%N' <rev> -<count>`).
 */
export async function logWithNotes(cwd: string, options: { rev: string; notes: string; count: number }): Promise<string> {
  assertNotOption(options.rev, 'a revision');
  assert(Number.isSafeInteger(options.count) && options.count > 0, 'logWithNotes: a positive count');
  const args = ['log', `--notes=${options.notes}`, '--format=%h %s%n%N', options.rev, `-${options.count}`];
  return (await runGit(args, { cwd, gitDir: null })).stdout.toString('utf8');
}

function outcome(result: { exitCode: number; stdout: Buffer; stderr: string }): CommandOutcome {
  return { exitCode: result.exitCode, stdout: result.stdout.toString('utf8'), stderr: result.stderr };
}
