// git as the user runs it (src/git/as-user.ts): the user's settings and hooks apply, none of the
// settings acu pins for its own git processes, and a failure comes back as a status.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { buildFixtureRepo, fixtureEpochSeconds } from '../../fixtures/builder.js';
import { runGitAsUser, runGitAsUserSync } from '../../src/git/as-user.js';
import { tempDir } from './helpers.js';

void describe('git as the user runs it', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('as-user');
    await buildFixtureRepo(dir, { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }] });
  });

  void test('the user\'s quoting applies, not acu\'s pinned core.quotePath=false; the given variables are set', async () => {
    await writeFile(join(dir, 'ünï.txt'), 'u\n');
    const status = await runGitAsUser(['status', '--short'], { cwd: dir, env: {} });
    assert.deepEqual(status, { status: 0, stdout: '?? "\\303\\274n\\303\\257.txt"\n', stderr: '' });
    const sync = runGitAsUserSync(['var', 'GIT_EDITOR'], { cwd: dir, env: { GIT_EDITOR: 'true' } });
    assert.deepEqual(sync, { status: 0, stdout: 'true\n', stderr: '' });
  });

  void test('the repository\'s hooks run', async () => {
    const hook = join(dir, '.git', 'hooks', 'post-commit');
    await writeFile(hook, '#!/bin/sh\necho "post-commit ran" >&2\n');
    await chmod(hook, 0o755);
    const date = `${fixtureEpochSeconds} +0000`;
    const commit = await runGitAsUser(['commit', '-q', '--allow-empty', '-m', 'empty'], { cwd: dir, env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
    assert.equal(commit.status, 0, commit.stderr);
    assert.equal(commit.stderr, 'post-commit ran\n');
  });

  void test('a failing command is its status; git that cannot start is 127', async () => {
    const failed = await runGitAsUser(['rev-parse', '--verify', 'no-such-rev'], { cwd: dir, env: {} });
    assert.equal(failed.status, 128);
    assert.match(failed.stderr, /fatal: /);
    assert.equal(runGitAsUserSync(['merge', '--abort'], { cwd: dir, env: {} }).status, 128);
    const missing = await runGitAsUser(['status'], { cwd: dir, env: { PATH: join(dir, 'no-bin') } });
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /ENOENT/);
  });
});
