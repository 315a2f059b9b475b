/**
 * The sync node's ports: what the host needs from the world, each behind an interface with a real
 * implementation and an in-memory one (src/sync/memory-clock.ts, memory-network.ts, memory-log.ts), checked by one conformance suite
 * per port (test/sync/*-conformance.test.ts). The seeded host simulator runs whole sync nodes on the
 * in-memory implementations and injects faults at each of them.
 *
 * - {@link PeerTransport}: authenticated links to the other members (real: `WsTransport`).
 * - {@link NodeLogPort}: the write-ahead log; an append resolves only once it is durable
 *   (real: `NodeLog`).
 * - {@link Clock}: time, for ticks and waits (real: {@link systemClock}).
 */
import type { LinkSecurity } from '../net/link.js';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import type { PeerLinkStats, SendOutcome, TransportCounters, TransportEvents } from '../net/transport-types.js';
import type { NodeLogEntry, NodeMemory } from './node-log.js';

/** Links to the other members of the cluster. Sends never throw; a frame that cannot go is dropped. */
export interface PeerTransport {
  /** Listen and dial; resolves with the port listened on (0 for transports without one). */
  start(): Promise<number>;
  stop(): Promise<void>;
  /** Send one plain value to a member: whether it was queued, and whether older ones were dropped for it. */
  send(to: string, value: unknown): SendOutcome;
  /** Send to every other member. */
  broadcast(value: unknown): void;
  /** Members with an authenticated link up now. */
  connectedPeers(): string[];
  /**
   * A membership change took effect: link to `members` from now on, as `identity` (this node's,
   * changed by a rotated key). Links to members no longer listed end and their queued frames are
   * dropped; added members are linked; a member whose key, address or pin changed is linked
   * afresh; a node not among `members` keeps no links. Sends to a non-member are 'dropped'.
   */
  setMembers(identity: NodeIdentity, members: readonly ClusterMember[]): void;
  readonly counters: TransportCounters;
  /** Each member's link for metrics (round trip, send queue), where the transport has sockets. */
  linkStats?(): PeerLinkStats[];
  /** How the links are secured, where the transport has sockets. */
  readonly links?: LinkSecurity;
}

/** Builds the node's transport once the node knows where to deliver what arrives. */
export type TransportFactory = (events: TransportEvents) => PeerTransport;

/** The node's durable log. */
export interface NodeLogPort {
  /**
   * Append entries; resolves once they are durable. A rejected append leaves the log failed: every
   * later append rejects too, so nothing the lost entries should have recorded can leave the node.
   */
  append(entries: readonly NodeLogEntry[]): Promise<void>;
  close(): Promise<void>;
}

/** What opening a log gives back. */
export interface OpenedLog {
  readonly log: NodeLogPort;
  readonly memory: NodeMemory;
  /** Bytes of a torn last entry cut off on open. */
  readonly truncatedBytes: number;
}

/** A cancellable timer. */
export type CancelTimer = () => void;

/** Time, as the node sees it. */
export interface Clock {
  /** Milliseconds since the epoch (real clock) or since the simulation began. */
  nowMs(): number;
  /** Call `fn` every `ms` milliseconds until cancelled. */
  every(ms: number, fn: () => void): CancelTimer;
  /** Call `fn` once after `ms` milliseconds unless cancelled. */
  after(ms: number, fn: () => void): CancelTimer;
}

/** The process's own clock. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
