/**
 * The sync node's Prometheus metrics (docs/operations.md, "Metrics"). Nothing here reaches into the
 * consensus core: the node calls the {@link NodeObserver} hooks (the replica's position after each
 * step, the time of durable writes), its events come through {@link NodeMetrics.onEvent}, and the
 * rest is read from its status at each scrape. Cumulative counts the node already keeps (frames
 * refused, evidence, ...) become counters by adding what grew since the last scrape.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReplicaPhase } from '../core/consensus/index.js';
import { assert } from '../core/errors.js';
import type { NodeEvent, NodeObserver, NodeStatus, ObservedNode } from '../sync/node-types.js';

/** Phases a decided height spent time in, as the decision latency histogram labels them. */
export const decisionPhases = ['proposal', 'validation', 'conflict-vote', 'prepare', 'final', 'round-change'] as const satisfies readonly ReplicaPhase[];

/** Outcomes of one notification delivery attempt chain (notify.ts). */
export type NotificationOutcome = 'sent' | 'retried' | 'failed' | 'dropped';

/**
 * Buckets of the decision latency, in seconds: a decision on loopback takes milliseconds, one that
 * waits for a person's conflict vote minutes.
 */
const decisionBucketsSeconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
/** Buckets of durable writes, in seconds: an fdatasync on an SSD is a millisecond or less. */
const writeBucketsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Faults of peers, each read from one cumulative count of the node's status. */
const faultCounts = {
  evidence: (c) => c.evidence,
  records_refused: (c) => c.recordsRefused,
  membership_refused: (c) => c.membershipRefused,
  transfer_refused: (c) => c.transfersRefused,
  auth_unknown_peer: (c) => c.authRefusedUnknownPeer,
  auth_bad_signature: (c) => c.authRefusedBadSignature,
  auth_protocol: (c) => c.authRefusedProtocol,
  auth_certificate: (c) => c.authRefusedCertificate,
  auth_timeout: (c) => c.authTimeouts,
  ping_timeout: (c) => c.pingTimeouts,
} as const satisfies Record<string, (counters: NodeStatus['counters']) => number>;

/** Frames and messages refused or dropped, by kind. */
const refusedCounts = {
  frame: (c) => c.framesRefused,
  fragment: (c) => c.fragmentsRefused,
  reassembly_evicted: (c) => c.reassemblyEvictions,
  message_ignored: (c) => c.ignoredMessages,
  message_duplicate: (c) => c.duplicateMessages,
  parked_dropped: (c) => c.parkedDropped,
} as const satisfies Record<string, (counters: NodeStatus['counters']) => number>;

/** Where the replica is in the height being decided, for the phase histogram. */
interface HeightTiming {
  readonly height: number;
  /** When it left 'idle' (null: still idle, nothing to decide yet). */
  startedMs: number | null;
  phase: ReplicaPhase;
  phaseSinceMs: number;
  round: number;
  /** Milliseconds spent in each phase so far. */
  readonly spentMs: Map<ReplicaPhase, number>;
}

/** The metrics of one sync node, in a registry of their own (served by http.ts at /metrics). */
export class NodeMetrics implements NodeObserver {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  private node: ObservedNode | null = null;
  private timing: HeightTiming | null = null;
  /** Cumulative counts as of the last scrape, by metric and label. */
  private readonly lastCounts = new Map<string, number>();
  private readonly g: ReturnType<typeof gauges>;
  private readonly c: ReturnType<typeof counters>;
  private readonly h: ReturnType<typeof histograms>;

