/**
 * A new site whose clone's branch is at an agreed commit, fetched without the cluster's notes (a
 * plain `git pull` brings no notes), must not start a chain of its own at height 0: `acu node
 * start` refuses with the fetch that fixes it, and starts nothing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { acu, git } from './real-nodes.js';

let top = '';
let cluster: ClusterFixture;

before(async () => {
  top = await makeTempDir('join-without-notes');
  cluster = await buildClusterFixture(top, { sites: ['north', 'south'], files: { 'README.md': '# x\n' } });
});

after(async () => {
  await removeTempDir(top);
});

it('refuses to start on an agreed commit whose certificate note the clone lacks, naming the fetch', () => {
  const [north] = cluster.sites as [ClusterSite];
  // The branch tip as an agreed commit looks when its note was not fetched: its message, no note.
  const made = git(north, ['commit', '-q', '--allow-empty', '-m', 'acu: height 4, 1 ACU from 1 commit', '-m', 'Acu-Height: 4']);
  assert.equal(made.status, 0, made.stderr);
  const started = acu(north, ['node', 'start', '--validation', 'parse']);
  assert.equal(started.status, 128, started.stdout + started.stderr);
  assert.match(started.stderr, /^error: the node would start at [0-9a-f]{12} \('acu: height 4, 1 ACU from 1 commit'\), an agreed commit whose certificate note this clone does not have$/m);
  assert.match(started.stderr, /^hint: fetch the cluster's notes first: git fetch origin refs\/notes\/acu:refs\/notes\/acu refs\/notes\/acu-records:refs\/notes\/acu-records$/m);
  assert.ok(!existsSync(join(north.dir, '.git', 'acu', 'node.sock')), 'no node is left running');
});
