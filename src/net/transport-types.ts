/**
 * The transport's contract with its sync node: the limits it runs under, the counters it keeps,
 * what it tells the node, what became of a message handed to it, and how each peer's link looks to
 * metrics. The memory network of the simulator (src/sync/memory-network.ts) keeps the same contract.
 */
import { frameBytesMax, messageBytesMax } from './frame.js';
import { fragmentChunkBytes, fragmentHeaderBytes } from './fragment.js';

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
  /**
   * TLS links refused: a handshake that failed (no certificate, one the operator's CA did not
   * sign or that names another host), or a certificate whose pin is not the member's.
   */
  authRefusedCertificate: number;
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

/** One peer's link as metrics show it (`WsTransport.linkStats`). */
export interface PeerLinkStats {
  readonly peer: string;
  readonly connected: boolean;
  /** The last ping's round trip on the current link, in seconds; null before the first pong. */
  readonly rttSeconds: number | null;
  /** Frames and bytes waiting in the transport's queue for this peer. */
  readonly queuedFrames: number;
  readonly queuedBytes: number;
  /** Bytes handed to the socket and not yet taken by the kernel. */
  readonly socketBufferedBytes: number;
}
