/**
 * Scratch repositories: a bare repository that reads another's objects through git alternates
 * (`objects/info/alternates`) and keeps whatever is written to it apart, so a computation can
 * write blobs, trees and commits on top of a repository's history without changing it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../core/errors.js';
import { runGit } from './exec.js';
import { GitRepo } from './repo.js';

/**
 * Make `dir` (an existing, empty directory) a bare repository in `repo`'s object format whose
 * object store borrows `repo`'s, and open it. Objects written to it land in `dir` alone; removing
 * `dir` removes them and leaves `repo` as it was.
 */
export async function createScratchRepository(repo: GitRepo, dir: string): Promise<GitRepo> {
  assert(dir !== '' && !dir.startsWith('-'), `a directory, not an option: ${JSON.stringify(dir)}`);
  await runGit(['init', '-q', '--bare', `--object-format=${repo.objectFormat}`, dir], { cwd: dir, gitDir: null });
  await writeFile(join(dir, 'objects', 'info', 'alternates'), `${join(repo.commonDir, 'objects')}\n`);
  const scratch = await GitRepo.open(dir);
  assert(scratch.commonDir !== repo.commonDir, 'the scratch repository is not the repository');
  return scratch;
}
