// Unit tests of the consensus core: quorum arithmetic, the edge decoder, the effect order, a
// fault-free decision among four replicas (with and without conflicts), the outcome step (asked
// of the host, stale answers ignored, asked again after a restart), restart without double-signing,
// and equivocation as evidence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalBytes } from '../../../src/core/acu/canonical.js';
import {
  Replica, batchDigestOf, decodeLimitsOf, decodeMessage, defaultReplicaConfig, draftIdOf, faultsTolerated, isDecisionCert, leaderOf,
  quorumSize, signMessage, tallyChoices, tallyResolution, valueIdOf,
} from '../../../src/core/consensus/index.js';
import type {
  AcuRef, Batch, DecisionCert, Effect, FinalMsg, Message, PersistedState, ValidationResult, Value, ValueDraft, VoteMsg,
} from '../../../src/core/consensus/index.js';
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

const digest = { digestHex: fakeDigestHex };

/** The outcome an honest test host computes: a digest of the draft's canonical bytes. */
function honestOutcome(draft: ValueDraft): string {
  return fakeDigestHex(canonicalBytes({ outcomeOf: { batch: draft.batch, validation: draft.validation, resolution: draft.resolution } }));
}

/** Which outcome replica `i`'s host answers for a draft; null: it does not answer (yet). */
type OutcomeHost = (i: number, draft: ValueDraft) => string | null;

/** Four replicas, messages delivered at once in FIFO order, the node's answers given at once. */
class Cluster {
  readonly replicas: Replica[];
  readonly queue: { to: number; msg: Message }[] = [];
  readonly decided: string[][] = [[], [], [], []];
  readonly effects: Effect[][] = [[], [], [], []];
  /** Per replica, the effects of each step, to check the order within a step. */
  readonly steps: Effect[][][] = [[], [], [], []];
  constructor(
    readonly validation: (ids: readonly string[]) => ValidationResult,
    readonly outcomeHost: OutcomeHost = (_i, draft) => honestOutcome(draft),
  ) {
    this.replicas = [0, 1, 2, 3].map((i) => Replica.create(defaultReplicaConfig(4, i), fakeSigner(i, worldKey)));
  }
  step(i: number, input: Parameters<Replica['step']>[0]): void {
    const out = (this.replicas[i] as Replica).step(input);
    (this.effects[i] as Effect[]).push(...out);
    (this.steps[i] as Effect[][]).push(out);
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
      case 'outcome': {
        const outcome = this.outcomeHost(i, effect.draft);
        if (outcome !== null) this.step(i, { type: 'outcome', height: effect.height, round: effect.round, draftId: draftIdOf(digest, effect.draft), outcome });
        return;
      }
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
  assert.equal(decide.cert.value.outcome, honestOutcome(decide.cert.value), 'the decided value carries the hosts\' outcome');
  for (let i = 0; i < 4; i += 1) {
    const effects = cluster.effects[i] as Effect[];
    const asked = effects.findIndex((e) => e.type === 'outcome');
    const prepared = effects.findIndex((e) => e.type === 'send' && e.msg.type === 'prepare');
    assert.ok(asked !== -1 && prepared > asked, `replica ${i} asked its host for the outcome before it prepared`);
  }
});

