// Unit tests of the consensus core: quorum arithmetic, the edge decoder, the effect order, a
// fault-free decision among four replicas (with and without conflicts), restart without
// double-signing, and equivocation as evidence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Replica, batchDigestOf, decodeLimitsOf, decodeMessage, defaultReplicaConfig, faultsTolerated, isDecisionCert, leaderOf, quorumSize,
  signMessage, tallyResolution,
} from '../../../src/core/consensus/index.js';
import type { AcuRef, Batch, Effect, Message, PersistedState, ValidationResult, VoteMsg } from '../../../src/core/consensus/index.js';
import { fakeDigestHex, fakeSigner, fakeVerifier } from '../../sim/fake-crypto.js';

const worldKey = 7;

void test('quorum: f = floor((n-1)/3), q = ceil((n+f+1)/2), 2f+1 when n = 3f+1', () => {
  for (let n = 1; n <= 100; n += 1) {
    const f = faultsTolerated(n);
    const q = quorumSize(n);
    assert.equal(f, Math.floor((n - 1) / 3));
    assert.ok(2 * q - n >= f + 1, `n=${n}: quorums intersect in an honest replica`);
    assert.ok(q <= n - f, `n=${n}: honest replicas alone form a quorum`);
    if (n % 3 === 1) assert.equal(q, 2 * f + 1);
  }
  assert.equal(leaderOf(0, 0, 4), 0);
  assert.equal(leaderOf(1, 2, 4), 3);
});

void test('decode: garbage, forged signatures and floats are issues, never exceptions', () => {
  const limits = decodeLimitsOf(defaultReplicaConfig(4, 0));
  const verifier = fakeVerifier(worldKey);
  const good = signMessage<Message>(fakeSigner(1, worldKey), {
    v: 1, type: 'prepare', from: 1, height: 0, round: 0, body: { valueId: 'abc' },
  });
  assert.equal(decodeMessage(good, limits, verifier).ok, true);
  const bad: unknown[] = [
    null, 42, 'x', [], { ...good, v: 2 }, { ...good, type: 'nope' }, { ...good, from: 9 }, { ...good, sig: 'forged' },
    { ...good, from: 2 }, { ...good, round: -1 }, { ...good, body: { valueId: 1.5 } }, { ...good, body: { valueId: undefined } },
    { ...good, height: 2 ** 60 },
  ];
  for (const raw of bad) assert.equal(decodeMessage(raw, limits, verifier).ok, false, JSON.stringify(raw));
});

void test('tally: most votes per conflict, ties to the conservative choice', () => {
  const vote = (from: number, choices: VoteMsg['body']['choices']): VoteMsg => signMessage<VoteMsg>(fakeSigner(from, worldKey), {
    v: 1, type: 'vote', from, height: 0, round: 0, body: { batchDigest: 'b', validationDigest: 'd', choices },
  });
  const votes = [vote(0, ['keep_a', 'keep_b']), vote(1, ['keep_a', 'keep_both']), vote(2, ['keep_b', 'defer_both'])];
  assert.deepEqual(tallyResolution(votes, 2), ['keep_a', 'defer_both']);
});

