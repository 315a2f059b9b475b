/**
 * Half-open detection: every `pingIntervalMs` each authenticated link is pinged; one that sends no
 * pong within `pingTimeoutMs` is half-open (the peer vanished, or stopped reading): it is
 * terminated, counted, and the dialing side redials. The pongs also measure the link's round trip.
 */
import { WebSocket } from 'ws';
import type { Peer } from './peer.js';
import type { TransportCounters, TransportLimits } from './transport-types.js';

/** Start pinging a link that has just come up: at once, then every `pingIntervalMs`. */
export function startHeartbeat(peer: Peer, socket: WebSocket, limits: TransportLimits, counters: TransportCounters): void {
  socket.on('pong', () => {
    if (peer.socket !== socket || peer.pongDeadline === null) return;
    clearTimeout(peer.pongDeadline);
    peer.pongDeadline = null;
    peer.rttMs = performance.now() - peer.pingSentMs;
  });
  peer.heartbeat = setInterval(() => ping(peer, socket, limits, counters), limits.pingIntervalMs);
  // A first ping at once: the link's round trip is known from its first second, not after a ping interval.
  ping(peer, socket, limits, counters);
}

/** Ping a link unless a ping is still out; one unanswered past the timeout ends the link. */
function ping(peer: Peer, socket: WebSocket, limits: TransportLimits, counters: TransportCounters): void {
  if (peer.socket !== socket || peer.pongDeadline !== null || socket.readyState !== WebSocket.OPEN) return;
  socket.ping();
  peer.pingSentMs = performance.now();
  peer.pongDeadline = setTimeout(() => {
    peer.pongDeadline = null;
    if (peer.socket !== socket) return;
    // Half-open: the peer vanished without a close, or stopped reading. Terminating fires
    // 'close', which redials on the dialing side.
    counters.pingTimeouts += 1;
    socket.terminate();
  }, limits.pingTimeoutMs);
}

/** Stop a peer's pings and forget its round trip (its link ended, or the transport stops). */
export function stopHeartbeat(peer: Peer): void {
  if (peer.heartbeat !== null) clearInterval(peer.heartbeat);
  if (peer.pongDeadline !== null) clearTimeout(peer.pongDeadline);
  peer.heartbeat = null;
  peer.pongDeadline = null;
  peer.rttMs = null;
}
