/**
 * A sync node's identity: an Ed25519 key pair kept in the repository's git directory
 * (`<git-common-dir>/acu/node.key`, mode 0600), and the node id derived from the public key.
 * Beside it, the node's TLS key (`acu/tls.key`, 0600) and self-signed certificate (`acu/tls.crt`):
 * peers pin that certificate by the SHA-256 of its SubjectPublicKeyInfo, written in the cluster
 * document, so links need no certificate authority.
 *
 * Signing and verifying use node:crypto (native Ed25519, many times faster than a JavaScript
 * implementation on the hot path of every message), with public keys parsed once and cached.
 */
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, webcrypto } from 'node:crypto';
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
  await writeSynced(temporary, pem, 0o600);
  await rename(temporary, path);
  await syncDirectory(dirname(path));
  return { identity: identityFrom(privateKey), created: true };
}

/** Load the node's key; ERR_NO_IDENTITY when there is none, ERR_CONFIG when it is unsafe or bad. */
export function loadIdentity(gitCommonDir: string): Promise<NodeIdentity> {
  return loadKeyAt(keyPath(gitCommonDir));
}

/**
 * Where the next key of a rotation waits (`acu cluster rotate-key`): beside the key in use, which
 * keeps signing until the cluster has agreed on the member entry with the next one.
 */
export function nextKeyPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'node.key.next');
}

/** Create the next key of a rotation if there is none yet (mode 0600, written whole); returns it. */
export async function initNextIdentity(gitCommonDir: string): Promise<{ identity: NodeIdentity; created: boolean }> {
  const existing = await loadNextIdentity(gitCommonDir);
  if (existing !== null) return { identity: existing, created: false };
  const path = nextKeyPath(gitCommonDir);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const temporary = `${path}.tmp-${process.pid}`;
  await writeSynced(temporary, privateKey.export({ format: 'pem', type: 'pkcs8' }), 0o600);
  await rename(temporary, path);
  await syncDirectory(dirname(path));
  return { identity: identityFrom(privateKey), created: true };
}

/** The next key of a rotation, or null when no rotation is under way. */
export async function loadNextIdentity(gitCommonDir: string): Promise<NodeIdentity | null> {
  try {
    return await loadKeyAt(nextKeyPath(gitCommonDir));
  } catch (error) {
    if (error instanceof AcuError && error.code === 'ERR_NO_IDENTITY') return null;
    throw error;
  }
}

/**
 * The rotation was agreed: the next key becomes the node key. The old key is kept as
 * `node.key.retired-<id>` (never deleted: a backup of it still proves what it signed); each step
 * is written whole and the directory synced, so a crash leaves either key in place, never none.
 */
export async function promoteNextIdentity(gitCommonDir: string): Promise<NodeIdentity> {
  const next = await loadKeyAt(nextKeyPath(gitCommonDir));
  const current = await loadIdentity(gitCommonDir);
  const path = keyPath(gitCommonDir);
  // A copy first, then one rename over the key: a crash between them leaves the old key in place
  // and the next one beside it, and the promotion is done again.
  try {
    await writeSynced(`${path}.retired-${current.id}`, await readFile(path), 0o600);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
  }
  await rename(nextKeyPath(gitCommonDir), path);
  await syncDirectory(dirname(path));
  return next;
}

async function loadKeyAt(path: string): Promise<NodeIdentity> {
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

async function writeSynced(path: string, text: string | Uint8Array, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
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

// ---- TLS ------------------------------------------------------------------------------------------

/** A node's TLS key and certificate (PEM), and the pin its peers check the certificate by. */
export interface TlsIdentity {
  readonly key: string;
  readonly cert: string;
  /** SHA-256 of the certificate's DER SubjectPublicKeyInfo, 64 lowercase hex digits. */
  readonly pin: string;
}

/** Where a repository's TLS key lives (mode 0600). */
export function tlsKeyPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'tls.key');
}

/** Where a repository's self-signed TLS certificate lives. */
export function tlsCertPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'tls.crt');
}

/**
 * The pin of a certificate: SHA-256 of its public key's DER SubjectPublicKeyInfo, as hex. Pinning
 * the key rather than the whole certificate lets an operator re-issue the certificate (new dates)
 * with the same key without touching the cluster document.
 */
