/**
 * git notes: text attached to a commit under a notes ref (`refs/notes/<name>`), kept outside the
 * commit so that adding one changes no commit id. The sync node keeps each agreed commit's
 * certificate and record bodies this way (docs/sync.md).
 */
import { assert } from '../core/errors.js';
import { assertNotOption, runGit, runGitRaw } from './exec.js';
import type { GitRepo } from './repo.js';

/** Who makes the notes commit, and when: `date` in git's raw form, `<seconds> <+hhmm>`. */
export interface NotesIdentity {
  readonly name: string;
  readonly email: string;
  readonly date: string;
}

function checkTarget(ref: string, commit: string): void {
  assert(ref.startsWith('refs/notes/'), `a notes ref: ${JSON.stringify(ref)}`);
  assertNotOption(commit, 'a commit');
}

/**
 * Attach `text` to `commit` under `ref`, replacing the note it had there
 * (`git notes --ref=<ref> add -f -F - <commit>`). Adding a note commits to the notes ref, and a
 * commit needs an identity and a date: both are given, so the notes commit depends on neither the
 * machine's git configuration nor its clock. Throws ERR_GIT_FAILED when git refuses.
 */
export async function addNote(repo: GitRepo, options: { ref: string; commit: string; text: string; identity: NotesIdentity }): Promise<void> {
  checkTarget(options.ref, options.commit);
  assert(/^-?\d+ [+-]\d{4}$/.test(options.identity.date), `a raw git date: ${options.identity.date}`);
  const { name, email, date } = options.identity;
  const env = {
    GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email, GIT_COMMITTER_DATE: date,
  };
  const args = ['notes', `--ref=${options.ref}`, 'add', '-f', '-F', '-', options.commit];
  await runGit(args, { cwd: repo.gitDir, gitDir: repo.gitDir, env, input: options.text });
}

/**
 * The note on `commit` under `ref` as text (`git notes --ref=<ref> show <commit>`), or null when
 * git shows none: no note, no such notes ref, or no such commit alike.
 */
export async function readNoteText(repo: GitRepo, options: { ref: string; commit: string }): Promise<string | null> {
  checkTarget(options.ref, options.commit);
  const result = await runGitRaw(['notes', `--ref=${options.ref}`, 'show', options.commit], { cwd: repo.gitDir, gitDir: repo.gitDir });
  return result.exitCode === 0 ? result.stdout.toString('utf8') : null;
}
