/**
 * A sync node's identity: an Ed25519 key pair kept in the repository's git directory
 * (`<git-common-dir>/acu/node.key`, mode 0600), and the node id derived from the public key.
 *
 * Signing and verifying use node:crypto (native Ed25519, many times faster than a JavaScript
 * implementation on the hot path of every message), with public keys parsed once and cached.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AcuError, assert } from '../core/errors.js';

/** A node's own identity, with its private key. */
export interface NodeIdentity {
  /** `n` and 16 hex digits of SHA-256 of the raw public key. */
  readonly id: string;
  /** The raw 32-byte public key, lowercase hex. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

/** Where a repository's node key lives. */
export function keyPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'node.key');
}

/** The node id of a raw public key (hex). */
export function nodeIdOf(publicKeyHex: string): string {
  assert(/^[0-9a-f]{64}$/.test(publicKeyHex), 'nodeIdOf: a raw Ed25519 public key is 32 bytes of hex');
  return `n${createHash('sha256').update(Buffer.from(publicKeyHex, 'hex')).digest('hex').slice(0, 16)}`;
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key follows it. */
const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');

function rawPublicKey(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  assert(der.length === spkiPrefix.length + 32, 'an Ed25519 public key is 32 bytes');
  return der.subarray(spkiPrefix.length).toString('hex');
}

function identityFrom(privateKey: KeyObject): NodeIdentity {
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return { id: nodeIdOf(publicKey), publicKey, privateKey };
}

/**
 * Create the node's key if there is none. Returns the identity and whether it was created. The key
 * is written to a temporary file with mode 0600, synced, then renamed into place, so a crash never
 * leaves a half-written key.
 */
export async function initIdentity(gitCommonDir: string): Promise<{ identity: NodeIdentity; created: boolean }> {
  const path = keyPath(gitCommonDir);
  try {
    return { identity: await loadIdentity(gitCommonDir), created: false };
  } catch (error) {
    if (!(error instanceof AcuError) || error.code !== 'ERR_NO_IDENTITY') throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  const temporary = `${path}.tmp-${process.pid}`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(pem);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await syncDirectory(dirname(path));
  return { identity: identityFrom(privateKey), created: true };
}

/** Load the node's key; ERR_NO_IDENTITY when there is none, ERR_CONFIG when it is unsafe or bad. */
export async function loadIdentity(gitCommonDir: string): Promise<NodeIdentity> {
  const path = keyPath(gitCommonDir);
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch {
    throw new AcuError('ERR_NO_IDENTITY', `this repository has no acu node key (${path})`, { hint: "create one with 'acu init'" });
  }
  if ((mode & 0o077) !== 0) {
    throw new AcuError('ERR_CONFIG', `the node key ${path} can be read by other users (mode ${(mode & 0o777).toString(8)})`, {
      hint: `restrict it with 'chmod 600 ${path}'`,
    });
  }
  try {
    return identityFrom(createPrivateKey(await readFile(path)));
  } catch (cause) {
    throw new AcuError('ERR_CONFIG', `the node key ${path} is not an Ed25519 private key`, { hint: "move it aside and run 'acu init' again", cause });
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Sign bytes with a node's key; the signature is 64 bytes of lowercase hex. */
export function signBytes(identity: NodeIdentity, bytes: Uint8Array): string {
  return sign(null, bytes, identity.privateKey).toString('hex');
}

/** Public keys parsed once: parsing costs about as much as one verification. */
const publicKeyCache = new Map<string, KeyObject>();
const publicKeyCacheEntriesMax = 4096;

function publicKeyObject(publicKeyHex: string): KeyObject | null {
  const cached = publicKeyCache.get(publicKeyHex);
  if (cached !== undefined) return cached;
  if (!/^[0-9a-f]{64}$/.test(publicKeyHex)) return null;
  const key = createPublicKey({ key: Buffer.concat([spkiPrefix, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  if (publicKeyCache.size >= publicKeyCacheEntriesMax) publicKeyCache.clear();
  publicKeyCache.set(publicKeyHex, key);
  return key;
}

/**
 * Verify a signature. Malformed keys or signatures are simply invalid: a peer's garbage is a
 * `false`, never an exception.
 */
export function verifyBytes(publicKeyHex: string, bytes: Uint8Array, signatureHex: string): boolean {
  if (!/^[0-9a-f]{128}$/.test(signatureHex)) return false;
  const key = publicKeyObject(publicKeyHex);
  if (key === null) return false;
  try {
    return verify(null, bytes, key, Buffer.from(signatureHex, 'hex'));
  } catch {
    return false;
  }
}
