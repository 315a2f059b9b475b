// Writes: the ids GitRepo writes are the ids git's own plumbing gives for the same input.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcuError } from '../../src/core/errors.js';
import { GitRepo, gitBlobOid } from '../../src/git/index.js';
import type { NewCommit, NewTreeEntry, PathChange } from '../../src/git/index.js';
import { objectWriteFaults } from '../../src/git/iso.js';
import { buildRich, binaryBytes, git, gitText, gitlinkOid } from './helpers.js';

void describe('writing objects', () => {
  let dir = '';
  let repo: GitRepo;
  before(async () => {
    ({ dir } = await buildRich());
    repo = await GitRepo.open(dir);
  });
  after(async () => repo.close());

  /** writeTree gives the id git mktree gives for `entries`, in their order and reversed (it sorts them itself). */
  async function assertTreeLikeMktree(entries: readonly NewTreeEntry[]): Promise<void> {
    const input = entries.map((e) => `${e.mode === '40000' ? '040000' : e.mode} ${e.type} ${e.oid}\t${e.path}\0`).join('');
    const expected = git(dir, ['mktree', '-z', '--missing'], { input }).toString().trim();
    assert.equal(await repo.writeTree(entries), expected);
    assert.equal(await repo.writeTree([...entries].reverse()), expected);
    assert.equal(gitText(dir, ['cat-file', '-t', expected]), 'tree');
  }

  void test('writeBlob and gitBlobOid give hash-object ids', async () => {
    const samples = [new Uint8Array(0), Buffer.from('hello\n'), Buffer.from('ünïcödé\r\n'), binaryBytes(70_000)];
    for (const bytes of samples) {
      const expected = git(dir, ['hash-object', '--stdin'], { input: bytes }).toString().trim();
      assert.equal(gitBlobOid(bytes), expected);
      assert.equal(await repo.writeBlob(bytes), expected);
      assert.deepEqual(git(dir, ['cat-file', 'blob', expected]), Buffer.from(bytes));
    }
  });

  void test('writeTree gives mktree ids and sorts the way git does', async () => {
    const blob = await repo.writeBlob(Buffer.from('x\n'));
    const subtree = await repo.writeTree([{ mode: '100644', path: 'inner', oid: blob, type: 'blob' }]);
    const entries = [
      { mode: '100644', path: 'a0', oid: blob, type: 'blob' as const },
      { mode: '40000', path: 'a', oid: subtree, type: 'tree' as const },
      { mode: '100755', path: 'a.b', oid: blob, type: 'blob' as const },
      { mode: '120000', path: 'a-b', oid: blob, type: 'blob' as const },
      { mode: '160000', path: 'sub module', oid: gitlinkOid, type: 'commit' as const },
      { mode: '100644', path: 'ünï', oid: blob, type: 'blob' as const },
    ];
    await assertTreeLikeMktree(entries);
    assert.equal(await repo.writeTree([]), repo.emptyTreeOid);
  });

  void test('writeTree orders names as git does beyond the BMP (UTF-8 bytes, not UTF-16 units)', async () => {
    const blob = await repo.writeBlob(Buffer.from('y\n'));
    const subtree = await repo.writeTree([{ mode: '100644', path: 'f', oid: blob, type: 'blob' }]);
    // U+FF21 sorts before U+1F600 by code point (and UTF-8 bytes), after it by UTF-16 code units.
    const entries = [
      { mode: '100644', path: '\u{1F600}', oid: blob, type: 'blob' as const },
      { mode: '100644', path: '\uFF21', oid: blob, type: 'blob' as const },
      { mode: '40000', path: '\uFF21-dir', oid: subtree, type: 'tree' as const },
      { mode: '100644', path: '\uFF21-dir.txt', oid: blob, type: 'blob' as const },
      { mode: '100644', path: 'é', oid: blob, type: 'blob' as const },
      { mode: '100644', path: 'Z', oid: blob, type: 'blob' as const },
    ];
    await assertTreeLikeMktree(entries);
  });

  void test('writeCommit gives commit-tree ids, message byte for byte', async () => {
    const tree = gitText(dir, ['rev-parse', 'HEAD^{tree}']);
    const parents = [gitText(dir, ['rev-parse', 'HEAD']), gitText(dir, ['rev-parse', 'HEAD~1'])];
    const cases: Array<[NewCommit, string, string]> = [
      [{ tree, parents: [], message: 'root\n', author: { name: 'A', email: 'a@x', timestamp: 1_700_000_000, timezoneOffset: 0 }, committer: { name: 'C', email: 'c@x', timestamp: 1_700_000_001, timezoneOffset: 0 } }, '+0000', '+0000'],
      [{ tree, parents, message: 'Merge\n\nbody line\n\n\n', author: { name: 'Ünï Cödé', email: 'u@x', timestamp: 1_700_000_000, timezoneOffset: -330 }, committer: { name: 'C', email: 'c@x', timestamp: 1_600_000_000, timezoneOffset: 480 } }, '+0530', '-0800'],
      [{ tree, parents: parents.slice(0, 1), message: 'no trailing newline', author: { name: 'A', email: 'a@x', timestamp: 1, timezoneOffset: 0 }, committer: { name: 'A', email: 'a@x', timestamp: 2, timezoneOffset: -60 } }, '+0000', '+0100'],
    ];
    for (const [commit, authorZone, committerZone] of cases) {
      const env = {
        GIT_AUTHOR_NAME: commit.author.name, GIT_AUTHOR_EMAIL: commit.author.email, GIT_AUTHOR_DATE: `@${commit.author.timestamp} ${authorZone}`,
        GIT_COMMITTER_NAME: commit.committer.name, GIT_COMMITTER_EMAIL: commit.committer.email, GIT_COMMITTER_DATE: `@${commit.committer.timestamp} ${committerZone}`,
      };
      const parentArgs = commit.parents.flatMap((p) => ['-p', p]);
      const expected = git(dir, ['commit-tree', ...parentArgs, commit.tree], { input: commit.message, env }).toString().trim();
      assert.equal(await repo.writeCommit(commit), expected, commit.message);
    }
    // git's date parser turns -0000 into +0000, so this one is checked against the raw bytes.
    const who = { name: 'A', email: 'a@x', timestamp: 1, timezoneOffset: -0 };
    const oid = await repo.writeCommit({ tree, parents: [], message: 'm\n', author: who, committer: who });
    assert.equal(git(dir, ['cat-file', 'commit', oid]).toString(), `tree ${tree}\nauthor A <a@x> 1 -0000\ncommitter A <a@x> 1 -0000\n\nm\n`);
  });

  void test('writeCommit refuses identities that would corrupt the header', async () => {
    const tree = repo.emptyTreeOid;
    const bad = { name: 'Evil <x>', email: 'e@x', timestamp: 1, timezoneOffset: 0 };
    await assert.rejects(repo.writeCommit({ tree, parents: [], message: 'x\n', author: bad, committer: bad }), (e: unknown) => e instanceof AcuError && e.code === 'ERR_CONFIG');
  });
});

