/**
 * Issue #13: "a commit with a 5 MB file makes its node's links reconnect forever (record frames are
 * split by count, not bytes; peers refuse frames over 4 MiB)". End to end: four real nodes on
 * loopback agree on a commit that adds a 5 MB binary file (its record is about 7 MB of base64, over
 * the frame limit, so it crosses as fragments); every site writes the same agreed commit holding
 * the very same blob, and no link goes down on the way.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture } from '../../fixtures/cluster.js';
import { acu, git, nodeScratch, nodeStatus, startNode, until } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

const fileBytes = 5 * 1024 * 1024;

let cluster: ClusterFixture;
const running: RunningNode[] = [];

nodeScratch('large-commit', running, async (top) => {
  cluster = await buildClusterFixture(top, { sites: ['north', 'east', 'south', 'west'], files: { 'README.md': '# big\n' } });
});

/** Incompressible-looking bytes from a fixed seed (a linear congruential generator). */
function bytesOf(count: number, seed: number): Buffer {
  const out = Buffer.alloc(count);
  let x = seed >>> 0;
  for (let i = 0; i < count; i += 1) {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

it('four nodes agree on a commit with a 5 MB file: one agreed commit, the same blob everywhere, no link lost', async () => {
  for (const site of cluster.sites) running.push(startNode(site));
  const statuses = async (): Promise<Awaited<ReturnType<typeof nodeStatus>>[]> => await Promise.all(cluster.sites.map((site) => nodeStatus(site)));
  await until('all four nodes are connected', async () => (await statuses()).every((s) => s !== null && s.peers.every((p) => p.connected)));
  const downBefore = running.map((node) => node.events.filter((e) => e.kind === 'peer-down').length);

  const north = cluster.sites[0]!;
  assert.equal(acu(north, ['hooks', 'install']).status, 0);
  await mkdir(join(north.dir, 'assets'), { recursive: true });
  await writeFile(join(north.dir, 'assets', 'big.bin'), bytesOf(fileBytes, 20_240_101));
  assert.equal(git(north, ['add', 'assets/big.bin']).status, 0);
  const committed = git(north, ['commit', '-q', '-m', 'Add a 5 MB asset']);
  assert.equal(committed.status, 0, committed.stderr);
  const blob = git(north, ['rev-parse', 'HEAD:assets/big.bin']).stdout.trim();

  await until('every node wrote height 0', async () => (await statuses()).every((s) => s !== null && s.agreed.height >= 0));
  const commits = (await statuses()).map((s) => s!.agreed.commit);
  assert.ok(commits[0] !== null && commits.every((c) => c === commits[0]), `one agreed commit: ${commits.join(' ')}`);
  for (const site of cluster.sites) {
    assert.equal(git(site, ['rev-parse', 'refs/acu/main:assets/big.bin']).stdout.trim(), blob, `${site.name} holds the same blob`);
    assert.equal(acu(site, ['verify']).status, 0);
  }
  const downAfter = running.map((node) => node.events.filter((e) => e.kind === 'peer-down').length);
  assert.deepEqual(downAfter, downBefore, 'no link went down');
  for (const status of await statuses()) assert.equal(status!.counters.framesRefused, 0, 'no frame was refused');
});
