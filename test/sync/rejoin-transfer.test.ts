/**
 * A site stopped for many heights rejoins and writes the same commits (docs/sync.md, "State
 * transfer"), end to end with real node processes on loopback: four sites agree on a first height,
 * one is stopped, the other three agree on `gap` more (each commit its own height, through the
 * hidden `--batch-acus-max 1`; commits handed to the node as the post-commit hook does), and the
 * stopped one restarts, catches up by state transfer and ends with the same agreed commits and the
 * same notes as the others. Twice: with a gap of 48 heights and nodes retaining 16 decisions (three
 * times what peers keep; about 12 s), and with a gap of 1,000 heights and nodes retaining
 * their default 256 (about 3 minutes and 110 s of CPU on the 2-core development
 * machine, 2026-12-07).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fixtureEpochSeconds } from '../../fixtures/builder.js';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { runGit } from '../../src/git/exec.js';
import { enqueueCommit } from '../../src/store/outbox.js';
import { callNode } from '../../src/sync/api.js';
import type { NodeEvent } from '../../src/sync/node.js';
import { acu, git, killAll, nodeStatus, startNode, stopNode } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

/** A wait fails when the height it waits on has not moved for this long (a hung cluster). */
const stuckMsMax = 120_000;

const tops: string[] = [];
const running: RunningNode[] = [];

after(async () => {
  await killAll(running);
  for (const top of tops) await removeTempDir(top);
});

async function writtenHeight(site: ClusterSite): Promise<number> {
  return (await nodeStatus(site))?.agreed.height ?? -2;
}

