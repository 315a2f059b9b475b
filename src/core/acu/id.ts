/**
 * Content ids. An ACU's id is the SHA-256 of its canonical encoding, so the same change made at two
 * sites is the same ACU. The hash function is injected: the core stays free of node:* modules and
 * defaults to @noble/hashes, while hot paths in the node pass node:crypto's (several times faster
 * on large texts; see docs/acu-format.md).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { canonicalBytes } from './canonical.js';
import type { Acu, IdentifiedAcu } from './model.js';

/** A SHA-256 function returning lowercase hex. */
export type Sha256Hex = (bytes: Uint8Array) => string;

/** Pure-JS SHA-256 (the default). */
export const nobleSha256Hex: Sha256Hex = (bytes) => bytesToHex(nobleSha256(bytes));

/** The content id of an ACU. */
export function acuId(acu: Acu, sha256Hex: Sha256Hex = nobleSha256Hex): string {
  return sha256Hex(canonicalBytes(acu));
}

/** Pair an ACU with its id. */
export function identify(acu: Acu, sha256Hex: Sha256Hex = nobleSha256Hex): IdentifiedAcu {
  return { id: acuId(acu, sha256Hex), acu };
}
