/**
 * Issue #13: "a stale refs/notes/acu.lock [makes every honest node fail writing the agreed commit];
 * after a restart the failure is swallowed and the cluster stalls with nothing in the log". A real
 * node whose agreed-commit write meets a stale notes lock retries it, says so in `acu status` and
 * its events, keeps doing so across a restart, and writes the commit once the lock is gone.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import type { ClusterSite } from '../../fixtures/cluster.js';
import type { NodeStatus } from '../../src/sync/node.js';
import { acu, git, nodeScratch, nodeStatus, soloSite, startNode, stopNode, until } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';

let site: ClusterSite;
const running: RunningNode[] = [];

nodeScratch('write-failure', running, async (top) => {
  site = await soloSite(top);
});

function started(): RunningNode {
  const node = startNode(site);
  running.push(node);
  return node;
}

it('a stale refs/notes/acu.lock: retried, shown in acu status, kept across a restart, written once removed', async () => {
  let node = started();
  await until('the node answers', async () => (await nodeStatus(site)) !== null);
  const lock = join(site.dir, '.git', 'refs', 'notes', 'acu.lock');
  await mkdir(join(site.dir, '.git', 'refs', 'notes'), { recursive: true });
  await writeFile(lock, ''); // left by a git process that died
  const path = join(site.dir, 'src/math.ts');
  await writeFile(path, (await readFile(path, 'utf8')) + '\nexport function sub(a: number, b: number): number {\n  return a - b;\n}\n');
  assert.equal(git(site, ['commit', '-q', '-am', 'Add sub']).status, 0);

  const failing = async (): Promise<NodeStatus | null> => {
    const status = await nodeStatus(site);
    return status?.writeFailure != null ? status : null;
  };
  await until('the write fails and is reported', async () => (await failing()) !== null);
  const status = (await failing())!;
  assert.equal(status.writeFailure!.height, 0);
  assert.match(status.writeFailure!.message, /acu\.lock/);
  assert.match(status.writeFailure!.hint ?? '', /remove that file/);
  assert.equal(status.agreed.height, -1);
  assert.ok(node.events.some((e) => e.kind === 'write-failed' && /acu\.lock/.test(e.text)), 'the log says so');
  const plain = acu(site, ['status']);
  assert.equal(plain.status, 0);
  assert.match(plain.stdout, /^write-failed: height 0 \(attempt \d+, retrying in \d+ ms\): .*acu\.lock/m);
  assert.match(plain.stdout, /^ {2}hint: git's lock .*acu\.lock is held/m);
  await until('it retries', async () => ((await failing())?.writeFailure?.attempts ?? 0) >= 2);

  // Restarted with the lock still there: the decided height is retried, not swallowed.
  assert.equal(await stopNode(node), 0);
  node = started();
  await until('the restarted node reports the failure again', async () => (await failing()) !== null);
  assert.ok(node.events.some((e) => e.kind === 'write-failed' && e.data?.['height'] === 0));
  assert.equal((await nodeStatus(site))!.agreed.height, -1);

  await rm(lock);
  await until('the agreed commit is written', async () => (await nodeStatus(site))?.agreed.height === 0);
  const after = (await nodeStatus(site))!;
  assert.equal(after.writeFailure, null);
  assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), after.agreed.commit);
  assert.match(git(site, ['show', 'refs/acu/main:src/math.ts']).stdout, /function sub\(/);
  assert.ok(node.events.some((e) => e.kind === 'agreed'));
  assert.equal(await stopNode(node), 0);
  assert.equal(acu(site, ['verify']).status, 0);
});