/** Wait until `site` has written `height`; fails only when its height stops moving. */
async function reaches(site: ClusterSite, height: number): Promise<void> {
  let last = -3;
  let movedMs = Date.now();
  for (;;) {
    const now = await writtenHeight(site);
    if (now >= height) return;
    if (now !== last) {
      last = now;
      movedMs = Date.now();
    }
    if (Date.now() - movedMs > stuckMsMax) assert.fail(`${site.name} stuck at height ${now}, waiting for ${height}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `count` commits on the site's branch, each adding one file (one ACU), made in one `git fast-import`; oldest first. */
async function commitFiles(site: ClusterSite, first: number, count: number): Promise<string[]> {
  const parts: string[] = [];
  for (let i = first; i < first + count; i += 1) {
    const text = `export const f${i} = ${i};\n`;
    const message = `Add f${i}\n`;
    const when = `${fixtureEpochSeconds + 7200 + i} +0000`;
    parts.push(`commit refs/heads/main\nmark :${i + 1}\nauthor A U Thor <author@example.com> ${when}\ncommitter A U Thor <author@example.com> ${when}\n`);
    parts.push(`data ${Buffer.byteLength(message)}\n${message}${i === first ? 'from refs/heads/main^0\n' : ''}M 100644 inline src/f${i}.ts\ndata ${Buffer.byteLength(text)}\n${text}\n`);
  }
  parts.push('done\n');
  await runGit(['fast-import', '--quiet', '--done'], { cwd: site.dir, gitDir: null, input: parts.join('') });
  // The work tree follows the branch, as if the commits had been made in it.
  assert.equal(git(site, ['reset', '-q', '--hard', 'refs/heads/main']).status, 0);
  const listed = git(site, ['rev-list', '--reverse', `--max-count=${count}`, 'refs/heads/main']);
  assert.equal(listed.status, 0, listed.stderr);
  return listed.stdout.trim().split('\n');
}

/**
 * Hand commits to the site's node the way the post-commit hook does (docs/sync.md): an outbox
 * entry each (the hook's `enqueueCommit`), then one poke over the node's local API.
 */
async function propose(site: ClusterSite, commits: readonly string[]): Promise<void> {
  for (const commit of commits) await enqueueCommit(join(site.dir, '.git'), { v: 1, type: 'commit', commit, branch: 'main', queuedAtMs: Date.now() });
  const answer = await callNode(join(site.dir, '.git', 'acu', 'node.sock'), { type: 'poke' }, 30_000);
  assert.equal(answer?.ok, true, `poke: ${JSON.stringify(answer)}`);
}

/** Each agreed commit with its certificate note's facts and whether it has a record bodies note, newest first. */
function agreedHistory(site: ClusterSite): string[] {
  // A thousand notes are over spawnSync's default 1 MiB of output.
  const log = (args: readonly string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('git', ['log', '--first-parent', '--no-notes', ...args, 'refs/acu/main'], { cwd: site.dir, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const certs = log(['--notes=refs/notes/acu', '--format=%H%x01%N%x02']);
  const bodies = log(['--notes=refs/notes/acu-records', '--format=%H %N']);
  assert.equal(certs.status, 0, certs.stderr);
  assert.equal(bodies.status, 0, bodies.stderr);
  const withBodies = new Set(bodies.stdout.split('\n').filter((line) => /^[0-9a-f]{40} \{/.test(line)).map((line) => line.slice(0, 40)));
  const out: string[] = [];
  for (const entry of certs.stdout.split('\x02')) {
    const [commit, note] = entry.trim().split('\x01');
    if (commit === undefined || commit === '' || note === undefined || note.trim() === '') continue; // The genesis and what is below it.
    const parsed = JSON.parse(note) as { height: number; valueId: string; parent: string; applied: string[] };
    out.push(`${commit} height=${parsed.height} value=${parsed.valueId} parent=${parsed.parent} applied=${parsed.applied.join(',')} bodies=${withBodies.has(commit)}`);
  }
  return out;
}

async function rejoin(gap: number, kept: number | null): Promise<void> {
  const top = await makeTempDir('rejoin-transfer');
  tops.push(top);
  const cluster: ClusterFixture = await buildClusterFixture(top, {
    sites: ['ash', 'birch', 'cedar', 'dogwood'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
  const [ash, birch, cedar, dogwood] = cluster.sites as [ClusterSite, ClusterSite, ClusterSite, ClusterSite];
  const extra = ['--batch-acus-max', '1', ...(kept === null ? [] : ['--decisions-kept', String(kept)])];
  const start = (site: ClusterSite): RunningNode => {
    const node = startNode(site, extra);
    running.push(node);
    return node;
  };
  const nodes = new Map(cluster.sites.map((site) => [site.name, start(site)]));
  for (const site of cluster.sites) await reaches(site, -1);

  // All four agree on height 0; then dogwood stops.
  await propose(cedar, await commitFiles(cedar, 0, 1));
  for (const site of cluster.sites) await reaches(site, 0);
  assert.equal(await stopNode(nodes.get('dogwood')!), 0);

  // The other three agree on `gap` more heights, one commit each.
  const commits = await commitFiles(cedar, 1, gap);
  await propose(cedar, commits);
  for (const site of [ash, birch, cedar]) await reaches(site, gap);
  const tip = git(cedar, ['rev-parse', 'refs/acu/main']).stdout.trim();
  for (const site of [ash, birch]) assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), tip, `${site.name} wrote what cedar wrote`);
  assert.equal(await writtenHeight(dogwood), -2, 'dogwood is down');

  // Dogwood restarts, catches up by state transfer, and has the same commits and notes.
  const restarted = start(dogwood);
  await reaches(dogwood, gap);
  const isDone = (e: NodeEvent): boolean => e.kind === 'catch-up' && e.data?.phase === 'done';
  for (const deadline = Date.now() + stuckMsMax; !restarted.events.some(isDone);) {
    if (Date.now() > deadline) assert.fail('dogwood never reported its state transfer');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(git(dogwood, ['rev-parse', 'refs/acu/main']).stdout.trim(), tip, 'dogwood has the same agreed tip');
  const history = agreedHistory(cedar);
  assert.equal(history.length, gap + 1, 'one agreed commit per height, each with its certificate note');
  assert.ok(history.every((line) => line.endsWith('bodies=true')), 'and its record bodies note');
  for (const site of [ash, birch, dogwood]) assert.deepEqual(agreedHistory(site), history, `${site.name} has the same agreed commits and notes as cedar`);
  const verified = acu(dogwood, ['verify', 'refs/acu/main']);
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);

  // It takes part again: a commit proposed at dogwood is agreed by all four.
  await propose(dogwood, await commitFiles(dogwood, gap + 1, 1));
  for (const site of cluster.sites) await reaches(site, gap + 1);
  const next = git(dogwood, ['rev-parse', 'refs/acu/main']).stdout.trim();
  for (const site of [ash, birch, cedar]) assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), next, `${site.name} agrees on the height after the rejoin`);
  for (const node of [nodes.get('ash')!, nodes.get('birch')!, nodes.get('cedar')!, restarted]) assert.equal(await stopNode(node), 0);
}

it('a site stopped for 48 heights (three times what peers keep) rejoins by state transfer and writes the same commits and notes', async () => {
  await rejoin(48, 16);
});

it('a site stopped for 1,000 heights rejoins by state transfer and writes the same commits and notes', async () => {
  await rejoin(1000, null);
});
