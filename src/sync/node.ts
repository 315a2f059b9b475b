/**
 * The sync node: the host of one consensus replica (docs/sync.md). This file is its effect loop: it
 * carries out the replica's effects in the order the core prescribes — persist (fdatasync) before
 * any message leaves — and routes what comes in. The other jobs live beside it, one per file:
 * record exchange (exchange.ts), validation (validation.ts), conflict votes (votes.ts) and the
 * agreed-commit writer (writer.ts). The world is reached only through ports (ports.ts, chain.ts),
 * so the same host runs on real sockets, disks and git, or seeded in the host simulator.
 *
 * Everything the node does to its replica runs through one serial queue, so the replica sees one
 * input at a time. Inputs that queue up while a write is on its way are stepped together and made
 * durable with one fsync (group commit). Git work — validations and agreed commits — runs on a
 * second serial queue, in height order, so the validation of height h always sees commit h - 1.
 */
import { join } from 'node:path';
import type { Server } from 'node:net';
import type { Effect, Input, Message, PersistedState, ReplicaConfig, Signer } from '../core/consensus/index.js';
import { decodeLimitsOf, defaultReplicaConfig, quorumSize, Replica, signMessage, valueIdOf } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import type { Policy } from '../core/policy/index.js';
import { GitRepo } from '../git/index.js';
import { setUpLinks } from '../net/link.js';
import { WsTransport } from '../net/transport.js';
import type { TransportEvents } from '../net/transport.js';
import type { ClusterDoc } from '../store/cluster.js';
import { clusterSizes, readCluster, sameCluster } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { loadIdentity, loadNextIdentity, promoteNextIdentity } from '../store/identity.js';
import { configuredPolicy } from '../validate/policy-config.js';
import { jsBitsetBackend } from '../validate/scoring/js-bitset.js';
import { Validator } from '../validate/validate.js';
import { serveApi } from './api.js';
import type { ApiRequest } from './api.js';
import { agreedRef } from './agreed.js';
import { GitChain } from './chain.js';
import { judgeFrame, ParkedFrames } from './membership.js';
import type { MembershipKeys } from './membership.js';
import { clusterAtCommit } from './verify-chain.js';
import type { Chain, CheckedHeight } from './chain.js';
import { clusterVerifier, identitySigner, replicaIndexOf } from './crypto.js';
import { RecordExchange } from './exchange.js';
import { nodeSocketPath } from './hook-run.js';
import { NodeLog } from './node-log.js';
import type { NodeLogEntry, NodeMemory } from './node-log.js';
import { decisionsKeptOf, SerialQueue } from './node-types.js';
import type { NodeContext, NodeEvent, NodeOptions, NodeStatus, PeerFrame } from './node-types.js';
import { systemClock } from './ports.js';
import type { CancelTimer, Clock, OpenedLog, TransportFactory } from './ports.js';
import { recordVerifier } from './records.js';
import { logAdopted, StateTransfer } from './transfer.js';
import type { IdentifiedRecord } from './records.js';
import { NodeValidation } from './validation.js';
import { ConflictVotes } from './votes.js';
import { AgreedWriter } from './writer.js';

export type { NodeEvent, NodeOptions, NodeStatus, OpenConflict, WriteFailure } from './node-types.js';
export { votesFor } from './votes.js';

/** Everything a node runs on: the ports, and what it was configured with. */
export interface NodeHost {
  readonly cluster: ClusterDoc;
  readonly identity: NodeIdentity;
  readonly opened: OpenedLog;
  readonly chain: Chain;
  readonly transport: TransportFactory;
  readonly clock: Clock;
  readonly policy: Policy;
  /** The local API's unix socket; null: no local API (the simulator). */
  readonly apiSocket: string | null;
  /**
   * The next key of a rotation (`acu cluster rotate-key`): read when a membership change takes
   * effect that lists it instead of the key in use, and then made the node key. Absent: no rotation.
   */
  readonly keys?: { loadNext(): Promise<NodeIdentity | null>; promote(): Promise<NodeIdentity> };
}