void describe('writeTreeFromPaths', () => {
  let dir = '';
  let repo: GitRepo;
  before(async () => {
    ({ dir } = await buildRich());
    repo = await GitRepo.open(dir);
  });
  after(async () => repo.close());

  let indexCount = 0;
  /** The reference: git's index, read from the base tree, changed with update-index, written back. */
  function viaIndex(base: string | null, changes: ReadonlyMap<string, PathChange>): string {
    const env = { GIT_INDEX_FILE: join(dir, '.git', `acu-test-index-${(indexCount += 1)}`) };
    git(dir, base === null ? ['read-tree', '--empty'] : ['read-tree', base], { env });
    const zero = '0'.repeat(40);
    const lines = [...changes].map(([path, change]) => (change === null ? `0 ${zero}\t${path}\0` : `${change.mode} ${change.oid}\t${path}\0`));
    git(dir, ['update-index', '-z', '--index-info'], { input: lines.join(''), env });
    return git(dir, ['write-tree', '--missing-ok'], { env }).toString().trim();
  }

  void test('per-path changes give the tree git builds through its index', async () => {
    const base = gitText(dir, ['rev-parse', 'HEAD^{tree}']);
    const blob = await repo.writeBlob(Buffer.from('new\n'));
    const change = (mode: string, oid: string): PathChange => ({ mode, oid });
    const cases: Array<Array<[string, PathChange]>> = [
      [],
      [['src/b.ts', change('100644', blob)]],
      [['deep/er/still/new.txt', change('100755', blob)], ['README.md', null]],
      [['ünïcödé/日本.txt', null]], // the directory's only file: the directory goes too
      [['with space', null], ['with space/again.txt', change('100644', blob)]], // file -> directory
      [['vendor/lib', change('160000', gitlinkOid)], ['link', change('120000', blob)]],
      [['new\nline.txt', null], ['tab\tname', change('100644', blob)]],
    ];
    for (const list of cases) {
      const changes = new Map(list);
      assert.equal(await repo.writeTreeFromPaths(base, changes), viaIndex(base, changes), JSON.stringify([...changes.keys()]));
    }
    const fresh = new Map<string, PathChange>([['a/b/c.txt', { mode: '100644', oid: blob }], ['z.txt', { mode: '100644', oid: blob }]]);
    assert.equal(await repo.writeTreeFromPaths(null, fresh), viaIndex(null, fresh));
  });

  void test('every tree it writes is in the object store when it returns', async () => {
    const blob = await repo.writeBlob(Buffer.from('stored\n'));
    const changes = new Map<string, PathChange>([
      ['one/two/three/four.txt', { mode: '100644', oid: blob }], ['one/two/other.txt', { mode: '100644', oid: blob }], ['five/six.txt', { mode: '100755', oid: blob }],
    ]);
    const tree = await repo.writeTreeFromPaths('HEAD', changes);
    assert.equal(tree, viaIndex(gitText(dir, ['rev-parse', 'HEAD^{tree}']), changes));
    for (const path of ['', 'one', 'one/two', 'one/two/three', 'five']) {
      const oid = gitText(dir, ['rev-parse', `${tree}:${path}`]);
      assert.equal(gitText(dir, ['cat-file', '-t', oid]), 'tree', path);
    }
    assert.equal(gitText(dir, ['cat-file', '-p', `${tree}:one/two/three/four.txt`]), 'stored');
    // Every tree inflates and parses (git reads each loose object it lists).
    assert.equal(gitText(dir, ['ls-tree', '-r', '-t', '--name-only', tree, 'one', 'five']).split('\n').length, 7);
  });

  void test('staged objects: the id at once, the same as the written one; a failed file rejects written, after the others settled', async () => {
    const bytes = Buffer.from(`staged ${process.pid} ${Date.now()}\n`);
    const blob = repo.stageBlob(bytes);
    assert.equal(blob.oid, gitBlobOid(bytes), 'the id is known before the file is written');
    await blob.written;
    assert.equal(gitText(dir, ['cat-file', '-p', blob.oid]), bytes.toString('utf8').trimEnd());
    const changes = new Map<string, PathChange>([['staged/a/b.txt', { mode: '100644', oid: blob.oid }], ['staged/c.txt', { mode: '100644', oid: blob.oid }]]);
    const tree = await repo.stageTreeFromPaths('HEAD', changes);
    assert.equal(tree.oid, viaIndex(gitText(dir, ['rev-parse', 'HEAD^{tree}']), changes));
    await tree.written;
    assert.equal(gitText(dir, ['ls-tree', '-r', '-t', '--name-only', tree.oid, 'staged']).split('\n').length, 4, 'every new tree is stored');
    objectWriteFaults.failNext = 1;
    const other = new Map<string, PathChange>([['failing/d/e.txt', { mode: '100644', oid: blob.oid }]]);
    const failing = await repo.stageTreeFromPaths('HEAD', other);
    await assert.rejects(failing.written, /ENOSPC/);
    assert.equal(objectWriteFaults.failNext, 0);
    // Staged again, the missing file is written; the ones that landed are left as they are.
    const again = await repo.stageTreeFromPaths('HEAD', other);
    assert.equal(again.oid, failing.oid);
    await again.written;
    assert.equal(gitText(dir, ['ls-tree', '-r', '-t', '--name-only', again.oid, 'failing']).split('\n').length, 3);
  });

  void test('a tree id with mode 40000 places a whole directory', async () => {
    const src = gitText(dir, ['rev-parse', 'HEAD:src']);
    const tree = await repo.writeTreeFromPaths('HEAD', new Map([['copy/of/src', { mode: '40000', oid: src }]]));
    assert.equal(gitText(dir, ['rev-parse', `${tree}:copy/of/src`]), src);
    assert.equal(gitText(dir, ['rev-parse', `${tree}:src`]), src);
  });

  void test('deleting every path gives the empty tree; the base may be a commit', async () => {
    const entries = await repo.readTree('HEAD', { recursive: true });
    const all = new Map<string, PathChange>(entries.map((entry) => [entry.path, null]));
    assert.equal(await repo.writeTreeFromPaths('HEAD', all), repo.emptyTreeOid);
    assert.equal(await repo.writeTreeFromPaths(null, new Map()), repo.emptyTreeOid);
  });

  void test('a path below a file that stays a file is ERR_APPLY_FAILED', async () => {
    const blob = await repo.writeBlob(Buffer.from('x\n'));
    await assert.rejects(
      repo.writeTreeFromPaths('HEAD', new Map([['with space/below.txt', { mode: '100644', oid: blob }]])),
      (e: unknown) => e instanceof AcuError && e.code === 'ERR_APPLY_FAILED' && e.message.includes('with space'),
    );
  });
});

void describe('updateRef', () => {
  void test('creates, moves with a check, and refuses a stale old value', async () => {
    const { dir, oids } = await buildRich();
    const repo = await GitRepo.open(dir);
    const [root, merge] = [oids.root ?? '', oids.merge ?? ''];
    await repo.updateRef('refs/acu/main', root, { oldOid: null });
    assert.equal(gitText(dir, ['rev-parse', 'refs/acu/main']), root);
    await repo.updateRef('refs/acu/main', merge, { oldOid: root });
    assert.equal(gitText(dir, ['rev-parse', 'refs/acu/main']), merge);
    await assert.rejects(repo.updateRef('refs/acu/main', root, { oldOid: root }), (e: unknown) => e instanceof AcuError && e.code === 'ERR_GIT_FAILED');
    await assert.rejects(repo.updateRef('refs/acu/main', root, { oldOid: null }), (e: unknown) => e instanceof AcuError && e.code === 'ERR_GIT_FAILED');
    await repo.updateRef('refs/acu/main', root);
    assert.equal(gitText(dir, ['rev-parse', 'refs/acu/main']), root);
    await repo.close();
  });
});
