/**
 * Membership by consensus, below the node: the proof of possession a new key needs, the rules a
 * batch that changes `.acu/cluster.json` must keep (checked the same way on every node, with real
 * git repositories), and how a consensus message is judged against the membership of its height:
 * a removed member's (or a rotated key's) later messages are refused and counted, messages for a
 * height whose membership is not known yet are parked.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { Message } from '../../src/core/consensus/index.js';
import { decodeLimitsOf, defaultReplicaConfig, signMessage } from '../../src/core/consensus/index.js';
import { GitRepo } from '../../src/git/index.js';
import { memberProofBytes, memberProofHolds, memberProofOf, membershipChangeIssues, parseCluster } from '../../src/store/cluster.js';
import type { ClusterDoc, ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { signBytes } from '../../src/store/identity.js';
import { validateRecords } from '../../src/sync/batch.js';
import { clusterVerifier, identitySigner } from '../../src/sync/crypto.js';
import { judgeFrame, ParkedFrames } from '../../src/sync/membership.js';
import type { MembershipKeys } from '../../src/sync/membership.js';
import { recordsOfCommit } from '../../src/sync/records.js';
import type { RecordSigner } from '../../src/sync/records.js';
import { testIdentity } from '../support/identities.js';

process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

function memberOf(identity: NodeIdentity, site: string, port: number, withProof = false): ClusterMember {
  const address = `ws://127.0.0.1:${port}`;
  return { id: identity.id, publicKey: identity.publicKey, address, site, priority: 0, ...(withProof ? { proof: memberProofOf(identity, 'main', address) } : {}) };
}

function docOf(members: readonly ClusterMember[], branch = 'main'): ClusterDoc {
  return { version: 1, branch, members: [...members].sort((a, b) => (a.id < b.id ? -1 : 1)) };
}

/** The document's text as `acu cluster` writes it. */
const text = (doc: ClusterDoc): string => `${JSON.stringify(doc, null, 2)}\n`;

const ids = [testIdentity(), testIdentity(), testIdentity(), testIdentity()];
const [a, b, c, d] = ids as [NodeIdentity, NodeIdentity, NodeIdentity, NodeIdentity];
const genesisDoc = docOf([memberOf(a, 'paris', 7701), memberOf(b, 'tokyo', 7702), memberOf(c, 'lima', 7703)]);

describe('proof of possession', () => {
  it('holds for the key, branch, id and address it was made for, and for nothing else', () => {
    const member = memberOf(d, 'oslo', 7704, true);
    assert.ok(memberProofHolds('main', member));
    assert.equal(memberProofHolds('release', member), false, 'another branch');
    assert.equal(memberProofHolds('main', { ...member, address: 'ws://127.0.0.1:9999' }), false, 'another address');
    assert.equal(memberProofHolds('main', { ...member, proof: memberProofOf(a, 'main', member.address) }), false, "another node's signature");
    const { proof: _none, ...bare } = member;
    assert.equal(memberProofHolds('main', bare), false, 'no proof');
  });

  it('signs a statement with its own prefix, so no other acu signature can pass for one', () => {
    const bytes = memberProofBytes('main', memberOf(d, 'oslo', 7704));
    assert.ok(Buffer.from(bytes).toString('utf8').startsWith('acu/member-proof/v1\n{"address":"ws://127.0.0.1:7704","branch":"main","id":"'));
    // A signature over the bare canonical body (without the prefix) is not a proof.
    const body = bytes.subarray('acu/member-proof/v1\n'.length);
    assert.equal(memberProofHolds('main', { ...memberOf(d, 'oslo', 7704), proof: signBytes(d, body) }), false);
  });
});

