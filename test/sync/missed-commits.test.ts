/**
 * The sync node finds this site's commits the post-commit hook missed (docs/sync.md, "Commits the
 * hook missed"): GitChain.localCommits on a real repository, then a real node that agrees on a
 * commit made without the hooks (before it started and while it runs), proposes once a commit
 * both the hook and the scan queued, never proposes what was fetched from the shared remote or a
 * merge, and proposes nothing again after a restart.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { GitRepo } from '../../src/git/index.js';
import { readCluster } from '../../src/store/cluster.js';
import { loadIdentity } from '../../src/store/identity.js';
import { enqueueCommit, readOutbox } from '../../src/store/outbox.js';
import { GitChain } from '../../src/sync/chain.js';
import type { NodeEvent } from '../../src/sync/node.js';
import { acu, git, nodeScratch, nodeStatus, startNode, stopNode, until } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

const base = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';
const fn = (name: string): string => `\nexport function ${name}(a: number, b: number): number {\n  return a;\n}\n`;

const running: RunningNode[] = [];
const scratch = nodeScratch('missed-commits', running);

async function oneSite(name: string): Promise<{ fixture: ClusterFixture; site: ClusterSite }> {
  const fixture = await buildClusterFixture(join(scratch.top, name), { sites: [name], files: { 'src/math.ts': base, 'README.md': '# math\n' } });
  return { fixture, site: fixture.sites[0]! };
}

/** Append a function to src/math.ts and commit it (hooks run if installed); returns the commit id. */
async function commitFunction(site: ClusterSite, name: string, at: number): Promise<string> {
  const path = join(site.dir, 'src/math.ts');
  await writeFile(path, (await readFile(path, 'utf8')) + fn(name));
  const done = git(site, ['commit', '-q', '-am', `Add ${name}`], at);
  assert.equal(done.status, 0, done.stderr);
  return git(site, ['rev-parse', 'HEAD']).stdout.trim();
}

/** A commit on the origin (another site's, pushed there), fetched and merged into the site's branch. */
function mergeFromOrigin(fixture: ClusterFixture, site: ClusterSite, at: number): { theirs: string; merge: string } {
  const origin = { ...site, dir: fixture.origin };
  assert.equal(git(origin, ['commit', '-q', '--allow-empty', '-m', 'Elsewhere'], at).status, 0);
  assert.equal(git(origin, ['commit', '-q', '--amend', '-m', 'Elsewhere', '--allow-empty'], at).status, 0);
  const theirs = git(origin, ['rev-parse', 'HEAD']).stdout.trim();
  assert.equal(git(site, ['fetch', '-q', 'origin']).status, 0);
  const merged = git(site, ['merge', '-q', '--no-ff', '--no-edit', 'origin/main'], at + 1);
  assert.equal(merged.status, 0, merged.stderr);
  return { theirs, merge: git(site, ['rev-parse', 'HEAD']).stdout.trim() };
}

async function chainOf(site: ClusterSite): Promise<GitChain> {
  const repo = await GitRepo.open(site.dir);
  const cluster = await readCluster(site.dir);
  return new GitChain(repo, 'parse', null, { identity: await loadIdentity(repo.commonDir), member: cluster.members[0]! });
}

describe('GitChain.localCommits', () => {
  it("lists this site's non-merge commits past the agreed ones, oldest first, bounded; never fetched ones", async () => {
    const { fixture, site } = await oneSite('lister');
    const first = await commitFunction(site, 'one', 7200);
    const { theirs, merge } = mergeFromOrigin(fixture, site, 7300);
    const second = await commitFunction(site, 'two', 7400);
    const chain = await chainOf(site);
    try {
      const found = await chain.localCommits('main', [fixture.genesis], 16);
      assert.deepEqual(found, [first, second], 'neither the fetched commit nor the merge');
      assert.ok(!found.includes(theirs) && !found.includes(merge));
      assert.deepEqual(await chain.localCommits('main', [fixture.genesis], 1), [second], 'the newest, within the bound');
      assert.deepEqual(await chain.localCommits('main', [first], 16), [second], 'nothing an excluded commit contains');
      assert.equal(git(site, ['update-ref', 'refs/acu/main', first]).status, 0);
      assert.deepEqual(await chain.localCommits('main', [fixture.genesis], 16), [second], 'nothing the agreed ref contains');
      assert.deepEqual(await chain.localCommits('no-such-branch', [], 16), []);
    } finally {
      await chain.close();
    }
  });
});

