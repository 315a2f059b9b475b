/**
 * A cheap, deterministic stand-in for Ed25519 and SHA-256 in the simulator. A signature is a 64-bit
 * FNV-style hash of (replica secret, bytes); only the holder of the secret can produce it in the
 * simulated world, because Byzantine strategies sign only with their own secret. Forged signatures
 * (random strings) fail verification. Not cryptography; only the protocol's logic is under test.
 */
import type { ReplicaId, Signer, Verifier } from '../../src/core/consensus/index.js';

function hash64(seedA: number, seedB: number, bytes: Uint8Array): string {
  let a = seedA >>> 0;
  let b = seedB >>> 0;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = bytes[i] as number;
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995) ^ (b >>> 15);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ b;
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35) ^ a;
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Digest used by every simulated replica. */
export function fakeDigestHex(bytes: Uint8Array): string {
  return hash64(0x811c9dc5, 0x2f3a9b17, bytes);
}

function secretOf(replica: ReplicaId, worldKey: number): [number, number] {
  return [(0x6a09e667 ^ Math.imul(replica + 1, 0x9e3779b1) ^ worldKey) >>> 0, (0xbb67ae85 + replica * 7919) >>> 0];
}

/** The signer of one simulated replica. */
export function fakeSigner(self: ReplicaId, worldKey: number): Signer {
  const [a, b] = secretOf(self, worldKey);
  return {
    self,
    sign: (bytes) => `s${hash64(a, b, bytes)}`,
    digestHex: fakeDigestHex,
  };
}

/** The verifier every simulated replica shares (it knows every replica's secret, as a PKI would its key). */
export function fakeVerifier(worldKey: number): Verifier {
  return {
    verify(from, bytes, sig) {
      const [a, b] = secretOf(from, worldKey);
      return sig === `s${hash64(a, b, bytes)}`;
    },
  };
}
