/**
 * The peer transport: authenticated WebSocket connections between the sync nodes of one cluster.
 *
 * - One connection per pair: the node with the smaller id dials, the other accepts.
 * - Mutual challenge-response authentication against the cluster document: the acceptor sends a
 *   fresh nonce; the dialer answers with its id, a nonce of its own and a signature over both
 *   nonces and both ids; the acceptor checks it with the member's key and signs the same facts
 *   back. A replayed hello fails (the acceptor's nonce is new each time); an unknown key, a forged
 *   signature or a silent peer closes the connection and is counted.
 * - Bounded per-peer queues: when a peer is slow or away, the oldest frames are dropped and
 *   counted (the consensus tolerates loss and retransmits on its own timeouts), so one bad peer
 *   never grows a node's memory.
 * - Reconnects with jittered exponential backoff.
 * - A peer's bytes never crash the node: frames go through `decodeFrame`, which never throws.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { canonicalBytes } from '../core/acu/canonical.js';
import { assert } from '../core/errors.js';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { signBytes, verifyBytes } from '../store/identity.js';
import { decodeFrame, encodeFrame, frameBytesMax } from './frame.js';

/** Limits of a transport, with their units in their names. */
export interface TransportLimits {
  readonly queueFramesMax: number;
  readonly handshakeTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
}

/** Defaults for {@link TransportLimits}. */
export const defaultTransportLimits: TransportLimits = {
  queueFramesMax: 10_000,
  handshakeTimeoutMs: 5_000,
  reconnectBaseMs: 50,
  reconnectMaxMs: 5_000,
};

/** Counters a node exports as metrics. */
export interface TransportCounters {
  framesIn: number;
  framesOut: number;
  framesRefused: number;
  framesDropped: number;
  authRefusedUnknownPeer: number;
  authRefusedBadSignature: number;
  authRefusedProtocol: number;
  authTimeouts: number;
  reconnects: number;
}

/** What a transport tells its node. */
export interface TransportEvents {
  onMessage(from: string, value: unknown): void;
  onPeerUp?(id: string): void;
  onPeerDown?(id: string): void;
}

/** Options of a {@link WsTransport}. */
export interface TransportOptions {
  readonly identity: NodeIdentity;
  readonly members: readonly ClusterMember[];
  /** Host and port to listen on (port 0: any free port). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly events: TransportEvents;
  readonly limits?: Partial<TransportLimits>;
}

interface Peer {
  readonly member: ClusterMember;
  socket: WebSocket | null;
  ready: boolean;
  queue: Uint8Array[];
  attempts: number;
  timer: NodeJS.Timeout | null;
}

/** Bytes signed by each side of the handshake: the purpose, both ids and both nonces. */
export function handshakeBytes(purpose: 'client' | 'server', dialer: string, acceptor: string, acceptorNonce: string, dialerNonce: string): Uint8Array {
  return canonicalBytes({ purpose: `acu-peer-auth-${purpose}`, dialer, acceptor, acceptorNonce, dialerNonce });
}

/** Authenticated WebSocket links to every other member of the cluster. */
export class WsTransport {
  readonly counters: TransportCounters = {
    framesIn: 0, framesOut: 0, framesRefused: 0, framesDropped: 0, authRefusedUnknownPeer: 0,
    authRefusedBadSignature: 0, authRefusedProtocol: 0, authTimeouts: 0, reconnects: 0,
  };
  private readonly limits: TransportLimits;
  private readonly peers = new Map<string, Peer>();
  private server: WebSocketServer | null = null;
  private stopped = false;

  constructor(private readonly options: TransportOptions) {
    this.limits = { ...defaultTransportLimits, ...options.limits };
    for (const member of options.members) {
      if (member.id === options.identity.id) continue;
      this.peers.set(member.id, { member, socket: null, ready: false, queue: [], attempts: 0, timer: null });
    }
    assert(options.members.some((m) => m.id === options.identity.id), 'WsTransport: this node is a member');
  }