export function spkiPinOf(cert: X509Certificate): string {
  return createHash('sha256').update(cert.publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
}

/** Years a self-signed certificate is valid for: peers check its pin, never its dates. */
const selfSignedYears = 100;

/**
 * A fresh ECDSA P-256 key and a self-signed certificate for it. @peculiar/x509 builds the
 * certificate (no hand-written ASN.1); it needs a Reflect metadata polyfill, loaded here and only
 * here, lazily, so that no other command pays for it.
 */
async function selfSignedCertificate(commonName: string): Promise<{ key: string; cert: string }> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const crypto = webcrypto;
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(notBefore.getTime() + selfSignedYears * 365 * 86_400_000);
  // A positive serial number of 16 random bytes (the top bit cleared keeps the DER integer positive).
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  return { key, cert: cert.toString('pem') };
}

/**
 * Create the node's TLS key and self-signed certificate if it has none (the node id names the
 * certificate's subject). Both are written to temporary files, synced, then renamed key first:
 * a crash in between leaves a key without a certificate, which the next run replaces whole.
 */
export async function initTlsIdentity(gitCommonDir: string, nodeId: string): Promise<{ tls: TlsIdentity; created: boolean }> {
  try {
    return { tls: await loadTlsIdentity(gitCommonDir), created: false };
  } catch (error) {
    if (!(error instanceof AcuError) || error.code !== 'ERR_NO_IDENTITY') throw error;
  }
  const keyFile = tlsKeyPath(gitCommonDir);
  const certFile = tlsCertPath(gitCommonDir);
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  const { key, cert } = await selfSignedCertificate(`acu node ${nodeId}`);
  const suffix = `.tmp-${process.pid}`;
  await writeSynced(`${keyFile}${suffix}`, key, 0o600);
  await writeSynced(`${certFile}${suffix}`, cert, 0o644);
  await rename(`${keyFile}${suffix}`, keyFile);
  await rename(`${certFile}${suffix}`, certFile);
  await syncDirectory(dirname(keyFile));
  const tls = await loadTlsIdentity(gitCommonDir);
  return { tls, created: true };
}

/**
 * Load the node's TLS key and certificate. ERR_NO_IDENTITY when either is missing (`acu init`
 * makes them); ERR_CONFIG when the key is readable by others, either does not parse, or the
 * certificate is not for the key.
 */
export async function loadTlsIdentity(gitCommonDir: string): Promise<TlsIdentity> {
  const keyFile = tlsKeyPath(gitCommonDir);
  const certFile = tlsCertPath(gitCommonDir);
  let mode: number;
  let key: string;
  let certText: string;
  try {
    mode = (await stat(keyFile)).mode;
    key = await readFile(keyFile, 'utf8');
    certText = await readFile(certFile, 'utf8');
  } catch {
    throw new AcuError('ERR_NO_IDENTITY', `this repository has no acu TLS key and certificate (${keyFile}, ${certFile})`, { hint: "create them with 'acu init'" });
  }
  if ((mode & 0o077) !== 0) {
    throw new AcuError('ERR_CONFIG', `the TLS key ${keyFile} can be read by other users (mode ${(mode & 0o777).toString(8)})`, { hint: `restrict it with 'chmod 600 ${keyFile}'` });
  }
  let cert: X509Certificate;
  let keyPin: string;
  try {
    cert = new X509Certificate(certText);
    keyPin = createHash('sha256').update(createPublicKey(createPrivateKey(key)).export({ format: 'der', type: 'spki' })).digest('hex');
  } catch (cause) {
    throw new AcuError('ERR_CONFIG', `the TLS key ${keyFile} or certificate ${certFile} does not parse`, { hint: "move both aside and run 'acu init' again", cause });
  }
  const pin = spkiPinOf(cert);
  if (pin !== keyPin) throw new AcuError('ERR_CONFIG', `the TLS certificate ${certFile} is not for the key ${keyFile}`, { hint: "move both aside and run 'acu init' again" });
  assert(/^[0-9a-f]{64}$/.test(pin), 'loadTlsIdentity: a pin is 32 bytes of hex');
  return { key, cert: certText, pin };
}

