// A scratch repository over another's objects (src/git/scratch.ts), and a pack acu built itself
// indexed into a store (src/git/pack.ts indexOwnPack), each checked with the git CLI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { AcuError } from '../../src/core/errors.js';
import { GitRepo, gitBlobOid } from '../../src/git/index.js';
import { indexOwnPack } from '../../src/git/pack.js';
import { createScratchRepository } from '../../src/git/scratch.js';
import { git, gitText, tempDir } from './helpers.js';

void describe('scratch repositories and own packs', () => {
  const opened: GitRepo[] = [];
  let dir = '';
  let oids: Record<string, string> = {};
  let repo: GitRepo;
  before(async () => {
    dir = await tempDir('scratch');
    ({ oids } = await buildFixtureRepo(dir, { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }, { id: 'b', files: { 'b.txt': 'b\n' } }] }));
    repo = await GitRepo.open(dir);
    opened.push(repo);
  });
  after(async () => {
    for (const each of opened) await each.close();
  });

  void test('createScratchRepository reads the repository\'s objects; what it writes stays in the scratch directory', async () => {
    const scratchDir = await tempDir('scratch-repo');
    const scratch = await createScratchRepository(repo, scratchDir);
    opened.push(scratch);
    assert.equal(gitText(scratchDir, ['rev-parse', '--is-bare-repository']), 'true');
    assert.equal(scratch.objectFormat, repo.objectFormat);
    assert.deepEqual(await scratch.readBlob(gitText(dir, ['rev-parse', `${oids.b!}:b.txt`])), Buffer.from('b\n'));
    assert.equal((await scratch.commitInfo(oids.b!)).parents[0], oids.a);
    const written = await scratch.writeBlob(Buffer.from('only in the scratch repository\n'));
    assert.equal(gitText(scratchDir, ['cat-file', '-t', written]), 'blob');
    assert.throws(() => git(dir, ['cat-file', '-e', written]));
  });

  void test('indexOwnPack stores every object of a pack; bytes that are no pack throw', async () => {
    const source = await tempDir('scratch-pack-source');
    const blobs = Array.from({ length: 20 }, (_, i) => Buffer.from(`blob ${i}\n`.repeat(i + 1)));
    await buildFixtureRepo(source, { commits: [{ id: 'a', files: Object.fromEntries(blobs.map((bytes, i) => [`f${i}.txt`, bytes])) }] });
    const pack = git(source, ['pack-objects', '--stdout', '-q'], { input: `${blobs.map((bytes) => gitBlobOid(bytes)).join('\n')}\n` });
    const target = await tempDir('scratch-pack-target');
    await buildFixtureRepo(target, { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }] });
    const targetRepo = await GitRepo.open(target);
    opened.push(targetRepo);
    await indexOwnPack(targetRepo, pack);
    for (const bytes of blobs) assert.deepEqual(git(target, ['cat-file', 'blob', gitBlobOid(bytes)]), bytes);
    assert.equal(git(target, ['count-objects', '-v']).toString('utf8').includes('packs: 1'), true);
    const garbage = Buffer.alloc(64, 7);
    await assert.rejects(indexOwnPack(targetRepo, garbage), (error: unknown) => error instanceof AcuError && error.code === 'ERR_GIT_FAILED');
  });
});