describe('membership change rules', () => {
  it('accept adding a member with its proof, removing one, and moving an address', () => {
    assert.deepEqual(membershipChangeIssues(genesisDoc, text(docOf([...genesisDoc.members, memberOf(d, 'oslo', 7704, true)]))), []);
    assert.deepEqual(membershipChangeIssues(genesisDoc, text(docOf(genesisDoc.members.slice(1)))), []);
    const moved = genesisDoc.members.map((m) => (m.id === b.id ? { ...m, address: 'ws://127.0.0.1:8802' } : m));
    assert.deepEqual(membershipChangeIssues(genesisDoc, text(docOf(moved))), []);
  });

  it('refuse a document that does not parse, another branch, no member, a deleted document, and a new key without its proof', () => {
    assert.match(membershipChangeIssues(genesisDoc, '{"version": 1,')[0]!, /is not valid JSON/);
    assert.match(membershipChangeIssues(genesisDoc, text(docOf(genesisDoc.members, 'release')))[0]!, /protected branch may not change/);
    assert.match(membershipChangeIssues(genesisDoc, JSON.stringify({ version: 1, branch: 'main', members: [] }))[0]!, /members: a list of 1 to/);
    assert.match(membershipChangeIssues(genesisDoc, null)[0]!, /may not be deleted/);
    assert.match(membershipChangeIssues(genesisDoc, text(docOf([...genesisDoc.members, memberOf(d, 'oslo', 7704)])))[0]!, /brings in a key without a valid proof/);
    // A rotated key is a new key: the same site and address under another key needs its proof too.
    const rotated = genesisDoc.members.map((m) => (m.id === a.id ? memberOf(d, 'paris', 7701) : m));
    assert.match(membershipChangeIssues(genesisDoc, text(docOf(rotated)))[0]!, /brings in a key without a valid proof/);
    const rotatedWithProof = genesisDoc.members.map((m) => (m.id === a.id ? memberOf(d, 'paris', 7701, true) : m));
    assert.deepEqual(membershipChangeIssues(genesisDoc, text(docOf(rotatedWithProof))), []);
  });
});

describe('a batch that changes the cluster document', () => {
  let top = '';
  let repo: GitRepo;
  let oids: Record<string, string> = {};
  const signer: RecordSigner = { identity: a, member: genesisDoc.members.find((m) => m.id === a.id)! };
  const moveB = (port: number): ClusterDoc => docOf(genesisDoc.members.map((m) => (m.id === b.id ? { ...m, address: `ws://127.0.0.1:${port}` } : m)));

  before(async () => {
    top = await makeTempDir('membership');
    const files = (doc: ClusterDoc | string): Record<string, string> => ({ '.acu/cluster.json': typeof doc === 'string' ? doc : text(doc), 'README.md': '# project\n' });
    const spec: FixtureSpec = {
      commits: [
        { id: 'base', date: '2024-06-01T10:00:00+00:00', files: files(genesisDoc) },
        { id: 'add', branch: 'add', parents: ['base'], date: '2024-06-02T10:00:00+00:00', files: files(docOf([...genesisDoc.members, memberOf(d, 'oslo', 7704, true)])) },
        { id: 'unproven', branch: 'unproven', parents: ['base'], date: '2024-06-02T10:00:00+00:00', files: files(docOf([...genesisDoc.members, memberOf(d, 'oslo', 7704)])) },
        { id: 'branch', branch: 'other-branch', parents: ['base'], date: '2024-06-02T10:00:00+00:00', files: files(docOf(genesisDoc.members, 'release')) },
        { id: 'garbage', branch: 'garbage', parents: ['base'], date: '2024-06-02T10:00:00+00:00', files: files('{"version": 1, "members": [\n') },
        { id: 'moveB1', branch: 'move1', parents: ['base'], date: '2024-06-02T10:00:00+00:00', files: files(moveB(8801)) },
        { id: 'moveB2', branch: 'move2', parents: ['base'], date: '2024-06-02T11:00:00+00:00', files: files(moveB(8802)) },
      ],
    };
    oids = (await buildFixtureRepo(join(top, 'repo'), spec)).oids;
    repo = await GitRepo.open(join(top, 'repo'));
  });
  after(async () => {
    await repo.close();
    await removeTempDir(top);
  });

  const verdictOf = async (...commits: string[]): Promise<NonNullable<Awaited<ReturnType<typeof validateRecords>>>> => {
    const records = [];
    for (const commit of commits) records.push(...(await recordsOfCommit(repo, oids[commit]!, signer)));
    assert.ok(records.length > 0 && records.every((item) => item.record.acu.file === '.acu/cluster.json'), 'the change is a file-level ACU of the document');
    const verdict = await validateRecords(repo, oids.base!, records, { mode: 'parse', validator: null });
    assert.ok(verdict !== null);
    return verdict;
  };

  it('with a proven new member is valid', async () => {
    const verdict = await verdictOf('add');
    assert.deepEqual(verdict.invalid, []);
  });

  for (const [commit, reason] of [
    ['unproven', /membership-change: member n[0-9a-f]{16} \(oslo\) brings in a key without a valid proof/],
    ['branch', /membership-change: the protected branch may not change/],
    ['garbage', /membership-change: .*is not valid JSON/],
  ] as const) {
    it(`that ${commit === 'unproven' ? 'adds a key without its proof' : commit === 'branch' ? 'changes the protected branch' : 'does not parse'} is invalid, with the same digest every time`, async () => {
      const first = await verdictOf(commit);
      assert.equal(first.invalid.length, 1);
      assert.match(first.invalid[0]!.reason, reason);
      const again = await verdictOf(commit);
      assert.equal(again.consensus.detailDigest, first.consensus.detailDigest, 'deterministic');
      assert.notEqual(first.consensus.detailDigest, (await verdictOf('add')).consensus.detailDigest);
    });
  }

  it('with two concurrent changes of one entry conflicts like any two edits of one file', async () => {
    const verdict = await verdictOf('moveB1', 'moveB2');
    assert.equal(verdict.conflicts.length, 1, JSON.stringify(verdict));
    assert.deepEqual(verdict.invalid, []);
  });

  it('is checked against the document in force even when one valid change rides with an invalid one', async () => {
    const verdict = await verdictOf('add', 'garbage');
    // They do not compose together (one file, two edits): each is judged alone; only the garbage is invalid.
    const garbage = (await recordsOfCommit(repo, oids.garbage!, signer)).map((item) => item.id);
    assert.deepEqual(verdict.invalid.map((r) => r.id), garbage);
  });
});

