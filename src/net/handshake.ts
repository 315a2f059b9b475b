/**
 * The peer handshake's signed statement, bound to the link's TLS session. After TLS, the acceptor
 * sends a fresh nonce (challenge); the dialer answers with its id, a nonce of its own and a
 * signature over {@link handshakeBytes} (hello); the acceptor checks it with the member's key and
 * signs the same facts back (welcome). Both sign the TLS session's exported keying material (RFC
 * 5705/8446, label {@link channelBindingLabel}), so a hello relayed from another TLS session fails:
 * a member cannot splice an honest node's handshake into a session of its own.
 */
import type { TLSSocket } from 'node:tls';
import { canonicalBytes } from '../core/acu/canonical.js';
import { assert } from '../core/errors.js';

/** The exporter label of the keying material that binds the handshake to its TLS session. */
export const channelBindingLabel = 'EXPORTER-acu-peer-auth-v1';
const channelBindingBytes = 32;

/** The channel binding of a link: exported keying material of its TLS session as hex; '' for plain links. */
export function channelBindingOf(socket: TLSSocket | null): string {
  if (socket === null) return '';
  const binding = socket.exportKeyingMaterial(channelBindingBytes, channelBindingLabel, Buffer.alloc(0)).toString('hex');
  assert(binding.length === 2 * channelBindingBytes, 'channelBindingOf: exported keying material of the asked length');
  return binding;
}

/**
 * Bytes signed by each side of the handshake: the purpose, both ids, both nonces and the channel
 * binding (the TLS session's exported keying material; '' on a plain link).
 */
export function handshakeBytes(purpose: 'client' | 'server', dialer: string, acceptor: string, acceptorNonce: string, dialerNonce: string, binding: string): Uint8Array {
  assert(binding === '' || /^[0-9a-f]{64}$/.test(binding), 'handshakeBytes: a binding is 32 bytes of hex, or empty');
  return canonicalBytes({ purpose: `acu-peer-auth-${purpose}`, dialer, acceptor, acceptorNonce, dialerNonce, binding });
}