/** A running sync node. */
export class SyncNode {
  private readonly queue = new SerialQueue();
  private inbox: Input[] = [];
  private draining = false;
  private cancelTicker: CancelTimer | null = null;
  private api: Server | null = null;
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private nowTick = 0;
  private fsyncs = 0;
  private readonly lastHeard = new Map<string, number>();
  private readonly ctx: NodeContext;
  private signer: Signer;
  /** The membership in force, as the message decoder needs it, and the first height it decides. */
  private keys: MembershipKeys;
  private membershipHeight: number;
  /** The membership before the last change, with this node's signer in it (null: it was no member). */
  private previous: (MembershipKeys & { readonly signer: Signer | null }) | null = null;
  /**
   * Set to h while the replica has decided height h and that decision may change the membership:
   * the replica is not stepped, and what it would do at h + 1 is not carried out, until commit h
   * is written and the node knows who decides h + 1.
   */
  private heldAfter: number | null = null;
  /** Removed by a membership change: the replica is never stepped again; the API still answers. */
  private removed = false;
  private readonly parked = new ParkedFrames();
  private membershipRefused = 0;
  private readonly lastServedMs = new Map<string, number>();
  /** This node's site, kept for status once it is no member. */
  private site: string;
  private readonly exchange: RecordExchange;
  private readonly validation: NodeValidation;
  private readonly votes: ConflictVotes;
  private readonly writer: AgreedWriter;
  private readonly transfer: StateTransfer;
  /** Resolves when the node has stopped. */
  readonly stoppedPromise: Promise<void>;
  private resolveStopped!: () => void;

