// Conformance: every GitRepo reader against the git CLI, on the rich fixture stored loose and packed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GitRepo } from '../../src/git/index.js';
import type { TreeChange, TreeEntry } from '../../src/git/index.js';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { buildRich, git, gitText, linearSpec, richSpec, tempDir } from './helpers.js';

/** Our TreeChange list, written back as `git diff-tree -z --raw` bytes (without the header). */
function rawZ(changes: readonly TreeChange[], zero: string): Buffer {
  return Buffer.concat(changes.map((change) => {
    const score = change.status === 'R' ? `R${String(change.similarity).padStart(3, '0')}` : change.status;
    const head = `:${change.oldMode ?? '000000'} ${change.newMode ?? '000000'} ${change.oldOid ?? zero} ${change.newOid ?? zero} ${score}\0`;
    const paths = change.status === 'R' ? `${change.oldPath}\0${change.newPath}\0` : `${change.oldPath ?? change.newPath}\0`;
    return Buffer.from(head + paths, 'utf8');
  }));
}

/** Our TreeEntry list, written back as `git ls-tree -z` bytes. */
function lsTreeZ(entries: readonly TreeEntry[]): Buffer {
  return Buffer.from(entries.map((entry) => `${entry.mode} ${entry.type} ${entry.oid}\t${entry.path}\0`).join(''), 'utf8');
}

const zero = '0'.repeat(40);
const logFormat = '%H%x00%P%x00%T%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s';