/** Four replicas, messages delivered at once in FIFO order, the node's answers given at once. */
class Cluster {
  readonly replicas: Replica[];
  readonly queue: { to: number; msg: Message }[] = [];
  readonly decided: string[][] = [[], [], [], []];
  readonly effects: Effect[][] = [[], [], [], []];
  constructor(readonly validation: (ids: readonly string[]) => ValidationResult) {
    this.replicas = [0, 1, 2, 3].map((i) => Replica.create(defaultReplicaConfig(4, i), fakeSigner(i, worldKey)));
  }
  step(i: number, input: Parameters<Replica['step']>[0]): void {
    const out = (this.replicas[i] as Replica).step(input);
    (this.effects[i] as Effect[]).push(...out);
    for (const effect of out) this.carry(i, effect);
  }
  carry(i: number, effect: Effect): void {
    switch (effect.type) {
      case 'send':
        for (let to = 0; to < 4; to += 1) if (to !== i && (effect.to === 'all' || effect.to === to)) this.queue.push({ to, msg: effect.msg });
        return;
      case 'validate': {
        const result = this.validation(effect.batch.acuIds);
        this.step(i, { type: 'validated', height: effect.height, round: effect.round, batchDigest: digestOfBatch(effect.batch), result });
        return;
      }
      case 'policy':
        this.step(i, { ...effect, type: 'policy_vote', choices: effect.conflicts.map(() => (i < 2 ? 'keep_b' : 'keep_a')) });
        return;
      case 'decide':
        (this.decided[i] as string[]).push(...effect.cert.value.batch.acuIds);
        return;
      case 'persist':
      case 'evidence':
      case 'timer':
        return;
    }
  }
  run(stepsMax: number): void {
    for (let s = 0; s < stepsMax && this.queue.length > 0; s += 1) {
      const next = this.queue.shift() as { to: number; msg: Message };
      this.step(next.to, { type: 'message', msg: next.msg });
    }
  }
}

function digestOfBatch(batch: Batch): string {
  return batchDigestOf({ digestHex: fakeDigestHex }, batch);
}

const acus: AcuRef[] = ['a1', 'a2', 'a3'].map((id) => ({ id, bodyHash: fakeDigestHex(new TextEncoder().encode(id)) }));

void test('four honest replicas decide the same batch, persisting before sending', () => {
  const cluster = new Cluster(() => ({ ok: true, conflicts: [], detailDigest: 'd' }));
  for (let i = 0; i < 4; i += 1) cluster.step(i, { type: 'propose_request', acus });
  cluster.run(10_000);
  for (let i = 0; i < 4; i += 1) assert.deepEqual(cluster.decided[i], ['a1', 'a2', 'a3']);
  for (const effects of cluster.effects) {
    // Within each step's effects a persist, when present, precedes every send.
    let sawSendSincePersist = false;
    for (const e of effects) {
      if (e.type === 'send' && ['prepare', 'final', 'validate'].includes(e.msg.type)) sawSendSincePersist = true;
      if (e.type === 'persist') sawSendSincePersist = false;
    }
    assert.equal(sawSendSincePersist, false);
  }
  const decide = cluster.effects[0]?.find((e) => e.type === 'decide');
  assert.ok(decide?.type === 'decide' && isDecisionCert(decide.cert, 3, { digestHex: fakeDigestHex }));
});

void test('conflicts go through the vote phase; the leader\'s quorum of votes fixes the resolution', () => {
  const cluster = new Cluster((ids) => ({ ok: true, conflicts: ids.length >= 2 ? [{ a: 'a1', b: 'a2' }] : [], detailDigest: 'd' }));
  for (let i = 0; i < 4; i += 1) cluster.step(i, { type: 'propose_request', acus });
  cluster.run(10_000);
  const certs = cluster.effects.map((effects) => effects.find((e) => e.type === 'decide'));
  for (const cert of certs) {
    assert.ok(cert?.type === 'decide');
    assert.equal(cert.cert.value.resolution.length, 1);
    assert.deepEqual(cert.cert.value.resolution, (certs[0] as Extract<Effect, { type: 'decide' }>).cert.value.resolution);
  }
});

