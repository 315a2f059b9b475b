/**
 * TLS on a peer link, connection by connection: the options each side opens TLS 1.3 with, and
 * whether the certificate a peer presented is a member's — by its pin in the cluster document, or,
 * with an operator's PKI, by the host it names (the chain is verified by TLS itself). Which of the
 * two a node uses is decided once at start (link.ts).
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { ClientOptions } from 'ws';
import { assert } from '../core/errors.js';
import type { ClusterMember } from '../store/cluster.js';
import { spkiPinOf } from '../store/identity.js';
import type { TransportTls } from './link.js';
import { listenOfAddress } from './link.js';

/** The listener's TLS: TLS 1.3 only, client certificates required (checked by the CA, or by pin after the handshake). */
export function serverTlsOptions(tls: TransportTls): HttpsServerOptions {
  return { key: tls.key, cert: tls.cert, ...(tls.ca === null ? {} : { ca: tls.ca }), minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: tls.ca !== null };
}

/** The dialer's TLS options for its WebSocket; none on a plain link. */
export function dialTlsOptions(tls: TransportTls | null): ClientOptions {
  return tls === null ? {} : {
    key: tls.key, cert: tls.cert, ...(tls.ca === null ? {} : { ca: tls.ca }), minVersion: 'TLSv1.3' as const, maxVersion: 'TLSv1.3' as const,
    // Pinned: the peer's self-signed certificate is checked by its pin on 'upgrade' (dialer.ts).
    rejectUnauthorized: tls.ca !== null,
  };
}

/**
 * Whether a dialer's TLS certificate is the member's it claims to be: its pin, or (operator
 * PKI, the chain already verified by TLS) a certificate that names the member's host.
 */
export function certificateIsMember(tls: TransportTls | null, socket: TLSSocket, member: ClusterMember): boolean {
  assert(tls !== null, 'certificateIsMember: a TLS link');
  if (tls.ca === null) return peerPin(socket) === member.tlsPin;
  const certificate = socket.getPeerCertificate();
  if (certificate === null || Object.keys(certificate).length === 0) return false;
  return checkServerIdentity(listenOfAddress(member.address).host, certificate) === undefined;
}

/** Error codes of a TLS handshake that failed verification (Node's and OpenSSL's names). */
export const tlsRefusalCode = /^(ERR_TLS_CERT|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_)/;

/** The pin of the certificate a TLS peer presented, or null when it presented none. */
export function peerPin(socket: TLSSocket): string | null {
  const certificate = socket.getPeerX509Certificate();
  return certificate === undefined ? null : spkiPinOf(certificate);
}
