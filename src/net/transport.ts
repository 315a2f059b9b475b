/**
 * The peer transport: authenticated WebSocket connections between the sync nodes of one cluster.
 *
 * - One connection per pair: the node with the smaller id dials, the other accepts.
 * - TLS 1.3 only (`wss://`, see link.ts), both sides presenting certificates: each checks the
 *   other's by its pin in the cluster document (SHA-256 of its SubjectPublicKeyInfo), or, with an
 *   operator's PKI, by chain verification against the CA and the member's host. A certificate
 *   that fits no member ends the connection and is counted. Plain `ws://` where link.ts allows it.
 * - Mutual challenge-response authentication against the cluster document: the acceptor sends a
 *   fresh nonce; the dialer answers with its id, a nonce of its own and a signature over both
 *   nonces, both ids and the TLS session's exported keying material (RFC 5705/8446, see
 *   handshake.ts); the acceptor checks it with the member's key and signs the same facts back.
 *   A replayed hello fails (the acceptor's nonce is new each time), and so does a hello relayed
 *   from another TLS session (its keying material differs): a member cannot splice an honest
 *   node's handshake into a session of its own. An unknown key, a forged signature or a silent
 *   peer closes the connection and is counted.
 * - Until a socket has authenticated, its frames are tiny and cheap: ws refuses any over
 *   `handshakeFrameLimits.bytesMax` before buffering it, and they decode under a budget of a few
 *   values; anything else ends the connection. Only then is the limit raised to `frameBytesMax`.
 * - Messages up to `messageBytesMax`: one larger than a frame goes as fragments (see fragment.ts),
 *   reassembled per connection under `reassemblyBytesMax` and `partialMessagesMax`.
 * - Bounded sending: per peer, at most `socketBufferBytesMax` is handed to the socket (ws's
 *   `bufferedAmount`) before the transport waits for the kernel to take it, and at most
 *   `queueBytesMax` / `queueFramesMax` wait in the transport's queue. Beyond that, the oldest
 *   whole messages not yet started are dropped and counted. Dropping rather than closing: the
 *   consensus tolerates loss and retransmits on its own timeouts, and a peer that is only slow
 *   for a while keeps its link and the messages it can still take; a peer that reads nothing at
 *   all stops answering pings too, and the ping timeout below closes its link.
 * - Pings: every `pingIntervalMs` each link is pinged; one that sends no pong within
 *   `pingTimeoutMs` is half-open (the peer vanished, or stopped reading): it is terminated,
 *   counted, and the dialing side redials.
 * - Reconnects with jittered exponential backoff.
 * - A peer's bytes never crash the node: frames go through `decodeFrame` and the reassembler,
 *   which never throw.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { AcuError, assert, assertNever } from '../core/errors.js';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { signBytes, verifyBytes } from '../store/identity.js';
import type { FrameLimits } from './frame.js';
import { decodeFrame, encodeFrame, frameBytesMax, frameLimits, handshakeFrameLimits, messageBytesMax, messageLimits } from './frame.js';
import { Reassembler, fragmentsOf, isFragment } from './fragment.js';
import { channelBindingOf, handshakeBytes } from './handshake.js';
import type { LinkSecurity, ListenAddress, TransportTls } from './link.js';
import { formatListen } from './link.js';
import { certificateIsMember, dialTlsOptions, peerPin, serverTlsOptions, tlsRefusalCode } from './tls.js';
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

/** A peer with no link yet. */
function newPeer(member: ClusterMember): Peer {
  return {
    member, socket: null, ready: false, queue: [], queuedFrames: 0, queuedBytes: 0, nextMessageId: 0,
    reassembler: null, heartbeat: null, pongDeadline: null, attempts: 0, timer: null, removed: false, pingSentMs: 0, rttMs: null,
  };
}

/** A message waiting to be sent: its frames, and how many have been written. */
interface Outgoing {
  readonly frames: readonly Uint8Array[];
  sent: number;
}

