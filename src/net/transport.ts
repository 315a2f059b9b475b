/**
 * The peer transport: authenticated WebSocket connections between the sync nodes of one cluster.
 *
 * - One connection per pair: the node with the smaller id dials, the other accepts.
 * - Mutual challenge-response authentication against the cluster document: the acceptor sends a
 *   fresh nonce; the dialer answers with its id, a nonce of its own and a signature over both
 *   nonces and both ids; the acceptor checks it with the member's key and signs the same facts
 *   back. A replayed hello fails (the acceptor's nonce is new each time); an unknown key, a forged
 *   signature or a silent peer closes the connection and is counted.
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
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { canonicalBytes } from '../core/acu/canonical.js';
import { assert, assertNever } from '../core/errors.js';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { signBytes, verifyBytes } from '../store/identity.js';
import type { FrameLimits } from './frame.js';
import { decodeFrame, encodeFrame, frameBytesMax, frameLimits, handshakeFrameLimits, messageBytesMax, messageLimits } from './frame.js';
import { Reassembler, fragmentChunkBytes, fragmentHeaderBytes, fragmentsOf, isFragment } from './fragment.js';

/**
 * Limits of a transport, with their units in their names. Per peer, bytes waiting to be sent stay
 * under `queueBytesMax + socketBufferBytesMax + frameBytesMax` (the last write may overshoot the
 * socket bound by one frame); bytes of unfinished incoming messages under `reassemblyBytesMax`.
 */
export interface TransportLimits {
  /** Frames waiting in the transport's own queue for one peer. */
  readonly queueFramesMax: number;
  /** Bytes waiting in the transport's own queue for one peer (by default room for one largest message). */
  readonly queueBytesMax: number;
  /** Bytes handed to one peer's socket and not yet taken by the kernel, before the transport waits. */
  readonly socketBufferBytesMax: number;
  /** Bytes reserved by one peer's unfinished fragmented messages (at least `messageBytesMax`). */
  readonly reassemblyBytesMax: number;
  /** Unfinished fragmented messages from one peer. */
  readonly partialMessagesMax: number;
  readonly handshakeTimeoutMs: number;
  /** How often each authenticated link is pinged. */
  readonly pingIntervalMs: number;
  /** How long a ping may go unanswered before the link is terminated as half-open. */
  readonly pingTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
}

/** Frames (and their bytes) of the largest message, once fragmented. */
const messageFramesMax = Math.ceil(messageBytesMax / fragmentChunkBytes);
const messageFrameBytesMax = messageBytesMax + messageFramesMax * fragmentHeaderBytes;

/** Defaults for {@link TransportLimits}. */
export const defaultTransportLimits: TransportLimits = {
  queueFramesMax: 10_000,
  queueBytesMax: messageFrameBytesMax + frameBytesMax,
  socketBufferBytesMax: 2 * frameBytesMax,
  reassemblyBytesMax: messageBytesMax,
  partialMessagesMax: 2,
  handshakeTimeoutMs: 5_000,
  // A pong waits behind whatever is already in the peer's socket buffer (a few MiB at most): the
  // timeout leaves room for a slow link to drain it.
  pingIntervalMs: 5_000,
  pingTimeoutMs: 20_000,
  reconnectBaseMs: 50,
  reconnectMaxMs: 5_000,
};

/** Counters a node exports as metrics. */
export interface TransportCounters {
  /** Frames (whole messages and fragments) accepted from authenticated peers. */
  framesIn: number;
  /** Frames written to sockets. */
  framesOut: number;
  /** Frames refused: oversized, malformed, not plain data, over a decoding budget. */
  framesRefused: number;
  /** Frames dropped unsent (queue full, or a link lost in the middle of a message). */
  framesDropped: number;
  /** Messages delivered to the node. */
  messagesIn: number;
  /** Messages whose every frame was written to a socket. */
  messagesOut: number;
  /** Messages dropped unsent (their frames are in `framesDropped`). */
  messagesDropped: number;
  /** Messages the node asked to send that encode to more than `messageBytesMax` (not sent). */
  messagesOversized: number;
  /** Garbage fragments: malformed, too large, duplicate, out of order, inconsistent. */
  fragmentsRefused: number;
  /** Unfinished incoming messages evicted to stay within the reassembly bounds. */
  reassemblyEvictions: number;
  /** Links terminated because a ping went unanswered. */
  pingTimeouts: number;
  authRefusedUnknownPeer: number;
  authRefusedBadSignature: number;
  authRefusedProtocol: number;
  authTimeouts: number;
  reconnects: number;
}

/** What became of a message handed to {@link WsTransport.send}. */
export type SendOutcome = 'queued' | 'queued-dropped-older' | 'dropped' | 'oversized';

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
}

/** Bytes signed by each side of the handshake: the purpose, both ids and both nonces. */
export function handshakeBytes(purpose: 'client' | 'server', dialer: string, acceptor: string, acceptorNonce: string, dialerNonce: string): Uint8Array {
  return canonicalBytes({ purpose: `acu-peer-auth-${purpose}`, dialer, acceptor, acceptorNonce, dialerNonce });
}

