/**
 * The cluster verifier remembers valid signatures (src/sync/crypto.ts): a signature checked once is
 * not checked again over the same bytes, but the same signature over other bytes, under another
 * replica's index, or a forged one is refused every time.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { signBytes } from '../../src/store/identity.js';
import { clusterVerifier, verifiedSignaturesMax } from '../../src/sync/crypto.js';
import { testIdentity } from '../support/identities.js';

const members = [testIdentity(), testIdentity()].sort((a, b) => (a.id < b.id ? -1 : 1));
const cluster: ClusterDoc = {
  version: 1,
  branch: 'main',
  members: members.map((m, i) => ({ id: m.id, publicKey: m.publicKey, address: `ws://127.0.0.1:${7701 + i}`, site: `s${i}`, priority: i })),
};
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

it('remembers a valid signature, and never takes it for other bytes, another replica or a forgery', () => {
  const verifier = clusterVerifier(cluster);
  const bytes = text('FINAL height 3 round 0');
  const sig = signBytes(members[0]!, bytes);
  assert.equal(verifier.verify(0, bytes, sig), true);
  assert.equal(verifier.verify(0, bytes, sig), true, 'the second check, remembered, is still true');
  assert.equal(verifier.verify(0, text('FINAL height 3 round 1'), sig), false, 'the same signature over other bytes');
  assert.equal(verifier.verify(1, bytes, sig), false, "another replica's index");
  assert.equal(verifier.verify(2, bytes, sig), false, 'no such replica');
  const forged = `${sig.slice(0, -2)}${sig.endsWith('00') ? '01' : '00'}`;
  assert.equal(verifier.verify(0, bytes, forged), false, 'a forged signature');
  assert.equal(verifier.verify(0, bytes, forged), false, 'and again: refusals are not remembered as valid');
});

it('stays bounded: past the bound the oldest are forgotten and checked afresh, still correctly', () => {
  const verifier = clusterVerifier(cluster);
  const first = text('message 0');
  const firstSig = signBytes(members[1]!, first);
  assert.equal(verifier.verify(1, first, firstSig), true);
  for (let i = 1; i <= verifiedSignaturesMax; i += 1) {
    const bytes = text(`message ${i}`);
    assert.equal(verifier.verify(1, bytes, signBytes(members[1]!, bytes)), true);
  }
  assert.equal(verifier.verify(1, first, firstSig), true, 'forgotten, then checked again: still valid');
});
