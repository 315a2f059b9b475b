/**
 * A node restarted after a membership change (a key rotation) still knows the membership before
 * it, as a node that took the change up while running does (`previousCluster`): records signed by
 * the rotated-out key, proposed before the rotation and named by a later batch, verify against it
 * (test/sync/exchange-bounds.test.ts shows what it admits). The restarted node derives it from the
 * chain: the cluster document at the parent of the agreed commit that changed it.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { genesisParent, valueIdOf } from '../../src/core/consensus/index.js';
import { GitRepo } from '../../src/git/index.js';
import { memberProofOf, sameCluster } from '../../src/store/cluster.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { initIdentity, loadIdentity } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { agreedRef } from '../../src/sync/agreed.js';
import { sha256Hex } from '../../src/sync/crypto.js';
import type { NodeContext } from '../../src/sync/node-types.js';
import { SyncNode } from '../../src/sync/node.js';
import type { NodeEvent } from '../../src/sync/node.js';
import { clusterAtCommit, clusterDocPath, membershipBefore } from '../../src/sync/verify-chain.js';
import { writeAgreedStep } from '../support/agreed-chain.js';
import { git } from './real-nodes.js';

let top = '';
let fixture: ClusterFixture;
let before4: ClusterDoc;
let rotated: ClusterDoc;
/** The agreed commits: height 0 and 1 under the genesis membership (1 rotates birch's key), 2 under the new one. */
const heights: string[] = [];

function identitiesOf(cluster: ClusterDoc, known: readonly NodeIdentity[]): NodeIdentity[] {
  return cluster.members.map((member) => known.find((identity) => identity.id === member.id)!);
}

before(async () => {
  top = await makeTempDir('membership-restart');
  fixture = await buildClusterFixture(top, {
    sites: ['ash', 'birch', 'cedar', 'dogwood'],
    files: { 'src/math.ts': 'export const one = 1;\n' },
  });
  const ash = fixture.sites[0]!;
  const repo = await GitRepo.open(ash.dir);
  const found = await clusterAtCommit(repo, fixture.genesis);
  assert.ok('cluster' in found);
  before4 = found.cluster;
  const known: NodeIdentity[] = [];
  for (const site of fixture.sites) known.push(await loadIdentity(join(site.dir, '.git')));
  await mkdir(join(top, 'next-key'));
  const next = (await initIdentity(join(top, 'next-key'))).identity;
  known.push(next);
  const birch = fixture.sites[1]!;
  rotated = {
    ...before4,
    members: before4.members
      .map((m) => (m.id === birch.id ? { ...m, id: next.id, publicKey: next.publicKey, proof: memberProofOf(next, before4.branch, m.address) } : m))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
  const blob = await repo.writeBlob(new TextEncoder().encode(`${JSON.stringify(rotated, null, 2)}\n`));
  const rotatedTree = await repo.writeTreeFromPaths(await repo.resolveTree(fixture.genesis), new Map([[clusterDocPath, { mode: '100644', oid: blob }]]));
  let parentCommit = fixture.genesis;
  let parentValue = genesisParent;
  for (const [height, cluster, tree] of [[0, before4, undefined], [1, before4, rotatedTree], [2, rotated, undefined]] as const) {
    const { commit, cert } = await writeAgreedStep(repo, cluster, identitiesOf(cluster, known), {
      height, parentCommit, parentValue, records: [], signers: [0, 1, 2], ...(tree === undefined ? {} : { tree }),
    });
    heights.push(commit);
    parentCommit = commit;
    parentValue = valueIdOf({ digestHex: sha256Hex }, cert.value);
  }
  await repo.updateRef(agreedRef('main'), parentCommit);
  await repo.close();
  // The site's branch and work tree are at the agreed tip, as a node that fast-forwards leaves them.
  assert.equal(git(ash, ['reset', '-q', '--hard', parentCommit]).status, 0);
});

after(async () => {
  await removeTempDir(top);
});

it('the membership before a change is the cluster document at the parent of the agreed commit that made it', async () => {
  const repo = await GitRepo.open(fixture.sites[0]!.dir);
  try {
    const at2 = await membershipBefore(repo, heights[2]!);
    assert.ok(at2 !== null && sameCluster(at2, before4), 'above the change: the genesis membership');
    const at1 = await membershipBefore(repo, heights[1]!);
    assert.ok(at1 !== null && sameCluster(at1, before4), 'at the change itself: the genesis membership');
    assert.equal(await membershipBefore(repo, heights[0]!), null, 'below the change: none');
  } finally {
    await repo.close();
  }
});

it('a node restarted after a key rotation knows the membership before it', async () => {
  const ash: ClusterSite = fixture.sites[0]!;
  const events: NodeEvent[] = [];
  const options = { cwd: ash.dir, validation: 'parse' as const, tickMs: 20, onEvent: (event: NodeEvent) => void events.push(event) };
  // The first start has no log: it starts after the agreed chain (and writes its log there).
  const first = await SyncNode.start(options);
  assert.equal(first.status().agreed.height, 2);
  await first.stop();
  // The restart recovers from that log, knowing only the commit it wrote last.
  const node = await SyncNode.start(options);
  try {
    assert.ok(events.some((e) => e.kind === 'recovered'), 'the second start recovered from the log');
    const ctx = (node as unknown as { ctx: NodeContext }).ctx;
    assert.ok(sameCluster(ctx.cluster, rotated), 'the membership in force is the rotated one');
    assert.ok(ctx.previousCluster !== null, 'it knows the membership before the rotation');
    assert.ok(sameCluster(ctx.previousCluster, before4), 'which is the genesis membership');
  } finally {
    await node.stop();
  }
});