for (const storage of ['loose', 'packed'] as const) {
  void describe(`readers match the git CLI (${storage} objects)`, () => {
    let dir = '';
    let oids: Record<string, string> = {};
    let repo: GitRepo;
    before(async () => {
      ({ dir, oids } = await buildRich({ storage }));
      repo = await GitRepo.open(dir);
    });
    after(async () => repo.close());

    void test('objects are stored as asked', () => {
      const counts = gitText(dir, ['count-objects', '-v']);
      if (storage === 'loose') assert.match(counts, /^in-pack: 0$/m);
      else assert.match(counts, /^count: 0$/m);
    });

    void test('open finds the directories and the format', () => {
      assert.equal(repo.gitDir, `${dir}/.git`);
      assert.equal(repo.workTree, dir);
      assert.equal(repo.isShallow, false);
      assert.equal(repo.emptyTreeOid, gitText(dir, ['hash-object', '-t', 'tree', '/dev/null']));
    });

    void test('resolveCommit matches rev-parse', async () => {
      for (const rev of ['HEAD', 'main', 'feature', 'v1', 'HEAD~2', 'main~1^2', 'HEAD@{0}', oids.root ?? '', (oids.rename ?? '').slice(0, 12)]) {
        assert.equal(await repo.resolveCommit(rev), gitText(dir, ['rev-parse', '--verify', `${rev}^{commit}`]), rev);
      }
    });

    void test('commitInfo matches git log --format for every commit', async () => {
      for (const commit of richSpec.commits) {
        const oid = oids[commit.id] ?? '';
        const [hash, parents, tree, an, ae, ad, cn, ce, cd, subject] = gitText(dir, ['log', '-1', `--format=${logFormat}`, oid]).split('\0');
        const info = await repo.commitInfo(oid);
        assert.deepEqual(info, {
          oid: hash, parents: parents === '' ? [] : (parents ?? '').split(' '), tree,
          authorName: an, authorEmail: ae, authorDate: ad,
          committerName: cn, committerEmail: ce, committerDate: cd, subject,
        }, commit.id);
      }
      assert.equal((await repo.commitInfo(oids.chmod ?? '')).subject, 'Subject after blank lines');
      assert.equal((await repo.commitInfo(oids.rename ?? '')).subject, 'Rename a.ts to b.ts and edit it');
      assert.equal((await repo.commitInfo(oids.rename ?? '')).authorDate, '2024-03-04T05:06:07+05:30');
      assert.deepEqual((await repo.commitInfo(oids.merge ?? '')).parents, [oids.submodule, oids.feature2]);
    });

    void test('listCommits matches rev-list --topo-order --reverse', async () => {
      const o = (label: string): string => oids[label] ?? '';
      const revList = (args: string[]): string[] => gitText(dir, ['rev-list', '--topo-order', '--reverse', ...args]).split('\n').filter(Boolean);
      const cases: Array<[Parameters<GitRepo['listCommits']>[0], string[]]> = [
        [{ revs: ['HEAD'] }, [oids['dir-to-file'] ?? '']],
        [{ revs: [oids.root ?? ''] }, [oids.root ?? '']],
        [{ revs: [`${o('rename')}..HEAD`] }, revList([`${o('rename')}..HEAD`])],
        [{ revs: ['HEAD', `^${o('rename')}`] }, revList(['HEAD', `^${o('rename')}`])],
        [{ revs: ['HEAD^!'] }, [oids['dir-to-file'] ?? '']],
        [{ revs: [], all: true }, revList(['--all'])],
        [{ revs: ['HEAD'], all: true }, revList(['--all'])],
        [{ revs: [`${o('root')}..HEAD`], paths: ['feature.txt'] }, revList([`${o('root')}..HEAD`, '--', 'feature.txt'])],
        [{ revs: ['feature..main'] }, revList(['feature..main'])],
        [{ revs: ['HEAD'], walk: true }, revList(['HEAD'])],
        [{ revs: ['feature'], walk: true, paths: ['feature.txt'] }, revList(['feature', '--', 'feature.txt'])],
        [{ revs: ['main', 'feature'] }, revList(['--no-walk', 'main', 'feature'])],
      ];
      for (const [range, expected] of cases) {
        assert.deepEqual((await repo.listCommits(range)).map((c) => c.oid), expected, JSON.stringify(range));
      }
      const newest3 = gitText(dir, ['rev-list', '--topo-order', '-n', '3', '--all']).split('\n').reverse();
      assert.deepEqual((await repo.listCommits({ revs: [], all: true, maxCount: 3 })).map((c) => c.oid), newest3);
      const headNewest2 = gitText(dir, ['rev-list', '--topo-order', '-n', '2', 'HEAD']).split('\n').reverse();
      assert.deepEqual((await repo.listCommits({ revs: ['HEAD'], walk: true, maxCount: 2 })).map((c) => c.oid), headNewest2);
    });

    void test('listCommits lists parents before children', async () => {
      const commits = await repo.listCommits({ revs: [], all: true });
      assert.equal(commits.length, richSpec.commits.length);
      const seen = new Set<string>();
      for (const commit of commits) {
        for (const parent of commit.parents) assert.ok(seen.has(parent), `${parent} listed before ${commit.oid}`);
        seen.add(commit.oid);
      }
    });

    void test('diffTrees matches diff-tree -r -M --raw -z for every commit and parent', async () => {
      const pairs: Array<{ from: string | null; to: string }> = [];
      for (const commit of await repo.listCommits({ revs: [], all: true })) {
        if (commit.parents.length === 0) pairs.push({ from: null, to: commit.oid });
        for (const parent of commit.parents) pairs.push({ from: parent, to: commit.oid });
      }
      pairs.push({ from: oids.root ?? '', to: `${oids.merge ?? ''}^{tree}` }, { from: 'HEAD', to: 'HEAD' }, { from: 'v1', to: 'main' });
      const results = await repo.diffTrees(pairs);
      assert.equal(results.length, pairs.length);
      pairs.forEach((pair, index) => {
        const expected = git(dir, ['diff-tree', '-r', '-M', '--raw', '-z', '--no-abbrev', pair.from ?? repo.emptyTreeOid, pair.to]);
        assert.deepEqual(rawZ(results[index] ?? [], zero).toString('utf8'), expected.toString('utf8'), JSON.stringify(pair));
      });
    });

    void test('diffTrees reports each kind of change', async () => {
      const o = (label: string): string => oids[label] ?? '';
      const [rename, chmod, typechange, submodule, dirToFile, root] = await repo.diffTrees([
        { from: o('root'), to: o('rename') }, { from: o('rename'), to: o('chmod') }, { from: o('chmod'), to: o('typechange') },
        { from: o('typechange'), to: o('submodule') }, { from: o('merge'), to: o('dir-to-file') }, { from: null, to: o('root') },
      ]);
      const renamed = rename?.find((c) => c.status === 'R');
      assert.equal(renamed?.oldPath, 'src/a.ts');
      assert.equal(renamed?.newPath, 'src/b.ts');
      assert.ok((renamed?.similarity ?? 0) > 50 && (renamed?.similarity ?? 100) < 100);
      assert.deepEqual(chmod?.map((c) => [c.status, c.oldMode, c.newMode]), [['M', '100755', '100644']]);
      assert.deepEqual(typechange?.map((c) => [c.status, c.newPath, c.oldMode, c.newMode]), [['T', 'README.md', '100644', '120000'], ['T', 'link', '120000', '100644']]);
      assert.deepEqual(submodule?.find((c) => c.newMode === '160000')?.status, 'A');
      assert.deepEqual(dirToFile?.map((c) => [c.status, c.oldPath ?? c.newPath]), [['A', 'with space'], ['D', 'with space/file name.txt'], ['M', 'ünïcödé/日本.txt']]);
      assert.ok(root?.some((c) => c.newPath === 'new\nline.txt'));
      assert.ok(root?.every((c) => c.status === 'A' && c.oldOid === null && c.oldMode === null));
    });

    void test('diffTrees without renames and with paths matches diff-tree', async () => {
      const root = oids.root ?? '';
      const [plain] = await repo.diffTrees([{ from: root, to: 'v1' }], { renames: false });
      assert.equal(rawZ(plain ?? [], zero).toString(), git(dir, ['diff-tree', '-r', '--no-renames', '--raw', '-z', root, 'v1']).toString());
      assert.ok(plain?.some((c) => c.status === 'D' && c.oldPath === 'src/a.ts'));
      const [filtered] = await repo.diffTrees([{ from: root, to: 'HEAD' }], { paths: ['src', 'ünïcödé'] });
      assert.equal(rawZ(filtered ?? [], zero).toString(), git(dir, ['diff-tree', '-r', '-M', '--raw', '-z', root, 'HEAD', '--', 'src', 'ünïcödé']).toString());
      assert.deepEqual(await repo.diffTrees([]), []);
    });

    void test('readTree matches ls-tree -z, flat and recursive', async () => {
      for (const rev of ['HEAD', oids.root ?? '', oids.submodule ?? '', `${oids.merge ?? ''}^{tree}`]) {
        assert.equal(lsTreeZ(await repo.readTree(rev)).toString(), git(dir, ['ls-tree', '-z', rev]).toString(), rev);
        assert.equal(lsTreeZ(await repo.readTree(rev, { recursive: true })).toString(), git(dir, ['ls-tree', '-z', '-r', rev]).toString(), rev);
      }
      const entries = await repo.readTree(oids.submodule ?? '', { recursive: true });
      assert.deepEqual(entries.find((e) => e.path === 'vendor/lib'), { mode: '160000', type: 'commit', oid: '0123456789abcdef0123456789abcdef01234567', path: 'vendor/lib' });
    });

    void test('readBlob and readBlobIsomorphic match cat-file -p for every blob', async () => {
      const blobs = new Set<string>();
      for (const commit of richSpec.commits) {
        for (const entry of await repo.readTree(oids[commit.id] ?? '', { recursive: true })) if (entry.type === 'blob') blobs.add(entry.oid);
      }
      const list = [...blobs];
      const viaBatch = await repo.readBlobs(list);
      for (const [index, oid] of list.entries()) {
        const expected = git(dir, ['cat-file', '-p', oid]);
        assert.deepEqual(Buffer.from(viaBatch[index] ?? []), expected, oid);
        assert.deepEqual(Buffer.from(await repo.readBlobIsomorphic(oid)), expected, oid);
        assert.deepEqual(Buffer.from(await repo.readBlob(oid)), expected, oid);
      }
    });
  });
}

