/**
 * In-memory implementations of the sync node's ports (ports.ts), for the conformance suites and the
 * seeded host simulator (test/sim/host-world.ts). Everything here is deterministic: time is a
 * {@link ManualClock} the caller advances, randomness is a seeded {@link SeededRandom}, and nothing
 * reads `Date.now` or `Math.random`.
 *
 * - {@link ManualClock}: timers fire only when the caller steps the clock, one at a time, in
 *   (due time, creation order) order. {@link ManualClock.scope} gives a node a view whose timers
 *   can all be dropped at once (a simulated crash).
 * - {@link MemoryNetwork}: a hub handing out {@link PeerTransport}s to the members of one cluster.
 *   Every message goes through the wire encoding (so message limits hold: one over
 *   `messageBytesMax` is 'oversized' and not sent, as WsTransport does) and is delivered whole
 *   through the clock after a delay the network's {@link NetworkFaults} draw: drops, duplicates,
 *   reordering, partitions, slow peers, and peers that stop reading (their messages pile up to a
 *   bound, then drop). A message larger than a frame counts as its fragments, and is lost when any
 *   one of them is.
 * - {@link MemoryNodeLog}: the write-ahead log on a {@link MemoryDisk} whose durable part survives
 *   a simulated crash; faults: a full disk, an fsync error, a torn last entry at a crash.
 */
import { Packr, Unpackr } from 'msgpackr';
import { AcuError, assert } from '../core/errors.js';
import { decodeFrame, encodeFrame, frameBytesMax, frameLimits, messageBytesMax, messageLimits } from '../net/frame.js';
import type { SendOutcome, TransportCounters, TransportEvents } from '../net/transport-types.js';
import { walRecordBytesMax } from '../store/wal.js';
import { applyEntry } from './node-log.js';
import type { NodeLogEntry, NodeMemory } from './node-log.js';
import type { RecordVerifier } from './records.js';
import { MinHeap } from './min-heap.js';
import type { CancelTimer, Clock, NodeLogPort, OpenedLog, PeerTransport } from './ports.js';
import type { ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';

// ---- randomness -----------------------------------------------------------------------------

/** A small seeded generator (a 32-bit mixer over a Weyl sequence): same seed, same draws. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x27d4eb2d) ^ 0x9e3779b9;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * maxExclusive);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.u32() / 0x1_0000_0000 < p;
  }
}

// ---- clock ----------------------------------------------------------------------------------

interface Timer {
  readonly seq: number;
  atMs: number;
  readonly periodMs: number | null;
  readonly fn: () => void;
  readonly scope: ClockScope | null;
  cancelled: boolean;
}

/** A group of timers that can be dropped together (one node's, at a crash). */
interface ClockScope {
  dropped: boolean;
}

/** Most timers pending at once: a bound on a runaway scheduler, not a tuning knob. */
const timersPendingMax = 1_000_000;

/**
 * A clock the caller drives: {@link ManualClock.step} fires the next due timer and nothing else,
 * so the caller can let promises settle between timers and every run is the same.
 */
export class ManualClock implements Clock {
  private now = 0;
  private seq = 0;
  /** Pending timers by due time, then by the order they were set: timers due together fire in that order. */
  private readonly heap = new MinHeap<Timer>((a, b) => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq));

  nowMs(): number {
    return this.now;
  }

  every(ms: number, fn: () => void): CancelTimer {
    assert(ms > 0, 'ManualClock.every: a positive period');
    return this.add(ms, ms, fn, null);
  }

  after(ms: number, fn: () => void): CancelTimer {
    return this.add(Math.max(0, ms), null, fn, null);
  }

  /** A view of this clock whose timers are all dropped by `drop()` (a crashed node's). */
  scope(): { clock: Clock; drop: () => void } {
    const scope: ClockScope = { dropped: false };
    const clock: Clock = {
      nowMs: () => this.now,
      every: (ms, fn) => this.add(ms, ms, fn, scope),
      after: (ms, fn) => this.add(Math.max(0, ms), null, fn, scope),
    };
    return { clock, drop: () => void (scope.dropped = true) };
  }

  /** When the next live timer is due, or null when none is pending. */
  nextAtMs(): number | null {
    this.prune();
    return this.heap.peek()?.atMs ?? null;
  }

  /** Fire the next timer if it is due by `untilMs`; false when none is. Time moves to its due time. */
  step(untilMs = Number.POSITIVE_INFINITY): boolean {
    this.prune();
    const timer = this.heap.peek();
    if (timer === undefined || timer.atMs > untilMs) return false;
    this.heap.pop();
    assert(timer.atMs >= this.now, 'ManualClock: time never goes back');
    this.now = timer.atMs;
    if (timer.periodMs !== null) {
      timer.atMs += timer.periodMs;
      this.heap.push(timer);
    }
    timer.fn();
    return true;
  }

  /** Move time forward to `ms` without firing anything (only when nothing is due before). */
  advanceTo(ms: number): void {
    const next = this.nextAtMs();
    assert(next === null || next >= ms, 'ManualClock.advanceTo: no timer is skipped');
    this.now = Math.max(this.now, ms);
  }

  private add(delayMs: number, periodMs: number | null, fn: () => void, scope: ClockScope | null): CancelTimer {
    assert(this.heap.size < timersPendingMax, `ManualClock: at most ${timersPendingMax} timers pending`);
    const timer: Timer = { seq: this.seq++, atMs: this.now + delayMs, periodMs, fn, scope, cancelled: false };
    this.heap.push(timer);
    return () => void (timer.cancelled = true);
  }

  private prune(): void {
    let next = this.heap.peek();
    while (next !== undefined && (next.cancelled || next.scope?.dropped === true)) {
      this.heap.pop();
      next = this.heap.peek();
    }
  }
}

