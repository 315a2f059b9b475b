/**
 * The sync node: the host of one consensus replica (docs/sync.md). This file is its effect loop: it
 * carries out the replica's effects in the order the core prescribes — persist (fdatasync) before
 * any message leaves — and routes what comes in. The other jobs live beside it, one per file:
 * record exchange (exchange.ts), validation (validation.ts), conflict votes (votes.ts), the
 * agreed-commit writer (writer.ts), state transfer (transfer.ts), the membership in force and its
 * changes (node-membership.ts), and opening the real ports a node starts on (node-start.ts). The world is reached only through ports (ports.ts, chain.ts),
 * so the same host runs on real sockets, disks and git, or seeded in the host simulator.
 *
 * Everything the node does to its replica runs through one serial queue, so the replica sees one
 * input at a time. Inputs that queue up while a write is on its way are stepped together and made
 * durable with one fsync (group commit). Git work — validations and agreed commits — runs on a
 * second serial queue, in height order, so the validation of height h always sees commit h - 1.
 */
import type { Server } from 'node:net';
import type { Acu } from '../core/acu/index.js';
import type { Effect, Input, Message, PersistedState, ReplicaConfig, Signer } from '../core/consensus/index.js';
import { quorumSize, Replica, valueIdOf } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import type { TransportEvents } from '../net/transport-types.js';
import type { ClusterDoc } from '../store/cluster.js';
import { clusterSizes, sameCluster } from '../store/cluster.js';
import { serveApi } from './api.js';
import type { ApiRequest } from './api.js';
import { agreedRef } from './agreed.js';
import type { CheckedHeight } from './chain.js';
import { identitySigner, replicaIndexOf } from './crypto.js';
import { RecordExchange } from './exchange.js';
import { NodeMembership, replicaConfigOf } from './node-membership.js';
import type { NodeLogEntry, NodeMemory } from './node-log.js';
import { freshState, openNodeHost, startAfterAgreed } from './node-start.js';
import type { NodeHost } from './node-start.js';
import { decisionsKeptOf, SerialQueue } from './node-types.js';
import type { NodeContext, NodeEvent, NodeOptions, NodeStatus, PeerFrame } from './node-types.js';
import type { CancelTimer } from './ports.js';
import { logAdopted, StateTransfer } from './transfer.js';
import type { IdentifiedRecord } from './records.js';
import { NodeValidation } from './validation.js';
import { ConflictVotes } from './votes.js';
import { AgreedWriter } from './writer.js';
import { scoringStatusOf } from '../validate/scoring/select.js';

