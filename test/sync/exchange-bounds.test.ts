/**
 * Per-member bounds on stored records (issue #13, item 4): a member that floods the cluster with
 * records it signed itself — each one valid — gets no more than its share of a node's disk and
 * memory; the excess is refused and counted, another member's records still go in, and a record
 * a batch waits for is taken whatever the bounds. The test is about the exchange's bookkeeping,
 * so the node's other ports are stand-ins.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileAcu } from '../../src/core/acu/model.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { RecordExchange, unsettledRecordsPerMemberMax } from '../../src/sync/exchange.js';
import type { NodeMemory } from '../../src/sync/node-log.js';
import type { NodeContext, NodeEvent } from '../../src/sync/node-types.js';
import { SerialQueue } from '../../src/sync/node-types.js';
import { signRecord } from '../../src/sync/records.js';
import type { IdentifiedRecord } from '../../src/sync/records.js';
import { testCluster, testIdentity } from '../support/identities.js';

const paris = testIdentity();
const tokyo = testIdentity();
const cluster = testCluster({ paris, tokyo });

function record(who: NodeIdentity, i: number): IdentifiedRecord {
  const acu: FileAcu = {
    v: 1, level: 'file', file: `src/f${i}.ts`, fromFile: null, op: 'add', content: 'text', modeBefore: null, modeAfter: '100644',
    beforeOid: null, afterOid: 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391', data: `export const x${i} = ${i};\n`, hunks: null, reason: null,
  };
  const member = cluster.members.find((m) => m.id === who.id)!;
  return signRecord({ identity: who, member }, acu, {
    commit: 'c'.repeat(40), parent: 'd'.repeat(40), authorName: member.site, authorEmail: `${member.site}@example.com`, authorTime: 1_714_550_400, subject: `change ${i}`,
  });
}

function emptyMemory(): NodeMemory {
  return {
    genesis: null, state: null, decisions: new Map(), records: new Map(), settled: new Set(), settledAt: new Map(),
    writtenHeight: -1, writtenCommit: null, outboxTaken: 0, votes: new Map(),
  };
}

/** A node context around a real exchange; the log keeps nothing, the clock runs only when told. */
function harness(membership: { cluster: ClusterDoc; previousCluster: ClusterDoc | null } = { cluster, previousCluster: null }): { exchange: RecordExchange; memory: NodeMemory; events: string[]; fire: () => void } {
  const memory = emptyMemory();
  const events: string[] = [];
  const timers: (() => void)[] = [];
  const ctx = {
    identity: paris, ...membership, self: 0, memberIds: membership.cluster.members.map((m) => m.id), memory,
    log: { append: () => Promise.resolve() },
    transport: { send: () => 'sent', broadcast: () => undefined },
    clock: { nowMs: () => 0, after: (_ms: number, run: () => void) => { timers.push(run); return () => undefined; }, every: () => () => undefined },
    options: {},
    gitQueue: new SerialQueue(),
    event: (kind: NodeEvent['kind'], text: string) => events.push(`${kind}: ${text}`),
    submit: () => undefined,
    isStopped: () => false,
    fail: (error: unknown) => { throw error; },
    siteOf: (id: string) => cluster.members.find((m) => m.id === id)?.site ?? id,
  } as unknown as NodeContext;
  return { exchange: new RecordExchange(ctx), memory, events, fire: () => { for (const run of timers.splice(0)) run(); } };
}

/** Deliver records as peer frames of at most 256 and let their appends finish. */
async function deliver(exchange: RecordExchange, from: string, items: readonly IdentifiedRecord[]): Promise<void> {
  for (let at = 0; at < items.length; at += 256) {
    assert.equal(exchange.onFrame(from, { t: 'records', records: items.slice(at, at + 256).map((item) => item.record) }), true);
  }
  await new Promise((resolve) => setImmediate(resolve));
}

describe('per-member bounds on unsettled records', () => {
  it('refuses a member past its bound, counts it, and still takes other members and wanted records', async () => {
    const { exchange, memory, events, fire } = harness();
    const flood = Array.from({ length: unsettledRecordsPerMemberMax + 20 }, (_, i) => record(tokyo, i));
    await deliver(exchange, tokyo.id, flood);
    const fromTokyo = [...memory.records.values()].filter((item) => item.record.origin.node === tokyo.id).length;
    assert.equal(fromTokyo, unsettledRecordsPerMemberMax, 'tokyo keeps exactly its bound');
    assert.equal(exchange.recordsRefused, 20);
    assert.ok(events.some((e) => e.startsWith('fault: refused') && e.includes('tokyo')), events.join('\n'));

    const fromParis = record(paris, 1);
    await deliver(exchange, tokyo.id, [fromParis]);
    assert.ok(memory.records.has(fromParis.id), "another member's record still goes in");

    // A batch names a tokyo record this node refused: it is asked for and taken.
    const needed = flood[flood.length - 1]!;
    assert.equal(memory.records.has(needed.id), false);
    const bodies = exchange.bodiesOf([needed.id], tokyo.id, 1);
    await deliver(exchange, tokyo.id, [needed]);
    fire();
    const got = await bodies;
    assert.deepEqual(got?.map((item) => item.id), [needed.id]);
    assert.equal(exchange.recordsRefused, 20, 'a wanted record is not refused');
  });

  it('frees the bound as records settle', async () => {
    const { exchange, memory } = harness();
    const first = Array.from({ length: unsettledRecordsPerMemberMax }, (_, i) => record(tokyo, i));
    await deliver(exchange, tokyo.id, first);
    for (const item of first.slice(0, 100)) memory.settled.add(item.id);
    const more = Array.from({ length: 100 }, (_, i) => record(tokyo, unsettledRecordsPerMemberMax + i));
    await deliver(exchange, tokyo.id, more);
    assert.equal(exchange.recordsRefused, 0);
    assert.ok(more.every((item) => memory.records.has(item.id)));
  });
});

describe('records signed under the previous membership', () => {
  // tokyo rotated its key: the membership in force lists tokyo with a new key.
  const rotated = testIdentity();
  const after: ClusterDoc = {
    ...cluster,
    members: cluster.members.map((m) => (m.id === tokyo.id ? { ...m, id: rotated.id, publicKey: rotated.publicKey } : m)).sort((a, b) => (a.id < b.id ? -1 : 1)),
  };

  it('are refused when no batch names them, and taken when one does (a record of the old key, proposed before the rotation)', async () => {
    const { exchange, memory, fire } = harness({ cluster: after, previousCluster: cluster });
    const before = record(tokyo, 1);
    await deliver(exchange, paris.id, [before]);
    assert.equal(memory.records.has(before.id), false, 'not taken into the pool: its key is no longer in force');
    const bodies = exchange.bodiesOf([before.id], paris.id, 1);
    await deliver(exchange, paris.id, [before]);
    fire();
    assert.deepEqual((await bodies)?.map((item) => item.id), [before.id], 'a batch names it: taken');
  });

  it('are refused, wanted or not, when the node has no previous membership', async () => {
    const { exchange, memory, fire } = harness({ cluster: after, previousCluster: null });
    const before = record(tokyo, 2);
    const bodies = exchange.bodiesOf([before.id], paris.id, 0);
    await deliver(exchange, paris.id, [before]);
    fire();
    assert.equal(await bodies, null);
    assert.equal(memory.records.has(before.id), false);
  });
});