describe('judging a consensus message by the membership of its height', () => {
  const before4 = docOf([memberOf(a, 'paris', 7701), memberOf(b, 'tokyo', 7702), memberOf(c, 'lima', 7703), memberOf(d, 'oslo', 7704)]);
  // Height 10 on: the member with the smallest id has been removed, so every other one has a new replica number.
  const gone = [...ids].sort((x, y) => (x.id < y.id ? -1 : 1))[0]!;
  const after3 = docOf(before4.members.filter((m) => m.id !== gone.id));
  const keysOf = (doc: ClusterDoc): MembershipKeys => ({ verifier: clusterVerifier(doc), limits: decodeLimitsOf(defaultReplicaConfig(doc.members.length, 0)) });
  const fetch = (doc: ClusterDoc, who: NodeIdentity, height: number): Message => {
    const signer = identitySigner(doc, who);
    return signMessage<Message>(signer, { v: 1, type: 'fetch', from: signer.self, height, round: 0, body: { fromHeight: height } });
  };
  const at = { current: keysOf(after3), fromHeight: 10, previous: keysOf(before4), knownHeightMax: 10 };

  it("steps a member's message of the membership in force", () => {
    assert.equal(judgeFrame(fetch(after3, ids.find((who) => who.id !== gone.id)!, 10), at).kind, 'step');
  });

  it("refuses and counts a removed member's message for a height after its removal", () => {
    assert.equal(judgeFrame(fetch(before4, gone, 10), at).kind, 'not-in-force');
    assert.equal(judgeFrame(fetch(before4, gone, 10), { ...at, previous: null }).kind, 'refused');
  });

  it('judges a message for a height before the change by the membership before it', () => {
    assert.equal(judgeFrame(fetch(before4, gone, 9), at).kind, 'previous');
    const stayed = ids.find((who) => who.id !== gone.id)!;
    assert.equal(judgeFrame(fetch(after3, stayed, 9), at).kind, 'refused', 'signed with the numbering of the new membership');
  });

  it('parks a message for a height whose membership is not known yet, when it does not verify now', () => {
    assert.equal(judgeFrame(fetch(after3, ids.find((who) => who.id !== gone.id)!, 12), at).kind, 'step', 'a message that verifies now is stepped: the replica keeps it or fetches');
    const stranger = testIdentity();
    const six = docOf([...after3.members, memberOf(stranger, 'cairo', 7705)]);
    assert.equal(judgeFrame(fetch(six, stranger, 12), at).kind, 'park');
    assert.equal(judgeFrame(fetch(six, stranger, 10), at).kind, 'refused', 'the membership of height 10 is known');
  });

  it('parks at most a bounded number of frames, dropping the oldest and counting them', () => {
    const parked = new ParkedFrames(3);
    for (let i = 0; i < 5; i += 1) parked.park('p', i);
    assert.equal(parked.size, 3);
    assert.equal(parked.dropped, 2);
    assert.deepEqual(parked.take().map((f) => f.raw), [2, 3, 4]);
    assert.equal(parked.size, 0);
  });
});

it('a parsed cluster document keeps a proof field it was given', () => {
  const doc = docOf([memberOf(a, 'paris', 7701, true)]);
  assert.equal(parseCluster(text(doc), 'test').members[0]!.proof, doc.members[0]!.proof);
  assert.throws(() => parseCluster(text(docOf([{ ...memberOf(a, 'paris', 7701), proof: 'zz' }])), 'test'), /proof: 128 lowercase hex digits/);
});