void test('gitlinks made with update-index --cacheinfo, and a file that becomes one', async () => {
  const { dir } = await buildFixtureRepo(await tempDir('gitlink'), linearSpec(3));
  const target = gitText(dir, ['rev-parse', 'HEAD~1']);
  git(dir, ['update-index', '--add', '--cacheinfo', `160000,${target},sub module`]);
  git(dir, ['rm', '-q', '--cached', 'file0.txt']);
  git(dir, ['update-index', '--add', '--cacheinfo', `160000,${target},file0.txt`]);
  git(dir, ['commit', '-q', '-m', 'gitlinks']);
  const repo = await GitRepo.open(dir);
  const [changes] = await repo.diffTrees([{ from: 'HEAD~1', to: 'HEAD' }]);
  assert.equal(rawZ(changes ?? [], zero).toString(), git(dir, ['diff-tree', '-r', '-M', '--raw', '-z', 'HEAD~1', 'HEAD']).toString());
  assert.deepEqual(changes?.map((c) => [c.status, c.newPath, c.newMode]), [['T', 'file0.txt', '160000'], ['A', 'sub module', '160000']]);
  assert.equal(lsTreeZ(await repo.readTree('HEAD', { recursive: true })).toString(), git(dir, ['ls-tree', '-z', '-r', 'HEAD']).toString());
  await repo.close();
});
