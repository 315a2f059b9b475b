/** Node identities for tests: a fresh Ed25519 key pair, with the node id acu derives from it. */
import { generateKeyPairSync } from 'node:crypto';
import { nodeIdOf } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';

/** A new node identity (its key is never written anywhere). */
export function testIdentity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
  return { id: nodeIdOf(raw), publicKey: raw, privateKey };
}
