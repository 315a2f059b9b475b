// Regression test (issue 13, found by the host simulator): a replica left behind while the others
// decided — it was down, or cut off — must learn the decisions it lacks even when the cluster then
// has nothing new to decide. Before L36b (an idle replica fetches from one peer in turn) nothing was
// ever sent: the laggard had no work at its height, so it sent no votes for a peer to answer, and
// the others, idle, sent nothing it could hear a later height in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Replica, batchDigestOf, defaultReplicaConfig, draftIdOf } from '../../../src/core/consensus/index.js';
import type { AcuRef, Effect, Input, Message } from '../../../src/core/consensus/index.js';
import { fakeDigestHex, fakeSigner } from '../../sim/fake-crypto.js';

const worldKey = 11;
const digest = { digestHex: fakeDigestHex };

/** Four replicas; messages to replicas in `cut` are dropped; hosts answer at once. */
class Cluster {
  readonly replicas = [0, 1, 2, 3].map((i) => Replica.create(defaultReplicaConfig(4, i), fakeSigner(i, worldKey)));
  readonly queue: { to: number; msg: Message }[] = [];
  readonly cut = new Set<number>();
  /** Messages each replica sent (to count what an idle cluster costs). */
  readonly sent = [0, 0, 0, 0];

  step(i: number, input: Input): void {
    if (this.cut.has(i) && input.type === 'message') return;
    for (const effect of this.replicas[i]!.step(input)) this.carry(i, effect);
  }

  private carry(i: number, effect: Effect): void {
    switch (effect.type) {
      case 'send':
        for (let to = 0; to < 4; to += 1) {
          if (to === i || (effect.to !== 'all' && effect.to !== to)) continue;
          this.sent[i] = this.sent[i]! + 1;
          this.queue.push({ to, msg: effect.msg });
        }
        return;
      case 'validate':
        this.step(i, {
          type: 'validated', height: effect.height, round: effect.round, batchDigest: batchDigestOf(digest, effect.batch),
          result: { ok: true, conflicts: [], detailDigest: 'd' },
        });
        return;
      case 'outcome':
        this.step(i, { type: 'outcome', height: effect.height, round: effect.round, draftId: draftIdOf(digest, effect.draft), outcome: 'ab'.repeat(20) });
        return;
      case 'policy':
      case 'decide':
      case 'persist':
      case 'evidence':
      case 'timer':
        return;
    }
  }

  /** Deliver queued messages, one tick to every replica between rounds of delivery. */
  run(ticks: number): void {
    for (let t = 0; t < ticks; t += 1) {
      for (let s = 0; s < 10_000 && this.queue.length > 0; s += 1) {
        const next = this.queue.shift()!;
        this.step(next.to, { type: 'message', msg: next.msg });
      }
      for (let i = 0; i < 4; i += 1) this.step(i, { type: 'tick' });
    }
  }
}

const acus = (label: string): AcuRef[] => [1, 2].map((k) => ({ id: `${label}${k}`, bodyHash: fakeDigestHex(new TextEncoder().encode(`${label}${k}`)) }));

void test('a replica left behind catches up although the cluster has nothing more to decide', () => {
  const cluster = new Cluster();
  cluster.cut.add(3);
  // Two heights decided without replica 3, which never hears of their records either.
  for (const label of ['a', 'b']) {
    for (let i = 0; i < 3; i += 1) cluster.step(i, { type: 'propose_request', acus: acus(label) });
    cluster.run(40);
  }
  assert.deepEqual(cluster.replicas.map((r) => r.status().height), [2, 2, 2, 0], 'three replicas decided two heights without the fourth');
  // The link heals; nobody has anything to propose.
  cluster.cut.clear();
  const sentBefore = [...cluster.sent];
  const ticks = 4 * defaultReplicaConfig(4, 3).idleFetchTicks;
  cluster.run(ticks);
  assert.equal(cluster.replicas[3]!.status().height, 2, 'the laggard learned both decisions');
  assert.ok(cluster.replicas.every((r) => r.status().phase === 'idle'), 'and everyone is idle again');
  // What idleness costs: about one FETCH per replica per idleFetchTicks, and the answers to them.
  const idleSends = cluster.sent.reduce((n, s, i) => n + s - sentBefore[i]!, 0);
  assert.ok(idleSends <= 4 * (ticks / defaultReplicaConfig(4, 0).idleFetchTicks + 1) + 2 * 8, `an idle cluster stays quiet (${idleSends} messages)`);
});