void test('an outcome request is answered before PREPARE; stale and mismatching answers are ignored', () => {
  const cluster = new Cluster(() => ({ ok: true, conflicts: [], detailDigest: 'd' }), () => null);
  for (let i = 0; i < 4; i += 1) cluster.step(i, { type: 'propose_request', acus });
  cluster.run(10_000);
  const sentPrepare = (effects: readonly Effect[]): boolean => effects.some((e) => e.type === 'send' && e.msg.type === 'prepare');
  for (let i = 0; i < 4; i += 1) assert.equal(sentPrepare(cluster.effects[i] as Effect[]), false, `replica ${i} waits for its outcome`);
  const request = cluster.effects[1]?.find((e) => e.type === 'outcome');
  assert.ok(request?.type === 'outcome');
  assert.deepEqual(Object.keys(request.draft).sort(), ['batch', 'resolution', 'validation'], 'a draft has no outcome');
  const replica = cluster.replicas[1] as Replica;
  const draftId = draftIdOf(digest, request.draft);
  const outcome = honestOutcome(request.draft);
  const stale: Parameters<Replica['step']>[0][] = [
    { type: 'outcome', height: 0, round: 0, draftId: fakeDigestHex(new TextEncoder().encode('another draft')), outcome },
    { type: 'outcome', height: 0, round: 1, draftId, outcome },
    { type: 'outcome', height: 1, round: 0, draftId, outcome },
  ];
  for (const input of stale) assert.equal(sentPrepare(replica.step(input)), false, JSON.stringify(input));
  const effects = replica.step({ type: 'outcome', height: 0, round: 0, draftId, outcome });
  const prepare = effects.find((e) => e.type === 'send' && e.msg.type === 'prepare');
  assert.ok(prepare?.type === 'send' && prepare.msg.type === 'prepare');
  const value: Value = { ...request.draft, outcome };
  assert.equal(prepare.msg.body.valueId, valueIdOf(digest, value), 'PREPARE names the draft with its host\'s outcome');
  assert.ok(effects.findIndex((e) => e.type === 'persist') < effects.indexOf(prepare), 'persisted before sent');
  const second = replica.step({ type: 'outcome', height: 0, round: 0, draftId, outcome: 'f'.repeat(40) });
  assert.equal(sentPrepare(second), false, 'a second answer changes nothing');
  assert.throws(() => replica.step({ type: 'outcome', height: 0, round: 0, draftId, outcome: 'NOT-HEX' }), /lowercase hex outcome/);
});

void test('a replica whose host computes another outcome votes for another value; the others decide theirs', () => {
  const cluster = new Cluster(() => ({ ok: true, conflicts: [], detailDigest: 'd' }), (i, draft) => (i === 3 ? 'f'.repeat(40) : honestOutcome(draft)));
  for (let i = 0; i < 4; i += 1) cluster.step(i, { type: 'propose_request', acus });
  cluster.run(10_000);
  const prepareOf = (i: number): string | undefined => {
    const sent = cluster.effects[i]?.find((e) => e.type === 'send' && e.msg.type === 'prepare');
    return sent?.type === 'send' && sent.msg.type === 'prepare' ? sent.msg.body.valueId : undefined;
  };
  assert.notEqual(prepareOf(3), prepareOf(0));
  for (let i = 0; i < 3; i += 1) {
    const decide = cluster.effects[i]?.find((e) => e.type === 'decide');
    assert.ok(decide?.type === 'decide', `replica ${i} decides`);
    assert.equal(decide.cert.value.outcome, honestOutcome(decide.cert.value));
  }
});

