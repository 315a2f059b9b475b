/**
 * Sites on separate networks, end to end with real processes: each of four `acu node start`
 * processes runs in its own Linux network namespace, whose only interface besides its loopback is
 * one end of a veth pair; the other ends meet on a bridge in a fifth namespace, the "switch". The
 * sites' addresses (10.77.0.2 to 10.77.0.5) exist only inside their namespaces, each node listens
 * on port 7401 as the deployment guide's example does, and nothing of the cluster's traffic
 * touches this machine's own network. Over TLS with the pins the cluster document holds, a commit
 * made through the real post-commit hook becomes one agreed commit on every site. Then one site's
 * cable is pulled (its veth is set down on the switch): the other three agree on a commit, the cut
 * site finalizes nothing, and once the cable is back it catches up to the same commit.
 *
 * Creating namespaces needs CAP_NET_ADMIN (root, as on the development machine); elsewhere the
 * test skips and says why. test/sync/node-tls.test.ts covers distinct loopback addresses
 * everywhere.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildClusterFixture, pinClusterTls } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { fixtureEpochSeconds } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { NodeStatus } from '../../src/sync/node.js';
import { acu, killAll, nodeStatus, startNode, stopNode } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

const prefix = `acu${process.pid}`;
const hub = `${prefix}-switch`;
const port = 7401;
const addresses = ['10.77.0.2', '10.77.0.3', '10.77.0.4', '10.77.0.5'];
const namespaces = addresses.map((_, i) => `${prefix}-s${i}`);

function ip(args: readonly string[]): { status: number; stderr: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  return { status: result.status ?? 128, stderr: result.error?.message ?? result.stderr };
}

function mustIp(args: readonly string[]): void {
  const result = ip(args);
  assert.equal(result.status, 0, `ip ${args.join(' ')}: ${result.stderr}`);
}

/** Why this machine cannot run the test's network (a namespace, a veth pair, a process inside), or null when it can. */
function namespacesRefused(): string | null {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  const probe = `${prefix}-probe`;
  const added = ip(['netns', 'add', probe]);
  if (added.status !== 0) return `cannot create a network namespace here (needs CAP_NET_ADMIN): ${added.stderr.trim()}`;
  try {
    const veth = ip(['-n', probe, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    if (veth.status !== 0) return `cannot create a veth pair here: ${veth.stderr.trim()}`;
    const inside = ip(['netns', 'exec', probe, process.execPath, '-e', '0']);
    if (inside.status !== 0) return `cannot start a process inside a network namespace here: ${inside.stderr.trim()}`;
    return null;
  } finally {
    ip(['netns', 'delete', probe]);
  }
}

const refused = namespacesRefused();
let top = '';
let cluster: ClusterFixture;
const made: string[] = [];
const nodes: RunningNode[] = [];

/** The switch, and each site's namespace cabled to it: `v<i>` on the switch, `eth0` inside. */
function buildNetwork(): void {
  mustIp(['netns', 'add', hub]);
  made.push(hub);
  mustIp(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
  mustIp(['-n', hub, 'link', 'set', 'br0', 'up']);
  namespaces.forEach((ns, i) => {
    mustIp(['netns', 'add', ns]);
    made.push(ns);
    mustIp(['-n', hub, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    mustIp(['-n', hub, 'link', 'set', `v${i}`, 'master', 'br0']);
    mustIp(['-n', hub, 'link', 'set', `v${i}`, 'up']);
    mustIp(['-n', ns, 'addr', 'add', `${addresses[i]!}/24`, 'dev', 'eth0']);
    mustIp(['-n', ns, 'link', 'set', 'eth0', 'up']);
    mustIp(['-n', ns, 'link', 'set', 'lo', 'up']);
  });
}

function cable(i: number, state: 'up' | 'down'): void {
  mustIp(['-n', hub, 'link', 'set', `v${i}`, state]);
}

async function statuses(): Promise<(NodeStatus | null)[]> {
  return await Promise.all(cluster.sites.map((site) => nodeStatus(site)));
}

// Polls the nodes' own state; the bound only keeps a hung cluster from hanging the test run.
async function until(what: string, test: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 150_000;
  while (!(await test())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}: ${JSON.stringify((await statuses()).map((s) => s && { height: s.agreed.height, peers: s.peers.map((p) => p.connected) }))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** git in a site's clone with a fixed date; the hook waits up to 5 s for its node, as on a loaded machine it may need to. */
function git(site: ClusterSite, args: readonly string[], at: number): { status: number; stdout: string; stderr: string } {
  const date = `@${fixtureEpochSeconds + at} +0000`;
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, ACU_HOOK_BUDGET_MS: '5000' };
  const result = spawnSync('git', args, { cwd: site.dir, encoding: 'utf8', env });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

before(async () => {
  if (refused !== null) return;
  buildNetwork();
  top = await makeTempDir('node-netns');
  cluster = await buildClusterFixture(join(top, 'sites'), {
    sites: ['north', 'east', 'south', 'west'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
  // The document as an operator writes it: each site's wss:// address on its own network, and its pin.
  await pinClusterTls(cluster, (_, i) => `wss://${addresses[i]!}:${port}`, 'The acu cluster on its own network: wss:// addresses and pins');
});

after(async () => {
  await killAll(nodes);
  for (const ns of made.reverse()) ip(['netns', 'delete', ns]);
  if (top !== '') await removeTempDir(top);
});

it('four sites in four network namespaces agree over pinned TLS; a site cut off finalizes nothing and catches up when its cable is back', { skip: refused ?? false }, async () => {
  const here = Object.values(networkInterfaces()).flat().map((info) => info?.address);
  for (const address of addresses) assert.ok(!here.includes(address), `${address} is not an address of this machine's own network`);

  cluster.sites.forEach((site, i) => nodes.push(startNode(site, [], {}, ['ip', 'netns', 'exec', namespaces[i]!])));
  await until('all four nodes are linked', async () => (await statuses()).every((s) => s !== null && s.peers.every((p) => p.connected)));
  (await statuses()).forEach((s, i) => assert.deepEqual(s!.links, { scheme: 'wss', verify: 'pinned', insecure: false, listen: `${addresses[i]!}:${port}` }));

  const [north, , south, west] = cluster.sites as [ClusterSite, ClusterSite, ClusterSite, ClusterSite];
  assert.equal(acu(north, ['hooks', 'install']).status, 0);
  await writeFile(join(north.dir, 'src/math.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function mul(a: number, b: number): number {\n  return a * b;\n}\n');
  const first = git(north, ['commit', '-q', '-am', 'Add mul'], 7300);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /acu: proposed [0-9a-f]{12} to the sync node/);
  await until('every site wrote height 0', async () => (await statuses()).every((s) => s !== null && s.agreed.height >= 0));
  const zero = (await statuses()).map((s) => s!.agreed.commit);
  assert.ok(zero[0] !== null && zero.every((c) => c === zero[0]), `one agreed commit: ${zero.join(' ')}`);

  // West's cable is pulled. The other three are a quorum and go on; west alone finalizes nothing.
  cable(3, 'down');
  assert.equal(acu(south, ['hooks', 'install']).status, 0);
  await writeFile(join(south.dir, 'README.md'), '# math\n\nAdds and multiplies.\n');
  const second = git(south, ['commit', '-q', '-am', 'Describe the module'], 7400);
  assert.equal(second.status, 0, second.stderr);
  const three = cluster.sites.slice(0, 3);
  await until('north, east and south wrote height 1', async () => (await Promise.all(three.map((site) => nodeStatus(site)))).every((s) => s !== null && s.agreed.height >= 1));
  const one = (await Promise.all(three.map((site) => nodeStatus(site)))).map((s) => s!.agreed.commit);
  assert.ok(one[0] !== null && one.every((c) => c === one[0]), `one agreed commit at height 1: ${one.join(' ')}`);
  const cut = await nodeStatus(west);
  assert.equal(cut!.agreed.height, 0, 'west, cut off, wrote nothing past height 0');
  assert.equal(cut!.agreed.commit, zero[0]);

  // The cable is back: west links again and writes the same commit.
  cable(3, 'up');
  await until('west wrote height 1', async () => ((await nodeStatus(west))?.agreed.height ?? -1) >= 1);
  assert.equal((await nodeStatus(west))!.agreed.commit, one[0], 'west wrote the commit the others agreed');
  assert.match(git(west, ['show', 'refs/acu/main:README.md'], 7500).stdout, /Adds and multiplies\./);
  for (const s of await statuses()) assert.equal(s!.counters.authRefusedCertificate + s!.counters.authRefusedBadSignature, 0);
  for (const site of cluster.sites) assert.equal(acu(site, ['verify']).status, 0, `acu verify at ${site.name}`);
  for (const node of nodes) assert.equal(await stopNode(node), 0);
});