  /** `processMetrics`: also prom-client's default process and Node.js metrics (off in unit tests). */
  constructor(options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.g = gauges(registers);
    this.c = counters(registers);
    this.h = histograms(registers);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The node to read status from at each scrape. */
  attached(node: ObservedNode): void {
    this.node = node;
  }

  /** The replica stepped: time the phases of the height it decides. */
  stepped(at: { readonly height: number; readonly round: number; readonly phase: ReplicaPhase }, nowMs: number): void {
    let t = this.timing;
    if (t !== null && at.height > t.height) {
      this.decided(t, nowMs);
      t = null;
    }
    if (t === null) {
      t = { height: at.height, startedMs: null, phase: 'idle', phaseSinceMs: nowMs, round: at.round, spentMs: new Map() };
      this.timing = t;
      this.c.rounds.inc();
    }
    if (at.round > t.round) {
      this.c.rounds.inc(at.round - t.round);
      this.c.viewChanges.inc(at.round - t.round);
      t.round = at.round;
    }
    if (at.phase === t.phase) return;
    t.spentMs.set(t.phase, (t.spentMs.get(t.phase) ?? 0) + Math.max(0, nowMs - t.phaseSinceMs));
    if (t.startedMs === null && at.phase !== 'idle') t.startedMs = nowMs;
    t.phase = at.phase;
    t.phaseSinceMs = nowMs;
  }

  private decided(t: HeightTiming, nowMs: number): void {
    t.spentMs.set(t.phase, (t.spentMs.get(t.phase) ?? 0) + Math.max(0, nowMs - t.phaseSinceMs));
    // A height decided without this replica ever leaving idle (caught up by messages alone) has
    // no latency of its own to report.
    if (t.startedMs === null) return;
    this.h.decision.observe(Math.max(0, nowMs - t.startedMs) / 1000);
    for (const phase of decisionPhases) {
      const spent = t.spentMs.get(phase);
      if (spent !== undefined) this.h.decisionPhase.observe({ phase }, spent / 1000);
    }
  }

  /** A group of log entries is durable. */
  logSynced(seconds: number): void {
    assert(seconds >= 0, 'logSynced: a duration');
    this.h.logSync.observe(seconds);
  }

  /** An agreed commit is written. */
  agreedWritten(seconds: number): void {
    assert(seconds >= 0, 'agreedWritten: a duration');
    this.h.agreedWrite.observe(seconds);
  }

  /** Count one of the node's events. */
  onEvent(event: NodeEvent): void {
    this.c.events.inc({ event: event.kind });
  }

  /** Count a notification's fate (notify.ts). */
  notification(outcome: NotificationOutcome): void {
    this.c.notifications.inc({ outcome });
  }

  /** The exposition text, with what is read from the node's status brought up to date first. */
  async text(): Promise<string> {
    if (this.node !== null) this.refresh(this.node.status(), this.node);
    return await this.registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private refresh(s: NodeStatus, node: ObservedNode): void {
    const { g } = this;
    g.info.reset();
    g.info.set({ node: s.id, site: s.site, branch: s.cluster.branch, validation: s.validation }, 1);
    g.member.set(s.member ? 1 : 0);
    g.members.set(s.cluster.n);
    g.quorum.set(s.cluster.quorum);
    g.height.set(s.height);
    g.round.set(s.round);
    g.agreedHeight.set(s.agreed.height);
    g.pendingAcus.set(s.pendingAcus);
    g.conflicts.set(s.conflicts.length);
    g.conflictsWaiting.set(s.conflicts.filter((c) => c.vote === null).length);
    g.writeFailing.set(s.writeFailure === null ? 0 : 1);
    g.catchingUp.set(s.catchUp === null ? 0 : 1);
    g.phase.reset();
    g.phase.set({ phase: s.phase }, 1);
    this.refreshPeers(s, node);
    this.grow(this.c.decisions, 'decisions', s.counters.decisions);
    this.grow(this.c.fsyncs, 'fsyncs', s.counters.fsyncs);
    this.grow(this.c.reconnects, 'reconnects', s.counters.reconnects);
    for (const [kind, of] of Object.entries(faultCounts)) this.grow(this.c.faults, `fault:${kind}`, of(s.counters), { kind });
    for (const [kind, of] of Object.entries(refusedCounts)) this.grow(this.c.refused, `refused:${kind}`, of(s.counters), { kind });
    this.grow(this.c.frames, 'frames:in', s.counters.framesIn, { direction: 'in' });
    this.grow(this.c.frames, 'frames:out', s.counters.framesOut, { direction: 'out' });
    this.grow(this.c.framesDropped, 'frames:dropped', s.counters.framesDropped);
    this.grow(this.c.messages, 'messages:in', s.counters.messagesIn, { direction: 'in' });
    this.grow(this.c.messages, 'messages:out', s.counters.messagesOut, { direction: 'out' });
    this.grow(this.c.messagesDropped, 'messages:dropped', s.counters.messagesDropped, { reason: 'queue' });
    this.grow(this.c.messagesDropped, 'messages:oversized', s.counters.messagesOversized, { reason: 'oversized' });
  }

  /** Per-peer gauges, rebuilt each scrape so a member removed from the cluster drops out. */
  private refreshPeers(s: NodeStatus, node: ObservedNode): void {
    const { g } = this;
    for (const gauge of [g.peerUp, g.peerLastHeard, g.peerRtt, g.peerQueueFrames, g.peerQueueBytes]) gauge.reset();
    const links = new Map(node.linkStats().map((link) => [link.peer, link]));
    for (const peer of s.peers) {
      const labels = { peer: peer.id, site: peer.site };
      g.peerUp.set(labels, peer.connected ? 1 : 0);
      if (peer.lastHeardMsAgo !== null) g.peerLastHeard.set(labels, peer.lastHeardMsAgo / 1000);
      const link = links.get(peer.id);
      if (link === undefined) continue;
      if (link.rttSeconds !== null) g.peerRtt.set(labels, link.rttSeconds);
      g.peerQueueFrames.set(labels, link.queuedFrames);
      g.peerQueueBytes.set(labels, link.queuedBytes + link.socketBufferedBytes);
    }
  }

  /** Add to `counter` what the cumulative `value` grew by since the last scrape. */
  private grow(counter: Counter<string>, key: string, value: number, labels: Record<string, string> = {}): void {
    const last = this.lastCounts.get(key) ?? 0;
    this.lastCounts.set(key, value);
    // A count never shrinks while the node runs; if one did (a replica replaced by a membership
    // change starts its stats afresh), its new value is what grew.
    const grown = value >= last ? value - last : value;
    // Adding 0 too: a series exists from the first scrape, so rate() sees its first increase.
    counter.inc(labels, grown);
  }
}

function gauges(registers: Registry[]) {
  const gauge = (name: string, help: string, labelNames: readonly string[] = []): Gauge<string> => new Gauge({ name, help, labelNames, registers });
  return {
    info: gauge('acu_node_info', 'This sync node: its id, site, protected branch and validation mode (always 1).', ['node', 'site', 'branch', 'validation']),
    member: gauge('acu_member', 'Whether this node is a member of the membership in force (1) or was removed (0).'),
    members: gauge('acu_cluster_members', 'Members of the membership in force.'),
    quorum: gauge('acu_cluster_quorum', 'Signatures a certificate needs.'),
    height: gauge('acu_consensus_height', 'The height the replica is deciding.'),
    round: gauge('acu_consensus_round', 'The round of that height (0 unless a round timed out).'),
    phase: gauge('acu_consensus_phase', 'The replica phase now (1 for the current phase).', ['phase']),
    agreedHeight: gauge('acu_agreed_height', 'The height of the last agreed commit written to refs/acu/<branch>.'),
    pendingAcus: gauge('acu_pending_acus', 'ACUs known to this node and not yet settled by an agreed commit.'),
    conflicts: gauge('acu_open_conflicts', 'Conflicts of the batch being decided.'),
    conflictsWaiting: gauge('acu_conflicts_waiting_vote', "Open conflicts whose vote waits for this site's operator."),
    writeFailing: gauge('acu_agreed_write_failing', 'Whether writing an agreed commit is failing and being retried (1) or not (0).'),
    catchingUp: gauge('acu_catch_up_active', 'Whether a state transfer runs (1) or not (0).'),
    peerUp: gauge('acu_peer_up', 'Whether the authenticated link to a peer is up (1) or not (0).', ['peer', 'site']),
    peerLastHeard: gauge('acu_peer_last_heard_seconds', 'Seconds since the last frame from a peer.', ['peer', 'site']),
    peerRtt: gauge('acu_peer_rtt_seconds', "The last ping's round trip on a peer's link.", ['peer', 'site']),
    peerQueueFrames: gauge('acu_peer_send_queue_frames', 'Frames waiting to be sent to a peer.', ['peer', 'site']),
    peerQueueBytes: gauge('acu_peer_send_queue_bytes', "Bytes waiting to be sent to a peer (the transport's queue and the socket's buffer).", ['peer', 'site']),
  };
}

function counters(registers: Registry[]) {
  const counter = (name: string, help: string, labelNames: readonly string[] = []): Counter<string> => new Counter({ name, help, labelNames, registers });
  return {
    rounds: counter('acu_rounds_total', 'Rounds this replica entered (one per height, plus one per view change).'),
    viewChanges: counter('acu_view_changes_total', 'Rounds that timed out and moved to a new leader.'),
    decisions: counter('acu_decisions_total', 'Heights decided by this replica.'),
    fsyncs: counter('acu_log_fsyncs_total', 'Durable writes of the write-ahead log made by the effect loop.'),
    reconnects: counter('acu_peer_reconnects_total', 'Links redialed after they ended.'),
    faults: counter('acu_peer_faults_total', 'Peer faults seen, by kind (evidence of equivocation, refused records, failed authentication, ...).', ['kind']),
    refused: counter('acu_refused_total', 'Frames and messages refused or ignored, by kind.', ['kind']),
    frames: counter('acu_frames_total', 'Frames accepted from peers (in) and written to sockets (out).', ['direction']),
    framesDropped: counter('acu_frames_dropped_total', 'Frames dropped unsent (queue full, or a link lost mid-message).'),
    messages: counter('acu_messages_total', 'Messages delivered to the node (in) and sent whole (out).', ['direction']),
    messagesDropped: counter('acu_messages_dropped_total', 'Messages dropped unsent, by reason.', ['reason']),
    events: counter('acu_events_total', 'Timeline events, by event name (the same names as the log).', ['event']),
    notifications: counter('acu_notifications_total', 'Webhook notifications, by outcome (sent, retried, failed after the last attempt, dropped from a full queue).', ['outcome']),
  };
}

function histograms(registers: Registry[]) {
  return {
    decision: new Histogram({ name: 'acu_decision_seconds', help: 'Time from a height becoming active (ACUs to decide) to its decision.', buckets: decisionBucketsSeconds, registers }),
    decisionPhase: new Histogram({ name: 'acu_decision_phase_seconds', help: 'Time a decided height spent in each replica phase.', labelNames: ['phase'], buckets: decisionBucketsSeconds, registers }),
    logSync: new Histogram({ name: 'acu_log_fsync_seconds', help: 'Time to write and fdatasync one group of write-ahead log entries.', buckets: writeBucketsSeconds, registers }),
    agreedWrite: new Histogram({ name: 'acu_agreed_write_seconds', help: 'Time to write one agreed commit: its note, ref and log entry.', buckets: writeBucketsSeconds, registers }),
  };
}