  private constructor(
    private readonly host: NodeHost,
    private replica: Replica,
    private readonly options: NodeOptions,
    signer: Signer,
    membershipHeight: number,
  ) {
    const { cluster, identity } = host;
    const self = replicaIndexOf(cluster, identity.id);
    this.signer = signer;
    this.keys = { verifier: clusterVerifier(cluster), limits: decodeLimitsOf(replicaConfigOf(cluster, self, options)) };
    this.membershipHeight = membershipHeight;
    this.site = cluster.members[self]!.site;
    const events: TransportEvents = {
      onMessage: (from, value) => this.onPeerFrame(from, value),
      onPeerUp: (id) => this.onPeerUp(id),
      onPeerDown: (id) => this.event('peer-down', `lost ${this.siteOf(id)}`, { peer: id }),
    };
    this.ctx = {
      identity, cluster, previousCluster: null, self, memberIds: cluster.members.map((member) => member.id), memory: host.opened.memory,
      log: host.opened.log, transport: host.transport(events), chain: host.chain, clock: host.clock, options,
      gitQueue: new SerialQueue(),
      event: (kind, text, data) => this.event(kind, text, data),
      submit: (input) => this.submit(input),
      isStopped: () => this.stopped,
      fail: (error) => this.fail(error),
      siteOf: (id) => this.siteOf(id),
      afterWritten: (height, commit, parent) => this.afterWritten(height, commit, parent),
    };
    this.exchange = new RecordExchange(this.ctx);
    this.validation = new NodeValidation(this.ctx, this.exchange);
    this.votes = new ConflictVotes(this.ctx, host.policy, () => this.replica.status(), () => this.nowTick);
    this.writer = new AgreedWriter(this.ctx, this.exchange, this.validation);
    this.transfer = new StateTransfer(this.ctx, { replicaHeight: () => this.replica.status().height, jumpTo: (heights) => this.jumpTo(heights), decisionsKept: decisionsKeptOf(options) });
    this.stoppedPromise = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  /** Open the repository, recover from the log, connect to the peers and serve the local API. */
  static async start(options: NodeOptions): Promise<SyncNode> {
    const repo = await GitRepo.open(options.cwd);
    let opened: OpenedLog | null = null;
    let handedOver = false;
    try {
      if (repo.workTree === null) {
        throw new AcuError('ERR_CONFIG', 'a sync node needs a repository with a work tree (it reads .acu/cluster.json)', { hint: 'run it in a clone, not a bare repository' });
      }
      const workCluster = await readCluster(repo.workTree);
      // The membership in force is the one of the last agreed commit this node wrote, never the
      // work tree's (which may hold a change not agreed yet); before the first, the work tree's.
      const agreedTip = await repo.revParseCommit(agreedRef(workCluster.branch));
      const agreedCluster = agreedTip === null ? null : await documentAt(repo, agreedTip);
      opened = await NodeLog.open(join(repo.commonDir, 'acu', 'node.wal'), decisionsKeptOf(options), recordVerifier(agreedCluster ?? workCluster));
      const written = opened.memory.writtenCommit;
      const cluster = written === null ? workCluster : (await documentAt(repo, written)) ?? workCluster;
      let identity = await loadIdentity(repo.commonDir);
      if (replicaIndexOf(cluster, identity.id) < 0) {
        // A key rotation agreed while the node was down: the next key is the member now.
        const next = await loadNextIdentity(repo.commonDir);
        if (next !== null && replicaIndexOf(cluster, next.id) >= 0) identity = await promoteNextIdentity(repo.commonDir);
      }
      if (replicaIndexOf(cluster, identity.id) < 0) {
        throw new AcuError('ERR_CONFIG', `this node (${identity.id}) is not a member of the cluster${written === null ? '' : ` in force at its last agreed commit ${written.slice(0, 12)}`}`, {
          hint: `add it with 'acu cluster add ${identity.publicKey} ws://<host>:<port> --proof <proof>' (the proof from 'acu cluster proof') and have the change agreed`,
        });
      }
      const policy = await configuredPolicy(repo.workTree, cluster);
      const validator = options.validation === 'typecheck' ? new Validator(jsBitsetBackend()) : null;
      const me = cluster.members[replicaIndexOf(cluster, identity.id)]!;
      const links = await setUpLinks({ ...options, gitCommonDir: repo.commonDir, cluster, self: me });
      const host: NodeHost = {
        cluster, identity, opened, policy, clock: systemClock, apiSocket: nodeSocketPath(repo.commonDir),
        chain: new GitChain(repo, options.validation, validator, { identity, member: me }),
        transport: (events) => new WsTransport({ identity, members: cluster.members, listen: links.listen, tls: links.tls, security: links.security, events }),
        keys: { loadNext: () => loadNextIdentity(repo.commonDir), promote: () => promoteNextIdentity(repo.commonDir) },
      };
      // From here on the node owns the log and the repository, and closes them when it stops.
      handedOver = true;
      return await SyncNode.create(host, options);
    } catch (error) {
      if (!handedOver) {
        await opened?.log.close();
        await repo.close();
      }
      throw error;
    }
  }

  /** Run a node on the given ports (the simulator's way in; `start` builds the real ones). */
  static async create(host: NodeHost, options: NodeOptions): Promise<SyncNode> {
    const self = replicaIndexOf(host.cluster, host.identity.id);
    const config = replicaConfigOf(host.cluster, self, options);
    const signer = identitySigner(host.cluster, host.identity);
    const { memory, truncatedBytes } = host.opened;
    const recovered = memory.state !== null;
    const state = memory.state ?? (await startAfterAgreed(host, options, config, signer));
    const replica = state === null ? Replica.create(config, signer) : Replica.restore(config, signer, withDecisions(state, memory, decisionsKeptOf(options)));
    const node = new SyncNode(host, replica, options, signer, 0);
    // Decided heights not written yet (a crash in between) may change the membership: hold the
    // replica until they are written.
    if (replica.status().height > memory.writtenHeight + 1) node.heldAfter = replica.status().height - 1;
    try {
      await node.begin(recovered, truncatedBytes);
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  private event(kind: NodeEvent['kind'], text: string, data?: Record<string, unknown>): void {
    this.options.onEvent?.({ atMs: this.host.clock.nowMs(), node: this.ctx.identity.id, kind, text, ...(data === undefined ? {} : { data }) });
  }

  private async begin(recovered: boolean, truncatedBytes: number): Promise<void> {
    const { memory, cluster, chain } = this.ctx;
    if (memory.genesis === null) {
      const rev = this.options.genesis ?? `refs/heads/${cluster.branch}`;
      const genesis = (await chain.revParse(agreedRef(cluster.branch))) ?? (await chain.revParse(rev));
      if (genesis === null) {
        throw new AcuError('ERR_UNKNOWN_REVISION', `cannot find where the agreed chain starts: ${rev} does not name a commit`, {
          hint: `create branch '${cluster.branch}' (the cluster's protected branch), or pass --genesis <commit>`,
        });
      }
      await this.ctx.log.append([{ k: 'genesis', commit: genesis }]);
      memory.genesis = genesis;
    }
    if (memory.writtenCommit !== null) this.ctx.previousCluster = (await chain.membershipBefore?.(memory.writtenCommit)) ?? null;
    const status = this.replica.status();
    if (recovered) {
      const cut = truncatedBytes > 0 ? ` (cut ${truncatedBytes} bytes of a torn write)` : '';
      this.event('recovered', `recovered from the log at height ${status.height}, round ${status.round}${cut}`, { height: status.height, round: status.round });
    }
    // A crash between deciding and writing the agreed commit: write what the log holds decided.
    for (let h = memory.writtenHeight + 1; h < status.height; h += 1) {
      const cert = memory.decisions.get(h);
      if (cert !== undefined) this.writer.enqueue(cert);
    }
    const port = await this.ctx.transport.start();
    if (this.host.apiSocket !== null) this.api = await serveApi(this.host.apiSocket, (request) => this.onApi(request));
    // Records known but not yet settled go back into the replica's pool.
    const unsettled = this.exchange.unsettled();
    if (unsettled.length > 0) this.submit({ type: 'propose_request', acus: unsettled.map((item) => ({ id: item.id, bodyHash: item.id })) });
    this.cancelTicker = this.host.clock.every(this.options.tickMs, () => this.onTick());
    const me = cluster.members[this.ctx.self]!;
    this.event('started', `node ${this.host.identity.id} (${me.site}) listening on port ${port}; replica ${this.ctx.self} of ${cluster.members.length}`);
    // Not awaited: the git queue may first be finishing a decision that waits for record bodies
    // from peers, and a node that is up must answer its API meanwhile.
    void this.exchange.takeOutbox().catch((error: unknown) => this.fail(error));
  }

  /**
   * Whether the replica has moved past (height, round): a validation queued for a round that timed
   * out meanwhile is skipped (abstaining is always safe). On a slow machine each round's new leader
   * proposes the batch in its own order, so every round needs a validation of its own; without the
   * skip they queue up behind each other and each round times out before its own turn comes.
   */
  private isPast(height: number, round: number): boolean {
    const now = this.replica.status();
    return now.height > height || (now.height === height && now.round > round);
  }

  private siteOf(id: string): string {
    return this.ctx.cluster.members.find((member) => member.id === id)?.site ?? id;
  }

  // ---- the replica's queue --------------------------------------------------------------------

  /** Queue an input for the replica; inputs that queue up together share one fsync. */
  private submit(input: Input): void {
    if (this.stopped) return;
    // A replica that is held or removed is not stepped: its ticks would only pile up.
    if (input.type === 'tick' && (this.heldAfter !== null || this.removed)) return;
    this.inbox.push(input);
    if (this.draining) return;
    this.draining = true;
    void this.queue.run(() => this.drain()).catch((error: unknown) => this.fail(error));
  }

  private async drain(): Promise<void> {
    try {
      while (this.inbox.length > 0 && !this.stopped && this.heldAfter === null && !this.removed) {
        const inputs = this.inbox;
        this.inbox = [];
        const effects: Effect[] = [];
        for (const input of inputs) {
          const stepped = this.replica.step(this.withoutDecided(input));
          for (const effect of stepped) {
            if (effect.type === 'decide') for (const id of effect.cert.value.batch.acuIds) this.exchange.decidedUnwritten.add(id);
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
    const acus = input.acus.filter((acu) => this.exchange.isOpen(acu.id));
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
      // Persist before send: a vote that reached a peer and was then lost in a crash would let
      // this node sign a different one after restart. A failed append throws, and nothing below runs.
      await this.ctx.log.append(entries);
      this.fsyncs += 1;
    }
    const holdAfter = await this.membershipHoldOf(effects);
    // What the replica did at heights after a decision that may change the membership stays in:
    // the next height is decided by the new membership, by a replica made for it. Decisions are
    // the exception: each is certified and logged already, and the writer must write every one (a
    // node catching up gets several at once; the first, whose commit it has not got, holds it).
    for (const effect of effects) {
      if (holdAfter === null || effect.type === 'decide' || (effectHeight(effect) ?? 0) <= holdAfter) this.carryOutOne(effect);
    }
  }

  /** The lowest decided height among `effects` whose commit may change the membership (null: none); holds the replica there. */
  private async membershipHoldOf(effects: readonly Effect[]): Promise<number | null> {
    const clusterAt = this.ctx.chain.clusterAt?.bind(this.ctx.chain);
    if (clusterAt === undefined) return null;
    let holdAfter: number | null = null;
    for (const effect of effects) {
      if (effect.type !== 'decide' || (holdAfter !== null && effect.cert.height >= holdAfter)) continue;
      // The certified commit was composed before the decision; where this node has not got it
      // (it decided on others' signatures alone), it cannot tell, and waits for the write.
      const next = await clusterAt(effect.cert.value.outcome).catch(() => null);
      if (next === null || !sameCluster(next, this.ctx.cluster)) holdAfter = effect.cert.height;
    }
    if (holdAfter !== null) this.heldAfter = holdAfter;
    return holdAfter;
  }

  private carryOutOne(effect: Effect): void {
    switch (effect.type) {
      case 'persist':
      case 'timer':
        break;
      case 'send':
        this.sendConsensus(effect.to, effect.msg);
        break;
      case 'validate':
        void this.ctx.gitQueue.run(() => (this.isPast(effect.height, effect.round) ? Promise.resolve() : this.validation.validate(effect.height, effect.round, effect.batch)))
          .catch((error: unknown) => this.fail(error));
        break;
      case 'policy':
        this.votes.start(effect, this.validation.verdictOf(effect.batchDigest));
        break;
      case 'outcome':
        void this.ctx.gitQueue.run(() => this.validation.outcome(effect.height, effect.round, effect.draft))
          .then(() => this.writer.outcomeDone(effect.height), (error: unknown) => this.writer.outcomeFailed(effect.height, error));
        break;
      case 'decide': {
        const { cert } = effect;
        this.event('decided', `height ${cert.height} decided in round ${cert.round}`, { height: cert.height, acuIds: cert.value.batch.acuIds.length });
        this.ctx.memory.decisions.set(cert.height, cert);
        this.ctx.memory.decisions.delete(cert.height - decisionsKeptOf(this.options));
        this.writer.enqueue(cert);
        break;
      }
      case 'evidence':
        this.event('evidence', `peer fault: ${effect.evidence.type}`, { evidence: effect.evidence.type });
        break;
    }
  }

  private sendConsensus(to: number | 'all', msg: Message): void {
    if (this.removed) return;
    const frame: PeerFrame = { t: 'c', m: msg };
    const { transport, memberIds, self } = this.ctx;
    if (to === 'all') transport.broadcast(frame);
    else if (to !== self) transport.send(memberIds[to]!, frame);
    if (msg.type === 'proposal') {
      const acus = msg.body.batch.acuIds.length;
      this.event('proposed', `leads height ${msg.height} round ${msg.round}: proposes ${acus} ACUs`, { height: msg.height, round: msg.round, acus });
    }
  }

  private onTick(): void {
    this.nowTick += 1;
    this.submit({ type: 'tick' });
    this.votes.evaluate();
  }

  /**
   * State transfer adopted `heights` in git: log and settle them (transfer.ts), then restart the
   * replica at the next height, round 0, on the last decision's value. Runs on the replica's queue,
   * so the new state is logged between two of the old replica's steps, never during one.
   */
  private jumpTo(heights: readonly CheckedHeight[]): Promise<void> {
    return this.queue.run(async () => {
      const replicaHeight = this.replica.status().height;
      const state = await logAdopted(this.ctx, heights, replicaHeight, (id) => this.exchange.decidedUnwritten.delete(id));
      this.fsyncs += 1;
      if (state === null) return;
      const tip = heights.at(-1)!;
      // The adopted chain may have changed the membership: the one in force at its tip decides the
      // next height (the chain itself was checked against each height's own membership).
      const next = (await this.ctx.chain.clusterAt?.(tip.commit)) ?? null;
      if (next !== null && !sameCluster(next, this.ctx.cluster) && !this.removed) {
        await this.switchMembership(next, tip.height + 1);
      } else {
        const config = replicaConfigOf(this.ctx.cluster, this.ctx.self, this.options);
        this.replica = Replica.restore(config, this.signer, { ...state, decisions: [tip.cert] });
        const unsettled = this.exchange.unsettled();
        if (unsettled.length > 0) this.submit({ type: 'propose_request', acus: unsettled.map((item) => ({ id: item.id, bodyHash: item.id })) });
      }
      if (this.heldAfter !== null && tip.height >= this.heldAfter) this.heldAfter = null;
      // Messages parked for heights this node did not know are judged again, now that it does.
      const parked = this.parked.take();
      if (parked.length > 0) queueMicrotask(() => { for (const { from, raw } of parked) this.onConsensusFrame(from, raw); });
    });
  }

  // ---- peers ----------------------------------------------------------------------------------

  private onPeerUp(id: string): void {
    this.event('peer-up', `connected to ${this.siteOf(id)}`, { peer: id });
    this.exchange.onPeerUp(id);
    this.transfer.onPeerUp(id);
  }

  /** A peer's frame: anything malformed is dropped and counted, never thrown. */
  private onPeerFrame(from: string, value: unknown): void {
    this.lastHeard.set(from, this.host.clock.nowMs());
    const frame = value as Partial<Record<string, unknown>>;
    if (frame.t === 'c') {
      this.onConsensusFrame(from, frame.m);
      return;
    }
    if (StateTransfer.handles(frame.t)) {
      if (!this.transfer.onFrame(from, frame)) this.ctx.transport.counters.framesRefused += 1;
      return;
    }
    if (!this.exchange.onFrame(from, frame)) this.ctx.transport.counters.framesRefused += 1;
  }

  /** A consensus message, judged against the membership of its height (membership.ts). */
  private onConsensusFrame(from: string, raw: unknown): void {
    if (this.removed) return;
    // The height a peer's message claims, before any check: it only tells state transfer that a
    // peer may be far ahead (transfer.ts then checks everything it is sent).
    const claimed = typeof raw === 'object' && raw !== null ? (raw as { height?: unknown }).height : undefined;
    if (typeof claimed === 'number' && Number.isSafeInteger(claimed)) this.transfer.onPeerHeight(from, claimed);
    if (this.heldAfter !== null) {
      this.parked.park(from, raw);
      return;
    }
    const verdict = judgeFrame(raw, {
      current: this.keys, fromHeight: this.membershipHeight, previous: this.previous, knownHeightMax: this.ctx.memory.writtenHeight + 1,
    });
    switch (verdict.kind) {
      case 'step':
        this.submit({ type: 'message', msg: verdict.msg });
        return;
      case 'previous':
        this.servePrevious(from, verdict.msg);
        return;
      case 'park':
        this.parked.park(from, raw);
        return;
      case 'not-in-force':
        this.membershipRefused += 1;
        this.event('fault', `refused a message of ${this.siteOf(from)}: signed under a membership no longer in force (from height ${this.membershipHeight})`, { peer: from });
        return;
      case 'refused':
        this.ctx.transport.counters.framesRefused += 1;
        return;
    }
  }

  /**
   * A peer still at a height before the last membership change (it has not decided it yet): the
   * replica of the new membership cannot answer it (replica numbers changed), so the node sends
   * the decisions it kept from that membership, signed as its member then. At most once per peer
   * per interval.
   */
  private servePrevious(from: string, msg: Message): void {
    const signer = this.previous?.signer ?? null;
    if (signer === null) return;
    const now = this.host.clock.nowMs();
    if (now - (this.lastServedMs.get(from) ?? -Infinity) < servePreviousIntervalMs) return;
    this.lastServedMs.set(from, now);
    const certs = [...this.ctx.memory.decisions.values()]
      .filter((cert) => cert.height >= msg.height && cert.height < this.membershipHeight)
      .sort((a, b) => a.height - b.height)
      .slice(0, servePreviousDecisionsMax);
    for (const cert of certs) {
      const m = signMessage<Message>(signer, { v: 1, type: 'decision', from: signer.self, height: cert.height, round: cert.round, body: { cert } });
      this.ctx.transport.send(from, { t: 'c', m } satisfies PeerFrame);
    }
  }

  // ---- membership changes ---------------------------------------------------------------------

  /**
   * Commit `height` is written: if it changed the cluster document, the new membership decides
   * height + 1. Then the replica, if held, goes on, and parked messages are judged again.
   */
  private async afterWritten(height: number, commit: string, parent: string): Promise<void> {
    const clusterAt = this.ctx.chain.clusterAt?.bind(this.ctx.chain);
    if (clusterAt !== undefined) {
      const [next, before] = await Promise.all([clusterAt(commit), clusterAt(parent)]);
      if (next === null) {
        this.event('error', `height ${height}: agreed commit ${commit.slice(0, 12)} holds no valid cluster document; the membership stays as it is`, { height });
      } else if (!sameCluster(next, before ?? this.ctx.cluster) && !this.removed) {
        await this.queue.run(() => this.switchMembership(next, height + 1));
      }
    }
    if (this.heldAfter !== null && height >= this.heldAfter) this.heldAfter = null;
    for (const { from, raw } of this.parked.take()) this.onConsensusFrame(from, raw);
    if (this.inbox.length > 0 && !this.draining && this.heldAfter === null) {
      this.draining = true;
      void this.queue.run(() => this.drain()).catch((error: unknown) => this.fail(error));
    }
  }

  /** Take up `next` as the membership that decides `height` and on (docs/sync.md, "Membership"). */
  private async switchMembership(next: ClusterDoc, height: number): Promise<void> {
    const { ctx } = this;
    const before = ctx.cluster;
    this.previous = { ...this.keys, signer: ctx.self >= 0 ? this.signer : null };
    const identity = await this.identityIn(next);
    const self = replicaIndexOf(next, identity.id);
    ctx.previousCluster = before;
    ctx.cluster = next;
    ctx.identity = identity;
    ctx.self = self;
    ctx.memberIds = next.members.map((member) => member.id);
    this.membershipHeight = height;
    ctx.transport.setMembers(identity, next.members);
    const added = next.members.filter((m) => !before.members.some((b) => b.id === m.id)).map((m) => m.site);
    const left = before.members.filter((b) => !next.members.some((m) => m.id === b.id)).map((m) => m.site);
    const { n, f, quorum } = clusterSizes(next);
    this.event('membership', `from height ${height}: ${n} members (f = ${f}, quorum ${quorum})${added.length > 0 ? `; added ${added.join(', ')}` : ''}${left.length > 0 ? `; left ${left.join(', ')}` : ''}`, {
      height, n, added, left,
    });
    if (self < 0) {
      this.removed = true;
      this.keys = { verifier: clusterVerifier(next), limits: this.keys.limits };
      this.event('removed', `this node was removed from the cluster at height ${height}; it no longer proposes or votes (its API still answers)`, { height });
      return;
    }
    this.site = next.members[self]!.site;
    ctx.chain.setRecordSigner?.({ identity, member: next.members[self]! });
    const config = replicaConfigOf(next, self, this.options);
    this.keys = { verifier: clusterVerifier(next), limits: decodeLimitsOf(config) };
    this.signer = identitySigner(next, identity);
    const decided = ctx.memory.decisions.get(height - 1);
    assert(decided !== undefined, 'the decision that changed the membership is kept');
    await this.replaceReplica(config, freshState(height, valueIdOf(this.signer, decided.value)));
    const unsettled = this.exchange.unsettled();
    if (unsettled.length > 0) this.inbox.push({ type: 'propose_request', acus: unsettled.map((item) => ({ id: item.id, bodyHash: item.id })) });
  }

  /** This node's identity under `next`: the key in use, or the next key of a rotation `next` lists (made the node key). */
  private async identityIn(next: ClusterDoc): Promise<NodeIdentity> {
    const current = this.ctx.identity;
    if (replicaIndexOf(next, current.id) >= 0 || this.host.keys === undefined) return current;
    const rotated = await this.host.keys.loadNext();
    if (rotated === null || replicaIndexOf(next, rotated.id) < 0) return current;
    const promoted = await this.host.keys.promote();
    this.event('membership', `rotated this node's key: ${current.id} is now ${promoted.id}`, { from: current.id, to: promoted.id });
    return promoted;
  }

  /**
   * Replace the replica with one restored from `state` under `config` (a membership change: a new
   * replica for the next height). The state is made durable first, so that a restart comes back as
   * this replica, never as the one replaced. Runs on the replica's queue.
   */
  private async replaceReplica(config: ReplicaConfig, state: PersistedState): Promise<void> {
    assert(state.signed.length === 0, 'replaceReplica: a replica that has signed nothing yet');
    assert(state.height === this.ctx.memory.writtenHeight + 1, 'replaceReplica: at the height after the last written one');
    await this.ctx.log.append([{ k: 'state', state: { ...state, decisions: [] } }]);
    this.replica = Replica.restore(config, this.signer, withDecisions(state, this.ctx.memory, decisionsKeptOf(this.options)));
  }

  /**
   * Propose records that did not come from a commit of this repository (benchmarks and tests feed
   * synthetic ones): keep them, send them to every peer and pool them.
   */
  proposeRecords(items: readonly IdentifiedRecord[]): Promise<number> {
    return this.exchange.proposeRecords(items);
  }

  // ---- local API ------------------------------------------------------------------------------

  private async onApi(request: ApiRequest): Promise<unknown> {
    switch (request.type) {
      case 'poke':
        void this.exchange.takeOutbox().catch((error: unknown) => this.fail(error));
        return { taken: true };
      case 'status':
        return this.status();
      case 'propose':
        return await this.exchange.proposeRev(request.rev);
      case 'vote':
        return await this.votes.personVote(request.conflict, request.choice);
      case 'stop':
        setImmediate(() => void this.stop());
        return { stopping: true };
    }
  }

  /** What `acu status` shows. */
  status(): NodeStatus {
    const s = this.replica.status();
    const { transport, memory, cluster, self } = this.ctx;
    const connected = new Set(transport.connectedPeers());
    const now = this.host.clock.nowMs();
    return {
      id: this.ctx.identity.id,
      site: this.site,
      replica: self,
      member: !this.removed,
      membershipHeight: this.membershipHeight,
      cluster: { ...clusterSizes(cluster), branch: cluster.branch },
      height: s.height,
      round: s.round,
      phase: s.phase,
      leader: this.removed ? '' : this.ctx.memberIds[s.leader]!,
      peers: cluster.members.filter((_, i) => i !== self).map((m) => {
        const heard = this.lastHeard.get(m.id);
        return { id: m.id, site: m.site, connected: connected.has(m.id), lastHeardMsAgo: heard === undefined ? null : now - heard };
      }),
      pendingAcus: this.exchange.unsettled().length,
      conflicts: this.votes.open(),
      agreed: { height: memory.writtenHeight, commit: memory.writtenCommit },
      writeFailure: this.writer.writeFailure(),
      catchUp: this.transfer.status(),
      validation: this.options.validation,
      links: transport.links ?? null,
      counters: {
        ...transport.counters, ...this.replica.stats, fsyncs: this.fsyncs, recordsRefused: this.exchange.recordsRefused,
        membershipRefused: this.membershipRefused, transfers: this.transfer.transfers, transfersRefused: this.transfer.transfersRefused, parkedDropped: this.parked.dropped,
      },
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
      this.cancelTicker?.();
      this.stopped = true;
      this.exchange.stop();
      this.writer.stop();
      this.transfer.stop();
      await this.queue.idle();
      await this.ctx.gitQueue.idle();
      if (this.api !== null) await new Promise<void>((resolve) => this.api!.close(() => resolve()));
      await this.ctx.transport.stop();
      await this.ctx.log.close();
      await this.ctx.chain.close();
      this.resolveStopped();
    })();
    return this.stopping;
  }
}

/** The replica configuration of a node: the defaults, larger batches, and the node's overrides. */
function replicaConfigOf(cluster: ClusterDoc, self: number, options: NodeOptions): ReplicaConfig {
  const base = defaultReplicaConfig(cluster.members.length, self);
  return { ...base, batchAcusMax: 256, decisionsRetainedMax: decisionsKeptOf(options), ...options.replica };
}

function withDecisions(state: PersistedState, memory: NodeMemory, kept: number): PersistedState {
  const decisions = [...memory.decisions.values()].filter((cert) => cert.height < state.height).sort((a, b) => a.height - b.height);
  return { ...state, decisions: decisions.slice(-kept) };
}

/** How often a peer behind the last membership change is sent the decisions it misses, at most. */
const servePreviousIntervalMs = 250;
/** Decisions sent to such a peer at once, at most. */
const servePreviousDecisionsMax = 16;

/** The height an effect is about (null: none). */
function effectHeight(effect: Effect): number | null {
  switch (effect.type) {
    case 'send':
      return effect.msg.height;
    case 'validate':
    case 'policy':
    case 'outcome':
    case 'timer':
      return effect.height;
    case 'decide':
      return effect.cert.height;
    case 'persist':
    case 'evidence':
      return null;
  }
}

/** A replica state at round 0 of `height`, having signed nothing, building on the value `parent`. */
function freshState(height: number, parent: string): PersistedState {
  return { v: 1, height, round: 0, parent, locked: null, valid: null, signed: [], enteredBy: [], decisions: [] };
}

/** The cluster document in a commit's tree, or null. */
async function documentAt(repo: GitRepo, commit: string): Promise<ClusterDoc | null> {
  const found = await clusterAtCommit(repo, commit);
  return 'cluster' in found ? found.cluster : null;
}

/**
 * A node without a log whose starting commit is an agreed commit (a new site cloned the shared
 * repository with its agreed history and notes) starts after it, once that chain verifies against
 * the membership history: its log then begins there, as if it had written that commit, and its
 * replica at the next height. Null: start at height 0 from the starting commit (a new cluster).
 */
async function startAfterAgreed(host: NodeHost, options: NodeOptions, config: ReplicaConfig, signer: Signer): Promise<PersistedState | null> {
  const { memory, log } = host.opened;
  if (memory.genesis !== null || host.chain.agreedTip === undefined) return null;
  const rev = options.genesis ?? `refs/heads/${host.cluster.branch}`;
  const start = (await host.chain.revParse(agreedRef(host.cluster.branch))) ?? (await host.chain.revParse(rev));
  if (start === null) return null;
  const tip = await host.chain.agreedTip(start);
  if (tip === null) return null;
  const state = freshState(tip.height + 1, tip.valueId);
  assert(config.self === signer.self, 'startAfterAgreed: the signer is the configured replica');
  await log.append([{ k: 'genesis', commit: start }, { k: 'written', height: tip.height, commit: start, settled: [] }, { k: 'state', state }]);
  memory.genesis = start;
  memory.writtenHeight = tip.height;
  memory.writtenCommit = start;
  return state;
}

/** Quorum of a cluster, re-exported for the CLI. */
export function quorumOf(cluster: ClusterDoc): number {
  return quorumSize(cluster.members.length);
}
