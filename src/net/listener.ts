/**
 * The accepting side of a link: the HTTP(S) listener the WebSocket server upgrades from (TLS 1.3
 * only, client certificates required; with pins, a certificate that is no member's is refused
 * before a byte of WebSocket is read), and each incoming connection's handshake: challenge it, and
 * accept it only from a member that proves its key (handshake.ts). Also what a listening failure
 * tells the user.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { RawData, WebSocket } from 'ws';
import { AcuError } from '../core/errors.js';
import { signBytes, verifyBytes } from '../store/identity.js';
import { encodeFrame } from './frame.js';
import { channelBindingOf, decodeHandshake, handshakeBytes, refuse } from './handshake.js';
import type { ListenAddress } from './link.js';
import { formatListen } from './link.js';
import { dials } from './peer.js';
import type { Peer, TransportState } from './peer.js';
import { linkDown, linkUp, onSocketError, receive } from './peer-link.js';
import { certificateIsMember, peerPin, serverTlsOptions } from './tls.js';

/** The HTTP(S) listener the WebSocket server upgrades from: TLS 1.3 only, client certificates required. */
export function createListener(state: TransportState): HttpServer {
  const tls = state.tls;
  const http = tls === null
    ? createHttpServer()
    : createHttpsServer(serverTlsOptions(tls));
  // Not a WebSocket upgrade: nothing here for it.
  http.on('request', (_request: IncomingMessage, response: { writeHead(code: number): void; end(): void }) => {
    response.writeHead(426);
    response.end();
  });
  if (tls === null) return http;
  http.on('tlsClientError', () => {
    state.counters.authRefusedCertificate += 1;
  });
  // Pinned links: a certificate that is no member's is refused before a byte of WebSocket is read.
  if (tls.ca === null) {
    // The members as of now, not as of the listen: a membership change (setMembers) adds pins.
    http.on('secureConnection', (socket: TLSSocket) => {
      const pin = peerPin(socket);
      if (pin !== null && state.members.some((m) => m.tlsPin === pin)) return;
      state.counters.authRefusedCertificate += 1;
      socket.destroy();
    });
  }
  return http;
}

/**
 * An incoming connection: challenge it, and accept it only from a member that proves its key,
 * over a TLS session whose certificate is that member's.
 */
export function accept(state: TransportState, socket: WebSocket, request: IncomingMessage): void {
  if (state.stopped) {
    socket.terminate();
    return;
  }
  const counters = state.counters;
  const tlsSocket = state.tls === null ? null : (request.socket as TLSSocket);
  const binding = channelBindingOf(tlsSocket);
  const nonce = randomBytes(32).toString('hex');
  const deadline = setTimeout(() => refuse(counters, socket, 'timeout'), state.limits.handshakeTimeoutMs);
  let peer: Peer | null = null;
  state.pending.add(socket);
  socket.send(encodeFrame({ t: 'challenge', acceptor: state.identity.id, nonce }));
  socket.on('message', (data: RawData) => {
    if (peer !== null) return receive(state, peer, data);
    const msg = decodeHandshake(counters, data);
    if (msg === undefined || msg.t !== 'hello' || typeof msg.dialer !== 'string' || typeof msg.nonce !== 'string' || typeof msg.sig !== 'string') return refuse(counters, socket, 'protocol');
    const candidate = state.peers.get(msg.dialer);
    if (candidate === undefined || dials(state, msg.dialer)) return refuse(counters, socket, 'unknown');
    if (tlsSocket !== null && !certificateIsMember(state.tls, tlsSocket, candidate.member)) return refuse(counters, socket, 'certificate');
    const signed = handshakeBytes('client', msg.dialer, state.identity.id, nonce, msg.nonce, binding);
    if (!verifyBytes(candidate.member.publicKey, signed, msg.sig)) return refuse(counters, socket, 'signature');
    clearTimeout(deadline);
    state.pending.delete(socket);
    const sig = signBytes(state.identity, handshakeBytes('server', msg.dialer, state.identity.id, nonce, msg.nonce, binding));
    socket.send(encodeFrame({ t: 'welcome', sig }));
    // A newer authenticated connection from the same peer replaces the old one (it restarted).
    candidate.socket?.terminate();
    peer = candidate;
    linkUp(state, candidate, socket);
  });
  socket.on('error', (error) => onSocketError(counters, error));
  socket.on('close', () => {
    clearTimeout(deadline);
    state.pending.delete(socket);
    if (peer !== null) linkDown(state, peer, socket);
  });
}

/** A listening failure as the user's situation, with what to do about it. */
export function listenError(listen: ListenAddress, error: NodeJS.ErrnoException): AcuError {
  const at = formatListen(listen);
  const elsewhere = 'pass --listen <host>:<port> with an address of this machine (0.0.0.0:<port> for every IPv4 interface); peers still dial the address in .acu/cluster.json';
  switch (error.code ?? '') {
    case 'EADDRINUSE':
      return new AcuError('ERR_NODE', `cannot listen on ${at}: the port is in use`, { hint: `stop what listens there (another sync node?), or ${elsewhere}`, cause: error });
    case 'EADDRNOTAVAIL':
      return new AcuError('ERR_CONFIG', `cannot listen on ${at}: no interface of this machine has that address`, { hint: elsewhere, cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new AcuError('ERR_CONFIG', `cannot listen on ${at}: the host name does not resolve`, { hint: elsewhere, cause: error });
    case 'EACCES':
      return new AcuError('ERR_CONFIG', `cannot listen on ${at}: not allowed (ports below 1024 need privileges)`, { hint: elsewhere, cause: error });
    default:
      return new AcuError('ERR_NODE', `cannot listen on ${at}: ${error.message}`, { hint: elsewhere, cause: error });
  }
}
