/**
 * What the parts of a sync node share: its options, its events and status as the CLI sees them, the
 * serial queue its jobs run on, and {@link NodeContext}, the one object each job (record exchange,
 * conflict votes, the agreed-commit writer, the effect loop) is given.
 */
import type { Input, ReplicaConfig, ReplicaPhase } from '../core/consensus/index.js';
import type { Resolution } from '../core/policy/index.js';
import type { LinkSecurity, ListenAddress, OperatorTlsFiles } from '../net/link.js';
import type { PeerLinkStats, TransportCounters } from '../net/transport-types.js';
import type { ClusterDoc } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import type { ValidationMode } from './batch.js';
import type { Chain } from './chain.js';
import type { NodeMemory } from './node-log.js';
import type { Clock, NodeLogPort, PeerTransport } from './ports.js';

/** Options of a node. */
export interface NodeOptions {
  /** A directory inside the node's repository (its work tree holds `.acu/cluster.json`). */
  readonly cwd: string;
  /** Where to listen (`--listen`); default: the host and port of this node's address in the cluster document. */
  readonly listen?: ListenAddress;
  /** Port to listen on, with the default host (`--port`; not with `listen`). */
  readonly port?: number;
  /** Allow plain `ws://` links on a cluster that is not all loopback (`--insecure`). */
  readonly insecure?: boolean;
  /** An operator's PKI instead of pinned self-signed certificates (`--tls-cert`, `--tls-key`, `--tls-ca`). */
  readonly operatorTls?: OperatorTlsFiles;
  readonly validation: ValidationMode;
  /** Milliseconds per consensus tick (round timeouts are counted in ticks). */
  readonly tickMs: number;
  /** Where the chain starts when this node has none yet; default: the protected branch's tip. */
  readonly genesis?: string;
  /** Also move `refs/heads/<branch>` to each agreed commit when it is a fast-forward and not checked out. */
  readonly fastForward?: boolean;
  /**
   * Hold newly learned ACUs this long before the replica may propose them, so that commits made
   * close together land in one batch and compose there (default 0: propose at once).
   */
  readonly batchMs?: number;
  /** Receives the node's events (the timeline). */
  readonly onEvent?: (event: NodeEvent) => void;
  /**
   * Watches the node for metrics (src/ops/metrics.ts): the replica's position after each step, and
   * the time durable writes take. Absent (the simulator, tests): nothing is observed.
   */
  readonly observer?: NodeObserver;
  /**
   * Decisions this node retains for peers catching up (default {@link decisionsKept}). A peer
   * further behind than this catches up by state transfer. Tests set it small (`--decisions-kept`).
   */
  readonly decisionsKept?: number;
  /** Overrides of the replica configuration (benchmarks use larger batches, and a pool that keeps them full). */
  readonly replica?: Partial<Pick<ReplicaConfig, 'batchAcusMax' | 'pendingAcusMax' | 'roundTimeoutTicks' | 'roundTimeoutIncrementTicks'>>;
}

/** What an observer may read of a running node. */
export interface ObservedNode {
  status(): NodeStatus;
  /** Each peer link's round trip and send queue (empty on transports without sockets). */
  linkStats(): readonly PeerLinkStats[];
}

/**
 * Hooks a node calls for metrics; each is optional and must return at once (they run on the
 * node's queues). Times measured by the node's clock port are in `nowMs`; durable writes are timed
 * where they happen, in seconds.
 */
export interface NodeObserver {
  /** The node is built: read it from now on (called once, before it starts). */
  attached?(node: ObservedNode): void;
  /** The replica stepped an input; where it is now. */
  stepped?(at: { readonly height: number; readonly round: number; readonly phase: ReplicaPhase }, nowMs: number): void;
  /** One group of log entries was written and fdatasynced (node-log.ts). */
  logSynced?(seconds: number): void;
  /** One agreed commit, its note and log entry were written (writer.ts). */
  agreedWritten?(seconds: number): void;
}

