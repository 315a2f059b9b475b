/**
 * Issue #16, notifications of a real conflict: two `acu node start` processes whose sites edit the
 * same function within one batch window (`--batch-ms`), under the `vote` policy with a short
 * timeout and the `defer` fallback. Each node's webhook receiver (a local HTTP server) is told
 * that the conflict opened, that its vote waits for this site, and then, once nobody voted, that
 * each ACU was deferred, naming its author.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { NotificationBody } from '../../src/ops/notify.js';
import { acu, git, killAll, nodeStatus, startNode, stopNode, until } from '../sync/real-nodes.js';
import type { RunningNode } from '../sync/real-nodes.js';

let top = '';
let cluster: ClusterFixture;
const nodes: RunningNode[] = [];
const bodies = new Map<string, NotificationBody[]>();
const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const path = request.url ?? '/';
    bodies.set(path, [...(bodies.get(path) ?? []), JSON.parse(Buffer.concat(chunks).toString('utf8')) as NotificationBody]);
    response.writeHead(204).end();
  });
});
let base = '';

const original = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';

before(async () => {
  top = await makeTempDir('notify-conflict');
  cluster = await buildClusterFixture(top, {
    sites: ['north', 'south'],
    files: { 'src/math.ts': original, 'README.md': '# math\n' },
    // 100 ticks of 20 ms without a vote, then both sides are deferred.
    config: { 'acu.policy': 'vote', 'acu.voteTimeoutTicks': '100', 'acu.voteFallback': 'defer' },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await killAll(nodes);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await removeTempDir(top);
});

it('tells each site of a conflict, of its vote waiting, and of each ACU deferred with its author', async () => {
  const [north, south] = cluster.sites as [ClusterSite, ClusterSite];
  // A long batch window: both commits are learned before either node may propose.
  for (const site of [north, south]) nodes.push(startNode(site, ['--batch-ms', '6000', '--notify-url', `${base}/${site.name}`]));
  await until('both nodes are connected', async () => (await Promise.all([nodeStatus(north), nodeStatus(south)])).every((s) => s !== null && s.peers.every((p) => p.connected)));
  const edits: [ClusterSite, string][] = [[north, 'a + b + 0'], [south, 'b + a']];
  for (const [site, body] of edits) {
    assert.equal(acu(site, ['hooks', 'install']).status, 0);
    await writeFile(join(site.dir, 'src/math.ts'), original.replace('a + b', body));
    const commit = git(site, ['commit', '-q', '-am', `add: ${body}`]);
    assert.equal(commit.status, 0, commit.stderr);
  }
  const kinds = (site: ClusterSite): string[] => (bodies.get(`/${site.name}`) ?? []).map((b) => b.kind);
  await until('each site heard of both ACUs deferred', () => [north, south].every((site) => kinds(site).filter((k) => k === 'deferred').length >= 2));
  for (const site of [north, south]) {
    const heard = bodies.get(`/${site.name}`)!;
    const conflict = heard.find((b) => b.kind === 'conflict')!;
    assert.equal(conflict.site, site.name);
    assert.equal(conflict.data.file, 'src/math.ts');
    assert.deepEqual([conflict.data.aSite, conflict.data.bSite].sort(), ['north', 'south']);
    const waiting = heard.find((b) => b.kind === 'vote-waiting')!;
    assert.match(waiting.text, new RegExp(`^conflict \\d+\\.0 waits for a vote of ${site.name}: acu vote \\d+\\.0 keep-a\\|keep-b\\|keep-both\\|defer `));
    const authors = heard.filter((b) => b.kind === 'deferred').map((b) => b.data.author).sort();
    assert.deepEqual(authors.slice(0, 2), ['north <north@example.com>', 'south <south@example.com>']);
    const deferred = heard.find((b) => b.kind === 'deferred' && b.data.site === 'south')!;
    assert.match(deferred.text, /^deferred at height \d+: src\/math\.ts#function:add by south <south@example\.com> \(south\): /);
    assert.ok(kinds(site).indexOf('vote-waiting') < kinds(site).indexOf('deferred'), 'the vote was asked for before the fallback deferred');
  }
  for (const node of nodes) assert.equal(await stopNode(node), 0);
});
