/**
 * State transfer, end to end with real processes on loopback (docs/sync.md, "State transfer").
 * Nodes retain only 8 decisions (`--decisions-kept 8`), so a gap of a dozen heights takes the same
 * path as one of a thousand: a site whose node never ran syncs from zero, packs that do not verify
 * (two sites started with a test-only fault on the serving side) are refused and counted while the
 * honest peer is down and the state then comes from that peer, and a site stopped while the
 * others agree on more heights than they retain rejoins and writes the same commits.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import type { NodeEvent } from '../../src/sync/node.js';
import { acu, git, nodeScratch, nodeStatus, startNode, stopNode, until } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

const kept = 8;
let cluster: ClusterFixture;
const nodes = new Map<string, RunningNode>();
let fileSeq = 0;

/** Start a node retaining `kept` decisions; `fault` is the test-only serving fault. */
function start(site: ClusterSite, fault: 'notes' | 'bytes' | null = null): RunningNode {
  const running = startNode(site, ['--decisions-kept', String(kept)], fault === null ? {} : { ACU_TEST_TRANSFER_FAULT: fault });
  nodes.set(site.name, running);
  return running;
}

const site = (name: string): ClusterSite => cluster.sites.find((s) => s.name === name)!;
const agreedRef = (s: ClusterSite): string => git(s, ['rev-parse', '--verify', '--quiet', 'refs/acu/main']).stdout.trim();

async function writtenHeight(s: ClusterSite): Promise<number> {
  return (await nodeStatus(s))?.agreed.height ?? -2;
}

/** Wait until a site's node answers on its local API. */
async function up(name: string): Promise<void> {
  await until(`${name} is up`, async () => (await nodeStatus(site(name))) !== null);
}

/** Agree on `count` more heights: one commit each, proposed at `proposer`, each waited for. */
async function agreeHeights(proposer: ClusterSite, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    fileSeq += 1;
    await writeFile(join(proposer.dir, 'src', `f${fileSeq}.ts`), `export const f${fileSeq} = ${fileSeq};\n`);
    assert.equal(git(proposer, ['add', '-A']).status, 0);
    assert.equal(git(proposer, ['commit', '-q', '-m', `Add f${fileSeq}`], 7200 + fileSeq).status, 0);
    const before = await writtenHeight(proposer);
    const proposed = acu(proposer, ['propose', 'HEAD']);
    assert.equal(proposed.status, 0, proposed.stderr);
    await until(`${proposer.name} writes height ${before + 1}`, async () => (await writtenHeight(proposer)) > before);
  }
}

/** Wait until every named site has written `height`, then check they wrote the same commit. */
async function sameEverywhere(names: readonly string[], height: number): Promise<string> {
  for (const name of names) await until(`${name} writes height ${height}`, async () => (await writtenHeight(site(name))) >= height);
  const tips = names.map((name) => agreedRef(site(name)));
  for (const tip of tips) assert.equal(tip, tips[0], `every site has the same agreed commit (${names.join(', ')})`);
  return tips[0]!;
}