/** Authenticated WebSocket links to every other member of the cluster. */
export class WsTransport {
  readonly counters: TransportCounters = {
    framesIn: 0, framesOut: 0, framesRefused: 0, framesDropped: 0, messagesIn: 0, messagesOut: 0, messagesDropped: 0,
    messagesOversized: 0, fragmentsRefused: 0, reassemblyEvictions: 0, pingTimeouts: 0, authRefusedUnknownPeer: 0,
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
      this.peers.set(member.id, {
        member, socket: null, ready: false, queue: [], queuedFrames: 0, queuedBytes: 0, nextMessageId: 0,
        reassembler: null, heartbeat: null, pongDeadline: null, attempts: 0, timer: null,
      });
    }
    assert(options.members.some((m) => m.id === options.identity.id), 'WsTransport: this node is a member');
    const l = this.limits;
    // A queue smaller than the largest message is allowed (tests use one): a message that cannot
    // fit even an empty queue is dropped and counted.
    assert(l.queueBytesMax > 0 && l.queueFramesMax > 0, 'WsTransport: a queue with room');
    assert(l.socketBufferBytesMax > 0, 'WsTransport: a positive socket buffer');
    assert(l.reassemblyBytesMax >= messageBytesMax && l.partialMessagesMax >= 1, 'WsTransport: room to reassemble one largest message');
    assert(l.pingIntervalMs > 0 && l.pingTimeoutMs > 0, 'WsTransport: positive ping limits');
  }

  /** Listen, and dial every peer this node dials. Resolves with the port listened on. */
  async start(): Promise<number> {
    // Sockets start with the handshake's frame limit; `up` raises it once the peer is authenticated.
    const server = new WebSocketServer({ host: this.options.listen.host, port: this.options.listen.port, maxPayload: handshakeFrameLimits.bytesMax, perMessageDeflate: false });
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
      this.stopHeartbeat(peer);
      peer.socket?.terminate();
    }
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Queue a value (plain data, encoding to at most `messageBytesMax`) for a peer. A value over
   * that is not sent ('oversized', counted); older unsent messages may be dropped to make room.
   */
  send(to: string, value: unknown): SendOutcome {
    const peer = this.peers.get(to);
    assert(peer !== undefined, `send: ${to} is not a peer`);
    return this.enqueue(peer, encodeFrame(value));
  }

  /** Queue a value for every peer (encoded once). */
  broadcast(value: unknown): void {
    const encoded = encodeFrame(value);
    for (const peer of this.peers.values()) this.enqueue(peer, encoded);
  }

  /** Bytes waiting to go to a peer: in the transport's queue plus those handed to its socket. */
  sendBufferBytes(to: string): number {
    const peer = this.peers.get(to);
    assert(peer !== undefined, `sendBufferBytes: ${to} is not a peer`);
    return peer.queuedBytes + (peer.socket?.bufferedAmount ?? 0);
  }

  /** Peers with an authenticated connection. */
  connectedPeers(): string[] {
    return [...this.peers.values()].filter((p) => p.ready).map((p) => p.member.id).sort();
  }

  private dials(peerId: string): boolean {
    return this.options.identity.id < peerId;
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
    if (this.stopped) return;
    const socket = new WebSocket(peer.member.address, { maxPayload: handshakeFrameLimits.bytesMax, handshakeTimeout: this.limits.handshakeTimeoutMs, perMessageDeflate: false });
    peer.socket = socket;
    const nonce = randomBytes(32).toString('hex');
    const deadline = setTimeout(() => this.refuse(socket, 'timeout'), this.limits.handshakeTimeoutMs);
    let stage: 'challenge' | 'welcome' | 'open' = 'challenge';
    let acceptorNonce = '';
    socket.on('message', (data: RawData) => {
      if (stage === 'open') return this.receive(peer, data);
      const msg = this.decodeHandshake(data);
      if (msg === undefined) return this.refuse(socket, 'protocol');
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
      if (peer !== null) return this.receive(peer, data);
      const msg = this.decodeHandshake(data);
      if (msg === undefined || msg.t !== 'hello' || typeof msg.dialer !== 'string' || typeof msg.nonce !== 'string' || typeof msg.sig !== 'string') return this.refuse(socket, 'protocol');
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

  /** Socket errors end the connection (and a redial); an oversized frame is also counted. */
  private onSocketError(error: Error): void {
    if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.counters.framesRefused += 1;
  }

  private deliver(peer: Peer, value: unknown): void {
    this.counters.messagesIn += 1;
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
    });
    peer.heartbeat = setInterval(() => this.ping(peer, socket), this.limits.pingIntervalMs);
    this.options.events.onPeerUp?.(peer.member.id);
    this.flush(peer);
  }

  /** Ping a link unless a ping is still out; one unanswered past the timeout ends the link. */
  private ping(peer: Peer, socket: WebSocket): void {
    if (peer.socket !== socket || peer.pongDeadline !== null || socket.readyState !== WebSocket.OPEN) return;
    socket.ping();
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
