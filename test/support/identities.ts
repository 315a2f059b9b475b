/**
 * Node identities for tests: a fresh Ed25519 key pair, with the node id acu derives from it, and a
 * cluster document that names such identities.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { nodeIdOf } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';

/** A new node identity (its key is never written anywhere). */
export function testIdentity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
  return { id: nodeIdOf(raw), publicKey: raw, privateKey };
}

/**
 * A cluster document (branch main) naming `sites`, site name to identity, in the order given:
 * priorities 0, 1, ... and loopback addresses from port 7701 (never dialled), the members then
 * sorted by id, as acu keeps them.
 */
export function testCluster(sites: Readonly<Record<string, NodeIdentity>>): ClusterDoc {
  const members = Object.entries(sites).map(([site, identity], i) => ({ id: identity.id, publicKey: identity.publicKey, address: `ws://127.0.0.1:${7701 + i}`, site, priority: i }));
  return { version: 1, branch: 'main', members: members.sort((a, b) => (a.id < b.id ? -1 : 1)) };
}
