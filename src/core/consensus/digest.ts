/**
 * Hashing and signing, both injected: Ed25519 and SHA-256 in production, a cheap deterministic fake
 * in the simulator. This module fixes what is hashed and signed (canonical encodings), so every
 * implementation of the scheme agrees on the bytes (docs/protocol.md §2).
 */
import { canonicalBytes } from '../acu/canonical.js';
import { assert } from '../errors.js';
import type { AcuRef, Batch, Message, ReplicaId, Value, ValueDraft } from './types.js';

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

// Messages and values are immutable plain data (every field is readonly), so a digest or a good
// signature, once computed for one object by one function, stays true for it. Certificates nest
// the same vote objects many times (a prepared certificate rides in every TIMEOUT), and memoizing
// per object identity keeps the canonical encoding from dominating the cost of a step.
const verified = new WeakMap<object, Verifier>();
const digests = new WeakMap<object, { readonly fn: (bytes: Uint8Array) => string; readonly hex: string }>();
// Kept apart from `digests`: one Value object has both a value id and a draft id.
const draftDigests = new WeakMap<object, { readonly fn: (bytes: Uint8Array) => string; readonly hex: string }>();

function memoDigest(digestHex: (bytes: Uint8Array) => string, value: object): string {
  const known = digests.get(value);
  if (known !== undefined && known.fn === digestHex) return known.hex;
  const hex = digestHex(canonicalBytes(value));
  digests.set(value, { fn: digestHex, hex });
  return hex;
}

/** True when `msg.sig` is `msg.from`'s signature over the message. */
export function verifyMessage(verifier: Verifier, msg: Message): boolean {
  if (verified.get(msg) === verifier) return true;
  const ok = verifier.verify(msg.from, signingBytes(msg), msg.sig);
  if (ok) verified.set(msg, verifier);
  return ok;
}

/** Digest of a batch's ACU bodies: the hash of the body hashes in batch order. */
export function bodyDigestOf(digestHex: (bytes: Uint8Array) => string, acus: readonly AcuRef[]): string {
  return digestHex(canonicalBytes(acus.map((acu) => acu.bodyHash)));
}

/** Digest that names a batch. */
export function batchDigestOf(signer: Pick<Signer, 'digestHex'>, batch: Batch): string {
  return memoDigest(signer.digestHex, batch);
}

/** Digest that names a value, its outcome included; PREPARE and FINAL sign it. */
export function valueIdOf(signer: Pick<Signer, 'digestHex'>, value: Value): string {
  return memoDigest(signer.digestHex, value);
}

/**
 * Digest that names a draft: the canonical encoding of `{batch, validation, resolution, tally}` only, so a
 * full {@link Value} passed here names its draft, never itself. Outcome requests and answers carry it.
 */
export function draftIdOf(signer: Pick<Signer, 'digestHex'>, draft: ValueDraft): string {
  const known = draftDigests.get(draft);
  if (known !== undefined && known.fn === signer.digestHex) return known.hex;
  // A fresh object of exactly the draft's fields: an outcome field, if any, must not leak in. The
  // tally is there only with conflicts, so a draft without one keeps the id it always had.
  const tally = draft.tally === undefined ? {} : { tally: draft.tally };
  const hex = signer.digestHex(canonicalBytes({ batch: draft.batch, validation: draft.validation, resolution: draft.resolution, ...tally }));
  assert(hex.length > 0, 'digests are non-empty');
  draftDigests.set(draft, { fn: signer.digestHex, hex });
  return hex;
}

/** Digest of a validation result; VALIDATE signs it. */
export function validationDigestOf(signer: Pick<Signer, 'digestHex'>, result: Value['validation']): string {
  return memoDigest(signer.digestHex, result);
}
