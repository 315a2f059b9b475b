/**
 * The consensus core's hashing and signing, bound to real keys: SHA-256 from node:crypto and
 * Ed25519 signatures of the node's identity. Replica indices are positions in the cluster
 * document's member list (sorted by node id), so every node maps an index to the same key.
 */
import { createHash } from 'node:crypto';
import type { Signer, Verifier } from '../core/consensus/index.js';
import { assert } from '../core/errors.js';
import type { ClusterDoc } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { signBytes, verifyBytes } from '../store/identity.js';

/** SHA-256 of bytes, lowercase hex (node:crypto: native, several times faster than a JS hash). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** This node's replica index in the cluster, or -1 when it is not a member. */
export function replicaIndexOf(cluster: ClusterDoc, nodeId: string): number {
  return cluster.members.findIndex((member) => member.id === nodeId);
}

/** A signer for the consensus core that signs as `identity`. */
export function identitySigner(cluster: ClusterDoc, identity: NodeIdentity): Signer {
  const self = replicaIndexOf(cluster, identity.id);
  assert(self >= 0, 'identitySigner: the node is a member of the cluster');
  return { self, sign: (bytes) => signBytes(identity, bytes), digestHex: sha256Hex };
}

/** A verifier that checks a replica's signature against its member's public key. */
export function clusterVerifier(cluster: ClusterDoc): Verifier {
  const keys = cluster.members.map((member) => member.publicKey);
  return {
    verify: (from, bytes, sig) => {
      const key = keys[from];
      return key !== undefined && verifyBytes(key, bytes, sig);
    },
  };
}