void test('a restarted replica re-sends what it signed instead of signing anew', () => {
  const config = defaultReplicaConfig(4, 1);
  const signer = fakeSigner(1, worldKey);
  const replica = Replica.create(config, signer);
  const leader = Replica.create(defaultReplicaConfig(4, 0), fakeSigner(0, worldKey));
  const proposal = leader.step({ type: 'propose_request', acus }).find((e) => e.type === 'send' && e.msg.type === 'proposal');
  assert.ok(proposal?.type === 'send');
  let effects = replica.step({ type: 'message', msg: proposal.msg });
  const request = effects.find((e) => e.type === 'validate');
  assert.ok(request?.type === 'validate');
  const ok: ValidationResult = { ok: true, conflicts: [], detailDigest: 'd' };
  effects = replica.step({ type: 'validated', height: 0, round: 0, batchDigest: digestOfBatch(request.batch), result: ok });
  const persisted = effects.find((e) => e.type === 'persist');
  const sent = effects.find((e) => e.type === 'send');
  assert.ok(persisted?.type === 'persist' && sent?.type === 'send');
  assert.ok(effects.indexOf(persisted) < effects.indexOf(sent), 'persist comes before send');
  const restored = Replica.restore(config, signer, JSON.parse(JSON.stringify(persisted.state)) as PersistedState);
  restored.step({ type: 'message', msg: proposal.msg });
  const other: ValidationResult = { ok: true, conflicts: [], detailDigest: 'other' };
  const again = restored.step({ type: 'validated', height: 0, round: 0, batchDigest: digestOfBatch(request.batch), result: other });
  const resent = again.find((e) => e.type === 'send');
  assert.ok(resent?.type === 'send');
  assert.deepEqual(resent.msg, sent.msg, 'same VALIDATE as before the crash, not a new one');
});

void test('equivocation is evidence, not an exception', () => {
  const replica = Replica.create(defaultReplicaConfig(4, 0), fakeSigner(0, worldKey));
  const byz = fakeSigner(3, worldKey);
  const a = signMessage<Message>(byz, { v: 1, type: 'prepare', from: 3, height: 0, round: 0, body: { valueId: 'x' } });
  const b = signMessage<Message>(byz, { v: 1, type: 'prepare', from: 3, height: 0, round: 0, body: { valueId: 'y' } });
  replica.step({ type: 'message', msg: a });
  const effects = replica.step({ type: 'message', msg: b });
  const evidence = effects.find((e) => e.type === 'evidence');
  assert.ok(evidence?.type === 'evidence' && evidence.evidence.type === 'equivocation');
  assert.equal(replica.stats.evidence, 1);
});

void test('catch-up: a laggard accepts a decision only with a valid certificate on its parent', () => {
  const cluster = new Cluster(() => ({ ok: true, conflicts: [], detailDigest: 'd' }));
  for (let i = 0; i < 3; i += 1) cluster.step(i, { type: 'propose_request', acus });
  // Replica 3 hears nothing: drop everything addressed to it.
  for (let s = 0; s < 10_000 && cluster.queue.length > 0; s += 1) {
    const next = cluster.queue.shift() as { to: number; msg: Message };
    if (next.to !== 3) cluster.step(next.to, { type: 'message', msg: next.msg });
  }
  const decided = cluster.effects[0]?.find((e) => e.type === 'decide');
  assert.ok(decided?.type === 'decide');
  const laggard = cluster.replicas[3] as Replica;
  const sender = fakeSigner(0, worldKey);
  const wrap = (cert: typeof decided.cert): Message => signMessage<Message>(sender, {
    v: 1, type: 'decision', from: 0, height: cert.height, round: cert.round, body: { cert },
  });
  const short = { ...decided.cert, finals: decided.cert.finals.slice(0, 2) };
  assert.equal(laggard.step({ type: 'message', msg: wrap(short) }).some((e) => e.type === 'decide'), false, 'two FINALs are not a quorum');
  const twice = { ...decided.cert, finals: [decided.cert.finals[0], decided.cert.finals[0], decided.cert.finals[0]] as typeof decided.cert.finals };
  assert.equal(laggard.step({ type: 'message', msg: wrap(twice) }).some((e) => e.type === 'decide'), false, 'one replica counts once');
  const effects = laggard.step({ type: 'message', msg: wrap(decided.cert) });
  const persist = effects.findIndex((e) => e.type === 'persist');
  const decide = effects.findIndex((e) => e.type === 'decide');
  assert.ok(persist !== -1 && decide > persist, 'the decision is persisted before it is reported');
  assert.equal(laggard.status().height, 1);
});
