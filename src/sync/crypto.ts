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

/**
 * Signatures a verifier remembers as valid, at most. A node checks one signature many times: a
 * vote when it arrives, then again inside every certificate that carries it (PREPARE, FINAL,
 * catch-up decisions); an Ed25519 check costs some 50 µs, a SHA-256 of the signed bytes far less.
 */
export const verifiedSignaturesMax = 16_384;

/**
 * A verifier that checks a replica's signature against its member's public key. Valid signatures
 * are remembered by (replica, SHA-256 of the bytes, signature), never by the signature alone: the
 * same signature over other bytes is checked afresh (and fails). Invalid ones are not remembered.
 */
export function clusterVerifier(cluster: ClusterDoc): Verifier {
  const keys = cluster.members.map((member) => member.publicKey);
  const verified = new Set<string>();
  return {
    verify: (from, bytes, sig) => {
      const key = keys[from];
      if (key === undefined) return false;
      const seen = `${from}:${sha256Hex(bytes)}:${sig}`;
      if (verified.has(seen)) return true;
      if (!verifyBytes(key, bytes, sig)) return false;
      verified.add(seen);
      if (verified.size > verifiedSignaturesMax) verified.delete(verified.values().next().value!);
      return true;
    },
  };
}