describe('a real node takes what the hook queued when its poke never came', () => {
  it('a commit queued in the outbox before the branch moved, with no poke, is proposed by the periodic check', async () => {
    const { site } = await oneSite('no-poke');
    const node = startNode(site);
    running.push(node);
    await until('the node answers', async () => (await nodeStatus(site)) !== null);
    // What a hook whose poke timed out leaves behind: the outbox entry, durable, and no poke. The
    // entry is written before the branch moves, so the scan finds the commit already queued.
    const path = join(site.dir, 'src/math.ts');
    await writeFile(path, (await readFile(path, 'utf8')) + fn('unpoked'));
    assert.equal(git(site, ['add', 'src/math.ts']).status, 0);
    const tree = git(site, ['write-tree']).stdout.trim();
    const head = git(site, ['rev-parse', 'HEAD']).stdout.trim();
    const commit = git(site, ['commit-tree', tree, '-p', head, '-m', 'Add unpoked'], 7700).stdout.trim();
    await enqueueCommit(join(site.dir, '.git'), { v: 1, type: 'commit', commit, branch: 'main', queuedAtMs: 0 });
    assert.equal(git(site, ['update-ref', 'refs/heads/main', commit]).status, 0);
    await until('height 0 is agreed', async () => ((await nodeStatus(site))?.agreed.height ?? -1) >= 0);
    assert.match(git(site, ['show', 'refs/acu/main:src/math.ts']).stdout, /function unpoked\(/);
    assert.equal(node.events.filter((e) => e.kind === 'queued' && e.data?.['found'] === true).length, 0, 'the hook had queued it; the scan adds nothing');
    assert.equal(await stopNode(node), 0);
  });
});

describe('a real node finds the commits the hook missed', () => {
  const proposals = (events: readonly NodeEvent[], commit: string): NodeEvent[] =>
    events.filter((e) => e.kind === 'queued' && e.data?.['commit'] === commit && typeof e.data['acus'] === 'number');
  const found = (events: readonly NodeEvent[]): NodeEvent[] => events.filter((e) => e.kind === 'queued' && e.data?.['found'] === true);

  it('agrees on commits made with the hooks uninstalled, proposes a doubly queued one once, and nothing again after a restart', async () => {
    const { fixture, site } = await oneSite('solo');
    assert.match(acu(site, ['hooks', 'status']).stdout, /absent/);
    // Made while the node was down, with no hook installed: found on start. (The node ran once
    // before, so its chain starts at the genesis, not at this commit.)
    let node = startNode(site);
    running.push(node);
    await until('the node answers', async () => (await nodeStatus(site)) !== null);
    assert.equal(await stopNode(node), 0);
    const early = await commitFunction(site, 'early', 7200);
    node = startNode(site);
    running.push(node);
    await until('height 0 is agreed', async () => ((await nodeStatus(site))?.agreed.height ?? -1) >= 0);
    assert.deepEqual(found(node.events).map((e) => e.data?.['commit']), [early]);
    assert.equal(proposals(node.events, early).length, 1);
    assert.equal(proposals(node.events, early)[0]!.data?.['acus'], 1);
    assert.match(git(site, ['show', 'refs/acu/main:src/math.ts']).stdout, /function early\(/);

    // Made while the node runs, still without hooks: found by the periodic scan.
    const live = await commitFunction(site, 'live', 7300);
    await until('height 1 is agreed', async () => ((await nodeStatus(site))?.agreed.height ?? -1) >= 1);
    assert.equal(proposals(node.events, live).length, 1);
    assert.match(git(site, ['show', 'refs/acu/main:src/math.ts']).stdout, /function live\(/);

    // Queued by both the hook and the scan (they raced): two outbox entries, one proposal.
    assert.equal(await stopNode(node), 0);
    assert.equal(acu(site, ['hooks', 'install']).status, 0);
    const twice = await commitFunction(site, 'twice', 7400);
    await enqueueCommit(join(site.dir, '.git'), { v: 1, type: 'commit', commit: twice, branch: 'main', queuedAtMs: 0, source: 'scan' });
    assert.equal((await readOutbox(join(site.dir, '.git'))).records.filter((r) => r.commit === twice).length, 2);
    node = startNode(site);
    running.push(node);
    await until('height 2 is agreed', async () => ((await nodeStatus(site))?.agreed.height ?? -1) >= 2);
    assert.equal(proposals(node.events, twice).length, 1);
    assert.equal(proposals(node.events, twice)[0]!.data?.['acus'], 1);
    assert.equal(found(node.events).length, 0, 'the scan queues nothing the outbox already holds');
    const outboxBefore = (await readOutbox(join(site.dir, '.git'))).records.length;
    assert.equal(acu(site, ['hooks', 'uninstall']).status, 0);

    // Restart: nothing is proposed again. The next commit is the barrier: the start scan ran before it.
    assert.equal(await stopNode(node), 0);
    node = startNode(site);
    running.push(node);
    await until('the node answers', async () => (await nodeStatus(site)) !== null);
    const { theirs, merge } = mergeFromOrigin(fixture, site, 7500);
    const last = await commitFunction(site, 'last', 7600);
    await until('height 3 is agreed', async () => ((await nodeStatus(site))?.agreed.height ?? -1) >= 3);
    const queued = node.events.filter((e) => e.kind === 'queued').map((e) => e.data?.['commit']);
    assert.deepEqual(queued, [last, last], `only the new commit is queued (found, then proposed): ${JSON.stringify(queued)}`);
    assert.ok(!queued.includes(theirs) && !queued.includes(merge), 'never a fetched commit or a merge');
    assert.equal((await readOutbox(join(site.dir, '.git'))).records.length, outboxBefore + 1);
    const status = (await nodeStatus(site))!;
    assert.equal(status.pendingAcus, 0);
    assert.equal(status.agreed.height, 3);
    assert.equal(await stopNode(node), 0);
    assert.equal(acu(site, ['verify']).status, 0);
  });
});
