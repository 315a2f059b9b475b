/**
 * Running the git CLI: one place that builds git's argv and environment, collects binary-safe
 * output and turns a failure into an {@link AcuError}. Every git process acu starts goes through
 * {@link gitArgs} and {@link gitEnv}, so the settings that change git's output are pinned once.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { AcuError, assert } from '../core/errors.js';

/**
 * Settings that would make git's output depend on the user's configuration. `-z` output is
 * unquoted anyway; quotePath is pinned for the few places that print paths without `-z`.
 */
const pinnedConfig: readonly string[] = [
  '-c', 'core.quotePath=false',
  '-c', 'core.pager=cat',
  '-c', 'color.ui=false',
  '-c', 'diff.renameLimit=1000',
  '-c', 'log.showSignature=false',
];

/**
 * Variables that point git at another repository, index or object store. They leak into our
 * environment when acu runs inside a git hook; acu locates the repository by its directory
 * instead (the same list `git rev-parse --local-env-vars` prints).
 */
const repositoryEnvVars: readonly string[] = [
  'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_CONFIG', 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT',
  'GIT_OBJECT_DIRECTORY', 'GIT_DIR', 'GIT_WORK_TREE', 'GIT_IMPLICIT_WORK_TREE', 'GIT_GRAFT_FILE',
  'GIT_INDEX_FILE', 'GIT_NO_REPLACE_OBJECTS', 'GIT_REPLACE_REF_BASE', 'GIT_PREFIX',
  'GIT_INTERNAL_SUPER_PREFIX', 'GIT_SHALLOW_FILE', 'GIT_COMMON_DIR',
];

/** The most bytes of git's stderr kept for an error message. */
const stderrKeptBytesMax = 64 * 1024;

/** The environment for every git process: no prompts, no pager, no replace refs, no leaked repo. */
export function gitEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // In a pre-receive hook the pushed objects sit in quarantine, readable only through these two.
  const quarantined = process.env.GIT_QUARANTINE_PATH !== undefined;
  const kept = new Set(quarantined ? ['GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES'] : []);
  for (const name of repositoryEnvVars) if (!kept.has(name)) delete env[name];
  // Replace refs would let one site see different objects under the same id than another.
  env.GIT_NO_REPLACE_OBJECTS = '1';
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_PAGER = 'cat';
  env.PAGER = 'cat';
  env.LC_ALL = 'C';
  env.LANGUAGE = 'C';
  return { ...env, ...extra };
}

/**
 * A value placed among git's arguments (a revision, a commit, a path, a config key) must not be
 * empty or read as an option: one starting with `-` would change what git does. Callers build
 * these values; a bad one is a bug.
 */
export function assertNotOption(value: string, what: string): void {
  assert(value !== '' && !value.startsWith('-'), `${what} is not an option: ${JSON.stringify(value)}`);
}

/** git's argv for `args`, with the pinned settings and, when given, an explicit git directory. */
export function gitArgs(args: readonly string[], gitDir: string | null): string[] {
  const prefix = gitDir === null ? [] : [`--git-dir=${gitDir}`];
  return [...pinnedConfig, ...prefix, ...args];
}

/** What one finished git process gave back. */
export interface GitResult {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Options for {@link runGit}. */
export interface RunGitOptions {
  /** The directory git runs in. */
  readonly cwd: string;
  /** Passed as `--git-dir`; null lets git discover the repository from `cwd`. */
  readonly gitDir: string | null;
  /** Bytes written to git's stdin (then closed); omitted: stdin is empty. */
  readonly input?: Uint8Array | string;
  /** Extra environment variables (author dates for commit-tree, say). */
  readonly env?: Readonly<Record<string, string>>;
  /** Exit codes that are answers rather than failures (`git diff --quiet` style); default [0]. */
  readonly okExitCodes?: readonly number[];
}

/** Spawn git with acu's pinned settings; the caller owns the child's stdio. */
export function spawnGit(args: readonly string[], options: {
  cwd: string; gitDir: string | null; env?: Readonly<Record<string, string>>; stdio?: SpawnOptions['stdio'];
}): ChildProcess {
  return spawn('git', gitArgs(args, options.gitDir), {
    cwd: options.cwd,
    env: gitEnv(options.env),
    stdio: options.stdio ?? ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
}

/** The error for a git process that could not start (git missing, directory gone). */
export function spawnFailure(args: readonly string[], cause: unknown): AcuError {
  const code = (cause as { code?: unknown }).code;
  const missing = code === 'ENOENT';
  return new AcuError('ERR_GIT_FAILED', `could not run 'git ${args.join(' ')}': ${String(cause)}`, {
    hint: missing ? 'install git (2.25 or newer) and make sure it is on PATH' : 'check that the directory exists',
    cause,
    data: { args: [...args] },
  });
}

/** The error for a git command that exited with a failure: names the command and git's stderr. */
export function gitFailure(args: readonly string[], result: GitResult): AcuError {
  const stderr = result.stderr.trim();
  return new AcuError('ERR_GIT_FAILED', `'git ${args.join(' ')}' failed (exit ${result.exitCode}): ${stderr === '' ? '(no message)' : stderr}`, {
    hint: 'run the command above by hand in the repository to see what git needs',
    data: { args: [...args], exitCode: result.exitCode, stderr },
  });
}

/**
 * Run one git command to completion and return its output as bytes. stdin is written while stdout
 * is read, so a command with large input and large output cannot deadlock. Throws ERR_GIT_FAILED
 * for an exit code not in `okExitCodes`.
 */
export async function runGit(args: readonly string[], options: RunGitOptions): Promise<GitResult> {
  const result = await runGitRaw(args, options);
  const ok = options.okExitCodes ?? [0];
  if (!ok.includes(result.exitCode)) throw gitFailure(args, result);
  return result;
}

/** Like {@link runGit} but returns a failed exit code instead of throwing. */
export function runGitRaw(args: readonly string[], options: RunGitOptions): Promise<GitResult> {
  assert(args.length > 0, 'runGit needs a git subcommand');
  return new Promise<GitResult>((resolve, reject) => {
    const child = spawnGit(args, { cwd: options.cwd, gitDir: options.gitDir, env: options.env ?? {} });
    const stdoutChunks: Buffer[] = [];
    const stderrChunks: Buffer[] = [];
    let stderrBytes = 0;
    let settled = false;
    child.stdout?.on('data', (chunk: Buffer) => stdoutChunks.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderrBytes >= stderrKeptBytesMax) return;
      stderrChunks.push(chunk);
      stderrBytes += chunk.length;
    });
    child.on('error', (cause) => {
      if (settled) return;
      settled = true;
      reject(spawnFailure(args, cause));
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      resolve({
        stdout: Buffer.concat(stdoutChunks),
        stderr: Buffer.concat(stderrChunks).toString('utf8'),
        exitCode: code ?? (signal === null ? 128 : 128 + 9),
      });
    });
    // git may exit before reading all of stdin (a bad revision); that EPIPE is not the error to report.
    child.stdin?.on('error', () => undefined);
    if (options.input === undefined) child.stdin?.end();
    else child.stdin?.end(options.input);
  });
}