nodeScratch('state-transfer', nodes, async (top) => {
  cluster = await buildClusterFixture(top, {
    sites: ['ash', 'birch', 'cedar', 'dogwood'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
});

it('three sites agree on more heights than they retain; the fourth has never run', async () => {
  start(site('ash'), 'notes');
  start(site('birch'), 'bytes');
  start(site('cedar'));
  for (const name of ['ash', 'birch', 'cedar']) await up(name);
  await agreeHeights(site('cedar'), kept + 4);
  await sameEverywhere(['ash', 'birch', 'cedar'], kept + 3);
  assert.equal(agreedRef(site('dogwood')), '', 'dogwood has no agreed chain yet');
});

it('a new site syncs from zero: packs that do not verify are refused and counted, and the state comes from an honest peer', async () => {
  const honest = nodes.get('cedar')!;
  await stopNode(honest);
  const dogwood = start(site('dogwood'));
  await up('dogwood');
  const refusals = (): NodeEvent[] => dogwood.events.filter((e) => e.kind === 'fault' && e.text.startsWith('state transfer:'));
  // Each faulty peer is asked in turn (and again after a pause while no other peer is ahead).
  try {
    await until('dogwood refuses both faulty peers', () => refusals().some((e) => e.data?.peer === site('ash').id) && refusals().some((e) => e.data?.peer === site('birch').id));
  } catch (error) {
    // What dogwood did meanwhile, for whoever reads a failure.
    process.stderr.write(`dogwood's events:\n${dogwood.events.map((e) => `  ${e.kind} ${e.text}`).join('\n')}\n`);
    throw error;
  }
  assert.ok(refusals().some((e) => e.text.includes('index-pack')), 'the corrupted pack is refused by git');
  assert.ok(refusals().some((e) => e.text.includes('refused the agreed chain')), 'the pack whose certificates do not verify is refused');
  const counted = (await nodeStatus(site('dogwood')))?.counters.transfersRefused ?? 0;
  assert.ok(counted >= 2, `refusals are counted (${counted})`);
  assert.equal(agreedRef(site('dogwood')), '', 'nothing adopted from a pack that did not verify');
  assert.equal(await writtenHeight(site('dogwood')), -1);

  start(site('cedar'));
  const tip = await sameEverywhere(['ash', 'birch', 'cedar', 'dogwood'], kept + 3);
  // The node's events come on its stdout, its height over its socket: either may arrive first.
  const isDone = (e: NodeEvent): boolean => e.kind === 'catch-up' && e.data?.phase === 'done';
  await until('dogwood reports its state transfer', () => dogwood.events.some(isDone));
  const done = dogwood.events.find(isDone);
  assert.ok(done !== undefined, 'dogwood caught up by state transfer');
  assert.equal(done.data?.peer, site('cedar').id, 'from the honest peer');
  assert.equal(git(site('dogwood'), ['notes', '--ref=refs/notes/acu', 'list', tip]).status, 0, 'with the certificate notes');
  assert.equal(git(site('dogwood'), ['notes', '--ref=refs/notes/acu-records', 'list', tip]).status, 0, 'and the record bodies notes');
  const verified = acu(site('dogwood'), ['verify', 'refs/acu/main']);
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);

  // It joined consensus: the four agree on the next heights, dogwood among them.
  await agreeHeights(site('dogwood'), 2);
  await sameEverywhere(['ash', 'birch', 'cedar', 'dogwood'], kept + 5);
});

it('a site stopped while the others agree on more heights than they retain rejoins and writes the same commits', async () => {
  await stopNode(nodes.get('birch')!);
  const stoppedAt = await writtenHeight(site('cedar'));
  await agreeHeights(site('cedar'), kept + 4);
  const target = stoppedAt + kept + 4;
  await sameEverywhere(['ash', 'cedar', 'dogwood'], target);
  const birch = start(site('birch'), 'bytes');
  await up('birch');
  await sameEverywhere(['ash', 'birch', 'cedar', 'dogwood'], target);
  // Its events come on its stdout, its height over its socket: either may arrive first.
  await until('birch reports its state transfer', () => birch.events.some((e) => e.kind === 'catch-up' && e.data?.phase === 'done'));
  assert.ok(birch.events.some((e) => e.kind === 'catch-up' && e.data?.phase === 'done'), 'birch caught up by state transfer');
  assert.equal(((await nodeStatus(site('birch')))?.catchUp ?? null), null, 'no transfer runs once caught up');

  await agreeHeights(site('birch'), 1);
  await sameEverywhere(['ash', 'birch', 'cedar', 'dogwood'], target + 1);
  for (const name of ['ash', 'birch', 'cedar', 'dogwood']) {
    const verified = acu(site(name), ['verify', 'refs/acu/main']);
    assert.equal(verified.status, 0, `${name}: ${verified.stdout}${verified.stderr}`);
  }
});

it('a site that caught up by state transfer restarts from its log where the transfer left it', async () => {
  const before = await writtenHeight(site('dogwood'));
  assert.equal(await stopNode(nodes.get('dogwood')!), 0);
  const dogwood = start(site('dogwood'));
  await up('dogwood');
  const recovered = dogwood.events.find((e) => e.kind === 'recovered');
  assert.ok(recovered !== undefined, 'it recovered from its log');
  assert.ok((recovered.data?.height as number) > before, `at a height above its written ${before} (${String(recovered.data?.height)})`);
  assert.equal(await writtenHeight(site('dogwood')), before, 'the written height the log holds');
  await agreeHeights(site('dogwood'), 1);
  await sameEverywhere(['ash', 'birch', 'cedar', 'dogwood'], before + 1);
  assert.ok(!dogwood.events.some((e) => e.kind === 'catch-up'), 'no second transfer was needed');
});
