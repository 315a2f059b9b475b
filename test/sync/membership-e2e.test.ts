/**
 * Membership by consensus, end to end with real processes: four `acu node start` processes on
 * 127.0.0.2 to 127.0.0.5, linked over TLS pinned by the cluster document, agree on commits made
 * through the real post-commit hook while the cluster
 * changes under them, each change an ordinary commit of `.acu/cluster.json` made with `acu
 * cluster ... --commit`:
 *
 * 1. a fifth site (127.0.0.6) is added with its proof of possession; it starts from a clone of the
 *    agreed history that holds the change (with its notes), and joins;
 * 2. a site is removed: its node says so in `acu status` and stops voting, the others go on;
 * 3. a site restarts and comes back with the membership in force at its last agreed commit;
 * 4. a site rotates its key: the old key signs until the change is agreed, then the new one.
 *
 * Every node in the cluster writes the same agreed commits, and `acu verify` passes on a fresh
 * clone, each certificate checked against the membership in force at its parent.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildClusterFixture, freePort, pinClusterTls } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { runGit } from '../../src/git/exec.js';
import type { NodeStatus } from '../../src/sync/node.js';
import { acu, git, hookedCommit, nodeScratch, nodeStatus, pokeNode, startNode, stopNode, until } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

process.env.GIT_CONFIG_NOSYSTEM = '1';

let cluster: ClusterFixture;
let cairo: ClusterSite;
/** cairo's TLS pin, as 'acu init' printed it. */
let cairoPin = '';
const running = new Map<string, RunningNode>();
const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
let commitsMade = 0;

function site(name: string): ClusterSite {
  if (name === 'cairo') return cairo;
  return cluster.sites.find((s) => s.name === name)!;
}

function start(name: string): void {
  running.set(name, startNode(site(name)));
}

async function statusOf(name: string): Promise<NodeStatus | null> {
  return await nodeStatus(site(name));
}

/** Wait until every named node's status passes `test`; their statuses then. */
async function agreeOn(names: readonly string[], what: string, test: (s: NodeStatus) => boolean | Promise<boolean>): Promise<NodeStatus[]> {
  let last: (NodeStatus | null)[] = [];
  try {
    await until(`${what} (${names.join(', ')})`, async () => {
      last = await Promise.all(names.map((name) => statusOf(name)));
      for (const s of last) if (s === null || !(await test(s))) return false;
      return true;
    });
  } catch (error) {
    // What each node said, for the failure report.
    for (const [name, node] of running) process.stderr.write(`--- ${name}\n${node.events.slice(-40).map((e) => `${e.atMs} ${e.kind} ${e.text}`).join('\n')}\n`);
    process.stderr.write(`${JSON.stringify(last.map((s) => s === null ? null : { site: s.site, height: s.height, round: s.round, agreed: s.agreed, n: s.cluster.n, m: s.membershipHeight, member: s.member, pending: s.pendingAcus }))}\n`);
    for (const name of names) process.stderr.write(`${name}: ${git(site(name), ['log', '--oneline', '-3']).stdout} ${acu(site(name), ['status']).stdout}\n`);
    throw error;
  }
  return last as NodeStatus[];
}

/** A commit through the hook at `name`. */
async function commitAt(name: string): Promise<void> {
  commitsMade += 1;
  await hookedCommit(site(name), commitsMade);
}


/** The agreed tip at a site, and its cluster document. */
function agreedDoc(name: string): string {
  return git(site(name), ['show', 'refs/acu/main:.acu/cluster.json']).stdout;
}

/** Bring a site's work tree to the agreed tip (its own commits are all agreed by then). */
function toAgreedTip(name: string): void {
  const reset = git(site(name), ['reset', '-q', '--hard', 'refs/acu/main']);
  assert.equal(reset.status, 0, reset.stderr);
}

/** Copy the agreed history and its notes from one site's repository into another's. */
async function fetchAgreed(into: string, from: string): Promise<void> {
  const refs = ['refs/acu/main:refs/acu/main', 'refs/notes/acu:refs/notes/acu', 'refs/notes/acu-records:refs/notes/acu-records'];
  await runGit(['fetch', '-q', '--force', from, ...refs], { cwd: into, gitDir: null });
}

