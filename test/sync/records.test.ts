/**
 * ACU records carry authenticated origins (src/sync/records.ts): a record decodes only when its
 * origin node is a cluster member whose Ed25519 signature covers every field, and whose site in the
 * cluster document is the site the record names. So a member cannot win a site-priority vote or
 * put a Co-authored-by trailer on an agreed commit by relaying records that claim another site.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalBytes } from '../../src/core/acu/canonical.js';
import type { FileAcu } from '../../src/core/acu/model.js';
import { resolveConflict } from '../../src/core/policy/index.js';
import type { Policy, PolicyConflict } from '../../src/core/policy/index.js';
import type { ClusterDoc, ClusterMember } from '../../src/store/cluster.js';
import { signBytes } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { agreedMessage } from '../../src/sync/agreed.js';
import { applyEntry } from '../../src/sync/node-log.js';
import type { NodeMemory } from '../../src/sync/node-log.js';
import { decodeRecord, recordId, recordSigningBytes, recordVerifier, signRecord } from '../../src/sync/records.js';
import type { AcuOrigin, AcuRecord, IdentifiedRecord, RecordSigner, UnsignedRecord } from '../../src/sync/records.js';
import { testCluster, testIdentity } from '../support/identities.js';

const paris = testIdentity();
const tokyo = testIdentity();
const outsider = testIdentity();
const cluster = testCluster({ paris, tokyo });
const memberOf = (who: NodeIdentity): ClusterMember => cluster.members.find((m) => m.id === who.id)!;
const signerOf = (who: NodeIdentity): RecordSigner => ({ identity: who, member: memberOf(who) });

/** A whole-file addition: the two sides of a conflict add the same file with other contents. */
function fileAcu(text: string): FileAcu {
  return {
    v: 1, level: 'file', file: 'src/shared.ts', fromFile: null, op: 'add', content: 'text', modeBefore: null, modeAfter: '100644',
    beforeOid: null, afterOid: 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391', data: text, hunks: null, reason: null,
  };
}

const origin = (author: string): Omit<AcuOrigin, 'node' | 'site'> => ({
  commit: 'c'.repeat(40), parent: 'd'.repeat(40), authorName: author, authorEmail: `${author.toLowerCase()}@example.com`, authorTime: 1_714_550_400, subject: 'shared module',
});

/** A record signed by `key` exactly as given (origin node and site included): what a forger can make. */
function signedAs(key: NodeIdentity, unsigned: UnsignedRecord): AcuRecord {
  return { ...unsigned, sig: signBytes(key, recordSigningBytes(unsigned)) };
}

/** Through the wire and back: peers send plain JSON-like values. */
function wire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

