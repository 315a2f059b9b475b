/**
 * The peer transport: authenticated WebSocket connections between the sync nodes of one cluster.
 * This file is its face to the node (start, stop, send, broadcast, membership changes, stats);
 * each part of the work has a file of its own:
 *
 * - One connection per pair: the node with the smaller id dials (dialer.ts, which also redials
 *   with jittered exponential backoff), the other accepts (listener.ts). The state they share,
 *   each peer with its link and queue, is in peer.ts.
 * - TLS 1.3 only (`wss://`, see link.ts), both sides presenting certificates: each checks the
 *   other's by its pin in the cluster document (SHA-256 of its SubjectPublicKeyInfo), or, with an
 *   operator's PKI, by chain verification against the CA and the member's host (tls.ts). A
 *   certificate that fits no member ends the connection and is counted. Plain `ws://` where
 *   link.ts allows it.
 * - Mutual challenge-response authentication against the cluster document, bound to the TLS
 *   session (handshake.ts): a replayed hello fails (the acceptor's nonce is new each time), and so
 *   does a hello relayed from another TLS session (its keying material differs). An unknown key, a
 *   forged signature or a silent peer closes the connection and is counted.
 * - Until a socket has authenticated, its frames are tiny and cheap: ws refuses any over
 *   `handshakeFrameLimits.bytesMax` before buffering it, and they decode under a budget of a few
 *   values; anything else ends the connection. Only then is the limit raised to `frameBytesMax`
 *   (peer-link.ts).
 * - Messages up to `messageBytesMax`: one larger than a frame goes as fragments (see fragment.ts),
 *   reassembled per connection under `reassemblyBytesMax` and `partialMessagesMax`.
 * - Bounded sending (send-queue.ts): per peer, at most `socketBufferBytesMax` handed to the socket
 *   and `queueBytesMax` / `queueFramesMax` in the queue; beyond that the oldest whole messages not
 *   yet started are dropped and counted, rather than the link closed.
 * - Pings (heartbeat.ts): a link that sends no pong within `pingTimeoutMs` is half-open: it is
 *   terminated, counted, and the dialing side redials.
 * - A peer's bytes never crash the node: frames go through `decodeFrame` and the reassembler,
 *   which never throw (peer-link.ts).
 *
 * Limits, counters and events, the transport's contract with its node, are in transport-types.ts.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { assert } from '../core/errors.js';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { dial } from './dialer.js';
import { encodeFrame, handshakeFrameLimits, messageBytesMax } from './frame.js';
import { stopHeartbeat } from './heartbeat.js';
import type { LinkSecurity, ListenAddress, TransportTls } from './link.js';
import { formatListen } from './link.js';
import { accept, createListener, listenError } from './listener.js';
import { dials, newPeer, sameLink } from './peer.js';
import type { Peer, TransportState } from './peer.js';
import { linkDown } from './peer-link.js';
import { enqueue, unqueue } from './send-queue.js';
import type { PeerLinkStats, SendOutcome, TransportCounters, TransportEvents, TransportLimits } from './transport-types.js';
import { defaultTransportLimits } from './transport-types.js';

/** Options of a {@link WsTransport}. */
export interface TransportOptions {
  readonly identity: NodeIdentity;
  readonly members: readonly ClusterMember[];
  /** Host and port to listen on (port 0: any free port). */
  readonly listen: ListenAddress;
  /** TLS (the members' addresses are `wss://`), or null/absent for plain `ws://`. */
  readonly tls?: TransportTls | null;
  /** How the links are secured, for status; default: derived from `tls`. */
  readonly security?: LinkSecurity;
  readonly events: TransportEvents;
  readonly limits?: Partial<TransportLimits>;
}

