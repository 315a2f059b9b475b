/**
 * End to end over TLS, with real processes: four `acu node start` processes, each listening on
 * its own loopback address (127.0.0.2 to 127.0.0.5, one port number for all four, so they must
 * listen where the cluster document says), linked by TLS 1.3 with the certificates `acu init`
 * made and the document pins; a commit made through the real post-commit hook becomes one agreed
 * commit on every site. Also: `--listen` with an address that is malformed, not this machine's, or
 * busy is `error:`/`hint:` with exit 128; a plain-ws cluster that is not on loopback needs
 * `--insecure`, and `acu status` then says so.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildClusterFixture, pinClusterTls } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { readCluster, writeCluster } from '../../src/store/cluster.js';
import type { NodeStatus } from '../../src/sync/node.js';
import { acu, acuBin, nodeScratch, nodeStatus, until } from './real-nodes.js';

interface Running {
  child: ChildProcess;
  stderr: string[];
  stdout: string[];
  exited: Promise<number | null>;
}

let cluster: ClusterFixture;
let solo: ClusterFixture;
let port = 0;
const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const nodes: Running[] = [];

function git(site: ClusterSite, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  // The hook waits up to 5 s for the node's answer (not its 150 ms), so that a loaded CI machine
  // still shows the poke answered over the running node's socket, which this test asserts.
  const result = spawnSync('git', args, { cwd: site.dir, encoding: 'utf8', env: { ...process.env, ACU_HOOK_BUDGET_MS: '5000' } });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

function start(site: ClusterSite, extra: readonly string[] = []): Running {
  const child = spawn(process.execPath, [acuBin, 'node', 'start', '--json', '--validation', 'parse', '--tick-ms', '20', ...extra], { cwd: site.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  const stdout: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = { child, stderr, stdout, exited };
  nodes.push(running);
  return running;
}

/** The end of what the nodes printed, for a wait that timed out. */
function nodesSaid(): string {
  return nodes.map((n) => `${n.stdout.join('')}${n.stderr.join('')}`).join('\n---\n').slice(-6000);
}

async function allStatuses(): Promise<(NodeStatus | null)[]> {
  return await Promise.all(cluster.sites.map((site) => nodeStatus(site)));
}

/** A port free on every one of the four addresses (asked of the kernel on the first, checked on the rest). */
async function commonFreePort(): Promise<number> {
  for (;;) {
    const candidate = await listenOn(hosts[0]!, 0);
    const chosen = (candidate.address() as AddressInfo).port;
    const others = await Promise.all(hosts.slice(1).map((host) => listenOn(host, chosen).catch(() => null)));
    for (const server of [candidate, ...others]) if (server !== null) await new Promise((resolve) => server.close(resolve));
    if (others.every((server) => server !== null)) return chosen;
  }
}

function listenOn(host: string, at: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(at, host, () => resolve(server));
  });
}

