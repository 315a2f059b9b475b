/**
 * The sync node: the host of one consensus replica (docs/sync.md). It carries out the replica's
 * effects in the order the core prescribes — persist (fdatasync) before any message leaves — and
 * supplies what the pure core cannot: peers (WebSocket transport), time (ticks), ACU bodies,
 * validation, the conflict policy, and agreed git commits with their certificates.
 *
 * Everything the node does to its replica runs through one serial queue, so the replica sees one
 * input at a time. Inputs that queue up while a write is on its way are stepped together and made
 * durable with one fsync (group commit). Git work — validations and agreed commits — runs on a
 * second serial queue, in height order, so the validation of height h always sees commit h - 1.
 */
import { join } from 'node:path';
import type { Server } from 'node:net';
import type { Choice, DecisionCert, Effect, Input, Message, PersistedState, ReplicaConfig, ReplicaPhase } from '../core/consensus/index.js';
import {
  batchDigestOf, bodyDigestOf, decodeLimitsOf, decodeMessage, defaultReplicaConfig, leaderOf, outcomeOf, quorumSize, Replica,
} from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import { resolveConflict } from '../core/policy/index.js';
import type { Policy, PolicyConflict, Resolution } from '../core/policy/index.js';
import { runGitRaw } from '../git/exec.js';
import { GitRepo } from '../git/index.js';
import { WsTransport } from '../net/transport.js';
import type { TransportCounters } from '../net/transport.js';
import type { ClusterDoc } from '../store/cluster.js';
import { clusterSizes, readCluster } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { loadIdentity } from '../store/identity.js';
import { readOutbox } from '../store/outbox.js';
import { nodeSocketPath } from './hook-run.js';
import { configuredPolicy } from '../validate/policy-config.js';
import { jsBitsetBackend } from '../validate/scoring/js-bitset.js';
import { Validator } from '../validate/validate.js';
import { agreedRef, writeAgreedCommit } from './agreed.js';
import { serveApi } from './api.js';
import type { ApiRequest } from './api.js';
import { composeAgreed, validateRecords } from './batch.js';
import type { BatchVerdict, Rejection, ValidationMode } from './batch.js';
import { clusterVerifier, identitySigner, replicaIndexOf, sha256Hex } from './crypto.js';
import { NodeLog, settle } from './node-log.js';
import type { NodeLogEntry, NodeMemory, PersonVote } from './node-log.js';
import { acuRefOf, decodeRecord, recordsOfCommit, recordVerifier } from './records.js';
import type { IdentifiedRecord } from './records.js';

/** Options of a node. */
export interface NodeOptions {
  /** A directory inside the node's repository (its work tree holds `.acu/cluster.json`). */
  readonly cwd: string;
  /** Port to listen on; default: the port of this node's address in the cluster document. */
  readonly port?: number;
  readonly host?: string;
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
  /** Overrides of the replica configuration (benchmarks use larger batches, and a pool that keeps them full). */
  readonly replica?: Partial<Pick<ReplicaConfig, 'batchAcusMax' | 'pendingAcusMax' | 'roundTimeoutTicks' | 'roundTimeoutIncrementTicks'>>;
}

