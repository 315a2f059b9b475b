/**
 * Issue #13: "a full disk crashes the node through an unhandled promise". A sync node on a real
 * repository and real sockets whose log (behind its port) starts failing with ENOSPC at each of
 * the appends a commit's agreement makes, one run per failure point: the node stops, says why, and
 * no promise is left rejected and unhandled. And the node's own outbox write (queuing a commit the
 * hook missed) failing with ENOSPC is reported and retried, without stopping the node.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { GitRepo } from '../../src/git/index.js';
import { WsTransport } from '../../src/net/transport.js';
import { readCluster } from '../../src/store/cluster.js';
import { loadIdentity } from '../../src/store/identity.js';
import type { OutboxRecord } from '../../src/store/outbox.js';
import { GitChain } from '../../src/sync/chain.js';
import { NodeLog } from '../../src/sync/node-log.js';
import type { NodeLogEntry } from '../../src/sync/node-log.js';
import { decisionsKept } from '../../src/sync/node-types.js';
import { SyncNode } from '../../src/sync/node.js';
import type { NodeEvent } from '../../src/sync/node.js';
import type { NodeLogPort } from '../../src/sync/ports.js';
import { systemClock } from '../../src/sync/ports.js';
import { recordVerifier } from '../../src/sync/records.js';
import { configuredPolicy } from '../../src/validate/policy-config.js';
import { git, soloSite, until } from './real-nodes.js';
import { collectRejections } from '../support/rejections.js';

let top = '';
const rejections = collectRejections();

before(async () => {
  top = await makeTempDir('disk-full');
});
after(async () => {
  await removeTempDir(top);
});

function enospc(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/** The log port over a real NodeLog, failing every append from the `failAt`-th on (counted from `armed`). */
class FullLog implements NodeLogPort {
  appends = 0;
  failAt = Number.POSITIVE_INFINITY;
  constructor(private readonly inner: NodeLog) {}
  append(entries: readonly NodeLogEntry[]): Promise<void> {
    this.appends += 1;
    if (this.appends >= this.failAt) return Promise.reject(enospc());
    return this.inner.append(entries);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A chain whose outbox append fails while `full` is set. */
class FullOutboxChain extends GitChain {
  full = false;
  override appendOutbox(record: OutboxRecord): Promise<void> {
    if (this.full) return Promise.reject(enospc());
    return super.appendOutbox(record);
  }
}

interface Harness {
  readonly site: ClusterSite;
  readonly node: SyncNode;
  readonly log: FullLog;
  readonly chain: FullOutboxChain;
  readonly events: NodeEvent[];
}

async function startHarness(): Promise<Harness> {
  const site = await soloSite(top);
  const repo = await GitRepo.open(site.dir);
  const cluster = await readCluster(site.dir);
  const identity = await loadIdentity(repo.commonDir);
  const member = cluster.members[0]!;
  const opened = await NodeLog.open(join(repo.commonDir, 'acu', 'node.wal'), decisionsKept, recordVerifier(cluster));
  const log = new FullLog(opened.log);
  const chain = new FullOutboxChain(repo, 'parse', null, { identity, member });
  const events: NodeEvent[] = [];
  const node = await SyncNode.create({
    cluster, identity, chain, clock: systemClock, apiSocket: null, policy: await configuredPolicy(site.dir, cluster),
    opened: { log, memory: opened.memory, truncatedBytes: opened.truncatedBytes },
    transport: (transportEvents) => new WsTransport({ identity, members: cluster.members, listen: { host: '127.0.0.1', port: 0 }, events: transportEvents }),
  }, { cwd: site.dir, validation: 'parse', tickMs: 20, onEvent: (event) => events.push(event) });
  return { site, node, log, chain, events };
}

async function commitSub(site: ClusterSite): Promise<void> {
  const path = join(site.dir, 'src/math.ts');
  await writeFile(path, (await readFile(path, 'utf8')) + '\nexport function sub(a: number, b: number): number {\n  return a - b;\n}\n');
  assert.equal(git(site, ['commit', '-q', '-am', 'Add sub']).status, 0);
}

it('a full disk under the node log, at each append of an agreement: a clear stop, never an unhandled rejection', async () => {
  // A clean run counts the appends one agreement makes.
  const clean = await startHarness();
  const before = clean.log.appends;
  await commitSub(clean.site);
  await until('the clean run agrees', () => clean.events.some((e) => e.kind === 'agreed'));
  const appendsPerAgreement = clean.log.appends - before;
  await clean.node.stop();
  assert.ok(appendsPerAgreement >= 3, `an agreement logs its records, state, decision and written height (${appendsPerAgreement} appends)`);

  for (let n = 1; n <= appendsPerAgreement; n += 1) {
    const run = await startHarness();
    run.log.failAt = run.log.appends + n;
    await commitSub(run.site);
    await run.node.stoppedPromise; // the bound of the test runner catches a node that never stops
    await new Promise((resolve) => setImmediate(resolve)); // let a stray rejection surface
    const stopped = run.events.find((e) => e.kind === 'error');
    assert.ok(stopped !== undefined && /ENOSPC/.test(stopped.text), `failure at append ${n}: the node says why it stopped`);
    assert.ok(run.events.some((e) => e.kind === 'stopping'), `failure at append ${n}: the node stops`);
    assert.ok(!run.events.some((e) => e.kind === 'agreed'), `failure at append ${n}: nothing is reported agreed`);
    assert.deepEqual(rejections, [], `failure at append ${n}: no unhandled rejection`);
  }
});

it("the node's outbox write failing with ENOSPC is reported and retried; the node keeps running and agrees", async () => {
  const run = await startHarness();
  run.chain.full = true;
  await commitSub(run.site);
  await until('the failure is reported', () => run.events.some((e) => e.kind === 'error' && e.data?.['scan'] === true));
  assert.match(run.events.find((e) => e.data?.['scan'] === true)!.text, /ENOSPC/);
  assert.ok(!run.events.some((e) => e.kind === 'stopping'), 'the node runs on');
  run.chain.full = false;
  await until('the commit is agreed once the disk has room', () => run.events.some((e) => e.kind === 'agreed'));
  await run.node.stop();
  assert.deepEqual(rejections, []);
});