  /** Listen, and dial every peer this node dials. Resolves with the port listened on. */
  async start(): Promise<number> {
    const server = new WebSocketServer({ host: this.options.listen.host, port: this.options.listen.port, maxPayload: frameBytesMax });
    this.server = server;
    server.on('connection', (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    for (const peer of this.peers.values()) if (this.dials(peer.member.id)) this.dial(peer);
    return (server.address() as AddressInfo).port;
  }

  /** Close every connection and stop listening. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const peer of this.peers.values()) {
      if (peer.timer !== null) clearTimeout(peer.timer);
      peer.socket?.terminate();
    }
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Queue a value for a peer; false when it had to drop an older frame to make room. */
  send(to: string, value: unknown): boolean {
    const peer = this.peers.get(to);
    assert(peer !== undefined, `send: ${to} is not a peer`);
    const frame = encodeFrame(value);
    let kept = true;
    if (peer.queue.length >= this.limits.queueFramesMax) {
      peer.queue.shift();
      this.counters.framesDropped += 1;
      kept = false;
    }
    peer.queue.push(frame);
    this.flush(peer);
    return kept;
  }

  /** Queue a value for every peer. */
  broadcast(value: unknown): void {
    for (const id of this.peers.keys()) this.send(id, value);
  }

  /** Peers with an authenticated connection. */
  connectedPeers(): string[] {
    return [...this.peers.values()].filter((p) => p.ready).map((p) => p.member.id).sort();
  }

  private dials(peerId: string): boolean {
    return this.options.identity.id < peerId;
  }

  private flush(peer: Peer): void {
    const socket = peer.socket;
    if (!peer.ready || socket === null || socket.readyState !== WebSocket.OPEN) return;
    while (peer.queue.length > 0) {
      socket.send(peer.queue.shift()!);
      this.counters.framesOut += 1;
    }
  }

  /** Dial a peer and authenticate it; on failure, try again later. */
  private dial(peer: Peer): void {
    if (this.stopped) return;
    const socket = new WebSocket(peer.member.address, { maxPayload: frameBytesMax, handshakeTimeout: this.limits.handshakeTimeoutMs });
    peer.socket = socket;
    const nonce = randomBytes(32).toString('hex');
    const deadline = setTimeout(() => this.refuse(socket, 'timeout'), this.limits.handshakeTimeoutMs);
    let stage: 'challenge' | 'welcome' | 'open' = 'challenge';
    let acceptorNonce = '';
    socket.on('message', (data: RawData) => {
      const value = this.decode(data);
      if (value === undefined) return;
      if (stage === 'open') {
        this.deliver(peer, value);
        return;
      }
      const msg = value as Record<string, unknown>;
      if (stage === 'challenge' && msg.t === 'challenge' && msg.acceptor === peer.member.id && typeof msg.nonce === 'string') {
        acceptorNonce = msg.nonce;
        const sig = signBytes(this.options.identity, handshakeBytes('client', this.options.identity.id, peer.member.id, acceptorNonce, nonce));
        socket.send(encodeFrame({ t: 'hello', dialer: this.options.identity.id, nonce, sig }));
        stage = 'welcome';
      } else if (stage === 'welcome' && msg.t === 'welcome' && typeof msg.sig === 'string') {
        const signed = handshakeBytes('server', this.options.identity.id, peer.member.id, acceptorNonce, nonce);
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
    if (this.stopped || peer.timer !== null) return;
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

  /** An incoming connection: challenge it, and accept it only from a member that proves its key. */
  private accept(socket: WebSocket): void {
    if (this.stopped) {
      socket.terminate();
      return;
    }
    const nonce = randomBytes(32).toString('hex');
    const deadline = setTimeout(() => this.refuse(socket, 'timeout'), this.limits.handshakeTimeoutMs);
    let peer: Peer | null = null;
    socket.send(encodeFrame({ t: 'challenge', acceptor: this.options.identity.id, nonce }));
    socket.on('message', (data: RawData) => {
      const value = this.decode(data);
      if (value === undefined) return;
      if (peer !== null) {
        this.deliver(peer, value);
        return;
      }
      const msg = value as Record<string, unknown>;
      if (msg.t !== 'hello' || typeof msg.dialer !== 'string' || typeof msg.nonce !== 'string' || typeof msg.sig !== 'string') return this.refuse(socket, 'protocol');
      const candidate = this.peers.get(msg.dialer);
      if (candidate === undefined || this.dials(msg.dialer)) return this.refuse(socket, 'unknown');
      const signed = handshakeBytes('client', msg.dialer, this.options.identity.id, nonce, msg.nonce);
      if (!verifyBytes(candidate.member.publicKey, signed, msg.sig)) return this.refuse(socket, 'signature');
      clearTimeout(deadline);
      const sig = signBytes(this.options.identity, handshakeBytes('server', msg.dialer, this.options.identity.id, nonce, msg.nonce));
      socket.send(encodeFrame({ t: 'welcome', sig }));
      // A newer authenticated connection from the same peer replaces the old one (it restarted).
      candidate.socket?.terminate();
      peer = candidate;
      this.up(candidate, socket);
    });
    socket.on('error', (error) => this.onSocketError(error));
    socket.on('close', () => {
      clearTimeout(deadline);
      if (peer !== null) this.down(peer, socket);
    });
  }

  private decode(data: RawData): unknown {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
    const frame = decodeFrame(bytes);
    if (!frame.ok || typeof frame.value !== 'object' || frame.value === null) {
      this.counters.framesRefused += 1;
      return undefined;
    }
    return frame.value;
  }

  /** Socket errors end the connection (and a redial); an oversized frame is also counted. */
  private onSocketError(error: Error): void {
    if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.counters.framesRefused += 1;
  }

  private deliver(peer: Peer, value: unknown): void {
    this.counters.framesIn += 1;
    this.options.events.onMessage(peer.member.id, value);
  }

  private refuse(socket: WebSocket, why: 'timeout' | 'signature' | 'unknown' | 'protocol'): void {
    if (why === 'timeout') this.counters.authTimeouts += 1;
    else if (why === 'signature') this.counters.authRefusedBadSignature += 1;
    else if (why === 'unknown') this.counters.authRefusedUnknownPeer += 1;
    else this.counters.authRefusedProtocol += 1;
    socket.terminate();
  }

  private up(peer: Peer, socket: WebSocket): void {
    peer.socket = socket;
    peer.ready = true;
    peer.attempts = 0;
    this.options.events.onPeerUp?.(peer.member.id);
    this.flush(peer);
  }

  private down(peer: Peer, socket: WebSocket): void {
    if (peer.socket !== socket) return;
    const wasReady = peer.ready;
    peer.ready = false;
    peer.socket = null;
    if (wasReady) this.options.events.onPeerDown?.(peer.member.id);
  }
}
