/**
 * A site that was down while the membership changed twice rejoins (docs/sync.md, "State
 * transfer"), end to end with real node processes on loopback. Four sites agree on a commit; west
 * stops; north and then east rotate their keys, each rotation an ordinary commit of
 * `.acu/cluster.json` agreed by the three, and one more commit is agreed under the second
 * membership. West is behind by a handful of heights only, well within what peers retain, but
 * the decisions it misses were signed by memberships it does not know yet, and peers serve
 * decisions only one membership back. It restarts, usually stays unmoved for 30 s and fetches
 * the chain by state transfer (the test says which way it came), and ends with the same agreed commits as the others, under the membership in
 * force since the same height as theirs; and it takes part again: a commit made at west is agreed
 * by all four.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import type { NodeStatus } from '../../src/sync/node.js';
import { acu, git, hookedCommit, nodeScratch, nodeStatus, pokeNode, startNode, stopNode } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

process.env.GIT_CONFIG_NOSYSTEM = '1';

let cluster: ClusterFixture;
const running = new Map<string, RunningNode>();
let commitsMade = 0;

function site(name: string): ClusterSite {
  return cluster.sites.find((s) => s.name === name)!;
}

function start(name: string): RunningNode {
  const node = startNode(site(name));
  running.set(name, node);
  return node;
}

/**
 * Wait until every named node's status passes `test`; their statuses then. The bound is on the
 * whole wait and covers the 30 s a node waits, unmoved, before it fetches the chain.
 */
async function agreeOn(names: readonly string[], what: string, test: (s: NodeStatus) => boolean | Promise<boolean>): Promise<NodeStatus[]> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const last = await Promise.all(names.map((name) => nodeStatus(site(name))));
    let ok = true;
    for (const s of last) if (s === null || !(await test(s))) ok = false;
    if (ok) return last as NodeStatus[];
    if (Date.now() > deadline) {
      for (const [name, node] of running) process.stderr.write(`--- ${name}\n${node.events.slice(-30).map((e) => `${e.atMs} ${e.kind} ${e.text}`).join('\n')}\n`);
      assert.fail(`timed out waiting until ${what}: ${JSON.stringify(last.map((s) => s && { site: s.site, agreed: s.agreed.height, n: s.cluster.n, m: s.membershipHeight }))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}


/** A commit through the hook at `name`. */
async function commitAt(name: string): Promise<void> {
  commitsMade += 1;
  await hookedCommit(site(name), commitsMade);
}

/** Rotate a site's key through consensus; the height at which the new membership is in force. */
async function rotate(name: string, names: readonly string[]): Promise<number> {
  const before = (await nodeStatus(site(name)))!.membershipHeight;
  assert.equal(git(site(name), ['reset', '-q', '--hard', 'refs/acu/main']).status, 0);
  const rotated = acu(site(name), ['cluster', 'rotate-key', '--commit']);
  assert.equal(rotated.status, 0, rotated.stderr);
  await pokeNode(site(name));
  const newId = /becomes (n[0-9a-f]{16})/.exec(rotated.stdout)?.[1];
  assert.ok(newId !== undefined, rotated.stdout);
  const statuses = await agreeOn(names, `${name}'s rotation is in force`, (s) => s.membershipHeight > before && s.peers.every((p) => p.connected || !names.includes(p.site)));
  assert.equal((await nodeStatus(site(name)))!.id, newId, `${name} signs with its new key`);
  return statuses[0]!.membershipHeight;
}

nodeScratch('rejoin-memberships', running, async (top) => {
  cluster = await buildClusterFixture(join(top, 'c'), {
    sites: ['north', 'east', 'south', 'west'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
  for (const s of cluster.sites) assert.equal(acu(s, ['hooks', 'install']).status, 0);
});

it('a site down across two membership changes rejoins with the same agreed commits and takes part again', async (t) => {
  const all = ['north', 'east', 'south', 'west'];
  const three = ['north', 'east', 'south'];
  for (const name of all) start(name);
  await agreeOn(all, 'all four are linked', (s) => s.peers.every((p) => p.connected));
  await commitAt('south');
  await agreeOn(all, 'the first commit is agreed', (s) => s.agreed.height >= 0);
  assert.equal(await stopNode(running.get('west')!), 0);
  const westHeight = (await nodeStatus(site('north')))!.agreed.height;

  const first = await rotate('north', three);
  const second = await rotate('east', three);
  assert.ok(second > first, `two membership changes (${first}, ${second})`);
  await commitAt('south');
  const done = await agreeOn(three, 'a commit under the second membership is agreed', (s) => s.agreed.height >= second && s.pendingAcus === 0);
  const tip = Math.max(...done.map((s) => s.agreed.height));
  const agreed = await agreeOn(three, 'the three wrote the same tip', (s) => s.agreed.height >= tip);
  const tipCommit = agreed[0]!.agreed.commit;
  assert.ok(agreed.every((s) => s.agreed.commit === tipCommit));
  assert.ok(tip - westHeight < 256, 'west is behind by less than peers retain');

  const west = start('west');
  const back = await agreeOn(['west'], 'west wrote the agreed tip', (s) => s.agreed.height >= tip);
  assert.equal(back[0]!.agreed.commit, tipCommit, 'west wrote the commit the others agreed');
  assert.equal(back[0]!.cluster.n, 4);
  assert.equal(back[0]!.membershipHeight, second, 'west is under the membership in force, since the height the others took it up');
  const verified = acu(site('west'), ['verify', 'refs/acu/main']);
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);
  // Which way it came: the chain by state transfer (the usual case: unmoved for 30 s, as peers
  // serve decisions one membership back), or decisions when a peer still had the older ones in
  // reach of its previous membership; the result is the same either way.
  const transferred = west.events.some((e) => e.kind === 'catch-up' && e.data?.phase === 'done');
  t.diagnostic(`west caught up by ${transferred ? 'state transfer' : 'fetching decisions'}`);

  // West takes part again.
  await agreeOn(all, 'west is linked again', (s) => s.peers.every((p) => p.connected));
  assert.equal(git(site('west'), ['reset', '-q', '--hard', 'refs/acu/main']).status, 0);
  await commitAt('west');
  const final = await agreeOn(all, "west's commit is agreed by all four", (s) => s.agreed.height > tip && s.pendingAcus === 0);
  const last = Math.max(...final.map((s) => s.agreed.height));
  const same = await agreeOn(all, 'all four wrote the same tip', (s) => s.agreed.height >= last);
  assert.ok(same.every((s) => s.agreed.commit === same[0]!.agreed.commit), `one agreed history: ${same.map((s) => s.agreed.commit).join(' ')}`);
  for (const [name, node] of running) {
    const errors = node.events.filter((e) => e.kind === 'error' || e.kind === 'write-failed');
    assert.deepEqual(errors.map((e) => e.text), [], `${name} logged no error`);
  }
  for (const node of running.values()) assert.equal(await stopNode(node), 0);
});