/** Something that happened, for the timeline and logs. */
export interface NodeEvent {
  readonly atMs: number;
  readonly node: string;
  readonly kind:
    | 'started' | 'recovered' | 'peer-up' | 'peer-down' | 'queued' | 'proposed' | 'validated' | 'conflict' | 'voted'
    | 'decided' | 'agreed' | 'evidence' | 'fault' | 'skipped' | 'stopping' | 'write-failed' | 'catch-up' | 'error'
    | 'membership' | 'removed'
    | 'concurrent-edit';
  readonly text: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An open conflict, as `acu status` shows it and `acu vote` names it. */
export interface OpenConflict {
  /** `<height>.<index>`: what `acu vote` takes. */
  readonly id: string;
  readonly a: string;
  readonly b: string;
  /** The sites that proposed each side. */
  readonly aSite: string;
  readonly bSite: string;
  readonly file: string;
  readonly message: string;
  /** What this node's policy voted, or null while it waits for a person. */
  readonly vote: Resolution | null;
}

/** A decided height whose agreed commit could not be written yet (a local failure; retried). */
export interface WriteFailure {
  readonly height: number;
  readonly message: string;
  readonly hint: string | null;
  readonly attempts: number;
  /** When the next attempt starts, milliseconds from now. */
  readonly retryInMs: number;
}

/** Where a state transfer (transfer.ts) stands, for `acu status`. */
export interface CatchUpStatus {
  /** This node's written height when it started. */
  readonly from: number;
  /** The height the peer's chain reaches (the peer's height, until its pack header says). */
  readonly to: number;
  readonly peer: string;
  readonly phase: 'asking' | 'receiving' | 'checking' | 'adopting';
  readonly bytesReceived: number;
  /** The pack's size, once its header has come. */
  readonly bytesTotal: number | null;
}

/** What `acu status` shows. */
export interface NodeStatus {
  readonly id: string;
  readonly site: string;
  /** This node's replica index; -1 once a membership change removed it (it no longer proposes or votes). */
  readonly replica: number;
  /** Whether this node is a member of the membership in force (false: removed; it still serves its API). */
  readonly member: boolean;
  /** The first height the membership in force decides, where this node took part in the change (0: no change since it started). */
  readonly membershipHeight: number;
  readonly cluster: { readonly n: number; readonly f: number; readonly quorum: number; readonly branch: string };
  readonly height: number;
  readonly round: number;
  readonly phase: ReplicaPhase;
  readonly leader: string;
  readonly peers: readonly { readonly id: string; readonly site: string; readonly connected: boolean; readonly lastHeardMsAgo: number | null }[];
  readonly pendingAcus: number;
  readonly conflicts: readonly OpenConflict[];
  readonly agreed: { readonly height: number; readonly commit: string | null };
  /** Set while an agreed commit fails to be written. */
  readonly writeFailure: WriteFailure | null;
  /** Set while a state transfer runs (docs/sync.md, "State transfer"). */
  readonly catchUp: CatchUpStatus | null;
  readonly validation: ValidationMode;
  /** How the peer links are secured and where the node listens (null: a transport without sockets). */
  readonly links: LinkSecurity | null;
  readonly counters: Readonly<TransportCounters> & { readonly ignoredMessages: number; readonly duplicateMessages: number; readonly evidence: number; readonly decisions: number; readonly fsyncs: number; readonly recordsRefused: number; readonly transfers: number; readonly transfersRefused: number; readonly membershipRefused: number; readonly parkedDropped: number };
  /** The scoring backend this node's validations use (null: it does not score, `--validation parse`). */
  readonly scoring: ScoringStatus | null;
  /** Declarations that ACUs of two or more sites change, all still pending (committed, not yet agreed). */
  readonly concurrentEdits: readonly ConcurrentEdit[];
}

/** The scoring backend of a node, as `acu status` shows it. */
export interface ScoringStatus {
  /** What the cluster document asks for (`auto` when it names nothing). */
  readonly choice: string;
  /** The backend that runs, and what of it runs (gpu.js's mode). */
  readonly backend: string;
  readonly detail: string;
  /** Why this backend: `forced`, or the rule `auto` followed. */
  readonly reason: string;
}

/** One pending ACU of a concurrent edit: who changed the declaration, where. */
export interface PendingEdit {
  readonly site: string;
  /** The cluster member that proposed (and signed) it. */
  readonly node: string;
  /** `Name <email>` of the commit's author. */
  readonly author: string;
  readonly commit: string;
  readonly acu: string;
}

/** A declaration with pending ACUs from more than one site: a conflict to vote on is likely. */
export interface ConcurrentEdit {
  /** `file#symbol`, or the file for a file-level ACU. */
  readonly declaration: string;
  readonly file: string;
  /** The pending ACUs on it, one per record, in the order this node learned them. */
  readonly edits: readonly PendingEdit[];
}

/**
 * Wire envelope between nodes: consensus messages, record bodies, requests for bodies, and the
 * state-transfer frames (transfer.ts).
 */
export type PeerFrame =
  | { readonly t: 'c'; readonly m: unknown }
  | { readonly t: 'records'; readonly records: readonly unknown[] }
  | { readonly t: 'need'; readonly ids: readonly string[] }
  | { readonly t: 'tip'; readonly height: number }
  | { readonly t: 'xfer-ask'; readonly id: string; readonly height: number; readonly haves: readonly string[] }
  | { readonly t: 'xfer-none'; readonly id: string; readonly reason: string }
  | {
    readonly t: 'xfer-pack'; readonly id: string; readonly height: number; readonly commit: string; readonly notes: string;
    readonly records: string | null; readonly bytes: number; readonly chunks: number;
  }
  | { readonly t: 'xfer-chunk'; readonly id: string; readonly seq: number; readonly data: Uint8Array };

/** Retained decisions by default (catch-up serves these; their record bodies are kept as long). */
export const decisionsKept = 256;

/** The decisions a node retains: its option, or {@link decisionsKept}. */
export function decisionsKeptOf(options: NodeOptions): number {
  return options.decisionsKept ?? decisionsKept;
}

/** Serial execution of async jobs, in submission order. */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.then(() => undefined, () => undefined);
    return result;
  }

  idle(): Promise<void> {
    return this.tail;
  }
}