interface Peer {
  readonly member: ClusterMember;
  socket: WebSocket | null;
  ready: boolean;
  queue: Outgoing[];
  /** Frames and bytes in `queue` not yet written. */
  queuedFrames: number;
  queuedBytes: number;
  nextMessageId: number;
  /** The current link's unfinished incoming messages (a new one per link). */
  reassembler: Reassembler | null;
  heartbeat: NodeJS.Timeout | null;
  pongDeadline: NodeJS.Timeout | null;
  attempts: number;
  timer: NodeJS.Timeout | null;
  /** No longer a member (setMembers): never dialed again; its late socket events are ignored. */
  removed: boolean;
  /** When the ping in flight was sent (`performance.now()`), and the last round trip measured (null: none yet on this link). */
  pingSentMs: number;
  rttMs: number | null;
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
  private readonly limits: TransportLimits;
  private readonly peers = new Map<string, Peer>();
  private readonly tls: TransportTls | null;
  private server: WebSocketServer | null = null;
  private http: HttpServer | null = null;
  /** Accepted sockets not yet authenticated (ended on stop: the listener's close waits for them). */
  private readonly pending = new Set<WebSocket>();
  private stopped = false;
  /** This node's identity and the members, as of the last {@link setMembers}. */
  private identity: NodeIdentity;
  private members: readonly ClusterMember[];

  constructor(private readonly options: TransportOptions) {
    this.identity = options.identity;
    this.members = options.members;
    this.limits = { ...defaultTransportLimits, ...options.limits };
    this.tls = options.tls ?? null;
    this.links = options.security ?? { scheme: this.tls === null ? 'ws' : 'wss', verify: this.tls === null ? 'none' : this.tls.ca === null ? 'pinned' : 'ca', insecure: false, listen: formatListen(options.listen) };
    for (const member of options.members) {
      if (member.id === options.identity.id) continue;
      this.peers.set(member.id, newPeer(member));
    }
    assert(options.members.some((m) => m.id === options.identity.id), 'WsTransport: this node is a member');
    assert(options.members.every((m) => m.address.startsWith(this.tls === null ? 'ws:' : 'wss:')), 'WsTransport: addresses of the links\' scheme');
    assert(this.tls === null || this.tls.ca !== null || options.members.every((m) => m.tlsPin !== undefined), 'WsTransport: pinned TLS needs every member\'s pin');
    const l = this.limits;
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
    const http = this.createListener();
    this.http = http;
    // Sockets start with the handshake's frame limit; `up` raises it once the peer is authenticated.
    const server = new WebSocketServer({ server: http, maxPayload: handshakeFrameLimits.bytesMax, perMessageDeflate: false });
    this.server = server;
    server.on('connection', (socket, request) => this.accept(socket, request));
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
    for (const peer of this.peers.values()) if (this.dials(peer.member.id)) this.dial(peer);
    return (http.address() as AddressInfo).port;
  }