describe('decodeRecord', () => {
  it('takes a member-signed record, with the signer as node and its site', () => {
    const made = signRecord(signerOf(tokyo), fileAcu('tokyo\n'), origin('Tanaka'));
    const decoded = decodeRecord(wire(made.record), recordVerifier(cluster));
    assert.ok(decoded !== null);
    assert.equal(decoded.id, made.id);
    assert.equal(decoded.id, recordId(made.record));
    assert.equal(decoded.record.origin.node, tokyo.id);
    assert.equal(decoded.record.origin.site, 'tokyo');
    assert.equal(decoded.record.v, 2);
  });

  it('ids are a function of the content: signing twice gives the same record id', () => {
    const one = signRecord(signerOf(paris), fileAcu('x\n'), origin('Ada'));
    const two = signRecord(signerOf(paris), fileAcu('x\n'), origin('Ada'));
    assert.equal(one.id, two.id);
  });

  it('refuses a record a member signed while claiming another member\'s site', () => {
    const verifier = recordVerifier(cluster);
    const unsigned: UnsignedRecord = { v: 2, acu: fileAcu('tokyo wins\n'), origin: { ...origin('Tanaka'), node: tokyo.id, site: 'paris' } };
    assert.equal(decodeRecord(wire(signedAs(tokyo, unsigned)), verifier), null, 'signed by tokyo, claims paris');
    // Naming paris as the node does not help either: the signature is tokyo's.
    assert.equal(decodeRecord(wire(signedAs(tokyo, { ...unsigned, origin: { ...unsigned.origin, node: paris.id } })), verifier), null);
    // A tokyo record relayed with its site rewritten to paris no longer verifies.
    const relayed = signRecord(signerOf(tokyo), fileAcu('t\n'), origin('Tanaka')).record;
    assert.equal(decodeRecord(wire({ ...relayed, origin: { ...relayed.origin, site: 'paris' } }), verifier), null);
  });

  it('refuses a tampered body, a non-member signer, a missing or malformed signature, and the unsigned format', () => {
    const verifier = recordVerifier(cluster);
    const good = signRecord(signerOf(paris), fileAcu('paris\n'), origin('Ada')).record;
    assert.notEqual(decodeRecord(wire(good), verifier), null);
    assert.equal(decodeRecord(wire({ ...good, acu: fileAcu('paris, edited in transit\n') }), verifier), null, 'tampered ACU');
    assert.equal(decodeRecord(wire({ ...good, origin: { ...good.origin, authorName: 'Mallory' } }), verifier), null, 'tampered author');
    const outsiderRecord = signedAs(outsider, { v: 2, acu: good.acu, origin: { ...good.origin, node: outsider.id } });
    assert.equal(decodeRecord(wire(outsiderRecord), verifier), null, 'signer not a member');
    assert.equal(decodeRecord(wire(signedAs(outsider, { v: 2, acu: good.acu, origin: good.origin })), verifier), null, 'outsider key, member name');
    const { sig: _sig, ...unsigned } = good;
    assert.equal(decodeRecord(wire(unsigned), verifier), null, 'no signature');
    assert.equal(decodeRecord(wire({ ...good, sig: 'ab'.repeat(64) }), verifier), null, 'a signature of nothing');
    assert.equal(decodeRecord(wire({ ...good, sig: good.sig.slice(2) }), verifier), null, 'a short signature');
    assert.equal(decodeRecord(wire({ ...good, v: 1 }), verifier), null, 'the old format');
    const { node: _node, ...originV1 } = good.origin;
    assert.equal(decodeRecord(wire({ v: 1, acu: good.acu, origin: originV1 }), verifier), null, 'a v1 record');
  });

  it('a signature over the bytes without the record domain prefix does not verify (no cross-protocol reuse)', () => {
    const unsigned: UnsignedRecord = { v: 2, acu: fileAcu('p\n'), origin: { ...origin('Ada'), node: paris.id, site: 'paris' } };
    const bare = { ...unsigned, sig: signBytes(paris, canonicalBytes(unsigned)) };
    assert.equal(decodeRecord(wire(bare), recordVerifier(cluster)), null);
  });

  it('verifies a record once per id: a record sent again costs no signature check', () => {
    const fresh: ClusterDoc = { ...cluster };
    const verifier = recordVerifier(fresh);
    assert.equal(recordVerifier(fresh), verifier, 'one verifier per cluster document');
    const good = signRecord(signerOf(paris), fileAcu('once\n'), origin('Ada')).record;
    for (let i = 0; i < 3; i += 1) assert.notEqual(decodeRecord(wire(good), verifier), null);
    assert.equal(verifier.signatureChecks, 1);
    // A remembered id does not skip the membership and site checks of another cluster document.
    const moved: ClusterDoc = { ...cluster, members: cluster.members.map((m) => (m.id === paris.id ? { ...m, site: 'lyon' } : m)) };
    assert.equal(decodeRecord(wire(good), recordVerifier(moved)), null, 'paris moved to lyon: the record names the old site');
  });
});

/** Candidates as the sync node builds them for its conflict vote: the site of each side's record. */
function conflictOf(a: IdentifiedRecord, b: IdentifiedRecord): PolicyConflict {
  return {
    id: '0.0',
    a: { acuIds: [a.id], site: a.record.origin.site, sequence: 0, risk: 0, interference: 0 },
    b: { acuIds: [b.id], site: b.record.origin.site, sequence: 1, risk: 0, interference: 0 },
    bothValid: false,
  };
}