/** Authenticated WebSocket links to every other member of the cluster. */
export class WsTransport {
  readonly counters: TransportCounters = {
    framesIn: 0, framesOut: 0, framesRefused: 0, framesDropped: 0, messagesIn: 0, messagesOut: 0, messagesDropped: 0,
    messagesOversized: 0, fragmentsRefused: 0, reassemblyEvictions: 0, pingTimeouts: 0, authRefusedUnknownPeer: 0,
    authRefusedBadSignature: 0, authRefusedProtocol: 0, authRefusedCertificate: 0, authTimeouts: 0, reconnects: 0,
  };
  /** How the links are secured, for `acu status`. */
  readonly links: LinkSecurity;
  /** What the listener, the dialer and the links share (peer.ts). */
  private readonly state: TransportState;
  private server: WebSocketServer | null = null;
  private http: HttpServer | null = null;

  constructor(private readonly options: TransportOptions) {
    const tls = options.tls ?? null;
    this.state = {
      identity: options.identity, members: options.members, stopped: false, tls, limits: { ...defaultTransportLimits, ...options.limits },
      counters: this.counters, events: options.events, peers: new Map<string, Peer>(), pending: new Set(),
    };
    this.links = options.security ?? { scheme: tls === null ? 'ws' : 'wss', verify: tls === null ? 'none' : tls.ca === null ? 'pinned' : 'ca', insecure: false, listen: formatListen(options.listen) };
    for (const member of options.members) {
      if (member.id === options.identity.id) continue;
      this.state.peers.set(member.id, newPeer(member));
    }
    assert(options.members.some((m) => m.id === options.identity.id), 'WsTransport: this node is a member');
    assert(options.members.every((m) => m.address.startsWith(tls === null ? 'ws:' : 'wss:')), 'WsTransport: addresses of the links\' scheme');
    assert(tls === null || tls.ca !== null || options.members.every((m) => m.tlsPin !== undefined), 'WsTransport: pinned TLS needs every member\'s pin');
    const l = this.state.limits;
    // A queue smaller than the largest message is allowed (tests use one): a message that cannot
    // fit even an empty queue is dropped and counted.
    assert(l.queueBytesMax > 0 && l.queueFramesMax > 0, 'WsTransport: a queue with room');
    assert(l.socketBufferBytesMax > 0, 'WsTransport: a positive socket buffer');
    assert(l.reassemblyBytesMax >= messageBytesMax && l.partialMessagesMax >= 1, 'WsTransport: room to reassemble one largest message');
    assert(l.pingIntervalMs > 0 && l.pingTimeoutMs > 0, 'WsTransport: positive ping limits');
  }

