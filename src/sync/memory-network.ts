/**
 * The in-memory peer network (ports.ts's PeerTransport), for the transport conformance suite and
 * the seeded host simulator. {@link MemoryNetwork} is a hub handing out {@link PeerTransport}s to
 * the members of one cluster. Every message goes through the wire encoding (so message limits
 * hold: one over `messageBytesMax` is 'oversized' and not sent, as WsTransport does) and is
 * delivered whole through a {@link ManualClock} after a delay the network's
 * {@link NetworkFaults} draw: drops, duplicates, reordering, partitions, slow peers, and peers
 * that stop reading (their messages pile up to a bound, then drop). A message larger than a frame
 * counts as its fragments, and is lost when any one of them is.
 */
import { assert } from '../core/errors.js';
import { decodeFrame, encodeFrame, frameBytesMax, frameLimits, messageBytesMax, messageLimits } from '../net/frame.js';
import type { SendOutcome, TransportCounters, TransportEvents } from '../net/transport-types.js';
import type { PeerTransport } from './ports.js';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { SeededRandom } from './memory-clock.js';
import type { ManualClock } from './memory-clock.js';

/** What the network does to frames; the simulator changes these as a run goes on. */
export interface NetworkFaults {
  dropP: number;
  duplicateP: number;
  /** Each frame takes 1 to this many milliseconds (different delays reorder frames). */
  delayMsMax: number;
  /** Extra delay for frames to or from these members (slow peers). */
  slowMs: Map<string, number>;
  /** Partition group per member; frames between different groups are dropped. Null: none. */
  partition: Map<string, number> | null;
}

/** Limits of the memory network, with their units in their names. */
export interface NetworkLimits {
  /** A message larger than this travels as several fragments (WsTransport's frame limit). */
  readonly frameBytesMax: number;
  /** A message larger than this is not sent: `send` answers 'oversized' and counts it. */
  readonly messageBytesMax: number;
  /** Messages held for a member that is not reading, at most; beyond it they are dropped and counted. */
  readonly unreadFramesMax: number;
}

/** What the network did, for the simulator's report. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Dropped because the receiver was not reading and its pile was full. */
  droppedUnread: number;
  /** Messages refused at the sender for being over `messageBytesMax`. */
  refusedOversized: number;
  /** Messages that went as more than one fragment. */
  fragmented: number;
}

interface Endpoint {
  readonly transport: MemoryTransport;
  up: boolean;
}

/**
 * The hub of an in-memory cluster. `transport(id)` gives the factory a node is built with; a
 * second transport for the same member replaces the first (a restarted node). Frames travel as
 * wire bytes through the clock, so delivery happens only when the caller steps the clock.
 */
