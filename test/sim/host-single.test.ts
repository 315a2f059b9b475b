// Regression tests of the sync node found with the host simulator (issue 13), each on the in-memory
// ports of a one-node cluster (it decides alone), driven by a ManualClock:
// - record bodies are logged in entries of bounded size. A commit whose records add up to more than
//   one log entry held made the node's log refuse the whole append as a BUG and the node stop, again
//   at every restart; a single record too large to keep, which a peer could send, did the same to
//   every node that received it;
// - a full disk while writing the agreed commit object the replica asked for (its outcome) stopped
//   the node; it is a local failure, reported, and the replica's next request tries again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPolicy } from '../../src/core/policy/index.js';
import { walRecordBytesMax } from '../../src/store/wal.js';
import { recordBytesMax } from '../../src/sync/exchange.js';
import { ManualClock } from '../../src/sync/memory-clock.js';
import { MemoryDisk, MemoryNodeLog } from '../../src/sync/memory-log.js';
import { MemoryNetwork } from '../../src/sync/memory-network.js';
import type { NodeEvent } from '../../src/sync/node.js';
import { SyncNode } from '../../src/sync/node.js';
import { decisionsKept } from '../../src/sync/node-types.js';
import { recordVerifier } from '../../src/sync/records.js';
import type { IdentifiedRecord } from '../../src/sync/records.js';
import { ModelChain, ModelRepo } from './host-chain.js';
import { simCluster, simIdentities, simSigner, syntheticRecord } from './host-world.js';

interface Single {
  readonly node: SyncNode;
  readonly clock: ManualClock;
  readonly disk: MemoryDisk;
  readonly repo: ModelRepo;
  readonly events: NodeEvent[];
}

async function startSingle(chainOf: (repo: ModelRepo) => ModelChain = (repo) => new ModelChain(repo)): Promise<Single> {
  const identities = simIdentities(1);
  const cluster = simCluster(identities);
  const clock = new ManualClock();
  const network = new MemoryNetwork(clock, [identities[0]!.id], { seed: 1 });
  const disk = new MemoryDisk();
  const events: NodeEvent[] = [];
  const repo = new ModelRepo('main');
  const opened = MemoryNodeLog.open(disk, decisionsKept, recordVerifier(cluster), { clock, writeMs: 1 });
  const starting = SyncNode.create(
    { cluster, identity: identities[0]!, opened, chain: chainOf(repo), clock, policy: defaultPolicy, apiSocket: null, transport: network.transport(identities[0]!.id) },
    { cwd: '/sim', validation: 'parse', tickMs: 20, batchMs: 0, onEvent: (event) => events.push(event) },
  );
  const node = await settle(clock, starting);
  return { node, clock, disk, repo, events };
}

/** Step the clock (one timer, then let promises run) until `promise` settles; its value or its rejection. */
async function settle<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let done = false;
  const watched = promise.finally(() => void (done = true));
  watched.catch(() => undefined);
  await new Promise<void>((resolve) => setImmediate(resolve));
  for (let steps = 0; !done; steps += 1) {
    assert.ok(steps < 100_000 && clock.step(), 'the promise settles while timers are left');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return await watched;
}