describe('authenticated origins in policies and agreed commits', () => {
  const sitePriority: Policy = { kind: 'site-priority', sites: ['paris', 'tokyo'] };

  it('a tokyo member cannot win a paris-first site-priority vote by claiming paris', () => {
    const verifier = recordVerifier(cluster);
    const fromParis = signRecord(signerOf(paris), fileAcu('paris\n'), origin('Ada'));
    const forged = signedAs(tokyo, { v: 2, acu: fileAcu('tokyo\n'), origin: { ...origin('Tanaka'), node: tokyo.id, site: 'paris' } });
    const honest = signRecord(signerOf(tokyo), fileAcu('tokyo\n'), origin('Tanaka'));
    // The forgery never becomes a record the node knows, so it never becomes a candidate.
    assert.equal(decodeRecord(wire(forged), verifier), null);
    const a = decodeRecord(wire(honest.record), verifier);
    const b = decodeRecord(wire(fromParis.record), verifier);
    assert.ok(a !== null && b !== null);
    const answer = resolveConflict(sitePriority, conflictOf(a, b), { votes: new Map(), elapsedTicks: 0 });
    assert.deepEqual(answer, { kind: 'choice', resolution: 'keep-b', reason: 'site priority (paris)' });
    // Whichever side it is on, tokyo's record ranks by tokyo.
    const swapped = resolveConflict(sitePriority, conflictOf(b, a), { votes: new Map(), elapsedTicks: 0 });
    assert.deepEqual(swapped, { kind: 'choice', resolution: 'keep-a', reason: 'site priority (paris)' });
  });

  it('the agreed message names sites and Co-authored-by trailers from member-signed records only', () => {
    const verifier = recordVerifier(cluster);
    const honest = signRecord(signerOf(tokyo), fileAcu('tokyo\n'), { ...origin('Tanaka'), commit: 'e'.repeat(40) });
    const wires = [
      wire(honest.record),
      wire(signedAs(tokyo, { v: 2, acu: fileAcu('m\n'), origin: { ...origin('Mallory'), commit: 'f'.repeat(40), node: tokyo.id, site: 'paris' } })),
      wire(signedAs(outsider, { v: 2, acu: fileAcu('o\n'), origin: { ...origin('Oscar'), commit: '1'.repeat(40), node: outsider.id, site: 'paris' } })),
      wire({ ...honest.record, origin: { ...honest.record.origin, authorName: 'Mallory' } }),
    ];
    const applied = wires.map((value) => decodeRecord(value, verifier)).filter((item): item is IdentifiedRecord => item !== null);
    assert.deepEqual(applied.map((item) => item.id), [honest.id]);
    const message = agreedMessage(4, applied);
    assert.match(message, new RegExp(`^${'e'.repeat(12)} shared module \\(tokyo\\)$`, 'm'));
    assert.deepEqual(message.split('\n').filter((line) => line.startsWith('Co-authored-by: ')), ['Co-authored-by: Tanaka <tanaka@example.com>']);
    assert.doesNotMatch(message, /Mallory|Oscar|\(paris\)/);
  });

  it('the node log replays only records its cluster\'s members signed', () => {
    const memory: NodeMemory = {
      genesis: null, state: null, decisions: new Map(), records: new Map(), settled: new Set(), settledAt: new Map(), writtenHeight: -1,
      writtenCommit: null, outboxTaken: 0, votes: new Map(),
    };
    const good = signRecord(signerOf(paris), fileAcu('logged\n'), origin('Ada'));
    const foreign = signedAs(outsider, { v: 2, acu: fileAcu('x\n'), origin: { ...origin('Oscar'), node: outsider.id, site: 'paris' } });
    applyEntry(memory, { k: 'records', records: [good.record, foreign] }, 8, recordVerifier(cluster));
    assert.deepEqual([...memory.records.keys()], [good.id]);
  });
});