/** Something that happened, for the timeline and logs. */
export interface NodeEvent {
  readonly atMs: number;
  readonly node: string;
  readonly kind:
    | 'started' | 'recovered' | 'peer-up' | 'peer-down' | 'queued' | 'proposed' | 'validated' | 'conflict' | 'voted'
    | 'decided' | 'agreed' | 'evidence' | 'skipped' | 'stopping' | 'error';
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

/** What `acu status` shows. */
export interface NodeStatus {
  readonly id: string;
  readonly site: string;
  readonly replica: number;
  readonly cluster: { readonly n: number; readonly f: number; readonly quorum: number; readonly branch: string };
  readonly height: number;
  readonly round: number;
  readonly phase: ReplicaPhase;
  readonly leader: string;
  readonly peers: readonly { readonly id: string; readonly site: string; readonly connected: boolean; readonly lastHeardMsAgo: number | null }[];
  readonly pendingAcus: number;
  readonly conflicts: readonly OpenConflict[];
  readonly agreed: { readonly height: number; readonly commit: string | null };
  readonly validation: ValidationMode;
  readonly counters: Readonly<TransportCounters> & { readonly ignoredMessages: number; readonly duplicateMessages: number; readonly evidence: number; readonly decisions: number; readonly fsyncs: number };
}

/** Wire envelope between nodes: consensus messages, record bodies, and requests for bodies. */
type PeerFrame =
  | { readonly t: 'c'; readonly m: unknown }
  | { readonly t: 'records'; readonly records: readonly unknown[] }
  | { readonly t: 'need'; readonly ids: readonly string[] };

/** Records shipped per frame, at most (keeps frames well under the frame size limit). */
const recordsPerFrameMax = 256;
/** Ids asked for per request, at most. */
const needIdsMax = 4096;
/** How long a validation or a decision waits for missing record bodies before asking again. */
const bodyWaitMs = 1_000;
/** Retained decisions (catch-up serves these). */
const decisionsKept = 256;

/** Serial execution of async jobs, in submission order. */
class SerialQueue {
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

interface PendingPolicy {
  readonly height: number;
  readonly round: number;
  readonly batchDigest: string;
  readonly validationDigest: string;
  readonly conflicts: readonly PolicyConflict[];
  readonly startedTick: number;
  readonly views: readonly OpenConflict[];
}

/** A running sync node. */
export class SyncNode {
  private readonly queue = new SerialQueue();
  private readonly gitQueue = new SerialQueue();
  private inbox: Input[] = [];
  private draining = false;
  private ticker: NodeJS.Timeout | null = null;
  private transport!: WsTransport;
  private api: Server | null = null;
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private nowTick = 0;
  private fsyncs = 0;
  private readonly verdicts = new Map<string, BatchVerdict>();
  private readonly bodyWaiters = new Set<() => void>();
  private pendingPolicy: PendingPolicy | null = null;
  private held: IdentifiedRecord[] = [];
  /** Record ids of decided batches whose agreed commit is not written yet (then they are settled). */
  private readonly decidedUnwritten = new Set<string>();
  private heldTimer: NodeJS.Timeout | null = null;
  private readonly lastHeard = new Map<string, number>();
  private readonly validator: Validator | null;
  private readonly memberIds: string[];
  private readonly verifier;
  private readonly limits;
  /** Resolves when the node has stopped. */
  readonly stoppedPromise: Promise<void>;
  private resolveStopped!: () => void;

