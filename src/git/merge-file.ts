/**
 * git's three-way merge of three files outside any repository (`git merge-file`): the reference
 * that the merge replay measures acu's merge against.
 */
import { assert } from '../core/errors.js';
import { assertNotOption, runGitRaw } from './exec.js';

/** The three inputs of a file merge, as paths to files holding each side's text. */
export interface MergeFileInputs {
  readonly ours: string;
  readonly base: string;
  readonly theirs: string;
}

/** What git's merge gave: the merged text (with conflict markers where it conflicted), and how many conflicts. */
export interface MergeFileResult {
  readonly text: string;
  /** 0: a clean merge. git counts at most 127; more print as 127. */
  readonly conflicts: number;
}

/**
 * Merge `theirs` into `ours` over `base` and print the result, leaving the files as they are
 * (`git merge-file -p -L ours -L base -L theirs <ours> <base> <theirs>`, run in `cwd`; the labels
 * name the sides in conflict markers). An exit code over 127 is git failing rather than counting
 * conflicts: that throws.
 */
export async function mergeFile(files: MergeFileInputs, options: { cwd: string }): Promise<MergeFileResult> {
  for (const path of [files.ours, files.base, files.theirs]) assertNotOption(path, 'a file');
  const result = await runGitRaw(['merge-file', '-p', '-L', 'ours', '-L', 'base', '-L', 'theirs', files.ours, files.base, files.theirs], { cwd: options.cwd, gitDir: null });
  assert(result.exitCode >= 0, 'git merge-file ran');
  if (result.exitCode > 127) throw new Error(`git merge-file failed: ${result.stderr}`);
  return { text: result.stdout.toString('utf8'), conflicts: result.exitCode };
}
