/**
 * The transport's state: each peer, with its link and what waits to be sent to it, and what the
 * transport's parts (the listener, the dialer, the links, the send queues) share. One connection
 * per pair: the node with the smaller id dials ({@link dials}), the other accepts.
 */
import type { WebSocket } from 'ws';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import type { Reassembler } from './fragment.js';
import type { TransportTls } from './link.js';
import type { TransportCounters, TransportEvents, TransportLimits } from './transport-types.js';

/** A message waiting to be sent: its frames, and how many have been written. */
export interface Outgoing {
  readonly frames: readonly Uint8Array[];
  sent: number;
}

/** One peer: its member entry, its link (none, in its handshake, or up), its send queue, its timers. */
export interface Peer {
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

/**
 * What the parts of one transport share. Set when it is made; `identity` and `members` change with
 * setMembers, `stopped` with stop.
 */
export interface TransportState {
  /** This node's identity and the members, as of the last setMembers. */
  identity: NodeIdentity;
  members: readonly ClusterMember[];
  stopped: boolean;
  readonly tls: TransportTls | null;
  readonly limits: TransportLimits;
  readonly counters: TransportCounters;
  readonly events: TransportEvents;
  readonly peers: Map<string, Peer>;
  /** Accepted sockets not yet authenticated (ended on stop: the listener's close waits for them). */
  readonly pending: Set<WebSocket>;
}

/** A peer with no link yet. */
export function newPeer(member: ClusterMember): Peer {
  return {
    member, socket: null, ready: false, queue: [], queuedFrames: 0, queuedBytes: 0, nextMessageId: 0,
    reassembler: null, heartbeat: null, pongDeadline: null, attempts: 0, timer: null, removed: false, pingSentMs: 0, rttMs: null,
  };
}

/** Whether this node dials the peer: the smaller id dials, the other accepts. */
export function dials(state: TransportState, peerId: string): boolean {
  return state.identity.id < peerId;
}

/** Whether a member's entry still describes the same link: same key, address and pin. */
export function sameLink(a: ClusterMember, b: ClusterMember): boolean {
  return a.publicKey === b.publicKey && a.address === b.address && a.tlsPin === b.tlsPin;
}