export class MemoryNetwork {
  readonly faults: NetworkFaults = { dropP: 0, duplicateP: 0, delayMsMax: 1, slowMs: new Map(), partition: null };
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, droppedUnread: 0, refusedOversized: 0, fragmented: 0 };
  readonly limits: NetworkLimits;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly notReading = new Map<string, { from: string; bytes: Uint8Array }[]>();
  private readonly random: SeededRandom;

  constructor(
    private readonly clock: ManualClock,
    readonly memberIds: readonly string[],
    options: { readonly seed: number; readonly limits?: Partial<NetworkLimits> },
  ) {
    this.random = new SeededRandom(options.seed);
    this.limits = { frameBytesMax, messageBytesMax, unreadFramesMax: 1_000, ...options.limits };
    assert(this.limits.messageBytesMax >= this.limits.frameBytesMax, 'MemoryNetwork: a message holds at least one frame');
  }

  /** The transport factory of member (or, for the refusal tests, non-member) `id`. */
  transport(id: string): (events: TransportEvents) => MemoryTransport {
    return (events) => new MemoryTransport(this, id, events);
  }

  /** Stop or resume reading frames addressed to `id`; resuming delivers the pile in order. */
  setReading(id: string, reading: boolean): void {
    if (!reading) {
      if (!this.notReading.has(id)) this.notReading.set(id, []);
      return;
    }
    const pile = this.notReading.get(id);
    this.notReading.delete(id);
    for (const frame of pile ?? []) this.arrive(frame.from, id, frame.bytes);
  }

  /** Cut every link of a member at once (a crash): its frames in flight and its sends vanish. */
  detach(id: string): void {
    const endpoint = this.endpoints.get(id);
    if (endpoint !== undefined) this.leave(endpoint);
  }

  /** @internal A transport started. */
  join(transport: MemoryTransport): void {
    const old = this.endpoints.get(transport.id);
    if (old !== undefined) this.leave(old);
    const endpoint: Endpoint = { transport, up: true };
    this.endpoints.set(transport.id, endpoint);
    if (!this.memberIds.includes(transport.id)) return;
    // Links come up through the clock, as a dial and a handshake would: never inside start().
    for (const other of this.endpoints.values()) {
      if (other === endpoint || !this.memberIds.includes(other.transport.id)) continue;
      this.clock.after(0, () => {
        if (!endpoint.up || !other.up || this.endpoints.get(transport.id) !== endpoint) return;
        other.transport.linkUp(transport.id);
        transport.linkUp(other.transport.id);
      });
    }
  }

  /** @internal A transport stopped. */
  leave(endpoint: Endpoint | MemoryTransport): void {
    const found = endpoint instanceof MemoryTransport ? this.endpoints.get(endpoint.id) : endpoint;
    if (found === undefined || (endpoint instanceof MemoryTransport && found.transport !== endpoint)) return;
    found.up = false;
    this.endpoints.delete(found.transport.id);
    found.transport.detached = true;
    for (const other of this.endpoints.values()) {
      if (other.up) other.transport.linkDown(found.transport.id);
    }
  }

  /** Whether `id` has a transport up now. */
  isUp(id: string): boolean {
    return this.endpoints.get(id)?.up === true;
  }

  /** @internal Put one message on the wire, as `fragments` frames; returns how many frames that is. */
  carry(from: string, to: string, bytes: Uint8Array): number {
    const { faults } = this;
    this.stats.sent += 1;
    const fragments = Math.max(1, Math.ceil(bytes.length / this.limits.frameBytesMax));
    if (fragments > 1) this.stats.fragmented += 1;
    // A fragmented message is lost when any of its fragments is: one draw for all of them.
    const dropP = faults.dropP <= 0 ? 0 : 1 - (1 - faults.dropP) ** fragments;
    if (this.random.chance(dropP) || this.partitioned(from, to)) {
      this.stats.dropped += 1;
      return fragments;
    }
    const copies = this.random.chance(faults.duplicateP) ? 2 : 1;
    if (copies === 2) this.stats.duplicated += 1;
    for (let c = 0; c < copies; c += 1) {
      const slow = (faults.slowMs.get(from) ?? 0) + (faults.slowMs.get(to) ?? 0);
      const delayMs = 1 + this.random.int(Math.max(1, faults.delayMsMax)) + slow;
      this.clock.after(delayMs, () => this.arrive(from, to, bytes));
    }
    return fragments;
  }

  private partitioned(from: string, to: string): boolean {
    const groups = this.faults.partition;
    return groups !== null && groups.get(from) !== groups.get(to);
  }

  private arrive(from: string, to: string, bytes: Uint8Array): void {
    const pile = this.notReading.get(to);
    if (pile !== undefined) {
      if (pile.length >= this.limits.unreadFramesMax) {
        this.stats.droppedUnread += 1;
        this.endpoints.get(to)?.transport.countDropped();
        return;
      }
      pile.push({ from, bytes });
      return;
    }
    const target = this.endpoints.get(to);
    const sender = this.endpoints.get(from);
    // A frame from a member that is down now was cut off with its connection.
    if (target === undefined || !target.up || sender === undefined || !sender.up) {
      this.stats.dropped += 1;
      return;
    }
    this.stats.delivered += 1;
    target.transport.receive(from, bytes, this.memberIds.includes(from));
  }
}

/** One member's links on a {@link MemoryNetwork}. */
export class MemoryTransport implements PeerTransport {
  readonly counters: TransportCounters = {
    framesIn: 0, framesOut: 0, framesRefused: 0, framesDropped: 0, messagesIn: 0, messagesOut: 0, messagesDropped: 0,
    messagesOversized: 0, fragmentsRefused: 0, reassemblyEvictions: 0, pingTimeouts: 0, authRefusedUnknownPeer: 0,
    authRefusedBadSignature: 0, authRefusedProtocol: 0, authRefusedCertificate: 0, authTimeouts: 0, reconnects: 0,
  };
  /** Set once the network cut this transport off (stopped, replaced, or its node crashed). */
  detached = false;
  private started = false;
  private readonly connected = new Set<string>();
  /**
   * The members this transport links to, after a membership change ({@link setMembers}); null: the
   * network's members. (The network itself stays as it was built: a peer it carries frames from is
   * refused here when it is no longer a member, as WsTransport's handshake would refuse it.)
   */
  private members: ReadonlySet<string> | null = null;
  /** Called for every value this transport sends (`to` null: a broadcast), for the simulator's send log. */
  onSend: ((to: string | null, value: unknown) => void) | null = null;

