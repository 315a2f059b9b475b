/**
 * The dialing side of a link (the node with the smaller id dials): open the WebSocket, check the
 * acceptor's certificate by its pin (or, with an operator's PKI, let TLS check the chain and host),
 * answer its challenge and check its welcome (handshake.ts); when the link ends, dial again after
 * a jittered exponential backoff.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { signBytes, verifyBytes } from '../store/identity.js';
import { encodeFrame, handshakeFrameLimits } from './frame.js';
import { channelBindingOf, decodeHandshake, handshakeBytes, refuse } from './handshake.js';
import type { Peer, TransportState } from './peer.js';
import { linkDown, linkUp, onSocketError, receive } from './peer-link.js';
import { dialTlsOptions, peerPin } from './tls.js';

/** Dial a peer and authenticate it; on failure, try again later. */
export function dial(state: TransportState, peer: Peer): void {
  if (state.stopped || peer.removed) return;
  const { counters, limits } = state;
  const tls = state.tls;
  const socket = new WebSocket(peer.member.address, { maxPayload: handshakeFrameLimits.bytesMax, handshakeTimeout: limits.handshakeTimeoutMs, perMessageDeflate: false, ...dialTlsOptions(tls) });
  peer.socket = socket;
  const nonce = randomBytes(32).toString('hex');
  const deadline = setTimeout(() => refuse(counters, socket, 'timeout'), limits.handshakeTimeoutMs);
  let stage: 'challenge' | 'welcome' | 'open' = 'challenge';
  let acceptorNonce = '';
  let binding: string | null = tls === null ? '' : null;
  // ws emits 'upgrade' before 'open' and before any message, and lets a listener end the socket.
  socket.on('upgrade', (response: IncomingMessage) => {
    if (tls === null) return;
    const tlsSocket = response.socket as TLSSocket;
    if (tls.ca === null && peerPin(tlsSocket) !== peer.member.tlsPin) return refuse(counters, socket, 'certificate');
    binding = channelBindingOf(tlsSocket);
  });
  socket.on('message', (data: RawData) => {
    if (stage === 'open') return receive(state, peer, data);
    const msg = decodeHandshake(counters, data);
    if (msg === undefined || binding === null) return refuse(counters, socket, 'protocol');
    if (stage === 'challenge' && msg.t === 'challenge' && msg.acceptor === peer.member.id && typeof msg.nonce === 'string') {
      acceptorNonce = msg.nonce;
      const sig = signBytes(state.identity, handshakeBytes('client', state.identity.id, peer.member.id, acceptorNonce, nonce, binding));
      socket.send(encodeFrame({ t: 'hello', dialer: state.identity.id, nonce, sig }));
      stage = 'welcome';
    } else if (stage === 'welcome' && msg.t === 'welcome' && typeof msg.sig === 'string') {
      const signed = handshakeBytes('server', state.identity.id, peer.member.id, acceptorNonce, nonce, binding);
      if (!verifyBytes(peer.member.publicKey, signed, msg.sig)) return refuse(counters, socket, 'signature');
      clearTimeout(deadline);
      stage = 'open';
      linkUp(state, peer, socket);
    } else {
      refuse(counters, socket, 'protocol');
    }
  });
  socket.on('error', (error) => onSocketError(counters, error));
  socket.on('close', () => {
    clearTimeout(deadline);
    linkDown(state, peer, socket);
    scheduleDial(state, peer);
  });
}

/** Dial a peer again later, unless the transport stopped, the peer was removed or a dial is due. */
function scheduleDial(state: TransportState, peer: Peer): void {
  if (state.stopped || peer.removed || peer.timer !== null) return;
  const exponent = Math.min(peer.attempts, 16);
  const ceiling = Math.min(state.limits.reconnectMaxMs, state.limits.reconnectBaseMs * 2 ** exponent);
  // Full jitter: peers that lost each other at once do not all knock again at once.
  const delayMs = Math.floor(Math.random() * ceiling) + 1;
  peer.attempts += 1;
  state.counters.reconnects += 1;
  peer.timer = setTimeout(() => {
    peer.timer = null;
    dial(state, peer);
  }, delayMs);
}
