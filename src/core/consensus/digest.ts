/**
 * Hashing and signing, both injected: Ed25519 and SHA-256 in production, a cheap deterministic fake
 * in the simulator. This module fixes what is hashed and signed (canonical encodings), so every
 * implementation of the scheme agrees on the bytes (docs/protocol.md §2).
 */
import { canonicalBytes } from '../acu/canonical.js';
import { assert } from '../errors.js';
import type { AcuRef, Batch, Message, ReplicaId, Value } from './types.js';

/** The replica's own key, and the digest function every replica uses. */
export interface Signer {
  /** This replica's id; `sign` signs as it. */
  readonly self: ReplicaId;
  /** Sign `bytes` with this replica's key. */
  sign(bytes: Uint8Array): string;
  /** Collision-resistant digest of `bytes`, lowercase hex. */
  digestHex(bytes: Uint8Array): string;
}

/** Checks a peer's signature; used by the decoder at the edge (decode.ts). */
export interface Verifier {
  verify(from: ReplicaId, bytes: Uint8Array, sig: string): boolean;
}

/** The bytes a message's signature covers: every field but `sig`, canonically encoded. */
export function signingBytes(msg: Omit<Message, 'sig'>): Uint8Array {
  return canonicalBytes({ v: msg.v, type: msg.type, from: msg.from, height: msg.height, round: msg.round, body: msg.body });
}

/** Sign an unsigned message as the signer's replica. */
export function signMessage<M extends Message>(signer: Signer, unsigned: Omit<M, 'sig'>): M {
  assert(unsigned.from === signer.self, 'a replica signs only as itself');
  const sig = signer.sign(signingBytes(unsigned));
  assert(sig.length > 0, 'signatures are non-empty');
  return { ...unsigned, sig } as M;
}

/** True when `msg.sig` is `msg.from`'s signature over the message. */
export function verifyMessage(verifier: Verifier, msg: Message): boolean {
  return verifier.verify(msg.from, signingBytes(msg), msg.sig);
}

/** Digest of a batch's ACU bodies: the hash of the body hashes in batch order. */
export function bodyDigestOf(digestHex: (bytes: Uint8Array) => string, acus: readonly AcuRef[]): string {
  return digestHex(canonicalBytes(acus.map((acu) => acu.bodyHash)));
}

/** Digest that names a batch. */
export function batchDigestOf(signer: Pick<Signer, 'digestHex'>, batch: Batch): string {
  return signer.digestHex(canonicalBytes(batch));
}

/** Digest that names a value; PREPARE and FINAL sign it. */
export function valueIdOf(signer: Pick<Signer, 'digestHex'>, value: Value): string {
  return signer.digestHex(canonicalBytes(value));
}

/** Digest of a validation result; VALIDATE signs it. */
export function validationDigestOf(signer: Pick<Signer, 'digestHex'>, result: Value['validation']): string {
  return signer.digestHex(canonicalBytes(result));
}