  constructor(
    private readonly network: MemoryNetwork,
    readonly id: string,
    private readonly events: TransportEvents,
  ) {}

  start(): Promise<number> {
    assert(!this.started, 'MemoryTransport: started once');
    this.started = true;
    this.network.join(this);
    return Promise.resolve(0);
  }

  stop(): Promise<void> {
    this.network.leave(this);
    this.connected.clear();
    return Promise.resolve();
  }

  send(to: string, value: unknown): SendOutcome {
    assert(to !== this.id, 'MemoryTransport: no sends to self');
    this.onSend?.(to, value);
    return this.enqueue(to, encodeFrame(value));
  }

  broadcast(value: unknown): void {
    this.onSend?.(null, value);
    const encoded = encodeFrame(value);
    for (const id of this.network.memberIds) if (id !== this.id && this.isMember(id)) this.enqueue(id, encoded);
  }

  /**
   * A membership change: from now on link only to `members`. Links to members no longer listed go
   * down; a node not among them keeps none. (The identity is the network's node id, which a key
   * rotation does not change in the simulator.)
   */
  setMembers(identity: NodeIdentity, members: readonly ClusterMember[]): void {
    const ids = new Set(members.map((member) => member.id));
    this.members = ids.has(identity.id) || ids.has(this.id) ? ids : new Set();
    for (const id of [...this.connected]) if (!this.members.has(id)) this.linkDown(id);
  }

  private isMember(id: string): boolean {
    return this.members === null || this.members.has(id);
  }

  private enqueue(to: string, encoded: Uint8Array): SendOutcome {
    if (!this.isMember(to)) {
      this.counters.messagesDropped += 1;
      return 'dropped';
    }
    if (encoded.length > this.network.limits.messageBytesMax) {
      this.counters.messagesOversized += 1;
      this.network.stats.refusedOversized += 1;
      return 'oversized';
    }
    // Like WsTransport's queue for a peer that is away, but without the queue: the consensus
    // retransmits on its timeouts, and record bodies are asked for again.
    if (this.detached || !this.started) {
      this.counters.messagesDropped += 1;
      return 'dropped';
    }
    this.counters.messagesOut += 1;
    this.counters.framesOut += this.network.carry(this.id, to, encoded);
    return 'queued';
  }

  connectedPeers(): string[] {
    return [...this.connected].sort();
  }

  /** @internal */
  linkUp(id: string): void {
    if (this.detached || this.connected.has(id) || !this.isMember(id)) return;
    this.connected.add(id);
    this.events.onPeerUp?.(id);
  }

  /** @internal */
  linkDown(id: string): void {
    if (!this.connected.delete(id)) return;
    this.events.onPeerDown?.(id);
  }

  /** @internal */
  countDropped(): void {
    this.counters.messagesDropped += 1;
  }

  /** @internal A frame arrived; a sender that is not a member is refused, as a failed handshake is. */
  receive(from: string, bytes: Uint8Array, fromMember: boolean): void {
    if (this.detached) return;
    if (!fromMember || !this.network.memberIds.includes(this.id) || !this.isMember(from)) {
      this.counters.authRefusedUnknownPeer += 1;
      return;
    }
    // As WsTransport decodes: a whole frame under the frame limits, a reassembled message under the message limits.
    const fragmented = bytes.length > this.network.limits.frameBytesMax;
    const frame = decodeFrame(bytes, fragmented ? messageLimits : frameLimits);
    if (!frame.ok || typeof frame.value !== 'object' || frame.value === null) {
      this.counters.framesRefused += 1;
      return;
    }
    this.counters.framesIn += Math.max(1, Math.ceil(bytes.length / this.network.limits.frameBytesMax));
    this.counters.messagesIn += 1;
    this.events.onMessage(from, frame.value);
  }
}