// ---- network --------------------------------------------------------------------------------

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

// ---- log ------------------------------------------------------------------------------------

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** A fault the disk has in store for the next write. */
export type DiskFault = 'enospc' | 'fsync-eio';

/**
 * The storage a {@link MemoryNodeLog} writes to. `durable` is what survives a crash (entries as
 * the bytes NodeLog would frame); the faults are set by the simulator and take effect at the next
 * write.
 */
export class MemoryDisk {
  readonly durable: Uint8Array[] = [];
  /** A fault for the next write; cleared once it happened. */
  nextFault: DiskFault | null = null;
  /** Bytes of a torn entry left at the end by the last crash, cut off by the next open. */
  tornBytes = 0;
  /** The log open on this disk now, if any. */
  openLog: MemoryNodeLog | null = null;

  /**
   * Simulate a crash: the open log's writes in flight are lost (`torn`: the first of them left a
   * partial entry at the end), and its promises never settle — the process that held them is gone.
   */
  crash(torn: boolean): void {
    const log = this.openLog;
    this.openLog = null;
    if (log === null) return;
    const unsynced = log.abandon();
    if (torn && unsynced !== null) this.tornBytes = Math.max(1, unsynced.length >> 1);
  }
}

interface MemoryAppend {
  readonly payloads: readonly Uint8Array[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** An error like the file system's (`code` as Node gives it). */
function ioError(code: 'ENOSPC' | 'EIO', message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * The node's log on a {@link MemoryDisk}, with the same contract as NodeLog: appends made while a
 * write is on its way go together in the next one (group commit); an append resolves once its
 * entries are durable; once an append failed, every later one rejects. A write takes
 * `writeMs` on the clock, so a crash can land while one is on its way.
 */
export class MemoryNodeLog implements NodeLogPort {
  private pending: MemoryAppend[] = [];
  private writing: MemoryAppend[] | null = null;
  private failed: unknown = null;
  private abandoned = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  private constructor(
    private readonly disk: MemoryDisk,
    private readonly clock: Clock | null,
    private readonly writeMs: number,
  ) {}

  /**
   * Open the log on `disk`: cut a torn tail, replay the durable entries (records checked by
   * `verifier`, as NodeLog does). A second open while one is open is refused, as NodeLog's lock does.
   */
  static open(
    disk: MemoryDisk,
    decisionsKept: number,
    verifier: RecordVerifier,
    options: { readonly clock?: Clock; readonly writeMs?: number } = {},
  ): OpenedLog & { readonly log: MemoryNodeLog } {
    if (disk.openLog !== null) {
      throw new AcuError('ERR_NODE', 'another sync node is already using this log', { hint: 'stop that node first' });
    }
    const memory: NodeMemory = {
      genesis: null, state: null, decisions: new Map(), records: new Map(), settled: new Set(), settledAt: new Map(), writtenHeight: -1,
      writtenCommit: null, outboxTaken: 0, votes: new Map(),
    };
    for (const bytes of disk.durable) applyEntry(memory, unpackr.unpack(bytes) as NodeLogEntry, decisionsKept, verifier);
    const truncatedBytes = disk.tornBytes;
    disk.tornBytes = 0;
    const log = new MemoryNodeLog(disk, options.clock ?? null, options.writeMs ?? 1);
    disk.openLog = log;
    return { log, memory, truncatedBytes };
  }

  append(entries: readonly NodeLogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const payloads = entries.map((entry) => packr.pack(entry) as Uint8Array);
      for (const payload of payloads) assert(payload.length <= walRecordBytesMax, `a log entry is at most ${walRecordBytesMax} bytes`);
      if (this.failed !== null) {
        reject(new AcuError('ERR_IO', 'the node log failed earlier; nothing more is written to it', { cause: this.failed }));
        return;
      }
      this.pending.push({ payloads, resolve, reject });
      if (this.writing === null) this.startWrite();
    });
  }

  private startWrite(): void {
    const group = this.pending;
    this.pending = [];
    this.writing = group;
    const finish = (): void => {
      if (this.abandoned) return;
      this.finishWrite(group);
    };
    if (this.clock === null) queueMicrotask(finish);
    else this.clock.after(this.writeMs, finish);
  }

  private finishWrite(group: readonly MemoryAppend[]): void {
    const fault = this.disk.nextFault;
    this.disk.nextFault = null;
    this.writing = null;
    if (fault !== null) {
      this.failed = fault === 'enospc' ? ioError('ENOSPC', 'no space left on device') : ioError('EIO', 'fsync failed');
      for (const append of group) append.reject(this.failed);
      const later = this.pending;
      this.pending = [];
      for (const append of later) append.reject(this.failed);
      this.wakeIdle();
      return;
    }
    for (const append of group) this.disk.durable.push(...append.payloads);
    for (const append of group) append.resolve();
    if (this.pending.length > 0) this.startWrite();
    else this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Whether an append has failed (the log takes nothing more). */
  get hasFailed(): boolean {
    return this.failed !== null;
  }

  /** @internal The process died: forget the writes in flight; returns the first unsynced entry. */
  abandon(): Uint8Array | null {
    this.abandoned = true;
    const first = this.writing?.[0]?.payloads[0] ?? this.pending[0]?.payloads[0] ?? null;
    this.writing = null;
    this.pending = [];
    return first;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Like NodeLog.close: wait for the writes in flight (their appends settle first).
    if (this.writing !== null) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.disk.openLog === this) this.disk.openLog = null;
  }
}
