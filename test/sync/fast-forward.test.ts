/**
 * Issue #13: "`--fast-forward` can move a branch checked out in another worktree". GitChain's
 * fast-forward, in a real repository with a linked work tree: a branch checked out in any work
 * tree is left alone, one checked out nowhere moves, and a move that is not a fast-forward is
 * refused.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { GitRepo } from '../../src/git/index.js';
import { readCluster } from '../../src/store/cluster.js';
import { loadIdentity } from '../../src/store/identity.js';
import { GitChain } from '../../src/sync/chain.js';
import { git } from './real-nodes.js';

let top = '';
let site: ClusterSite;

before(async () => {
  top = await makeTempDir('fast-forward');
  const fixture = await buildClusterFixture(top, { sites: ['solo'], files: { 'README.md': '# readme\n' } });
  site = fixture.sites[0]!;
});

after(async () => {
  await removeTempDir(top);
});

const revParse = (rev: string): string => git(site, ['rev-parse', rev]).stdout.trim();

it('never moves a branch checked out in a linked work tree; moves it once no work tree has it', async () => {
  const main = revParse('main');
  const child = git(site, ['commit-tree', '-p', main, '-m', 'agreed', `${main}^{tree}`]).stdout.trim();
  const sibling = git(site, ['commit-tree', '-p', `${main}^`, '-m', 'elsewhere', `${main}^{tree}`]).stdout.trim();
  const repo = await GitRepo.open(site.dir);
  const cluster = await readCluster(site.dir);
  const chain = new GitChain(repo, 'parse', null, { identity: await loadIdentity(repo.commonDir), member: cluster.members[0]! });
  try {
    assert.equal(await chain.fastForward('main', child), 'checked-out', 'checked out in the main work tree');
    assert.equal(git(site, ['switch', '-q', '-c', 'work']).status, 0);
    const linked = join(top, 'linked');
    const added = git(site, ['worktree', 'add', '-q', linked, 'main']);
    assert.equal(added.status, 0, added.stderr);
    assert.equal(await chain.fastForward('main', child), 'checked-out', 'checked out in a linked work tree');
    assert.equal(revParse('main'), main, 'the branch did not move');
    assert.equal(git(site, ['worktree', 'remove', linked]).status, 0);
    assert.equal(await chain.fastForward('main', sibling), 'not-fast-forward');
    assert.equal(revParse('main'), main);
    assert.equal(await chain.fastForward('main', child), 'moved');
    assert.equal(revParse('main'), child);
  } finally {
    await chain.close();
  }
});