  private constructor(
    private readonly repo: GitRepo,
    private readonly cluster: ClusterDoc,
    private readonly identity: NodeIdentity,
    private readonly self: number,
    private readonly replica: Replica,
    private readonly log: NodeLog,
    private readonly memory: NodeMemory,
    private readonly options: NodeOptions,
    private readonly policy: Policy,
  ) {
    this.memberIds = cluster.members.map((member) => member.id);
    this.verifier = clusterVerifier(cluster);
    this.limits = decodeLimitsOf(replicaConfigOf(cluster, self, options));
    this.validator = options.validation === 'typecheck' ? new Validator(jsBitsetBackend()) : null;
    this.stoppedPromise = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  /** Open the repository, recover from the log, connect to the peers and serve the local API. */
  static async start(options: NodeOptions): Promise<SyncNode> {
    const repo = await GitRepo.open(options.cwd);
    if (repo.workTree === null) {
      await repo.close();
      throw new AcuError('ERR_CONFIG', 'a sync node needs a repository with a work tree (it reads .acu/cluster.json)', { hint: 'run it in a clone, not a bare repository' });
    }
    const cluster = await readCluster(repo.workTree);
    const identity = await loadIdentity(repo.commonDir);
    const self = replicaIndexOf(cluster, identity.id);
    if (self < 0) {
      await repo.close();
      throw new AcuError('ERR_CONFIG', `this node (${identity.id}) is not a member of the cluster`, {
        hint: `add it with 'acu cluster add ${identity.publicKey} ws://<host>:<port>' and commit .acu/cluster.json`,
      });
    }
    const { log, memory, truncatedBytes } = await NodeLog.open(join(repo.commonDir, 'acu', 'node.wal'), decisionsKept, recordVerifier(cluster));
    const config = replicaConfigOf(cluster, self, options);
    const signer = identitySigner(cluster, identity);
    const state = memory.state;
    const replica = state === null ? Replica.create(config, signer) : Replica.restore(config, signer, withDecisions(state, memory));
    const policy = await configuredPolicy(repo.workTree, cluster);
    const node = new SyncNode(repo, cluster, identity, self, replica, log, memory, options, policy);
    try {
      await node.begin(state !== null, truncatedBytes);
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  private event(kind: NodeEvent['kind'], text: string, data?: Record<string, unknown>): void {
    this.options.onEvent?.({ atMs: Date.now(), node: this.identity.id, kind, text, ...(data === undefined ? {} : { data }) });
  }

  private async begin(recovered: boolean, truncatedBytes: number): Promise<void> {
    if (this.memory.genesis === null) {
      const rev = this.options.genesis ?? `refs/heads/${this.cluster.branch}`;
      const existing = await this.revParse(agreedRef(this.cluster.branch));
      const genesis = existing ?? (await this.revParse(rev));
      if (genesis === null) {
        throw new AcuError('ERR_UNKNOWN_REVISION', `cannot find where the agreed chain starts: ${rev} does not name a commit`, {
          hint: `create branch '${this.cluster.branch}' (the cluster's protected branch), or pass --genesis <commit>`,
        });
      }
      this.memory.genesis = genesis;
      await this.log.append([{ k: 'genesis', commit: genesis }]);
    }
    // A crash between deciding and writing the agreed commit: write what the log holds decided.
    const status = this.replica.status();
    if (recovered) {
      this.event('recovered', `recovered from the log at height ${status.height}, round ${status.round}${truncatedBytes > 0 ? ` (cut ${truncatedBytes} bytes of a torn write)` : ''}`, { height: status.height, round: status.round });
    }
    for (let h = this.memory.writtenHeight + 1; h < status.height; h += 1) {
      const cert = this.memory.decisions.get(h);
      if (cert === undefined) continue;
      for (const id of cert.value.batch.acuIds) this.decidedUnwritten.add(id);
      void this.gitQueue.run(() => this.writeDecision(cert));
    }
    const me = this.cluster.members[this.self]!;
    const port = this.options.port ?? Number(new URL(me.address).port);
    this.transport = new WsTransport({
      identity: this.identity,
      members: this.cluster.members,
      listen: { host: this.options.host ?? '127.0.0.1', port },
      events: {
        onMessage: (from, value) => this.onPeerFrame(from, value),
        onPeerUp: (id) => this.onPeerUp(id),
        onPeerDown: (id) => this.event('peer-down', `lost ${this.siteOf(id)}`, { peer: id }),
      },
    });
    await this.transport.start();
    this.api = await serveApi(nodeSocketPath(this.repo.commonDir), (request) => this.onApi(request));
    // Records known but not yet settled go back into the replica's pool.
    const unsettled = [...this.memory.records.values()].filter((item) => !this.memory.settled.has(item.id));
    if (unsettled.length > 0) this.submit({ type: 'propose_request', acus: unsettled.map(acuRefOf) });
    this.ticker = setInterval(() => this.onTick(), this.options.tickMs);
    this.event('started', `node ${this.identity.id} (${me.site}) listening on port ${port}; replica ${this.self} of ${this.cluster.members.length}`);
    // Not awaited: the git queue may first be finishing a decision that waits for record bodies
    // from peers, and a node that is up must answer its API meanwhile.
    void this.takeOutbox().catch((error: unknown) => this.fail(error));
  }

  private async revParse(rev: string): Promise<string | null> {
    const result = await runGitRaw(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { cwd: this.repo.gitDir, gitDir: this.repo.gitDir });
    return result.exitCode === 0 ? result.stdout.toString('utf8').trim() : null;
  }

  private siteOf(id: string): string {
    return this.cluster.members.find((member) => member.id === id)?.site ?? id;
  }

  // ---- the replica's queue --------------------------------------------------------------------

  /** Queue an input for the replica; inputs that queue up together share one fsync. */
  private submit(input: Input): void {
    if (this.stopped) return;
    this.inbox.push(input);
    if (this.draining) return;
    this.draining = true;
    void this.queue.run(() => this.drain()).catch((error: unknown) => this.fail(error));
  }

  private async drain(): Promise<void> {
    try {
      while (this.inbox.length > 0 && !this.stopped) {
        const inputs = this.inbox;
        this.inbox = [];
        const effects: Effect[] = [];
        for (const input of inputs) {
          const stepped = this.replica.step(this.withoutDecided(input));
          for (const effect of stepped) {
            if (effect.type === 'decide') for (const id of effect.cert.value.batch.acuIds) this.decidedUnwritten.add(id);
          }
          effects.push(...stepped);
        }
        await this.carryOut(effects);
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * A record learned while it was being decided (its body logged by a slow write while the batch
   * that holds it went through) must not go back into the replica's pool: the replica would
   * propose it again at a later height, one record in two decisions.
   */
  private withoutDecided(input: Input): Input {
    if (input.type !== 'propose_request') return input;
    const acus = input.acus.filter((acu) => !this.memory.settled.has(acu.id) && !this.decidedUnwritten.has(acu.id));
    return acus.length === input.acus.length ? input : { type: 'propose_request', acus };
  }

  /** Carry out effects in order: one durable write first, then everything that may leave the node. */
  private async carryOut(effects: readonly Effect[]): Promise<void> {
    const entries: NodeLogEntry[] = [];
    let state: PersistedState | null = null;
    for (const effect of effects) {
      if (effect.type === 'persist') state = effect.state;
      if (effect.type === 'decide') entries.push({ k: 'decision', cert: effect.cert });
    }
    if (state !== null) entries.push({ k: 'state', state: { ...state, decisions: [] } });
    if (entries.length > 0) {
      await this.log.append(entries);
      this.fsyncs += 1;
    }
    for (const effect of effects) {
      switch (effect.type) {
        case 'persist':
        case 'timer':
          break;
        case 'send':
          this.sendConsensus(effect.to, effect.msg);
          break;
        case 'validate':
          void this.gitQueue.run(() => this.validate(effect.height, effect.round, effect.batch)).catch((error: unknown) => this.fail(error));
          break;
        case 'policy':
          this.startPolicy(effect);
          break;
        case 'decide':
          this.event('decided', `height ${effect.cert.height} decided in round ${effect.cert.round}`, { height: effect.cert.height, acuIds: effect.cert.value.batch.acuIds.length });
          this.memory.decisions.set(effect.cert.height, effect.cert);
          this.memory.decisions.delete(effect.cert.height - decisionsKept);
          void this.gitQueue.run(() => this.writeDecision(effect.cert)).catch((error: unknown) => this.fail(error));
          break;
        case 'evidence':
          this.event('evidence', `peer fault: ${effect.evidence.type}`, { evidence: effect.evidence.type });
          break;
      }
    }
  }

  private sendConsensus(to: number | 'all', msg: Message): void {
    const frame: PeerFrame = { t: 'c', m: msg };
    if (to === 'all') this.transport.broadcast(frame);
    else if (to !== this.self) this.transport.send(this.memberIds[to]!, frame);
    if (msg.type === 'proposal') {
      this.event('proposed', `leads height ${msg.height} round ${msg.round}: proposes ${msg.body.batch.acuIds.length} ACUs`, { height: msg.height, round: msg.round, acus: msg.body.batch.acuIds.length });
    }
  }

  private onTick(): void {
    this.nowTick += 1;
    this.submit({ type: 'tick' });
    if (this.pendingPolicy !== null) this.evaluatePolicy();
  }

  // ---- peers ----------------------------------------------------------------------------------

  private onPeerUp(id: string): void {
    this.event('peer-up', `connected to ${this.siteOf(id)}`, { peer: id });
    // A peer that was away may have missed record bodies: offer the unsettled ones again.
    const unsettled = [...this.memory.records.values()].filter((item) => !this.memory.settled.has(item.id));
    this.sendRecords(id, unsettled);
  }

  private sendRecords(to: string /* a node id, or 'all' */, items: readonly IdentifiedRecord[]): void {
    for (let at = 0; at < items.length; at += recordsPerFrameMax) {
      const frame: PeerFrame = { t: 'records', records: items.slice(at, at + recordsPerFrameMax).map((item) => item.record) };
      if (to === 'all') this.transport.broadcast(frame);
      else this.transport.send(to, frame);
    }
  }

  /** A peer's frame: anything malformed is dropped and counted, never thrown. */
  private onPeerFrame(from: string, value: unknown): void {
    this.lastHeard.set(from, Date.now());
    const frame = value as Partial<Record<string, unknown>>;
    if (frame.t === 'c') {
      const decoded = decodeMessage(frame.m, this.limits, this.verifier);
      if (!decoded.ok) {
        this.transport.counters.framesRefused += 1;
        return;
      }
      this.submit({ type: 'message', msg: decoded.msg });
      return;
    }
    if (frame.t === 'records' && Array.isArray(frame.records) && frame.records.length <= recordsPerFrameMax) {
      void this.learnRecords(frame.records.map((raw) => decodeRecord(raw, recordVerifier(this.cluster))).filter((item): item is IdentifiedRecord => item !== null));
      return;
    }
    if (frame.t === 'need' && Array.isArray(frame.ids) && frame.ids.length <= needIdsMax) {
      const known = frame.ids.filter((id): id is string => typeof id === 'string').map((id) => this.memory.records.get(id)).filter((item) => item !== undefined);
      this.sendRecords(from, known);
      return;
    }
    this.transport.counters.framesRefused += 1;
  }

  /** Keep new record bodies durably, then offer them to the replica. */
  private async learnRecords(items: readonly IdentifiedRecord[]): Promise<IdentifiedRecord[]> {
    const fresh = items.filter((item) => !this.memory.records.has(item.id) && !this.memory.settled.has(item.id));
    if (fresh.length === 0) return [];
    for (const item of fresh) this.memory.records.set(item.id, item);
    await this.log.append([{ k: 'records', records: fresh.map((item) => item.record) }]);
    this.pool(fresh);
    for (const wake of [...this.bodyWaiters]) wake();
    return fresh;
  }

  /** Offer records to the replica, after the batching window when there is one. */
  private pool(items: readonly IdentifiedRecord[]): void {
    const windowMs = this.options.batchMs ?? 0;
    if (windowMs <= 0) {
      this.submit({ type: 'propose_request', acus: items.map(acuRefOf) });
      return;
    }
    this.held.push(...items);
    this.heldTimer ??= setTimeout(() => {
      this.heldTimer = null;
      const held = this.held;
      this.held = [];
      this.submit({ type: 'propose_request', acus: held.map(acuRefOf) });
    }, windowMs);
  }

  /** The bodies of `ids`, asking the peers for missing ones until they come or the node stops. */
  private async bodiesOf(ids: readonly string[], ask: string /* a node id, or 'all' */, patience: number): Promise<IdentifiedRecord[] | null> {
    for (let attempt = 0; attempt <= patience && !this.stopped; attempt += 1) {
      const missing = ids.filter((id) => !this.memory.records.has(id));
      if (missing.length === 0) return ids.map((id) => this.memory.records.get(id)!);
      const frame: PeerFrame = { t: 'need', ids: missing.slice(0, needIdsMax) };
      if (ask === 'all' || ask === this.identity.id || attempt > 0) this.transport.broadcast(frame);
      else this.transport.send(ask, frame);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.bodyWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, bodyWaitMs);
        this.bodyWaiters.add(wake);
      });
    }
    return null;
  }

  // ---- proposing ------------------------------------------------------------------------------

  /** Take new commits from the outbox the post-commit hook fills. */
  private takeOutbox(): Promise<number> {
    return this.gitQueue.run(async () => {
      const { records } = await readOutbox(this.repo.commonDir);
      let proposed = 0;
      for (let i = this.memory.outboxTaken; i < records.length; i += 1) {
        const entry = records[i]!;
        if (entry.branch !== null && entry.branch !== this.cluster.branch) {
          this.event('skipped', `commit ${entry.commit.slice(0, 12)} is on branch '${entry.branch}', not '${this.cluster.branch}'; propose it with 'acu propose ${entry.commit.slice(0, 12)}'`);
        } else {
          proposed += await this.proposeCommit(entry.commit);
        }
        await this.log.append([{ k: 'outbox', taken: i + 1 }]);
        this.memory.outboxTaken = i + 1;
      }
      return proposed;
    });
  }

  /** Extract a commit's records, keep them, send them to every peer and pool them. */
  private async proposeCommit(commit: string): Promise<number> {
    let items: IdentifiedRecord[];
    try {
      items = await recordsOfCommit(this.repo, commit, { identity: this.identity, member: this.cluster.members[this.self]! });
    } catch (error) {
      this.event('error', `could not extract ${commit.slice(0, 12)}: ${error instanceof Error ? error.message : String(error)}`);
      return 0;
    }
    const fresh = await this.learnRecords(items);
    this.sendRecords('all', fresh);
    this.event('queued', `commit ${commit.slice(0, 12)}: ${fresh.length} ACU${fresh.length === 1 ? '' : 's'} proposed`, { commit, acus: fresh.length });
    return fresh.length;
  }

  /**
   * Propose records that did not come from a commit of this repository (benchmarks and tests feed
   * synthetic ones): keep them, send them to every peer and pool them.
   */
  async proposeRecords(items: readonly IdentifiedRecord[]): Promise<number> {
    const fresh = await this.learnRecords(items);
    this.sendRecords('all', fresh);
    return fresh.length;
  }

  // ---- validation and policy ------------------------------------------------------------------

  private baseFor(height: number): string | null {
    if (height === 0) return this.memory.genesis;
    return height - 1 === this.memory.writtenHeight ? this.memory.writtenCommit : null;
  }

  private async validate(height: number, round: number, batch: Parameters<typeof batchDigestOf>[1]): Promise<void> {
    const leader = this.memberIds[leaderOf(height, round, this.memberIds.length)]!;
    const items = await this.bodiesOf(batch.acuIds, leader, 3);
    if (items === null) return; // Bodies never came: a lying leader; the round times out.
    if (bodyDigestOf(sha256Hex, items.map(acuRefOf)) !== batch.bodyDigest) return;
    const base = this.baseFor(height);
    if (base === null) return; // Behind: catch-up will bring the decision.
    const verdict = await validateRecords(this.repo, base, items, { mode: this.options.validation, validator: this.validator });
    const batchDigest = batchDigestOf({ digestHex: sha256Hex }, batch);
    this.verdicts.set(batchDigest, verdict);
    if (this.verdicts.size > 64) this.verdicts.delete(this.verdicts.keys().next().value!);
    const invalid = verdict.invalid.length;
    this.event('validated', `height ${height} round ${round}: ${items.length} ACUs, ${verdict.conflicts.length} conflict${verdict.conflicts.length === 1 ? '' : 's'}${invalid > 0 ? `, ${invalid} invalid` : ''}`, { height, round });
    this.submit({ type: 'validated', height, round, batchDigest, result: verdict.consensus });
  }

  private startPolicy(effect: Extract<Effect, { type: 'policy' }>): void {
    const verdict = this.verdicts.get(effect.batchDigest);
    const siteOf = (id: string): string => this.memory.records.get(id)?.record.origin.site ?? '';
    const whereOf = (id: string): string => {
      const acu = this.memory.records.get(id)?.record.acu;
      return acu === undefined ? id.slice(0, 12) : acu.level === 'decl' && acu.symbol !== '' ? `${acu.file}#${acu.symbol}` : acu.file;
    };
    const batch = effect.conflicts;
    const conflicts: PolicyConflict[] = batch.map((c, i) => ({
      id: `${effect.height}.${i}`,
      a: { acuIds: [c.a], site: siteOf(c.a), sequence: 0, risk: 0, interference: 0 },
      b: { acuIds: [c.b], site: siteOf(c.b), sequence: 1, risk: 0, interference: 0 },
      bothValid: false,
    }));
    const views = batch.map((c, i) => ({
      id: `${effect.height}.${i}`, a: whereOf(c.a), b: whereOf(c.b), aSite: siteOf(c.a), bSite: siteOf(c.b),
      file: verdict?.conflicts[i]?.file ?? '', message: verdict?.conflicts[i]?.message ?? '', vote: null,
    }));
    this.pendingPolicy = { ...effect, conflicts, startedTick: this.nowTick, views };
    for (const view of views) this.event('conflict', `conflict ${view.id}: ${view.a} vs ${view.b} (${view.message})`, { conflict: view.id });
    this.evaluatePolicy();
  }

  private evaluatePolicy(): void {
    const pending = this.pendingPolicy;
    if (pending === null) return;
    const status = this.replica.status();
    if (status.height !== pending.height || status.round !== pending.round) {
      this.pendingPolicy = null;
      return;
    }
    const votes = votesFor(pending.conflicts, this.memory.votes);
    const choices: Choice[] = [];
    const decided: (Resolution | null)[] = [];
    for (const conflict of pending.conflicts) {
      const answer = resolveConflict(this.policy, conflict, { votes, elapsedTicks: this.nowTick - pending.startedTick });
      decided.push(answer.kind === 'choice' ? answer.resolution : null);
      if (answer.kind === 'choice') choices.push(consensusChoice(answer.resolution));
    }
    this.pendingPolicy = { ...pending, views: pending.views.map((view, i) => ({ ...view, vote: decided[i] ?? null })) };
    if (choices.length !== pending.conflicts.length) return;
    this.pendingPolicy = null;
    this.event('voted', `height ${pending.height}: votes ${choices.join(', ')}`, { height: pending.height, choices });
    this.submit({ type: 'policy_vote', height: pending.height, round: pending.round, batchDigest: pending.batchDigest, validationDigest: pending.validationDigest, choices });
  }

  // ---- agreed commits -------------------------------------------------------------------------

  private async writeDecision(cert: DecisionCert): Promise<void> {
    const height = cert.height;
    if (this.stopped) return; // The log still holds the decision; the next start writes it.
    if (height <= this.memory.writtenHeight) {
      for (const id of cert.value.batch.acuIds) this.decidedUnwritten.delete(id);
      return;
    }
    const parent = this.baseFor(height);
    assert(parent !== null, 'decisions are written in height order');
    const batch = cert.value.batch;
    const items = await this.bodiesOf(batch.acuIds, 'all', Number.MAX_SAFE_INTEGER);
    if (items === null) return; // Stopping.
    const outcome = outcomeOf(batch.acuIds, cert.value.validation.conflicts, cert.value.resolution);
    const deferred: Rejection[] = outcome.deferred.map((id) => ({ id, reason: deferralReason(id, cert) }));
    const batchDigest = batchDigestOf({ digestHex: sha256Hex }, batch);
    let verdict = this.verdicts.get(batchDigest);
    if (verdict?.consensus.detailDigest !== cert.value.validation.detailDigest) {
      verdict = await validateRecords(this.repo, parent, items, { mode: this.options.validation, validator: this.validator });
      if (verdict.consensus.detailDigest !== cert.value.validation.detailDigest) {
        this.event('error', `height ${height}: this node's validation differs from the certified one; writing the certified outcome`);
      }
    }
    const invalid = new Map(verdict.invalid.map((r) => [r.id, r.reason]));
    const appliedSet = new Set(outcome.applied.filter((id) => !invalid.has(id)));
    const candidates = items.filter((item) => appliedSet.has(item.id));
    const composed = await composeAgreed(this.repo, parent, candidates);
    const rejected: Rejection[] = [...[...invalid].filter(([id]) => outcome.applied.includes(id)).map(([id, reason]) => ({ id, reason })), ...composed.rejected];
    const { commit } = await writeAgreedCommit(this.repo, {
      branch: this.cluster.branch, parentCommit: parent, cert, records: items, tree: composed.tree, applied: composed.applied,
      deferred, rejected, memberIds: this.memberIds,
    });
    const ref = agreedRef(this.cluster.branch);
    await this.repo.updateRef(ref, commit);
    if (this.options.fastForward === true) await this.fastForward(commit);
    await this.log.append([{ k: 'written', height, commit, settled: batch.acuIds }]);
    this.memory.writtenHeight = height;
    this.memory.writtenCommit = commit;
    settle(this.memory, height, batch.acuIds, decisionsKept);
    for (const id of batch.acuIds) this.decidedUnwritten.delete(id);
    this.event('agreed', `height ${height}: agreed commit ${commit.slice(0, 12)} (${composed.applied.length} applied, ${deferred.length} deferred, ${rejected.length} rejected)`, {
      height, commit, applied: composed.applied.length, deferred: deferred.length, rejected: rejected.length,
    });
  }

  private async fastForward(commit: string): Promise<void> {
    const head = await runGitRaw(['symbolic-ref', '--quiet', 'HEAD'], { cwd: this.repo.gitDir, gitDir: this.repo.gitDir });
    const branchRef = `refs/heads/${this.cluster.branch}`;
    if (head.exitCode === 0 && head.stdout.toString('utf8').trim() === branchRef) return;
    const current = await this.revParse(branchRef);
    if (current !== null) {
      const ancestor = await runGitRaw(['merge-base', '--is-ancestor', current, commit], { cwd: this.repo.gitDir, gitDir: this.repo.gitDir });
      if (ancestor.exitCode !== 0) return;
    }
    await this.repo.updateRef(branchRef, commit, { oldOid: current });
  }

  // ---- local API ------------------------------------------------------------------------------

  private async onApi(request: ApiRequest): Promise<unknown> {
    switch (request.type) {
      case 'poke':
        void this.takeOutbox().catch((error: unknown) => this.fail(error));
        return { taken: true };
      case 'status':
        return this.status();
      case 'propose': {
        const commit = await this.revParse(request.rev);
        if (commit === null) throw new AcuError('ERR_UNKNOWN_REVISION', `'${request.rev}' does not name a commit`, { hint: 'pass a commit id, a branch name or HEAD' });
        const acus = await this.gitQueue.run(() => this.proposeCommit(commit));
        return { commit, acus };
      }
      case 'vote':
        return await this.personVote(request.conflict, request.choice);
      case 'stop':
        setImmediate(() => void this.stop());
        return { stopping: true };
    }
  }

  private async personVote(conflict: string, choice: string): Promise<unknown> {
    const resolutions: readonly Resolution[] = ['keep-a', 'keep-b', 'keep-both', 'defer'];
    if (!(resolutions as readonly string[]).includes(choice)) {
      throw new AcuError('ERR_USAGE', `'${choice}' is not a choice`, { hint: `choose one of ${resolutions.join(', ')}` });
    }
    if (!/^\d+\.\d+$/.test(conflict)) throw new AcuError('ERR_USAGE', `'${conflict}' is not a conflict id`, { hint: "conflict ids look like '3.0'; 'acu status' lists the open ones" });
    const current = this.pendingPolicy?.conflicts.find((c) => c.id === conflict);
    const sides: [string, string] | null = current === undefined ? null : [current.a.acuIds[0]!, current.b.acuIds[0]!];
    this.memory.votes.set(conflict, { choice, sides });
    await this.log.append([{ k: 'vote', conflict, choice, sides }]);
    const open = this.pendingPolicy?.views.some((view) => view.id === conflict) ?? false;
    this.evaluatePolicy();
    return { conflict, choice, open };
  }

  /** What `acu status` shows. */
  status(): NodeStatus {
    const s = this.replica.status();
    const connected = new Set(this.transport.connectedPeers());
    const now = Date.now();
    return {
      id: this.identity.id,
      site: this.cluster.members[this.self]!.site,
      replica: this.self,
      cluster: { ...clusterSizes(this.cluster), branch: this.cluster.branch },
      height: s.height,
      round: s.round,
      phase: s.phase,
      leader: this.memberIds[s.leader]!,
      peers: this.cluster.members.filter((_, i) => i !== this.self).map((m) => {
        const heard = this.lastHeard.get(m.id);
        return { id: m.id, site: m.site, connected: connected.has(m.id), lastHeardMsAgo: heard === undefined ? null : now - heard };
      }),
      pendingAcus: [...this.memory.records.keys()].filter((id) => !this.memory.settled.has(id)).length,
      conflicts: this.pendingPolicy?.views ?? [],
      agreed: { height: this.memory.writtenHeight, commit: this.memory.writtenCommit },
      validation: this.options.validation,
      counters: { ...this.transport.counters, ...this.replica.stats, fsyncs: this.fsyncs },
    };
  }

  // ---- stopping -------------------------------------------------------------------------------

  private fail(error: unknown): void {
    this.event('error', error instanceof Error ? error.stack ?? error.message : String(error));
    void this.stop();
  }

  /** Stop cleanly: no new inputs, finish the durable work in flight, close everything. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.event('stopping', 'stopping');
      if (this.ticker !== null) clearInterval(this.ticker);
      if (this.heldTimer !== null) clearTimeout(this.heldTimer);
      this.stopped = true;
      for (const wake of [...this.bodyWaiters]) wake();
      await this.queue.idle();
      await this.gitQueue.idle();
      if (this.api !== null) await new Promise<void>((resolve) => this.api!.close(() => resolve()));
      await this.transport?.stop();
      await this.log.close();
      this.validator?.dispose();
      await this.repo.close();
      this.resolveStopped();
    })();
    return this.stopping;
  }
}

/**
 * People's votes for the conflicts open now, by their ids. A vote cast on an open conflict follows
 * its two ACUs: another round may list the conflicts in another order or swap a and b, and then
 * `keep-a` means the ACU that was a when the person voted. A vote cast before its conflict opened
 * applies to whatever conflict holds that id.
 */
export function votesFor(conflicts: readonly PolicyConflict[], stored: ReadonlyMap<string, PersonVote>): Map<string, Resolution> {
  const out = new Map<string, Resolution>();
  const swapped = (choice: Resolution): Resolution => (choice === 'keep-a' ? 'keep-b' : choice === 'keep-b' ? 'keep-a' : choice);
  for (const conflict of conflicts) {
    const [a, b] = [conflict.a.acuIds[0], conflict.b.acuIds[0]];
    let chosen: Resolution | undefined;
    for (const vote of stored.values()) {
      if (vote.sides === null) continue;
      if (vote.sides[0] === a && vote.sides[1] === b) chosen = vote.choice as Resolution;
      else if (vote.sides[0] === b && vote.sides[1] === a) chosen = swapped(vote.choice as Resolution);
    }
    const positional = stored.get(conflict.id);
    if (chosen === undefined && positional !== undefined && positional.sides === null) chosen = positional.choice as Resolution;
    if (chosen !== undefined) out.set(conflict.id, chosen);
  }
  return out;
}

function consensusChoice(resolution: Resolution): Choice {
  switch (resolution) {
    case 'keep-a':
      return 'keep_a';
    case 'keep-b':
      return 'keep_b';
    case 'keep-both':
      return 'keep_both';
    case 'defer':
      return 'defer_both';
  }
}

function deferralReason(id: string, cert: DecisionCert): string {
  const { conflicts } = cert.value.validation;
  const i = conflicts.findIndex((c) => c.a === id || c.b === id);
  const other = i < 0 ? '' : conflicts[i]!.a === id ? conflicts[i]!.b : conflicts[i]!.a;
  return `conflict ${cert.height}.${i} with ${other.slice(0, 12)}: the cluster resolved it as ${cert.value.resolution[i] ?? 'defer_both'}`;
}

/** The replica configuration of a node: the defaults, larger batches, and the node's overrides. */
function replicaConfigOf(cluster: ClusterDoc, self: number, options: NodeOptions): ReplicaConfig {
  const base = defaultReplicaConfig(cluster.members.length, self);
  return { ...base, batchAcusMax: 256, decisionsRetainedMax: decisionsKept, ...options.replica };
}

function withDecisions(state: PersistedState, memory: NodeMemory): PersistedState {
  const decisions = [...memory.decisions.values()].filter((cert) => cert.height < state.height).sort((a, b) => a.height - b.height);
  return { ...state, decisions: decisions.slice(-decisionsKept) };
}

/** Quorum of a cluster, re-exported for the CLI. */
export function quorumOf(cluster: ClusterDoc): number {
  return quorumSize(cluster.members.length);
}
