/**
 * Everything a peer sends a sync node passes three decoders: the frame decoder, then the consensus
 * message decoder (with real Ed25519 signatures against the cluster's keys) or the ACU record
 * decoder. 100,000 random and mutated frames per run (seeded; replay with ACU_SEED) must never make
 * any of them throw, and no mutated message may pass with a signature it does not carry. A replayed
 * message is accepted once by the replica and ignored (and counted) after.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeLimitsOf, decodeMessage, defaultReplicaConfig, Replica, signMessage } from '../../src/core/consensus/index.js';
import type { Message } from '../../src/core/consensus/index.js';
import { decodeFrame, encodeFrame } from '../../src/net/frame.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { clusterVerifier, identitySigner } from '../../src/sync/crypto.js';
import { decodeRecord, recordId, recordVerifier, signRecord } from '../../src/sync/records.js';
import type { AcuRecord } from '../../src/sync/records.js';
import { baseSeed, rng } from '../support/random.js';
import { testIdentity } from '../support/identities.js';

const identities = [testIdentity(), testIdentity(), testIdentity(), testIdentity()];
const cluster: ClusterDoc = {
  version: 1,
  branch: 'main',
  members: identities
    .map((id, i) => ({ id: id.id, publicKey: id.publicKey, address: `ws://127.0.0.1:${9000 + i}`, site: `s${i}`, priority: i }))
    .sort((a, b) => (a.id < b.id ? -1 : 1)),
};
const byIndex = cluster.members.map((m) => identities.find((id) => id.id === m.id)!);
const limits = decodeLimitsOf(defaultReplicaConfig(4, 0));
const verifier = clusterVerifier(cluster);

const recordSigner = { identity: identities[0]!, member: cluster.members.find((m) => m.id === identities[0]!.id)! };
const signed0 = signRecord(
  recordSigner,
  {
    v: 1, level: 'file', file: 'src/new.ts', fromFile: null, op: 'add', content: 'text', modeBefore: null, modeAfter: '100644',
    beforeOid: null, afterOid: 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391', data: '', hunks: null, reason: 'added',
  },
  { commit: 'a'.repeat(40), parent: 'b'.repeat(40), authorName: 'A', authorEmail: 'a@example.com', authorTime: 1_700_000_000, subject: 'x' },
);
const record: AcuRecord = signed0.record;
const records = recordVerifier(cluster);

function mutate(r: ReturnType<typeof rng>, bytes: Uint8Array): Uint8Array {
  let frame = Uint8Array.from(bytes);
  const edits = 1 + r.int(4);
  for (let e = 0; e < edits; e += 1) frame[r.int(frame.length)] = r.int(256);
  if (r.chance(0.1)) frame = frame.subarray(0, r.int(frame.length));
  return frame;
}

it('the sample record and message decode (the fuzz starts from valid frames)', () => {
  const decoded = decodeRecord(record, records);
  assert.ok(decoded !== null, 'the sample record is valid');
  assert.equal(decoded.id, recordId(record));
  assert.equal(decoded.record.origin.site, 's0');
  const msg = signMessage<Message>(identitySigner(cluster, byIndex[1]!), { v: 1, type: 'prepare', from: 1, height: 3, round: 0, body: { valueId: 'ab'.repeat(32) } });
  assert.equal(decodeMessage(msg, limits, verifier).ok, true);
});

it('never throws on 100,000 random and mutated consensus and record frames, and no mutation forges a signature', () => {
  const seed = baseSeed(4_242);
  const r = rng(seed);
  const signed = signMessage<Message>(identitySigner(cluster, byIndex[2]!), {
    v: 1, type: 'validate', from: 2, height: 7, round: 1,
    body: { batchDigest: 'cd'.repeat(32), validationDigest: 'ef'.repeat(32), result: { ok: true, conflicts: [{ a: 'x'.repeat(64), b: 'y'.repeat(64) }], detailDigest: '01'.repeat(32) } },
  });
  const frames = [encodeFrame({ t: 'c', m: signed }), encodeFrame({ t: 'records', records: [record] })];
  const canonical = JSON.stringify(signed);
  let accepted = 0;
  let forged = 0;
  for (let i = 0; i < 100_000; i += 1) {
    let bytes: Uint8Array;
    if (i % 4 === 0) {
      bytes = new Uint8Array(r.int(96));
      for (let j = 0; j < bytes.length; j += 1) bytes[j] = r.int(256);
    } else {
      bytes = mutate(r, frames[i % 2]!);
    }
    try {
      const frame = decodeFrame(bytes);
      if (!frame.ok) continue;
      const value = frame.value as { t?: unknown; m?: unknown; records?: unknown };
      if (value.t === 'c') {
        const decoded = decodeMessage(value.m, limits, verifier);
        if (decoded.ok) {
          accepted += 1;
          // A message that still verifies must be the signed one, byte for byte.
          if (JSON.stringify(decoded.msg) !== canonical) forged += 1;
        }
      } else if (Array.isArray(value.records)) {
        for (const raw of value.records) {
          const item = decodeRecord(raw, records);
          // A record that still verifies must be the signed one: its id is the hash of every byte.
          if (item !== null && item.id !== signed0.id) forged += 1;
        }
      }
    } catch (error) {
      assert.fail(`a decoder threw on frame ${i} (replay: ACU_SEED=${seed}): ${String(error)}`);
    }
  }
  assert.equal(forged, 0, `mutated messages or records passed signature checks (ACU_SEED=${seed})`);
  assert.ok(accepted < 100_000, 'mutations are refused');
});

it('a replayed message is taken once; the replay is ignored and counted', () => {
  const replica = Replica.create(defaultReplicaConfig(4, 0), identitySigner(cluster, byIndex[0]!));
  const prepare = signMessage<Message>(identitySigner(cluster, byIndex[1]!), { v: 1, type: 'prepare', from: 1, height: 0, round: 0, body: { valueId: 'ab'.repeat(32) } });
  const decoded = decodeMessage(JSON.parse(JSON.stringify(prepare)), limits, verifier);
  assert.ok(decoded.ok);
  replica.step({ type: 'message', msg: decoded.msg });
  const before = replica.stats.duplicateMessages;
  const again = decodeMessage(JSON.parse(JSON.stringify(prepare)), limits, verifier);
  assert.ok(again.ok);
  replica.step({ type: 'message', msg: again.msg });
  assert.equal(replica.stats.duplicateMessages, before + 1);
});