  /**
   * Listen, and dial every peer this node dials. Resolves with the port listened on. An address
   * that cannot be listened on (in use, not this machine's, unresolvable) is an AcuError.
   */
  async start(): Promise<number> {
    const http = createListener(this.state);
    this.http = http;
    // Sockets start with the handshake's frame limit; `linkUp` raises it once the peer is authenticated.
    const server = new WebSocketServer({ server: http, maxPayload: handshakeFrameLimits.bytesMax, perMessageDeflate: false });
    this.server = server;
    server.on('connection', (socket, request) => accept(this.state, socket, request));
    // ws re-emits the listener's errors; listening errors are handled below, later ones end sockets.
    server.on('error', () => undefined);
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => reject(listenError(this.options.listen, error));
      http.once('error', onError);
      http.listen(port, host, () => {
        http.off('error', onError);
        resolve();
      });
    });
    for (const peer of this.state.peers.values()) if (dials(this.state, peer.member.id)) dial(this.state, peer);
    return (http.address() as AddressInfo).port;
  }

  /** Close every connection and stop listening. */
  async stop(): Promise<void> {
    this.state.stopped = true;
    for (const peer of this.state.peers.values()) {
      if (peer.timer !== null) clearTimeout(peer.timer);
      stopHeartbeat(peer);
      peer.socket?.terminate();
    }
    for (const socket of this.state.pending) socket.terminate();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    const http = this.http;
    if (http !== null) {
      // Connections still in a TLS or HTTP handshake would hold the close up until they time out.
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  }

  /**
   * Queue a value (plain data, encoding to at most `messageBytesMax`) for a peer. A value over
   * that is not sent ('oversized', counted); older unsent messages may be dropped to make room.
   */
  send(to: string, value: unknown): SendOutcome {
    const peer = this.state.peers.get(to);
    // A member removed by a membership change may still be named by work already under way.
    if (peer === undefined) return 'dropped';
    return enqueue(peer, encodeFrame(value), this.state.limits, this.counters);
  }

  /** Queue a value for every peer (encoded once). */
  broadcast(value: unknown): void {
    const encoded = encodeFrame(value);
    for (const peer of this.state.peers.values()) enqueue(peer, encoded, this.state.limits, this.counters);
  }

  /**
   * Change who the links go to, without a restart (a membership change took effect). Links to
   * members no longer listed end, their queues dropped; members added are dialed (where this node
   * dials) or accepted; a member whose address, key or pin changed is linked afresh. `identity`
   * is this node's identity under the new membership: when it changed (a rotated key), every link
   * is made again. A node that is not among `members` (it was removed) keeps no links, and keeps
   * listening.
   */
  setMembers(identity: NodeIdentity, members: readonly ClusterMember[]): void {
    const state = this.state;
    assert(members.every((m) => m.address.startsWith(state.tls === null ? 'ws:' : 'wss:')), 'setMembers: addresses of the links\' scheme');
    assert(state.tls === null || state.tls.ca !== null || members.every((m) => m.tlsPin !== undefined), 'setMembers: pinned TLS needs every member\'s pin');
    const identityChanged = identity.id !== state.identity.id;
    state.identity = identity;
    state.members = members;
    const isMember = members.some((m) => m.id === identity.id);
    const wanted = new Map(isMember ? members.filter((m) => m.id !== identity.id).map((m) => [m.id, m]) : []);
    for (const [id, peer] of state.peers) {
      const next = wanted.get(id);
      if (!identityChanged && next !== undefined && sameLink(peer.member, next)) continue;
      this.removePeer(peer);
    }
    for (const [id, member] of wanted) {
      if (state.peers.has(id)) continue;
      const peer = newPeer(member);
      state.peers.set(id, peer);
      if (this.http !== null && !state.stopped && dials(state, id)) dial(state, peer);
    }
    assert([...state.peers.keys()].every((id) => wanted.has(id)), 'setMembers: only members are peers');
  }

  private removePeer(peer: Peer): void {
    this.state.peers.delete(peer.member.id);
    peer.removed = true;
    if (peer.timer !== null) clearTimeout(peer.timer);
    peer.timer = null;
    const socket = peer.socket;
    // linkDown() first: it tells the node the link is gone, and the socket's own close finds nothing.
    if (socket !== null) linkDown(this.state, peer, socket);
    socket?.terminate();
    // What waits for a non-member goes nowhere.
    unqueue(peer, peer.queue.flatMap((item) => item.frames.slice(item.sent)));
    peer.queue = [];
  }

  /** Bytes waiting to go to a peer: in the transport's queue plus those handed to its socket. */
  sendBufferBytes(to: string): number {
    const peer = this.state.peers.get(to);
    assert(peer !== undefined, `sendBufferBytes: ${to} is not a peer`);
    return peer.queuedBytes + (peer.socket?.bufferedAmount ?? 0);
  }

  /** Each member's link: up or not, round trip, and what waits to be sent (for metrics). */
  linkStats(): PeerLinkStats[] {
    return [...this.state.peers.values()].map((peer) => ({
      peer: peer.member.id,
      connected: peer.ready,
      rttSeconds: peer.ready && peer.rttMs !== null ? peer.rttMs / 1000 : null,
      queuedFrames: peer.queuedFrames,
      queuedBytes: peer.queuedBytes,
      socketBufferedBytes: peer.socket?.bufferedAmount ?? 0,
    }));
  }

  /** Peers with an authenticated connection. */
  connectedPeers(): string[] {
    return [...this.state.peers.values()].filter((p) => p.ready).map((p) => p.member.id).sort();
  }
}