void test('the host asked again: every outcomeRetryTicks while waiting, and after a restart, never PREPARE without it', () => {
  // Conflicts, so the leader's persisted RESOLVE holds the certified validation it rebuilds its draft from.
  const cluster = new Cluster((ids) => ({ ok: true, conflicts: ids.length >= 2 ? [{ a: 'a1', b: 'a2' }] : [], detailDigest: 'd' }), () => null);
  for (let i = 0; i < 4; i += 1) cluster.step(i, { type: 'propose_request', acus });
  cluster.run(10_000);
  const leader = cluster.replicas[0] as Replica;
  const requests = (effects: readonly Effect[]): Extract<Effect, { type: 'outcome' }>[] =>
    effects.filter((e): e is Extract<Effect, { type: 'outcome' }> => e.type === 'outcome');
  const first = requests(cluster.effects[0] as Effect[]);
  assert.equal(first.length, 1);
  const retryTicks = defaultReplicaConfig(4, 0).outcomeRetryTicks;
  const ticked: Effect[] = [];
  for (let t = 0; t < retryTicks; t += 1) ticked.push(...leader.step({ type: 'tick' }));
  assert.equal(requests(ticked).length, 1, 'asked once more after outcomeRetryTicks');
  const persisted = [...(cluster.effects[0] as Effect[])].reverse().find((e) => e.type === 'persist');
  assert.ok(persisted?.type === 'persist');
  const config = defaultReplicaConfig(4, 0);
  const restored = Replica.restore(config, fakeSigner(0, worldKey), JSON.parse(JSON.stringify(persisted.state)) as PersistedState);
  const afterRestart = restored.step({ type: 'tick' });
  const again = requests(afterRestart);
  assert.equal(again.length, 1, 'the restored replica asks its host again');
  assert.equal(afterRestart.some((e) => e.type === 'send' && e.msg.type === 'prepare'), false);
  const draft = (again[0] as Extract<Effect, { type: 'outcome' }>).draft;
  assert.equal(draftIdOf(digest, draft), draftIdOf(digest, (first[0] as Extract<Effect, { type: 'outcome' }>).draft), 'the same draft');
  const answered = restored.step({ type: 'outcome', height: 0, round: 0, draftId: draftIdOf(digest, draft), outcome: honestOutcome(draft) });
  assert.ok(answered.some((e) => e.type === 'send' && e.msg.type === 'prepare'));
});

void test('decide comes before requests in a step; draft ids ignore the outcome, value ids cover it', () => {
  const cluster = new Cluster(() => ({ ok: true, conflicts: [], detailDigest: 'd' }));
  // Height 0's leader knows only a1; height 1's leader (replica 1) proposes a2 and a3 in the very
  // step it decides height 0, and asks its node to validate them in that step too.
  cluster.step(0, { type: 'propose_request', acus: acus.slice(0, 1) });
  for (let i = 1; i < 4; i += 1) cluster.step(i, { type: 'propose_request', acus });
  cluster.run(10_000);
  for (let i = 0; i < 4; i += 1) assert.deepEqual(cluster.decided[i], ['a1', 'a2', 'a3']);
  const requestTypes = new Set(['validate', 'policy', 'outcome']);
  let both = 0;
  for (const steps of cluster.steps) {
    for (const effects of steps) {
      const lastDecide = effects.map((e) => e.type).lastIndexOf('decide');
      const firstRequest = effects.findIndex((e) => requestTypes.has(e.type));
      if (lastDecide === -1 || firstRequest === -1) continue;
      both += 1;
      assert.ok(lastDecide < firstRequest, effects.map((e) => e.type).join(','));
    }
  }
  assert.ok(both > 0, 'some step both decides and requests');
  const decide = cluster.effects[0]?.find((e) => e.type === 'decide');
  assert.ok(decide?.type === 'decide');
  const value = decide.cert.value;
  const draft: ValueDraft = { batch: value.batch, validation: value.validation, resolution: value.resolution };
  assert.equal(draftIdOf(digest, value), draftIdOf(digest, draft));
  assert.notEqual(valueIdOf(digest, value), valueIdOf(digest, { ...value, outcome: 'f'.repeat(40) }));
});