  /** The HTTP(S) listener the WebSocket server upgrades from: TLS 1.3 only, client certificates required. */
  private createListener(): HttpServer {
    const tls = this.tls;
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
      this.counters.authRefusedCertificate += 1;
    });
    // Pinned links: a certificate that is no member's is refused before a byte of WebSocket is read.
    if (tls.ca === null) {
      // The members as of now, not as of the listen: a membership change (setMembers) adds pins.
      http.on('secureConnection', (socket: TLSSocket) => {
        const pin = peerPin(socket);
        if (pin !== null && this.members.some((m) => m.tlsPin === pin)) return;
        this.counters.authRefusedCertificate += 1;
        socket.destroy();
      });
    }
    return http;
  }

  /** Close every connection and stop listening. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const peer of this.peers.values()) {
      if (peer.timer !== null) clearTimeout(peer.timer);
      this.stopHeartbeat(peer);
      peer.socket?.terminate();
    }
    for (const socket of this.pending) socket.terminate();
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
    const peer = this.peers.get(to);
    // A member removed by a membership change may still be named by work already under way.
    if (peer === undefined) return 'dropped';
    return this.enqueue(peer, encodeFrame(value));
  }

  /** Queue a value for every peer (encoded once). */
  broadcast(value: unknown): void {
    const encoded = encodeFrame(value);
    for (const peer of this.peers.values()) this.enqueue(peer, encoded);
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
    assert(members.every((m) => m.address.startsWith(this.tls === null ? 'ws:' : 'wss:')), 'setMembers: addresses of the links\' scheme');
    assert(this.tls === null || this.tls.ca !== null || members.every((m) => m.tlsPin !== undefined), 'setMembers: pinned TLS needs every member\'s pin');
    const identityChanged = identity.id !== this.identity.id;
    this.identity = identity;
    this.members = members;
    const isMember = members.some((m) => m.id === identity.id);
    const wanted = new Map(isMember ? members.filter((m) => m.id !== identity.id).map((m) => [m.id, m]) : []);
    for (const [id, peer] of this.peers) {
      const next = wanted.get(id);
      if (!identityChanged && next !== undefined && sameLink(peer.member, next)) continue;
      this.removePeer(peer);
    }
    for (const [id, member] of wanted) {
      if (this.peers.has(id)) continue;
      const peer = newPeer(member);
      this.peers.set(id, peer);
      if (this.http !== null && !this.stopped && this.dials(id)) this.dial(peer);
    }
    assert([...this.peers.keys()].every((id) => wanted.has(id)), 'setMembers: only members are peers');
  }

  private removePeer(peer: Peer): void {
    this.peers.delete(peer.member.id);
    peer.removed = true;
    if (peer.timer !== null) clearTimeout(peer.timer);
    peer.timer = null;
    const socket = peer.socket;
    // down() first: it tells the node the link is gone, and the socket's own close finds nothing.
    if (socket !== null) this.down(peer, socket);
    socket?.terminate();
    // What waits for a non-member goes nowhere.
    this.unqueue(peer, peer.queue.flatMap((item) => item.frames.slice(item.sent)));
    peer.queue = [];
  }

  /** Bytes waiting to go to a peer: in the transport's queue plus those handed to its socket. */
  sendBufferBytes(to: string): number {
    const peer = this.peers.get(to);
    assert(peer !== undefined, `sendBufferBytes: ${to} is not a peer`);
    return peer.queuedBytes + (peer.socket?.bufferedAmount ?? 0);
  }

  /** Each member's link: up or not, round trip, and what waits to be sent (for metrics). */
  linkStats(): PeerLinkStats[] {
    return [...this.peers.values()].map((peer) => ({
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
    return [...this.peers.values()].filter((p) => p.ready).map((p) => p.member.id).sort();
  }

  private dials(peerId: string): boolean {
    return this.identity.id < peerId;
  }

  private enqueue(peer: Peer, encoded: Uint8Array): SendOutcome {
    if (encoded.length > messageBytesMax) {
      this.counters.messagesOversized += 1;
      return 'oversized';
    }
    const frames = encoded.length <= frameBytesMax ? [encoded] : fragmentsOf(this.nextId(peer), encoded);
    const bytes = frames.reduce((sum, f) => sum + f.length, 0);
    let droppedOlder = false;
    while (peer.queuedBytes + bytes > this.limits.queueBytesMax || peer.queuedFrames + frames.length > this.limits.queueFramesMax) {
      // Oldest first, whole messages only, and never one already started: its receiver would be
      // left holding a partial message.
      const at = peer.queue[0]?.sent === 0 ? 0 : 1;
      if (at >= peer.queue.length) {
        this.countDropped(frames.length);
        return 'dropped';
      }
      const [victim] = peer.queue.splice(at, 1);
      this.unqueue(peer, victim!.frames);
      this.countDropped(victim!.frames.length);
      droppedOlder = true;
    }
    peer.queue.push({ frames, sent: 0 });
    peer.queuedFrames += frames.length;
    peer.queuedBytes += bytes;
    this.flush(peer);
    return droppedOlder ? 'queued-dropped-older' : 'queued';
  }

  private nextId(peer: Peer): number {
    const id = peer.nextMessageId;
    peer.nextMessageId = (id + 1) >>> 0;
    return id;
  }

  private unqueue(peer: Peer, frames: readonly Uint8Array[]): void {
    peer.queuedFrames -= frames.length;
    peer.queuedBytes -= frames.reduce((sum, f) => sum + f.length, 0);
    assert(peer.queuedFrames >= 0 && peer.queuedBytes >= 0, 'unqueue: queue sizes never negative');
  }

  private countDropped(frames: number): void {
    this.counters.framesDropped += frames;
    this.counters.messagesDropped += 1;
  }

  /** Write queued frames while the socket holds less than its bound; the kernel taking one writes more. */
  private flush(peer: Peer): void {
    const socket = peer.socket;
    if (!peer.ready || socket === null || socket.readyState !== WebSocket.OPEN) return;
    while (peer.queue.length > 0 && socket.bufferedAmount < this.limits.socketBufferBytesMax) {
      const head = peer.queue[0]!;
      const frame = head.frames[head.sent]!;
      head.sent += 1;
      this.unqueue(peer, [frame]);
      if (head.sent === head.frames.length) {
        peer.queue.shift();
        this.counters.messagesOut += 1;
      }
      this.counters.framesOut += 1;
      socket.send(frame, (error) => {
        if (error === undefined || error === null) this.flush(peer);
      });
    }
  }

  /** Dial a peer and authenticate it; on failure, try again later. */
  private dial(peer: Peer): void {
    if (this.stopped || peer.removed) return;
    const tls = this.tls;
    const socket = new WebSocket(peer.member.address, { maxPayload: handshakeFrameLimits.bytesMax, handshakeTimeout: this.limits.handshakeTimeoutMs, perMessageDeflate: false, ...dialTlsOptions(tls) });
    peer.socket = socket;
    const nonce = randomBytes(32).toString('hex');
    const deadline = setTimeout(() => this.refuse(socket, 'timeout'), this.limits.handshakeTimeoutMs);
    let stage: 'challenge' | 'welcome' | 'open' = 'challenge';
    let acceptorNonce = '';
    let binding: string | null = tls === null ? '' : null;
    // ws emits 'upgrade' before 'open' and before any message, and lets a listener end the socket.
    socket.on('upgrade', (response: IncomingMessage) => {
      if (tls === null) return;
      const tlsSocket = response.socket as TLSSocket;
      if (tls.ca === null && peerPin(tlsSocket) !== peer.member.tlsPin) return this.refuse(socket, 'certificate');
      binding = channelBindingOf(tlsSocket);
    });
    socket.on('message', (data: RawData) => {
      if (stage === 'open') return this.receive(peer, data);
      const msg = this.decodeHandshake(data);
      if (msg === undefined || binding === null) return this.refuse(socket, 'protocol');
      if (stage === 'challenge' && msg.t === 'challenge' && msg.acceptor === peer.member.id && typeof msg.nonce === 'string') {
        acceptorNonce = msg.nonce;
        const sig = signBytes(this.identity, handshakeBytes('client', this.identity.id, peer.member.id, acceptorNonce, nonce, binding));
        socket.send(encodeFrame({ t: 'hello', dialer: this.identity.id, nonce, sig }));
        stage = 'welcome';
      } else if (stage === 'welcome' && msg.t === 'welcome' && typeof msg.sig === 'string') {
        const signed = handshakeBytes('server', this.identity.id, peer.member.id, acceptorNonce, nonce, binding);
        if (!verifyBytes(peer.member.publicKey, signed, msg.sig)) return this.refuse(socket, 'signature');
        clearTimeout(deadline);
        stage = 'open';
        this.up(peer, socket);
      } else {
        this.refuse(socket, 'protocol');
      }
    });
    socket.on('error', (error) => this.onSocketError(error));
    socket.on('close', () => {
      clearTimeout(deadline);
      this.down(peer, socket);
      this.scheduleDial(peer);
    });
  }

  private scheduleDial(peer: Peer): void {
    if (this.stopped || peer.removed || peer.timer !== null) return;
    const exponent = Math.min(peer.attempts, 16);
    const ceiling = Math.min(this.limits.reconnectMaxMs, this.limits.reconnectBaseMs * 2 ** exponent);
    // Full jitter: peers that lost each other at once do not all knock again at once.
    const delayMs = Math.floor(Math.random() * ceiling) + 1;
    peer.attempts += 1;
    this.counters.reconnects += 1;
    peer.timer = setTimeout(() => {
      peer.timer = null;
      this.dial(peer);
    }, delayMs);
  }

  /**
   * An incoming connection: challenge it, and accept it only from a member that proves its key,
   * over a TLS session whose certificate is that member's.
   */
  private accept(socket: WebSocket, request: IncomingMessage): void {
    if (this.stopped) {
      socket.terminate();
      return;
    }
    const tlsSocket = this.tls === null ? null : (request.socket as TLSSocket);
    const binding = channelBindingOf(tlsSocket);
    const nonce = randomBytes(32).toString('hex');
    const deadline = setTimeout(() => this.refuse(socket, 'timeout'), this.limits.handshakeTimeoutMs);
    let peer: Peer | null = null;
    this.pending.add(socket);
    socket.send(encodeFrame({ t: 'challenge', acceptor: this.identity.id, nonce }));
    socket.on('message', (data: RawData) => {
      if (peer !== null) return this.receive(peer, data);
      const msg = this.decodeHandshake(data);
      if (msg === undefined || msg.t !== 'hello' || typeof msg.dialer !== 'string' || typeof msg.nonce !== 'string' || typeof msg.sig !== 'string') return this.refuse(socket, 'protocol');
      const candidate = this.peers.get(msg.dialer);
      if (candidate === undefined || this.dials(msg.dialer)) return this.refuse(socket, 'unknown');
      if (tlsSocket !== null && !certificateIsMember(this.tls, tlsSocket, candidate.member)) return this.refuse(socket, 'certificate');
      const signed = handshakeBytes('client', msg.dialer, this.identity.id, nonce, msg.nonce, binding);
      if (!verifyBytes(candidate.member.publicKey, signed, msg.sig)) return this.refuse(socket, 'signature');
      clearTimeout(deadline);
      this.pending.delete(socket);
      const sig = signBytes(this.identity, handshakeBytes('server', msg.dialer, this.identity.id, nonce, msg.nonce, binding));
      socket.send(encodeFrame({ t: 'welcome', sig }));
      // A newer authenticated connection from the same peer replaces the old one (it restarted).
      candidate.socket?.terminate();
      peer = candidate;
      this.up(candidate, socket);
    });
    socket.on('error', (error) => this.onSocketError(error));
    socket.on('close', () => {
      clearTimeout(deadline);
      this.pending.delete(socket);
      if (peer !== null) this.down(peer, socket);
    });
  }

  /** A handshake frame, decoded under the handshake's tiny limits; undefined (counted) if refused. */
  private decodeHandshake(data: RawData): Record<string, unknown> | undefined {
    return this.decode(bytesOf(data), handshakeFrameLimits) as Record<string, unknown> | undefined;
  }

  private decode(bytes: Uint8Array, limits: FrameLimits): object | undefined {
    const frame = decodeFrame(bytes, limits);
    if (!frame.ok || typeof frame.value !== 'object' || frame.value === null) {
      this.counters.framesRefused += 1;
      return undefined;
    }
    return frame.value;
  }

  /** A frame on an authenticated link: a whole message, or a fragment of one. */
  private receive(peer: Peer, data: RawData): void {
    const bytes = bytesOf(data);
    if (!isFragment(bytes)) {
      const value = this.decode(bytes, frameLimits);
      if (value === undefined) return;
      this.counters.framesIn += 1;
      return this.deliver(peer, value);
    }
    const reassembler = peer.reassembler;
    assert(reassembler !== null, 'receive: an authenticated link has a reassembler');
    const evictionsBefore = reassembler.evictions;
    const outcome = reassembler.accept(bytes);
    this.counters.reassemblyEvictions += reassembler.evictions - evictionsBefore;
    switch (outcome.kind) {
      case 'refused':
        this.counters.fragmentsRefused += 1;
        return;
      case 'partial':
        this.counters.framesIn += 1;
        return;
      case 'complete': {
        this.counters.framesIn += 1;
        const value = this.decode(outcome.message, messageLimits);
        if (value !== undefined) this.deliver(peer, value);
        return;
      }
      default:
        assertNever(outcome, 'fragment outcome');
    }
  }

  /**
   * Socket errors end the connection (and a redial); an oversized frame is also counted, and so is
   * a TLS handshake our side refused (the peer's certificate is not the CA's, or names another host).
   */
  private onSocketError(error: Error): void {
    const code = (error as { code?: string }).code ?? '';
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.counters.framesRefused += 1;
    else if (tlsRefusalCode.test(code)) this.counters.authRefusedCertificate += 1;
  }

  private deliver(peer: Peer, value: unknown): void {
    this.counters.messagesIn += 1;
    this.options.events.onMessage(peer.member.id, value);
  }

  private refuse(socket: WebSocket, why: 'timeout' | 'signature' | 'unknown' | 'protocol' | 'certificate'): void {
    switch (why) {
      case 'timeout':
        this.counters.authTimeouts += 1;
        break;
      case 'signature':
        this.counters.authRefusedBadSignature += 1;
        break;
      case 'unknown':
        this.counters.authRefusedUnknownPeer += 1;
        break;
      case 'protocol':
        this.counters.authRefusedProtocol += 1;
        break;
      case 'certificate':
        this.counters.authRefusedCertificate += 1;
        break;
      default:
        assertNever(why, 'refusal');
    }
    socket.terminate();
  }

  private up(peer: Peer, socket: WebSocket): void {
    this.resetLink(peer);
    raiseMaxPayload(socket, frameBytesMax);
    peer.socket = socket;
    peer.ready = true;
    peer.attempts = 0;
    peer.reassembler = new Reassembler(this.limits);
    socket.on('pong', () => {
      if (peer.socket !== socket || peer.pongDeadline === null) return;
      clearTimeout(peer.pongDeadline);
      peer.pongDeadline = null;
      peer.rttMs = performance.now() - peer.pingSentMs;
    });
    peer.heartbeat = setInterval(() => this.ping(peer, socket), this.limits.pingIntervalMs);
    // A first ping at once: the link's round trip is known from its first second, not after a ping interval.
    this.ping(peer, socket);
    this.options.events.onPeerUp?.(peer.member.id);
    this.flush(peer);
  }

  /** Ping a link unless a ping is still out; one unanswered past the timeout ends the link. */
  private ping(peer: Peer, socket: WebSocket): void {
    if (peer.socket !== socket || peer.pongDeadline !== null || socket.readyState !== WebSocket.OPEN) return;
    socket.ping();
    peer.pingSentMs = performance.now();
    peer.pongDeadline = setTimeout(() => {
      peer.pongDeadline = null;
      if (peer.socket !== socket) return;
      // Half-open: the peer vanished without a close, or stopped reading. Terminating fires
      // 'close', which redials on the dialing side.
      this.counters.pingTimeouts += 1;
      socket.terminate();
    }, this.limits.pingTimeoutMs);
  }

  private stopHeartbeat(peer: Peer): void {
    if (peer.heartbeat !== null) clearInterval(peer.heartbeat);
    if (peer.pongDeadline !== null) clearTimeout(peer.pongDeadline);
    peer.heartbeat = null;
    peer.pongDeadline = null;
    peer.rttMs = null;
  }

  /**
   * Forget what belonged to the link that ended: its timers, its unfinished incoming messages, and
   * an outgoing message it was in the middle of (its receiver lost the first fragments with the
   * link; the node offers what matters again when the peer is back).
   */
  private resetLink(peer: Peer): void {
    this.stopHeartbeat(peer);
    peer.reassembler = null;
    const head = peer.queue[0];
    if (head !== undefined && head.sent > 0) {
      peer.queue.shift();
      this.unqueue(peer, head.frames.slice(head.sent));
      this.countDropped(head.frames.length - head.sent);
    }
  }

  private down(peer: Peer, socket: WebSocket): void {
    if (peer.socket !== socket) return;
    const wasReady = peer.ready;
    this.resetLink(peer);
    peer.ready = false;
    peer.socket = null;
    if (wasReady) this.options.events.onPeerDown?.(peer.member.id);
  }
}

/** Whether a member's entry still describes the same link: same key, address and pin. */
function sameLink(a: ClusterMember, b: ClusterMember): boolean {
  return a.publicKey === b.publicKey && a.address === b.address && a.tlsPin === b.tlsPin;
}

/** A listening failure as the user's situation, with what to do about it. */
function listenError(listen: ListenAddress, error: NodeJS.ErrnoException): AcuError {
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

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/**
 * Raise a socket's largest accepted message once its peer is authenticated. ws takes the limit
 * only when a socket is made, and its receiver keeps it in `_maxPayload`; this is the one place
 * that reaches inside ws (8.x), and it asserts the field is there so an upgrade that moves it
 * fails loudly here rather than leaving every link at the handshake's limit.
 */
function raiseMaxPayload(socket: WebSocket, bytes: number): void {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  assert(receiver !== undefined && typeof receiver._maxPayload === 'number', 'raiseMaxPayload: ws keeps the limit in _receiver._maxPayload');
  assert(receiver._maxPayload <= bytes, 'raiseMaxPayload: the limit only grows');
  receiver._maxPayload = bytes;
}
