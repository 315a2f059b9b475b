// The questions acu's hooks ask git (src/git/hook-queries.ts), against the git CLI in a fixture
// repository, a linked work tree and a bare repository; none of them throws on git's answer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { commitOf, countCommitsText, hasRefMatching, headInfo, isAncestorOf, objectExists } from '../../src/git/hook-queries.js';
import { git, gitText, tempDir } from './helpers.js';

void describe('hook queries', () => {
  let dir = '';
  let oids: Record<string, string> = {};
  before(async () => {
    dir = await tempDir('hook-queries');
    ({ oids } = await buildFixtureRepo(dir, {
      commits: [
        { id: 'a', files: { '.acu/cluster.json': '{}\n' } },
        { id: 'b', files: { 'b.txt': 'b\n' } },
        { id: 'c', files: { 'c.txt': 'c\n' } },
      ],
    }));
  });

  void test('headInfo: common directory, work tree, commit and branch; in a linked work tree and detached too; null without a work tree', async () => {
    const gitDir = join(dir, '.git');
    assert.deepEqual(await headInfo(join(dir, '.acu')), { commonDir: gitDir, workTree: dir, commit: oids.c, branch: 'main' });
    const linked = join(await tempDir('hook-queries-linked'), 'linked');
    git(dir, ['worktree', 'add', '-q', '--detach', linked, oids.b!]);
    assert.deepEqual(await headInfo(linked), { commonDir: gitDir, workTree: gitText(linked, ['rev-parse', '--show-toplevel']), commit: oids.b, branch: null });
    const bare = await tempDir('hook-queries-bare');
    await buildFixtureRepo(bare, { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }] }, { bare: true });
    // --show-toplevel fails outside a work tree, so in a bare repository git cannot say.
    assert.equal(await headInfo(bare), null);
    assert.equal(await headInfo(await tempDir('hook-queries-none')), null);
  });

  void test('objectExists and hasRefMatching', async () => {
    assert.equal(await objectExists(dir, 'HEAD:.acu/cluster.json'), true);
    assert.equal(await objectExists(dir, 'HEAD:absent.json'), false);
    assert.equal(await hasRefMatching(dir, ['refs/acu/', 'refs/notes/acu']), false);
    git(dir, ['update-ref', 'refs/acu/main', oids.b!]);
    assert.equal(await hasRefMatching(dir, ['refs/acu/', 'refs/notes/acu']), true);
    assert.equal(await hasRefMatching(dir, ['refs/notes/acu']), false);
  });

  void test('commitOf, isAncestorOf and countCommitsText; a bad revision reads as no', async () => {
    git(dir, ['update-ref', 'refs/acu/main', oids.b!]);
    assert.equal(await commitOf(dir, 'refs/acu/main'), oids.b);
    assert.equal(await commitOf(dir, 'refs/acu/absent'), null);
    assert.equal(await isAncestorOf(dir, oids.a!, oids.b!), true);
    assert.equal(await isAncestorOf(dir, oids.c!, oids.b!), false);
    assert.equal(await isAncestorOf(dir, '0'.repeat(40), oids.b!), false);
    assert.equal(await countCommitsText(dir, { from: oids.a!, to: oids.c! }), '2');
    assert.equal(await countCommitsText(dir, { from: 'no-such-rev', to: oids.c! }), '');
  });
});