export type { NodeEvent, NodeOptions, NodeStatus, OpenConflict, WriteFailure } from './node-types.js';
export { votesFor } from './votes.js';
export type { NodeHost } from './node-start.js';

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
  private readonly membership: NodeMembership;
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
  ) {
    const { cluster, identity } = host;
    const self = replicaIndexOf(cluster, identity.id);
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
    this.membership = new NodeMembership(this.ctx, options, host.keys, signer);
    this.exchange = new RecordExchange(this.ctx);
    this.validation = new NodeValidation(this.ctx, this.exchange, (height, error) => this.writer.outcomeFailed(height, error, true));
    this.votes = new ConflictVotes(this.ctx, host.policy, () => this.replica.status(), () => this.nowTick);
    this.writer = new AgreedWriter(this.ctx, this.exchange, this.validation);
    this.transfer = new StateTransfer(this.ctx, { replicaHeight: () => this.replica.status().height, jumpTo: (heights) => this.jumpTo(heights), decisionsKept: decisionsKeptOf(options) });
    this.stoppedPromise = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    options.observer?.attached?.({ status: () => this.status(), linkStats: () => this.ctx.transport.linkStats?.() ?? [] });
  }

  /** Open the repository, recover from the log, connect to the peers and serve the local API. */
  static async start(options: NodeOptions): Promise<SyncNode> {
    // From here on the node owns the log and the repository, and closes them when it stops.
    return await SyncNode.create(await openNodeHost(options), options);
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
    const node = new SyncNode(host, replica, options, signer);
    // Decided heights not written yet (a crash in between) may change the membership: hold the
    // replica until they are written.
    if (replica.status().height > memory.writtenHeight + 1) node.membership.heldAfter = replica.status().height - 1;
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
    if (input.type === 'tick' && !this.membership.steppable) return;
    this.inbox.push(input);
    if (this.draining) return;
    this.draining = true;
    void this.queue.run(() => this.drain()).catch((error: unknown) => this.fail(error));
  }

  private async drain(): Promise<void> {
    try {
      while (this.inbox.length > 0 && !this.stopped && this.membership.steppable) {
        const inputs = this.inbox;
        this.inbox = [];
        const effects: Effect[] = [];
        for (const input of inputs) {
          const stepped = this.replica.step(this.withoutDecided(input));
          this.options.observer?.stepped?.(this.replica.status(), this.host.clock.nowMs());
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
    const holdAfter = await this.membership.holdOf(effects);
    // What the replica did at heights after a decision that may change the membership stays in:
    // the next height is decided by the new membership, by a replica made for it. Decisions are
    // the exception: each is certified and logged already, and the writer must write every one (a
    // node catching up gets several at once; the first, whose commit it has not got, holds it).
    for (const effect of effects) {
      if (holdAfter === null || effect.type === 'decide' || (effectHeight(effect) ?? 0) <= holdAfter) this.carryOutOne(effect);
    }
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
    if (this.membership.removed) return;
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
      if (next !== null && !sameCluster(next, this.ctx.cluster) && !this.membership.removed) {
        await this.switchMembership(next, tip.height + 1, await this.inForceSince(heights, next));
      } else {
        const config = replicaConfigOf(this.ctx.cluster, this.ctx.self, this.options);
        this.replica = Replica.restore(config, this.membership.signer, { ...state, decisions: [tip.cert] });
        const unsettled = this.exchange.unsettled();
        if (unsettled.length > 0) this.submit({ type: 'propose_request', acus: unsettled.map((item) => ({ id: item.id, bodyHash: item.id })) });
      }
      this.membership.release(tip.height);
      // Messages parked for heights this node did not know are judged again, now that it does.
      const parked = this.membership.takeParked();
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
    if (this.membership.removed) return;
    // The height a peer's message claims, before any check: it only tells state transfer that a
    // peer may be far ahead (transfer.ts then checks everything it is sent).
    const claimed = typeof raw === 'object' && raw !== null ? (raw as { height?: unknown }).height : undefined;
    if (typeof claimed === 'number' && Number.isSafeInteger(claimed)) this.transfer.onPeerHeight(from, claimed);
    const msg = this.membership.judge(from, raw);
    if (msg !== null) this.submit({ type: 'message', msg });
  }

  // ---- membership changes ---------------------------------------------------------------------

  /**
   * Commit `height` is written: if it changed the cluster document, the new membership decides
   * height + 1. Then the replica, if held, goes on, and parked messages are judged again.
   */
  private async afterWritten(height: number, commit: string, parent: string): Promise<void> {
    const next = await this.membership.changedBy(height, commit, parent);
    if (next !== null) await this.queue.run(() => this.switchMembership(next, height + 1));
    this.membership.release(height);
    for (const { from, raw } of this.membership.takeParked()) this.onConsensusFrame(from, raw);
    if (this.inbox.length > 0 && !this.draining && this.membership.steppable) {
      this.draining = true;
      void this.queue.run(() => this.drain()).catch((error: unknown) => this.fail(error));
    }
  }

  /**
   * The first height `doc`, the membership in force at the tip of adopted `heights`, decides: the
   * height after the adopted commit that brought it in (that commit's parent has another
   * document). The first adopted height's parent is this node's own last written commit, whose
   * membership is the one `doc` replaces.
   */
  private async inForceSince(heights: readonly CheckedHeight[], doc: ClusterDoc): Promise<number> {
    for (let i = heights.length - 1; i > 0; i -= 1) {
      const before = (await this.ctx.chain.clusterAt?.(heights[i - 1]!.commit)) ?? null;
      if (before === null || !sameCluster(before, doc)) return heights[i]!.height + 1;
    }
    return heights[0]!.height + 1;
  }

  /**
   * Take up `next` as the membership that decides `height` and on, with a replica made for it.
   * `since` is the first height it decides, earlier than `height` after a state transfer that
   * adopted the commit bringing it in and more after it.
   */
  private async switchMembership(next: ClusterDoc, height: number, since = height): Promise<void> {
    const taken = await this.membership.switchTo(next, since);
    if (taken.removed) return;
    const decided = this.ctx.memory.decisions.get(height - 1);
    assert(decided !== undefined, 'the decision that changed the membership is kept');
    await this.replaceReplica(taken.config, freshState(height, valueIdOf(taken.signer, decided.value)));
    const unsettled = this.exchange.unsettled();
    if (unsettled.length > 0) this.inbox.push({ type: 'propose_request', acus: unsettled.map((item) => ({ id: item.id, bodyHash: item.id })) });
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
    this.replica = Replica.restore(config, this.membership.signer, withDecisions(state, this.ctx.memory, decisionsKeptOf(this.options)));
  }

  /**
   * Propose records that did not come from a commit of this repository (benchmarks and tests feed
   * synthetic ones): keep them, send them to every peer and pool them.
   */
  proposeRecords(items: readonly IdentifiedRecord[]): Promise<number> {
    return this.exchange.proposeRecords(items);
  }

  // ---- read by the status page (src/ops/page.ts) ---------------------------------------------

  /** A person's vote, as `acu vote` casts it (the status page's operator votes through this). */
  vote(conflict: string, choice: string): Promise<{ conflict: string; choice: string; open: boolean }> {
    return this.votes.personVote(conflict, choice);
  }

  /** The ACUs on both sides of conflict `id`, as this node holds them (null: it holds neither). */
  conflictAcus(id: string): { readonly a: { readonly acu: Acu; readonly site: string } | null; readonly b: { readonly acu: Acu; readonly site: string } | null } | null {
    const sides = this.votes.sidesOf(id);
    if (sides === null) return null;
    const of = (acuId: string): { acu: Acu; site: string } | null => {
      const held = this.ctx.memory.records.get(acuId);
      return held === undefined ? null : { acu: held.record.acu, site: held.record.origin.site };
    };
    return { a: of(sides[0]), b: of(sides[1]) };
  }

  /** The conflict votes the replica has received in its current round, by member site. */
  roundVotes(): { readonly site: string; readonly choices: readonly string[] }[] {
    if (this.membership.removed) return [];
    return this.replica.roundVotes().map((vote) => ({ site: this.siteOf(this.ctx.memberIds[vote.from] ?? ''), choices: vote.choices }));
  }

  /** The membership in force. */
  cluster(): ClusterDoc {
    return this.ctx.cluster;
  }

  // ---- local API ------------------------------------------------------------------------------

  private async onApi(request: ApiRequest): Promise<unknown> {
    switch (request.type) {
      case 'poke':
        return await this.exchange.poke(request.commit);
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
      site: this.membership.site,
      replica: self,
      member: !this.membership.removed,
      membershipHeight: this.membership.height,
      cluster: { ...clusterSizes(cluster), branch: cluster.branch },
      height: s.height,
      round: s.round,
      phase: s.phase,
      leader: this.membership.removed ? '' : this.ctx.memberIds[s.leader]!,
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
        membershipRefused: this.membership.refused, transfers: this.transfer.transfers, transfersRefused: this.transfer.transfersRefused, parkedDropped: this.membership.parkedDropped,
      },
      scoring: this.host.scoring === undefined ? null : scoringStatusOf(this.host.scoring),
      concurrentEdits: this.exchange.concurrent.current(),
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

function withDecisions(state: PersistedState, memory: NodeMemory, kept: number): PersistedState {
  const decisions = [...memory.decisions.values()].filter((cert) => cert.height < state.height).sort((a, b) => a.height - b.height);
  return { ...state, decisions: decisions.slice(-kept) };
}

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

/** Quorum of a cluster, re-exported for the CLI. */
export function quorumOf(cluster: ClusterDoc): number {
  return quorumSize(cluster.members.length);
}
