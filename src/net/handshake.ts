/**
 * The peer handshake, bound to the link's TLS session: what each side signs, and how a refused
 * handshake ends. After TLS, the acceptor sends a fresh nonce (challenge); the dialer answers with
 * its id, a nonce of its own and a signature over {@link handshakeBytes} (hello); the acceptor
 * checks it with the member's key and signs the same facts back (welcome). Both sign the TLS
 * session's exported keying material (RFC 5705/8446, label {@link channelBindingLabel}), so a hello
 * relayed from another TLS session fails: a member cannot splice an honest node's handshake into a
 * session of its own. Each side's steps are in dialer.ts and listener.ts.
 */
import type { TLSSocket } from 'node:tls';
import type { RawData, WebSocket } from 'ws';
import { canonicalBytes } from '../core/acu/canonical.js';
import { assert, assertNever } from '../core/errors.js';
import { handshakeFrameLimits } from './frame.js';
import { bytesOf, decode } from './peer-link.js';
import type { TransportCounters } from './transport-types.js';

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

/** A handshake frame, decoded under the handshake's tiny limits; undefined (counted) if refused. */
export function decodeHandshake(counters: TransportCounters, data: RawData): Record<string, unknown> | undefined {
  return decode(counters, bytesOf(data), handshakeFrameLimits) as Record<string, unknown> | undefined;
}

/** Why a handshake was refused: each is counted under its own counter. */
export type HandshakeRefusal = 'timeout' | 'signature' | 'unknown' | 'protocol' | 'certificate';

/** End a socket whose handshake failed, counting why. */
export function refuse(counters: TransportCounters, socket: WebSocket, why: HandshakeRefusal): void {
  switch (why) {
    case 'timeout':
      counters.authTimeouts += 1;
      break;
    case 'signature':
      counters.authRefusedBadSignature += 1;
      break;
    case 'unknown':
      counters.authRefusedUnknownPeer += 1;
      break;
    case 'protocol':
      counters.authRefusedProtocol += 1;
      break;
    case 'certificate':
      counters.authRefusedCertificate += 1;
      break;
    default:
      assertNever(why, 'refusal');
  }
  socket.terminate();
}