/**
 * What every job of a node shares. `identity`, `cluster`, `self` and `memberIds` change when a
 * membership change takes effect (docs/sync.md, "Membership"): read them where they are used,
 * never keep them.
 */
export interface NodeContext {
  identity: NodeIdentity;
  /** The membership in force: the cluster document of the last written agreed commit. */
  cluster: ClusterDoc;
  /**
   * The membership before the last change this node took up (null: none since it started). A
   * record its members signed is still taken when a batch names it (exchange.ts): a site's records
   * signed with its old key before a rotation took effect are then not lost.
   */
  previousCluster: ClusterDoc | null;
  /** This node's replica index; -1 once it has been removed. */
  self: number;
  /** Node ids by replica index. */
  memberIds: readonly string[];
  readonly memory: NodeMemory;
  readonly log: NodeLogPort;
  readonly transport: PeerTransport;
  readonly chain: Chain;
  readonly clock: Clock;
  readonly options: NodeOptions;
  /** Git work — validations, agreed commits, the outbox — runs here, in submission order. */
  readonly gitQueue: SerialQueue;
  event(kind: NodeEvent['kind'], text: string, data?: Record<string, unknown>): void;
  /** Queue an input for the replica. */
  submit(input: Input): void;
  isStopped(): boolean;
  /** Our bug, or a failure the node cannot go on after: log it and stop. */
  fail(error: unknown): void;
  /** The site of a member, or the id itself for a non-member. */
  siteOf(id: string): string;
  /**
   * The writer wrote agreed commit `height` (on `parent`): the node takes up a membership change
   * it carries, for height + 1. Called on the git queue, in height order.
   */
  afterWritten(height: number, commit: string, parent: string): Promise<void>;
}