nodeScratch('node-tls', nodes, async (top) => {
  cluster = await buildClusterFixture(join(top, 'tls'), {
    sites: ['north', 'east', 'south', 'west'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
  // The document as an operator writes it for TLS: each site's wss:// address and its pin.
  port = await commonFreePort();
  await pinClusterTls(cluster, (_, i) => `wss://${hosts[i]!}:${port}`, 'Secure the acu cluster: wss:// addresses and pins');
  solo = await buildClusterFixture(join(top, 'solo'), { sites: ['lone'], files: { 'README.md': '# solo\n' } });
});

it('--listen with a malformed address, an address not on this machine, or a busy port: error and hint, exit 128', async () => {
  const north = cluster.sites[0]!;
  const malformed = acu(north, ['node', 'start', '--listen', 'nowhere']);
  assert.equal(malformed.status, 128, malformed.stderr);
  assert.match(malformed.stderr, /^error: --listen 'nowhere' is not an address to listen on$/m);
  assert.match(malformed.stderr, /^hint: write <host>:<port>/m);
  const foreign = acu(north, ['node', 'start', '--listen', `192.0.2.1:${port}`]);
  assert.equal(foreign.status, 128, foreign.stderr);
  assert.match(foreign.stderr, /^error: cannot listen on 192\.0\.2\.1:\d+: no interface of this machine has that address$/m);
  assert.match(foreign.stderr, /^hint: pass --listen <host>:<port>/m);
  // The default is the host and port of this node's own address in the document: 127.0.0.2.
  const squatter = await listenOn(hosts[0]!, port);
  try {
    const busy = acu(north, ['node', 'start']);
    assert.equal(busy.status, 128, busy.stderr);
    assert.match(busy.stderr, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.2:${port}: the port is in use$`, 'm'));
    assert.match(busy.stderr, /^hint: stop what listens there/m);
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
});

it('four nodes on 127.0.0.2-5 link over pinned TLS and agree on a hooked commit', async () => {
  for (const site of cluster.sites) start(site);
  await until('all four nodes are connected', async () => (await allStatuses()).every((s) => s !== null && s.peers.every((p) => p.connected)), nodesSaid);
  const statuses = await allStatuses();
  statuses.forEach((s, i) => assert.deepEqual(s!.links, { scheme: 'wss', verify: 'pinned', insecure: false, listen: `${hosts[i]!}:${port}` }));
  const north = cluster.sites[0]!;
  assert.equal(acu(north, ['hooks', 'install']).status, 0);
  await writeFile(join(north.dir, 'src/math.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function mul(a: number, b: number): number {\n  return a * b;\n}\n');
  const commit = git(north, ['commit', '-q', '-am', 'Add mul']);
  assert.equal(commit.status, 0, commit.stderr);
  assert.match(commit.stderr, /acu: proposed [0-9a-f]{12} to the sync node/);
  await until('every node wrote height 0', async () => (await allStatuses()).every((s) => s !== null && s.agreed.height >= 0), nodesSaid);
  const after = await allStatuses();
  const commits = after.map((s) => s!.agreed.commit);
  assert.ok(commits[0] !== null && commits.every((c) => c === commits[0]), `one agreed commit: ${commits.join(' ')}`);
  for (const s of after) assert.equal(s!.counters.authRefusedCertificate + s!.counters.authRefusedBadSignature, 0);
  assert.match(git(cluster.sites[3]!, ['show', 'refs/acu/main:src/math.ts']).stdout, /export function mul\(/);
  const shown = acu(north, ['status']);
  assert.match(shown.stdout, new RegExp(`^links: wss:// TLS 1\\.3, certificates pinned by the cluster document; listening on 127\\.0\\.0\\.2:${port}$`, 'm'));
  for (const site of cluster.sites) assert.equal(acu(site, ['verify']).status, 0);
});

it('plain ws:// off loopback is refused without --insecure; with it, acu status and the log say so', async () => {
  const lone = solo.sites[0]!;
  // The member's address as it would be on a real network; the node still listens on loopback here.
  const doc = await readCluster(lone.dir);
  await writeCluster(lone.dir, { ...doc, members: doc.members.map((m) => ({ ...m, address: `ws://192.0.2.7:${lone.port}` })) });
  const refused = acu(lone, ['node', 'start', '--listen', `127.0.0.1:${lone.port}`]);
  assert.equal(refused.status, 128, refused.stderr);
  assert.match(refused.stderr, /^error: the cluster's addresses are plain ws:\/\/ and not all on loopback/m);
  assert.match(refused.stderr, /^hint: use wss:\/\/ addresses .* or pass --insecure/m);
  const running = start(lone, ['--insecure', '--listen', `127.0.0.1:${lone.port}`]);
  await until('the insecure node answers', async () => (await nodeStatus(lone)) !== null, nodesSaid);
  assert.deepEqual((await nodeStatus(lone))!.links, { scheme: 'ws', verify: 'none', insecure: true, listen: `127.0.0.1:${lone.port}` });
  assert.match(acu(lone, ['status']).stdout, /^links: plain ws:\/\/ \(INSECURE: --insecure; nothing on these links is encrypted\)/m);
  assert.match(running.stderr.join(''), /^warning: --insecure: peer links are plain ws:\/\//m);
  running.child.kill('SIGTERM');
  assert.equal(await running.exited, 0);
});