void test('decode: a value\'s outcome must be lowercase hex of a bounded length', () => {
  const limits = decodeLimitsOf(defaultReplicaConfig(4, 0));
  const verifier = fakeVerifier(worldKey);
  const wrap = (outcome: unknown): unknown => {
    const value = {
      batch: { height: 0, parent: 'genesis', acuIds: ['a1'], bodyDigest: 'b' }, validation: { ok: true, conflicts: [], detailDigest: 'd' },
      resolution: [], ...(outcome === undefined ? {} : { outcome }),
    } as unknown as Value;
    const valueId = valueIdOf(digest, value);
    const finals = [0, 1, 2].map((from) => signMessage<FinalMsg>(fakeSigner(from, worldKey), {
      v: 1, type: 'final', from, height: 0, round: 0, body: { valueId },
    }));
    const cert: DecisionCert = { height: 0, round: 0, value, finals };
    return signMessage<Message>(fakeSigner(0, worldKey), { v: 1, type: 'decision', from: 0, height: 0, round: 0, body: { cert } });
  };
  for (const good of ['0123456789abcdef', 'a'.repeat(40), 'b'.repeat(64)]) assert.equal(decodeMessage(wrap(good), limits, verifier).ok, true, good);
  for (const bad of ['ABCDEF0123456789', 'a'.repeat(15), 'a'.repeat(65), 'g'.repeat(40), '', 42, null, undefined]) {
    const decoded = decodeMessage(wrap(bad), limits, verifier);
    assert.ok(!decoded.ok && decoded.issue === 'bad_body', String(bad));
  }
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
    // The value carries the votes it was tallied from: who chose what is in the certificate itself.
    const tally = cert.cert.value.tally ?? [];
    assert.equal(tally.length, quorumSize(4));
    assert.deepEqual(tally.map((vote) => vote.from), [...tally.map((vote) => vote.from)].sort((x, y) => x - y));
    assert.deepEqual(tallyChoices(tally, 1), cert.cert.value.resolution);
    assert.deepEqual(cert.cert.value.tally, (certs[0] as Extract<Effect, { type: 'decide' }>).cert.value.tally, 'every replica decides the same votes');
  }
});

void test('decode: a value\'s tally must be one vote per replica, in order, that tallies to its resolution', () => {
  const limits = decodeLimitsOf(defaultReplicaConfig(4, 0));
  const verifier = fakeVerifier(worldKey);
  const wrap = (resolution: unknown, tally: unknown): unknown => {
    const value = {
      batch: { height: 0, parent: 'genesis', acuIds: ['a1', 'a2'], bodyDigest: 'b' }, validation: { ok: true, conflicts: [{ a: 'a1', b: 'a2' }], detailDigest: 'd' },
      resolution, outcome: 'a'.repeat(40), ...(tally === undefined ? {} : { tally }),
    } as unknown as Value;
    const valueId = valueIdOf(digest, value);
    const finals = [0, 1, 2].map((from) => signMessage<FinalMsg>(fakeSigner(from, worldKey), { v: 1, type: 'final', from, height: 0, round: 0, body: { valueId } }));
    const cert: DecisionCert = { height: 0, round: 0, value, finals };
    return signMessage<Message>(fakeSigner(0, worldKey), { v: 1, type: 'decision', from: 0, height: 0, round: 0, body: { cert } });
  };
  const votes = (...choices: string[]): unknown => choices.map((choice, from) => ({ from, choices: [choice] }));
  assert.equal(decodeMessage(wrap(['keep_a'], votes('keep_a', 'keep_a', 'keep_b')), limits, verifier).ok, true);
  assert.equal(decodeMessage(wrap(['keep_a'], undefined), limits, verifier).ok, true, 'an older value, without a tally');
  const bad: [unknown, unknown][] = [
    [['keep_b'], votes('keep_a', 'keep_a', 'keep_b')], // tallies to keep_a
    [['keep_a'], []],
    [['keep_a'], [{ from: 1, choices: ['keep_a'] }, { from: 0, choices: ['keep_a'] }]], // out of order
    [['keep_a'], [{ from: 0, choices: ['keep_a'] }, { from: 0, choices: ['keep_a'] }]], // twice one replica
    [['keep_a'], [{ from: 9, choices: ['keep_a'] }]], // not a replica
    [['keep_a'], [{ from: 0, choices: ['keep_a', 'keep_b'] }]], // two choices for one conflict
    [['keep_a'], [{ from: 0, choices: ['keep_a'], extra: 1 }]],
    [['keep_a'], 'keep_a'],
  ];
  for (const [resolution, tally] of bad) {
    const decoded = decodeMessage(wrap(resolution, tally), limits, verifier);
    assert.ok(!decoded.ok && decoded.issue === 'bad_body', JSON.stringify(tally));
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
