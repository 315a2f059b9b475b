// History questions through src/git/history.ts and git's file merge through src/git/merge-file.ts,
// each held to the git CLI (the reference) on a fixture history with merges.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFixtureRepo, fixtureEpochSeconds } from '../../fixtures/builder.js';
import { AcuError } from '../../src/core/errors.js';
import { GitRepo } from '../../src/git/index.js';
import { listMergeCommits, listNonMergeCommits, mergeBase, readCommitText } from '../../src/git/history.js';
import { mergeFile } from '../../src/git/merge-file.js';
import { git, gitText, tempDir } from './helpers.js';

void describe('history questions', () => {
  let dir = '';
  let oids: Record<string, string> = {};
  let repo: GitRepo;
  before(async () => {
    dir = await tempDir('history');
    ({ oids } = await buildFixtureRepo(dir, {
      commits: [
        { id: 'base', files: { 'a.txt': 'a\n' } },
        { id: 'topic', parents: ['base'], branch: 'topic', files: { 'b.txt': 'b\n' } },
        { id: 'main', parents: ['base'], files: { 'c.txt': 'c\n' } },
        { id: 'merge', parents: ['main', 'topic'], files: { 'b.txt': 'b\n' } },
        { id: 'third', parents: ['base'], branch: 'third', files: { 'd.txt': 'd\n' } },
        { id: 'octopus', parents: ['merge', 'topic', 'third'], files: { 'd.txt': 'd\n' } },
        { id: 'after', files: { 'e.txt': 'e\n' } },
        { id: 'merge2', parents: ['after', 'third'], files: {} },
        { id: 'last', files: { 'f.txt': 'f\n' } },
      ],
    }));
    repo = await GitRepo.open(dir);
  });
  after(async () => repo.close());

  void test('listMergeCommits: the two-parent merges, oldest first, with their parents; no octopus', async () => {
    assert.deepEqual(await listMergeCommits(repo), [
      { oid: oids.merge, ours: oids.main, theirs: oids.topic },
      { oid: oids.merge2, ours: oids.after, theirs: oids.third },
    ]);
  });

  void test('mergeBase: what git merge-base says; null for commits that share nothing', async () => {
    assert.equal(await mergeBase(repo, oids.main!, oids.topic!), oids.base);
    assert.equal(await mergeBase(repo, oids.merge2!, oids.third!), oids.third);
    const date = `${fixtureEpochSeconds} +0000`;
    const orphan = git(dir, ['commit-tree', '-m', 'orphan', `${oids.base!}^{tree}`], { env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } }).toString('utf8').trim();
    assert.equal(await mergeBase(repo, oids.main!, orphan), null);
  });

  void test('listNonMergeCommits: newest first, bounded, stopping at excluded history and remote-tracking refs', async () => {
    const expected = gitText(dir, ['rev-list', '--no-merges', '--topo-order', oids.last!, `^${oids.merge!}`]).split('\n');
    assert.deepEqual(await listNonMergeCommits(repo, { tip: oids.last!, exclude: [oids.merge!], excludeRemotes: true, countMax: 16 }), expected);
    assert.deepEqual(await listNonMergeCommits(repo, { tip: oids.last!, exclude: [oids.merge!], excludeRemotes: true, countMax: 1 }), [oids.last]);
    git(dir, ['update-ref', 'refs/remotes/origin/main', oids.after!]);
    try {
      assert.deepEqual(await listNonMergeCommits(repo, { tip: oids.last!, exclude: [oids.merge!], excludeRemotes: true, countMax: 16 }), [oids.last]);
      assert.deepEqual(await listNonMergeCommits(repo, { tip: oids.last!, exclude: [oids.merge!], excludeRemotes: false, countMax: 16 }), expected);
    } finally {
      git(dir, ['update-ref', '-d', 'refs/remotes/origin/main']);
    }
  });

  void test('readCommitText: the commit object as cat-file prints it; a missing commit throws', async () => {
    assert.equal(await readCommitText(repo, oids.merge!), git(dir, ['cat-file', 'commit', oids.merge!]).toString('utf8'));
    assert.match(await readCommitText(repo, oids.merge!), new RegExp(`^tree [0-9a-f]{40}\\nparent ${oids.main!}\\nparent ${oids.topic!}\\n`));
    await assert.rejects(readCommitText(repo, '0'.repeat(40)), (error: unknown) => error instanceof AcuError && error.code === 'ERR_GIT_FAILED');
  });
});

void describe('git merge-file', () => {
  void test('a clean merge, and one with two conflicts labelled ours and theirs', async () => {
    const dir = await tempDir('merge-file');
    const files = { ours: join(dir, 'ours'), base: join(dir, 'base'), theirs: join(dir, 'theirs') };
    // Ten lines between the two edits: git merges conflicts only a few lines apart into one.
    const middle = Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join('');
    const text = (first: string, last: string): string => `${first}\n${middle}${last}\n`;
    await writeFile(files.base, text('one', 'five'));
    await writeFile(files.ours, text('ONE', 'five'));
    await writeFile(files.theirs, text('one', 'FIVE'));
    assert.deepEqual(await mergeFile(files, { cwd: dir }), { text: text('ONE', 'FIVE'), conflicts: 0 });

    await writeFile(files.ours, text('ONE', 'FIVE'));
    await writeFile(files.theirs, text('uno', 'cinco'));
    const conflicted = await mergeFile(files, { cwd: dir });
    assert.equal(conflicted.conflicts, 2);
    assert.equal(conflicted.text, `<<<<<<< ours\nONE\n=======\nuno\n>>>>>>> theirs\n${middle}<<<<<<< ours\nFIVE\n=======\ncinco\n>>>>>>> theirs\n`);
    // The inputs are left as they were (-p prints instead of writing ours).
    assert.equal(await readFile(files.ours, 'utf8'), text('ONE', 'FIVE'));
  });

  void test('a missing input is git failing, not a count of conflicts: it throws', async () => {
    const dir = await tempDir('merge-file-missing');
    await assert.rejects(mergeFile({ ours: join(dir, 'ours'), base: join(dir, 'base'), theirs: join(dir, 'theirs') }, { cwd: dir }), /git merge-file failed/);
  });
});