const scratch = nodeScratch('membership-e2e', running, async (top) => {
  cluster = await buildClusterFixture(join(top, 'c'), {
    sites: ['north', 'east', 'south', 'west'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
  // Each site on its own loopback address, as on four machines, linked over TLS pinned by the document.
  await pinClusterTls(cluster, (s, i) => `wss://${hosts[i]!}:${s.port}`, 'The acu cluster on four addresses');
  for (const s of cluster.sites) assert.equal(acu(s, ['hooks', 'install']).status, 0);
  // The fifth site: a clone with its own key, not a member yet.
  const dir = join(top, 'c', 'cairo');
  await runGit(['clone', '-q', cluster.origin, dir], { cwd: top, gitDir: null });
  for (const [key, value] of [['user.name', 'cairo'], ['user.email', 'cairo@example.com'], ['commit.gpgsign', 'false']] as const) {
    await runGit(['config', key, value], { cwd: dir, gitDir: null });
  }
  cairo = { name: 'cairo', dir, id: '', port: await freePort() };
  const init = acu(cairo, ['init', '--json', '--address', `wss://${hosts[4]!}:${cairo.port}`]);
  assert.equal(init.status, 0, init.stderr);
  const made = JSON.parse(init.stdout) as { id: string; tlsPin: string };
  cairo = { ...cairo, id: made.id };
  cairoPin = made.tlsPin;
  await mkdir(join(top, 'fresh'), { recursive: true });
});

it('adds a site, removes one, survives a restart and rotates a key while commits flow, and the history verifies', async () => {
  for (const s of cluster.sites) start(s.name);
  const first4 = ['north', 'east', 'south', 'west'];
  await agreeOn(first4, 'all four are linked', (s) => s.peers.every((p) => p.connected));
  await commitAt('east');
  await agreeOn(first4, 'the first commit is agreed', (s) => s.agreed.height >= 0);

  // 1. Add cairo: its proof from `acu cluster proof` there, the change committed at north.
  const proof = acu(cairo, ['cluster', 'proof', '--json', '--address', `wss://${hosts[4]!}:${cairo.port}`]);
  assert.equal(proof.status, 0, proof.stderr);
  const { publicKey, address, proof: signature } = JSON.parse(proof.stdout) as { publicKey: string; address: string; proof: string };
  assert.equal(address, `wss://${hosts[4]!}:${cairo.port}`);
  toAgreedTip('north');
  await commitAt('south');
  const added = acu(site('north'), ['cluster', 'add', publicKey, address, '--site', 'cairo', '--priority', '4', '--tls-pin', cairoPin, '--proof', signature, '--commit']);
  assert.equal(added.status, 0, added.stderr);
  assert.match(added.stderr, /acu: (proposed|queued) [0-9a-f]{12}/, 'the post-commit hook took the change');
  await pokeNode(site('north'));
  const withCairo = await agreeOn(first4, 'the addition is agreed and in force', (s) => s.cluster.n === 5 && s.membershipHeight > 0);
  const heightAdded = withCairo[0]!.membershipHeight;
  for (const s of withCairo) assert.equal(s.membershipHeight, heightAdded, 'every node switched at the same height');
  for (const name of first4) assert.match(agreedDoc(name), new RegExp(cairo.id));
  // Cairo starts from a clone of the agreed history that holds the change.
  await fetchAgreed(cairo.dir, site('north').dir);
  assert.equal(git(cairo, ['reset', '-q', '--hard', 'refs/acu/main']).status, 0);
  assert.equal(acu(cairo, ['hooks', 'install']).status, 0);
  start('cairo');
  const five = [...first4, 'cairo'];
  await agreeOn(five, 'cairo is linked to every member', (s) => s.peers.every((p) => p.connected));
  await commitAt('cairo');
  await agreeOn(five, "cairo's commit is agreed everywhere", (s) => s.agreed.height >= heightAdded && s.pendingAcus === 0);

  // 2. Remove west.
  await agreeOn(five, 'every node is at the same agreed commit', async (s) => s.agreed.commit === (await statusOf('north'))?.agreed.commit);
  toAgreedTip('north');
  const removed = acu(site('north'), ['cluster', 'remove', 'west', '--commit']);
  assert.equal(removed.status, 0, removed.stderr);
  await pokeNode(site('north'));
  await commitAt('east');
  const four = ['north', 'east', 'south', 'cairo'];
  const withoutWest = await agreeOn(four, 'the removal is in force', (s) => s.cluster.n === 4 && s.membershipHeight > heightAdded);
  const heightRemoved = withoutWest[0]!.membershipHeight;
  const west = await statusOf('west');
  assert.ok(west !== null, "west's node still answers its API");
  if (west.agreed.height >= heightRemoved - 1) {
    assert.equal(west.member, false, 'west knows it was removed');
    assert.match(acu(site('west'), ['status']).stdout, /removed from the cluster at height \d+; it no longer proposes or votes/);
  }
  await commitAt('south');
  await agreeOn(four, 'a commit after the removal is agreed', (s) => s.agreed.height >= heightRemoved);

  // 3. Restart south: it comes back with the membership of its last agreed commit.
  assert.equal(await stopNode(running.get('south')!), 0);
  start('south');
  await agreeOn(['south'], 'south is back with four members', (s) => s.cluster.n === 4 && s.peers.every((p) => p.connected));

  // 4. East rotates its key.
  await agreeOn(four, 'every node is at the same agreed commit again', async (s) => s.agreed.commit === (await statusOf('north'))?.agreed.commit);
  toAgreedTip('east');
  const oldId = site('east').id;
  const rotated = acu(site('east'), ['cluster', 'rotate-key', '--commit']);
  assert.equal(rotated.status, 0, rotated.stderr);
  await pokeNode(site('east'));
  const newId = /becomes (n[0-9a-f]{16})/.exec(rotated.stdout)?.[1];
  assert.ok(newId !== undefined, rotated.stdout);
  await agreeOn(['east'], 'east signs with its new key', (s) => s.id === newId);
  const afterRotation = await agreeOn(four, 'the rotation is in force everywhere', (s) => s.membershipHeight > heightRemoved && s.peers.every((p) => p.id !== oldId && p.connected));
  const heightRotated = Math.max(...afterRotation.map((s) => s.membershipHeight));
  await commitAt('east');
  const final = await agreeOn(four, "east's commit under its new key is agreed", (s) => s.agreed.height >= heightRotated && s.pendingAcus === 0);
  const tip = Math.max(...final.map((s) => s.agreed.height));
  const same = await agreeOn(four, 'every node wrote the same agreed tip', (s) => s.agreed.height >= tip);
  const tips = same.map((s) => s.agreed.commit);
  assert.ok(tips.every((c) => c === tips[0]), `one agreed history: ${tips.join(' ')}`);
  for (const name of four) assert.equal(git(site(name), ['rev-parse', 'refs/acu/main']).stdout.trim(), tips[0]);
  for (const [name, node] of running) {
    const errors = node.events.filter((e) => e.kind === 'error' || e.kind === 'write-failed');
    assert.deepEqual(errors.map((e) => e.text), [], `${name} logged no error`);
  }
  for (const s of same) assert.equal(s.counters.membershipRefused, 0, `${s.site}: no member signed under a membership not in force`);
  // Cairo's log started at the agreed commit it was cloned with; every other node wrote every height.
  assert.equal(same.find((s) => s.site === 'cairo')!.agreed.height, same[0]!.agreed.height);

  // The history verifies on a fresh clone, each certificate against the membership of its parent.
  const fresh = join(scratch.top, 'fresh', 'clone');
  await runGit(['clone', '-q', site('north').dir, fresh], { cwd: scratch.top, gitDir: null });
  await fetchAgreed(fresh, site('north').dir);
  const verified = acu({ name: 'fresh', dir: fresh, id: '', port: 0 }, ['verify', 'refs/acu/main', '--json']);
  assert.equal(verified.status, 0, `${verified.stdout}${verified.stderr}`);
  const report = JSON.parse(verified.stdout) as { ok: boolean; commits: { height: number | null; ok: boolean }[] };
  assert.equal(report.commits.length, tip + 1, 'every height from 0');
  assert.ok(report.ok && report.commits.every((c) => c.ok));
});
