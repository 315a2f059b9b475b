/**
 * End to end, with real processes: four `acu node start` processes on loopback, a commit made
 * through the real post-commit hook, the same agreed commit on every site, `acu status`, `acu log`
 * and `acu verify` against it, pre-push refusing what is not certified, and a clean SIGTERM restart
 * that resumes from the write-ahead log. No mocks; waits poll the nodes' own status.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import type { NodeEvent, NodeStatus } from '../../src/sync/node.js';
import { acu, acuBin, collectNodeEvents, nodeScratch, nodeStatus, until } from './real-nodes.js';

interface Running {
  child: ChildProcess;
  events: NodeEvent[];
  exited: Promise<number | null>;
}

let cluster: ClusterFixture;
const nodes = new Map<string, Running>();

function git(site: ClusterSite, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync('git', args, { cwd: site.dir, encoding: 'utf8' });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

function start(site: ClusterSite): Running {
  // stderr goes straight to the test's own, unlike startNode's (which prefixes each site's lines).
  const child = spawn(process.execPath, [acuBin, 'node', 'start', '--json', '--validation', 'parse', '--tick-ms', '20'], { cwd: site.dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const events = collectNodeEvents(child.stdout);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = { child, events, exited };
  nodes.set(site.name, running);
  return running;
}

async function allStatuses(): Promise<(NodeStatus | null)[]> {
  return await Promise.all(cluster.sites.map((site) => nodeStatus(site)));
}

nodeScratch('node-cli', nodes, async (top) => {
  cluster = await buildClusterFixture(top, {
    sites: ['north', 'east', 'south', 'west'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
});

it('acu status without a running node says so, with a hint (exit 128)', () => {
  const result = acu(cluster.sites[0]!, ['status']);
  assert.equal(result.status, 128);
  assert.match(result.stderr, /^error: no sync node is running for this repository$/m);
  assert.match(result.stderr, /^hint: start one with 'acu node start'/m);
});

it('four nodes agree on a hooked commit: one commit id everywhere, logged, verified, and guarded by pre-push', async () => {
  for (const site of cluster.sites) start(site);
  await until('all four nodes are connected', async () => (await allStatuses()).every((s) => s !== null && s.peers.every((p) => p.connected)));
  const north = cluster.sites[0]!;
  assert.equal(acu(north, ['hooks', 'install']).status, 0);
  await writeFile(join(north.dir, 'src/math.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function sub(a: number, b: number): number {\n  return a - b;\n}\n');
  const commit = git(north, ['commit', '-q', '-am', 'Add sub']);
  assert.equal(commit.status, 0, commit.stderr);
  // `proposed` when the node took the hook's poke within its 150 ms budget, `queued` when the node
  // was too busy to answer in time and takes it from the outbox on its next scan: scheduling, not
  // behaviour; the agreement below is what the test is about.
  assert.match(commit.stderr, /acu: (proposed [0-9a-f]{12} to|queued [0-9a-f]{12} for) the sync node/);
  await until('every node wrote height 0', async () => (await allStatuses()).every((s) => s !== null && s.agreed.height >= 0));
  const commits = (await allStatuses()).map((s) => s!.agreed.commit);
  assert.ok(commits[0] !== null && commits.every((c) => c === commits[0]), `one agreed commit: ${commits.join(' ')}`);
  for (const site of cluster.sites) assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), commits[0]);

  const shown = git(cluster.sites[2]!, ['show', 'refs/acu/main:src/math.ts']).stdout;
  assert.match(shown, /export function sub\(/);
  const message = git(north, ['log', '-1', '--format=%B', 'refs/acu/main']).stdout;
  assert.match(message, /^acu: height 0, 1 ACU from 1 commit$/m);
  assert.match(message, /^Co-authored-by: north <north@example\.com>$/m);

  const statusJson = JSON.parse(acu(north, ['status', '--json']).stdout) as NodeStatus;
  assert.equal(statusJson.height, 1);
  assert.equal(statusJson.cluster.quorum, 3);
  assert.equal(statusJson.peers.length, 3);
  const plain = acu(north, ['status']);
  assert.match(plain.stdout, /^consensus: height 1, round 0, phase idle, leader n[0-9a-f]{16}/m);

  const log = JSON.parse(acu(cluster.sites[3]!, ['log', '--json']).stdout) as { height: number; applied: unknown[]; signers: unknown[] }[];
  assert.equal(log.length, 1);
  assert.equal(log[0]!.applied.length, 1);
  assert.ok(log[0]!.signers.length >= 3);
  for (const site of cluster.sites) assert.equal(acu(site, ['verify']).status, 0);

  const refused = git(north, ['push', 'origin', 'main']);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /refusing to push main: 1 commit is not certified by the acu cluster/);
  const certified = git(north, ['push', 'origin', 'refs/acu/main:refs/heads/main']);
  assert.equal(certified.status, 0, certified.stderr);
});

it('SIGTERM stops a node cleanly; restarted, it resumes from its log at the same height', async () => {
  const east = cluster.sites[1]!;
  const running = nodes.get(east.name)!;
  const height = (await nodeStatus(east))!.height;
  running.child.kill('SIGTERM');
  assert.equal(await running.exited, 0);
  assert.ok(running.events.some((e) => e.kind === 'stopping'));
  const again = start(east);
  await until('east answers again', async () => (await nodeStatus(east)) !== null);
  const recovered = again.events.find((e) => e.kind === 'recovered');
  assert.ok(recovered !== undefined, 'the restarted node reports its recovery');
  assert.equal((await nodeStatus(east))!.height, height);
  assert.equal(acu(east, ['verify']).status, 0);
});
