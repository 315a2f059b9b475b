// Each failure the user can run into is one clear, coded AcuError naming the thing, with a hint.
import assert from 'node:assert/strict';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { AcuError } from '../../src/core/errors.js';
import type { AcuErrorCode } from '../../src/core/errors.js';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { GitRepo } from '../../src/git/index.js';
import { git, gitText, linearSpec, tempDir } from './helpers.js';

async function rejectsWith(promise: Promise<unknown>, code: AcuErrorCode, mentions: string): Promise<AcuError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AcuError, `expected an AcuError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.includes(mentions), `message ${JSON.stringify(error.message)} names ${mentions}`);
    assert.ok(error.hint !== undefined && error.hint.length > 0, 'has a hint');
    return error;
  }
  assert.fail(`expected ${code}`);
}

void describe('opening', () => {
  void test('a directory outside any repository is ERR_NOT_A_GIT_REPO', async () => {
    const dir = await tempDir('not-a-repo');
    await rejectsWith(GitRepo.open(dir), 'ERR_NOT_A_GIT_REPO', dir);
  });

  void test('a path that does not exist is ERR_NOT_A_GIT_REPO', async () => {
    const dir = join(await tempDir('gone'), 'nope');
    await rejectsWith(GitRepo.open(dir), 'ERR_NOT_A_GIT_REPO', dir);
  });

  void test('a bare repository and a subdirectory open', async () => {
    const bare = await tempDir('bare');
    await buildFixtureRepo(bare, linearSpec(2), { bare: true });
    const repo = await GitRepo.open(bare);
    assert.equal(repo.workTree, null);
    assert.equal(repo.gitDir, bare);
    assert.equal((await repo.listCommits({ revs: ['HEAD'], all: true })).length, 2);
    await repo.close();
    const work = await tempDir('work');
    await buildFixtureRepo(work, { commits: [{ id: 'a', files: { 'sub/dir/x.txt': 'x\n' } }] });
    const nested = await GitRepo.open(join(work, 'sub', 'dir'));
    assert.equal(nested.workTree, work);
    assert.deepEqual((await nested.readTree('HEAD', { recursive: true })).map((e) => e.path), ['sub/dir/x.txt']);
    await nested.close();
  });
});

void test('a linked worktree opens; objects go to the common directory', async () => {
  const main = await tempDir('worktree-main');
  await buildFixtureRepo(main, linearSpec(2));
  const linked = join(await tempDir('worktree-linked'), 'wt');
  git(main, ['worktree', 'add', '-q', '--detach', linked, 'HEAD~1']);
  const repo = await GitRepo.open(linked);
  assert.equal(repo.workTree, linked);
  assert.equal(repo.gitDir, join(main, '.git', 'worktrees', 'wt'));
  assert.equal(repo.commonDir, join(main, '.git'));
  assert.equal(await repo.resolveCommit('HEAD'), gitText(main, ['rev-parse', 'HEAD~1']));
  const oid = await repo.writeBlob(Buffer.from('from the worktree\n'));
  assert.equal(git(main, ['cat-file', 'blob', oid]).toString(), 'from the worktree\n');
  assert.equal(Buffer.from(await repo.readBlob(oid)).toString(), 'from the worktree\n');
  await repo.close();
});

void test('a SHA-256 repository reads, and refuses in-process writes', async () => {
  const dir = await tempDir('sha256');
  git(dir, ['init', '-q', '--object-format=sha256', '-b', 'main', '.']);
  git(dir, ['-c', 'user.name=A', '-c', 'user.email=a@x', 'commit', '-q', '--allow-empty', '-m', 'one']);
  const repo = await GitRepo.open(dir);
  assert.equal(repo.objectFormat, 'sha256');
  assert.equal(repo.emptyTreeOid, gitText(dir, ['hash-object', '-t', 'tree', '/dev/null']));
  assert.equal((await repo.commitInfo(await repo.resolveCommit('HEAD'))).subject, 'one');
  await rejectsWith(repo.writeBlob(Buffer.from('x')), 'ERR_CONFIG', 'sha256');
  await repo.close();
});

void describe('bad names and missing objects', () => {
  let dir = '';
  let repo: GitRepo;
  let blob = '';
  before(async () => {
    dir = await tempDir('errors');
    await buildFixtureRepo(dir, linearSpec(3));
    repo = await GitRepo.open(dir);
    blob = gitText(dir, ['rev-parse', 'HEAD:file0.txt']);
  });
  after(async () => repo.close());

  void test('unknown revisions', async () => {
    await rejectsWith(repo.resolveCommit('no-such-branch'), 'ERR_UNKNOWN_REVISION', 'no-such-branch');
    await rejectsWith(repo.resolveCommit('HEAD~7'), 'ERR_UNKNOWN_REVISION', 'HEAD~7');
    await rejectsWith(repo.resolveCommit(blob), 'ERR_UNKNOWN_REVISION', 'blob');
    await rejectsWith(repo.resolveCommit('HEAD\nHEAD'), 'ERR_UNKNOWN_REVISION', 'HEAD');
    await rejectsWith(repo.resolveCommit(''), 'ERR_UNKNOWN_REVISION', '""');
    await rejectsWith(repo.listCommits({ revs: ['HEAD..nope'] }), 'ERR_UNKNOWN_REVISION', 'nope');
    await rejectsWith(repo.listCommits({ revs: ['--all'] }), 'ERR_UNKNOWN_REVISION', '--all');
    await rejectsWith(repo.diffTrees([{ from: 'HEAD', to: 'nope' }]), 'ERR_UNKNOWN_REVISION', 'nope');
    await rejectsWith(repo.readTree('nope'), 'ERR_UNKNOWN_REVISION', 'nope');
    // The batch process is still in step after every rejection.
    assert.equal(await repo.resolveCommit('HEAD'), gitText(dir, ['rev-parse', 'HEAD']));
  });

  void test('missing objects and ids that are not ids', async () => {
    const absent = 'f'.repeat(40);
    await rejectsWith(repo.readBlob(absent), 'ERR_MISSING_OBJECT', absent);
    await rejectsWith(repo.readBlobIsomorphic(absent), 'ERR_MISSING_OBJECT', absent);
    await rejectsWith(repo.commitInfo(absent), 'ERR_MISSING_OBJECT', absent);
    await rejectsWith(repo.readBlob(`${blob}\nHEAD`), 'ERR_MISSING_OBJECT', 'not a full sha1 object id');
    await rejectsWith(repo.readBlob('HEAD'), 'ERR_MISSING_OBJECT', 'HEAD');
    await rejectsWith(repo.readBlob(blob.toUpperCase()), 'ERR_MISSING_OBJECT', 'not a full');
    await rejectsWith(repo.readBlob(gitText(dir, ['rev-parse', 'HEAD^{tree}'])), 'ERR_MISSING_OBJECT', 'is a tree, not a blob');
    assert.equal(Buffer.from(await repo.readBlob(blob)).toString(), git(dir, ['cat-file', '-p', blob]).toString());
  });

  void test('a failing git command names itself and carries git stderr', async () => {
    const head = await repo.resolveCommit('HEAD');
    const error = await rejectsWith(repo.updateRef('refs/heads/main', head, { oldOid: 'e'.repeat(40) }), 'ERR_GIT_FAILED', 'git update-ref');
    assert.match(error.message, /fatal|error/);
  });
});

void test('a blob rename detection needs but cannot find is ERR_MISSING_OBJECT', async () => {
  const dir = await tempDir('partial');
  const body = Array.from({ length: 30 }, (_, i) => `line ${i}\n`).join('');
  const { oids } = await buildFixtureRepo(dir, {
    commits: [{ id: 'a', files: { 'old.txt': body } }, { id: 'b', files: { 'old.txt': null, 'new.txt': `${body}one more\n` } }],
  });
  const gone = gitText(dir, ['rev-parse', `${oids.a ?? ''}:old.txt`]);
  await rm(join(dir, '.git', 'objects', gone.slice(0, 2), gone.slice(2)), { force: true });
  const repo = await GitRepo.open(dir);
  await rejectsWith(repo.diffTrees([{ from: oids.a ?? '', to: oids.b ?? '' }]), 'ERR_MISSING_OBJECT', gone);
  const [plain] = await repo.diffTrees([{ from: oids.a ?? '', to: oids.b ?? '' }], { renames: false });
  assert.deepEqual(plain?.map((c) => c.status), ['A', 'D']);
  await repo.close();
});

void describe('corrupt objects', () => {
  void test('a damaged loose blob is ERR_CORRUPT_OBJECT and other reads go on', async () => {
    const dir = await tempDir('corrupt');
    await buildFixtureRepo(dir, linearSpec(3));
    const bad = gitText(dir, ['rev-parse', 'HEAD:file0.txt']);
    const good = gitText(dir, ['rev-parse', 'HEAD:file1.txt']);
    const file = join(dir, '.git', 'objects', bad.slice(0, 2), bad.slice(2));
    await chmod(file, 0o644);
    await writeFile(file, Buffer.from('this is not zlib data at all'));
    const repo = await GitRepo.open(dir);
    const [first, second, third] = await Promise.allSettled([repo.readBlob(good), repo.readBlob(bad), repo.readBlob(good)]);
    assert.equal(first.status, 'fulfilled');
    assert.equal(third.status, 'fulfilled');
    assert.equal(second.status, 'rejected');
    const reason: unknown = second.status === 'rejected' ? second.reason : null;
    assert.ok(reason instanceof AcuError);
    assert.equal(reason.code, 'ERR_CORRUPT_OBJECT');
    assert.ok(reason.message.includes(bad));
    await rejectsWith(repo.readBlobIsomorphic(bad), 'ERR_CORRUPT_OBJECT', bad);
    assert.equal(Buffer.from(await repo.readBlob(good)).toString(), git(dir, ['cat-file', '-p', good]).toString());
    await repo.close();
  });

  void test('a loose blob whose content is cut short is ERR_CORRUPT_OBJECT', async () => {
    const dir = await tempDir('truncated');
    await buildFixtureRepo(dir, { commits: [{ id: 'a', files: { 'big.txt': 'x'.repeat(100_000), 'ok.txt': 'ok\n' } }] });
    const bad = gitText(dir, ['rev-parse', 'HEAD:big.txt']);
    const file = join(dir, '.git', 'objects', bad.slice(0, 2), bad.slice(2));
    await chmod(file, 0o644);
    const whole = deflateSync(Buffer.concat([Buffer.from('blob 100000\0'), Buffer.from('x'.repeat(100_000))]));
    assert.ok((await readFile(file)).length > 0);
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const repo = await GitRepo.open(dir);
    await rejectsWith(repo.readBlob(bad), 'ERR_CORRUPT_OBJECT', bad);
    assert.equal(Buffer.from(await repo.readBlob(gitText(dir, ['rev-parse', 'HEAD:ok.txt']))).toString(), 'ok\n');
    await repo.close();
  });
});

void describe('shallow clones', () => {
  let origin = '';
  let oids: Record<string, string> = {};
  before(async () => {
    origin = await tempDir('origin');
    ({ oids } = await buildFixtureRepo(origin, linearSpec(5)));
  });

  async function clone(depth: number): Promise<GitRepo> {
    const dir = await tempDir(`shallow-${depth}`);
    git(dir, ['clone', '-q', '--no-local', `--depth=${depth}`, `file://${origin}`, 'clone']);
    return await GitRepo.open(join(dir, 'clone'));
  }

  void test('depth 1: the boundary commit reads with its true parents; its parent is ERR_SHALLOW_BOUNDARY', async () => {
    const repo = await clone(1);
    const [c3, c4] = [oids.c3 ?? '', oids.c4 ?? ''];
    assert.equal(repo.isShallow, true);
    assert.deepEqual(await repo.shallowBoundary(), new Set([c4]));
    assert.deepEqual((await repo.commitInfo(c4)).parents, [c3]);
    assert.deepEqual((await repo.listCommits({ revs: ['HEAD'] })).map((c) => c.oid), [c4]);
    await rejectsWith(repo.commitInfo(c3), 'ERR_SHALLOW_BOUNDARY', c3);
    await rejectsWith(repo.resolveCommit(c3), 'ERR_SHALLOW_BOUNDARY', c3);
    await rejectsWith(repo.diffTrees([{ from: c3, to: c4 }]), 'ERR_SHALLOW_BOUNDARY', c3);
    await rejectsWith(repo.listCommits({ revs: ['HEAD'], all: true }), 'ERR_SHALLOW_BOUNDARY', c4);
    await rejectsWith(repo.listCommits({ revs: [`${c4}^..HEAD`] }), 'ERR_UNKNOWN_REVISION', `${c4}^`);
    const unknown = await rejectsWith(repo.resolveCommit('HEAD~1'), 'ERR_UNKNOWN_REVISION', 'HEAD~1');
    assert.match(unknown.hint ?? '', /shallow/);
    await repo.close();
  });

  void test('depth 2: ranges that stop at the boundary work, walks past it do not', async () => {
    const repo = await clone(2);
    const [c3, c4] = [oids.c3 ?? '', oids.c4 ?? ''];
    assert.deepEqual(await repo.shallowBoundary(), new Set([c3]));
    assert.deepEqual((await repo.listCommits({ revs: [`${c3}..HEAD`] })).map((c) => c.oid), [c4]);
    assert.deepEqual((await repo.listCommits({ revs: ['HEAD', `^${c3}`] })).map((c) => c.oid), [c4]);
    assert.deepEqual((await repo.listCommits({ revs: ['HEAD^!'] })).map((c) => c.oid), [c4]);
    await rejectsWith(repo.listCommits({ revs: ['HEAD'], all: true }), 'ERR_SHALLOW_BOUNDARY', c3);
    await rejectsWith(repo.listCommits({ revs: [], all: true, maxCount: 1 }), 'ERR_SHALLOW_BOUNDARY', c3);
    // file1.txt last changed in c4, but the boundary cuts the walk: refused all the same.
    await rejectsWith(repo.listCommits({ revs: [], all: true, paths: ['file1.txt'] }), 'ERR_SHALLOW_BOUNDARY', c3);
    const [diff] = await repo.diffTrees([{ from: c3, to: c4 }]);
    assert.equal(diff?.length, 1);
    await repo.close();
  });
});
