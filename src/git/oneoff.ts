/**
 * One-off git commands (configuration, paths), through simple-git: a process per call is the right
 * cost for a command run once per user action, and simple-git gives them a typed, promise-based
 * surface with its own error type. History-wide reads never come here (see docs/git.md).
 */
import { isAbsolute, resolve } from 'node:path';
import { simpleGit } from 'simple-git';
import { AcuError } from '../core/errors.js';

/** The hooks directory git uses for the repository at `cwd` (`core.hooksPath` honoured). */
export async function gitHooksDirectory(cwd: string): Promise<string> {
  let path: string;
  try {
    path = (await simpleGit({ baseDir: cwd }).revparse(['--git-path', 'hooks'])).trim();
  } catch (cause) {
    throw new AcuError('ERR_NOT_A_GIT_REPO', `${cwd} is not in a git repository`, { hint: 'run this command inside a repository', cause });
  }
  return isAbsolute(path) ? path : resolve(cwd, path);
}