async function untilSettled(single: Single, ids: readonly string[]): Promise<void> {
  const memory = (single.node as unknown as { ctx: { memory: { settled: Set<string> } } }).ctx.memory;
  for (let steps = 0; !ids.every((id) => memory.settled.has(id)); steps += 1) {
    assert.ok(steps < 100_000 && single.clock.step(), 'the records are decided and written');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function bigRecord(file: string, bytes: number): IdentifiedRecord {
  const [identity] = simIdentities(1);
  const signer = simSigner(simCluster(simIdentities(1)), identity!);
  return syntheticRecord(signer, file, `${file}\n${'x'.repeat(bytes)}`);
}

void test('a commit whose records outgrow one log entry is logged in several and decided', async () => {
  const single = await startSingle();
  // 4 x 24 MiB: more than one log entry holds, each record within what a record may be.
  const size = 24 * 1024 * 1024;
  const items = ['src/a.bin', 'src/b.bin', 'src/c.bin', 'src/d.bin'].map((file) => bigRecord(file, size));
  const proposed = await settle(single.clock, single.node.proposeRecords(items));
  assert.equal(proposed, items.length, 'every record is kept');
  await untilSettled(single, items.map((item) => item.id));
  assert.deepEqual(single.events.filter((e) => e.kind === 'error'), [], 'no error: the node runs on');
  assert.ok(single.disk.durable.every((entry) => entry.length <= walRecordBytesMax));
  await settle(single.clock, single.node.stop());
});

void test('a record larger than a record may be is refused, not a crash, and the rest goes on', async () => {
  const single = await startSingle();
  const huge = bigRecord('src/huge.bin', recordBytesMax);
  const small = bigRecord('src/small.txt', 10);
  const proposed = await settle(single.clock, single.node.proposeRecords([huge, small]));
  assert.equal(proposed, 1, 'only the record the log can hold is kept');
  await untilSettled(single, [small.id]);
  assert.deepEqual(single.events.filter((e) => e.kind === 'error'), [], 'no error: the node runs on');
  assert.ok(single.events.some((e) => e.kind === 'skipped' && e.text.includes(huge.id.slice(0, 12))), 'the refusal is reported');
  await settle(single.clock, single.node.stop());
});

void test('a full disk while writing the proposed agreed commit is reported and tried again', async () => {
  const single = await startSingle();
  single.repo.faults.diskFull = 2;
  const item = bigRecord('src/a.txt', 10);
  assert.equal(await settle(single.clock, single.node.proposeRecords([item])), 1);
  for (let steps = 0; !single.events.some((e) => e.kind === 'write-failed'); steps += 1) {
    assert.ok(steps < 100_000 && single.clock.step(), 'the write fails');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const shown = single.node.status().writeFailure;
  assert.ok(shown !== null && /No space left/.test(shown.message) && shown.height === 0, `acu status shows it: ${JSON.stringify(shown)}`);
  await untilSettled(single, [item.id]);
  assert.equal(single.node.status().writeFailure, null, 'and no longer once the write went through');
  assert.deepEqual(single.events.filter((e) => e.kind === 'error'), [], 'no error: the node runs on');
  assert.ok(single.events.some((e) => e.kind === 'write-failed' && e.text.includes('No space left')), 'the failure is reported');
  assert.equal(single.repo.faults.diskFull, 0, 'both failures happened');
  await settle(single.clock, single.node.stop());
});

void test('a commit with a record larger than a record may be is refused whole, with an error naming the file', async () => {
  const huge = bigRecord('assets/video.bin', recordBytesMax);
  const small = bigRecord('src/small.txt', 10);
  class CommitChain extends ModelChain {
    override recordsOfCommit(): Promise<IdentifiedRecord[]> {
      return Promise.resolve([small, huge]);
    }
  }
  const single = await startSingle((repo) => new CommitChain(repo));
  const exchange = (single.node as unknown as { exchange: { proposeRev(rev: string): Promise<{ acus: number }> } }).exchange;
  const memory = (single.node as unknown as { ctx: { memory: { records: Map<string, unknown> } } }).ctx.memory;
  const { acus } = await settle(single.clock, exchange.proposeRev('refs/heads/main'));
  assert.equal(acus, 0, 'nothing of the commit is proposed');
  assert.equal(memory.records.has(small.id), false, 'not even its small change: no part of a commit lands alone');
  const error = single.events.find((e) => e.kind === 'error');
  assert.ok(error !== undefined && error.text.includes('assets/video.bin') && /Git LFS/.test(error.text), JSON.stringify(single.events.map((e) => e.text)));
  await settle(single.clock, single.node.stop());
});
