/**
 * Object ids and object bytes computed in-process: hashing, id validation, git's object headers.
 */
import { createHash } from 'node:crypto';
import { assert } from '../core/errors.js';

/** A repository's object format: SHA-1 ids (40 hex digits) or SHA-256 ids (64). */
export type ObjectFormat = 'sha1' | 'sha256';

/** Hex digits in an object id of each format. */
export const oidHexLength: Readonly<Record<ObjectFormat, number>> = { sha1: 40, sha256: 64 };

const hexOidPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** True for a full, lower-case object id of either format (40 or 64 hex digits). */
export function isHexOid(value: string): boolean {
  return hexOidPattern.test(value);
}

/** git's id of an object with this type and content: hash of `<type> <len>\0<content>`. */
export function gitObjectOid(type: 'blob' | 'tree' | 'commit' | 'tag', content: Uint8Array, format: ObjectFormat = 'sha1'): string {
  const hash = createHash(format === 'sha1' ? 'sha1' : 'sha256');
  hash.update(`${type} ${content.byteLength}\0`);
  hash.update(content);
  const oid = hash.digest('hex');
  assert(oid.length === oidHexLength[format], 'hash length matches the object format');
  return oid;
}

/** git's blob id of `bytes` (sha1 of `blob <len>\0<bytes>`), computed in-process with node:crypto. */
export function gitBlobOid(bytes: Uint8Array): string {
  return gitObjectOid('blob', bytes, 'sha1');
}

/** The id of the empty tree in a repository of this format. */
export function emptyTreeOidFor(format: ObjectFormat): string {
  return gitObjectOid('tree', new Uint8Array(0), format);
}

/** The all-zero id git uses for "no object" (`update-ref`'s old value for "must not exist"). */
export function zeroOidFor(format: ObjectFormat): string {
  return '0'.repeat(oidHexLength[format]);
}
