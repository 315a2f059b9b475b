/**
 * A sync node's side of membership by consensus (docs/sync.md, "Membership"): which membership
 * judges a peer's consensus frame, when the replica must hold still because a decision may change
 * the membership, and taking up a change once its commit is written. The pure rules (which
 * membership checks which height, parking) are in membership.ts; this file keeps the node's state
 * for them and changes the shared context when a change takes effect. Replacing the replica stays
 * with the node (node.ts), which owns it.
 */
import type { Effect, Message, ReplicaConfig, Signer } from '../core/consensus/index.js';
import { decodeLimitsOf, defaultReplicaConfig, signMessage } from '../core/consensus/index.js';
import type { ClusterDoc } from '../store/cluster.js';
import { clusterSizes, sameCluster } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { clusterVerifier, identitySigner, replicaIndexOf } from './crypto.js';
import { judgeFrame, ParkedFrames } from './membership.js';
import type { MembershipKeys } from './membership.js';
import { decisionsKeptOf } from './node-types.js';
import type { NodeContext, NodeOptions, PeerFrame } from './node-types.js';

/** The next key of a rotation (`acu cluster rotate-key`), as the node's key store offers it. */
export interface RotationKeys {
  loadNext(): Promise<NodeIdentity | null>;
  promote(): Promise<NodeIdentity>;
}

/** What taking up a membership change leaves the node to do: nothing (it was removed), or run a new replica. */
export type MembershipSwitch =
  | { readonly removed: true }
  | { readonly removed: false; readonly config: ReplicaConfig; readonly signer: Signer };

/** The membership a node is in, and what it holds back while a change may be on its way. */
export class NodeMembership {
  /** The membership in force, as the message decoder needs it. */
  private keys: MembershipKeys;
  /** The first height the membership in force decides. */
  private fromHeight: number;
  /** The membership before the last change, with this node's signer in it (null: it was no member). */
  private previous: (MembershipKeys & { readonly signer: Signer | null }) | null = null;
  /** This node's signer under the membership in force. */
  private signerNow: Signer;
  /**
   * Set to h while the replica has decided height h and that decision may change the membership:
   * the replica is not stepped, and what it would do at h + 1 is not carried out, until commit h
   * is written and the node knows who decides h + 1.
   */
  heldAfter: number | null = null;
  /** Removed by a membership change: the replica is never stepped again; the API still answers. */
  private removedNow = false;
  private readonly parked = new ParkedFrames();
  /** Messages refused because they were signed under a membership no longer in force. */
  private refusedCount = 0;
  private readonly lastServedMs = new Map<string, number>();
  /** This node's site, kept for status once it is no member. */
  private siteNow: string;

  constructor(
    private readonly ctx: NodeContext,
    private readonly options: NodeOptions,
    private readonly rotation: RotationKeys | undefined,
    signer: Signer,
  ) {
    const { cluster, self } = ctx;
    this.signerNow = signer;
    this.keys = { verifier: clusterVerifier(cluster), limits: decodeLimitsOf(replicaConfigOf(cluster, self, options)) };
    this.fromHeight = 0;
    this.siteNow = cluster.members[self]!.site;
  }

  get signer(): Signer {
    return this.signerNow;
  }

  get removed(): boolean {
    return this.removedNow;
  }

  get site(): string {
    return this.siteNow;
  }

  /** The first height the membership in force decides. */
  get height(): number {
    return this.fromHeight;
  }

  get refused(): number {
    return this.refusedCount;
  }

  get parkedDropped(): number {
    return this.parked.dropped;
  }

  /** Whether the replica may be stepped: neither held for a possible change nor removed. */
  get steppable(): boolean {
    return this.heldAfter === null && !this.removedNow;
  }

  /**
   * A peer's consensus frame: the message to step, or null when it was parked, served from the
   * previous membership, or refused (and counted).
   */
  judge(from: string, raw: unknown): Message | null {
    if (this.heldAfter !== null) {
      this.parked.park(from, raw);
      return null;
    }
    const verdict = judgeFrame(raw, {
      current: this.keys, fromHeight: this.fromHeight, previous: this.previous, knownHeightMax: this.ctx.memory.writtenHeight + 1,
    });
    switch (verdict.kind) {
      case 'step':
        return verdict.msg;
      case 'previous':
        this.servePrevious(from, verdict.msg);
        return null;
      case 'park':
        this.parked.park(from, raw);
        return null;
      case 'not-in-force':
        this.refusedCount += 1;
        this.ctx.event('fault', `refused a message of ${this.ctx.siteOf(from)}: signed under a membership no longer in force (from height ${this.fromHeight})`, { peer: from });
        return null;
      case 'refused':
        this.ctx.transport.counters.framesRefused += 1;
        return null;
    }
  }

  /** Every parked frame, oldest first, to be judged again (what is still unknown parks again). */
  takeParked(): { readonly from: string; readonly raw: unknown }[] {
    return this.parked.take();
  }

  /** Commit `height` is written (or adopted): a hold on it, or on an earlier height, ends. */
  release(height: number): void {
    if (this.heldAfter !== null && height >= this.heldAfter) this.heldAfter = null;
  }

  /**
   * The lowest decided height among `effects` whose commit may change the membership (null:
   * none); holds the replica there.
   */
  async holdOf(effects: readonly Effect[]): Promise<number | null> {
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

  /** The membership agreed commit `height` (on `parent`) brings in, or null when it leaves it as it is. */
  async changedBy(height: number, commit: string, parent: string): Promise<ClusterDoc | null> {
    const clusterAt = this.ctx.chain.clusterAt?.bind(this.ctx.chain);
    if (clusterAt === undefined || this.removedNow) return null;
    const [next, before] = await Promise.all([clusterAt(commit), clusterAt(parent)]);
    if (next === null) {
      this.ctx.event('error', `height ${height}: agreed commit ${commit.slice(0, 12)} holds no valid cluster document; the membership stays as it is`, { height });
      return null;
    }
    return sameCluster(next, before ?? this.ctx.cluster) ? null : next;
  }

  /**
   * Take up `next` as the membership that decides `height` and on: the shared context, the
   * transport's links, the keys that judge frames, this node's key (a rotation) and signer.
   */
  async switchTo(next: ClusterDoc, height: number): Promise<MembershipSwitch> {
    const { ctx } = this;
    const before = ctx.cluster;
    this.previous = { ...this.keys, signer: ctx.self >= 0 ? this.signerNow : null };
    const identity = await this.identityIn(next);
    const self = replicaIndexOf(next, identity.id);
    ctx.previousCluster = before;
    ctx.cluster = next;
    ctx.identity = identity;
    ctx.self = self;
    ctx.memberIds = next.members.map((member) => member.id);
    this.fromHeight = height;
    ctx.transport.setMembers(identity, next.members);
    const added = next.members.filter((m) => !before.members.some((b) => b.id === m.id)).map((m) => m.site);
    const left = before.members.filter((b) => !next.members.some((m) => m.id === b.id)).map((m) => m.site);
    const { n, f, quorum } = clusterSizes(next);
    ctx.event('membership', `from height ${height}: ${n} members (f = ${f}, quorum ${quorum})${added.length > 0 ? `; added ${added.join(', ')}` : ''}${left.length > 0 ? `; left ${left.join(', ')}` : ''}`, {
      height, n, added, left,
    });
    if (self < 0) {
      this.removedNow = true;
      this.keys = { verifier: clusterVerifier(next), limits: this.keys.limits };
      ctx.event('removed', `this node was removed from the cluster at height ${height}; it no longer proposes or votes (its API still answers)`, { height });
      return { removed: true };
    }
    this.siteNow = next.members[self]!.site;
    ctx.chain.setRecordSigner?.({ identity, member: next.members[self]! });
    const config = replicaConfigOf(next, self, this.options);
    this.keys = { verifier: clusterVerifier(next), limits: decodeLimitsOf(config) };
    this.signerNow = identitySigner(next, identity);
    return { removed: false, config, signer: this.signerNow };
  }

  /** This node's identity under `next`: the key in use, or the next key of a rotation `next` lists (made the node key). */
  private async identityIn(next: ClusterDoc): Promise<NodeIdentity> {
    const current = this.ctx.identity;
    if (replicaIndexOf(next, current.id) >= 0 || this.rotation === undefined) return current;
    const rotated = await this.rotation.loadNext();
    if (rotated === null || replicaIndexOf(next, rotated.id) < 0) return current;
    const promoted = await this.rotation.promote();
    this.ctx.event('membership', `rotated this node's key: ${current.id} is now ${promoted.id}`, { from: current.id, to: promoted.id });
    return promoted;
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
    const now = this.ctx.clock.nowMs();
    if (now - (this.lastServedMs.get(from) ?? -Infinity) < servePreviousIntervalMs) return;
    this.lastServedMs.set(from, now);
    const certs = [...this.ctx.memory.decisions.values()]
      .filter((cert) => cert.height >= msg.height && cert.height < this.fromHeight)
      .sort((a, b) => a.height - b.height)
      .slice(0, servePreviousDecisionsMax);
    for (const cert of certs) {
      const m = signMessage<Message>(signer, { v: 1, type: 'decision', from: signer.self, height: cert.height, round: cert.round, body: { cert } });
      this.ctx.transport.send(from, { t: 'c', m } satisfies PeerFrame);
    }
  }
}

/** The replica configuration of a node: the defaults, larger batches, and the node's overrides. */
export function replicaConfigOf(cluster: ClusterDoc, self: number, options: NodeOptions): ReplicaConfig {
  const base = defaultReplicaConfig(cluster.members.length, self);
  return { ...base, batchAcusMax: 256, decisionsRetainedMax: decisionsKeptOf(options), ...options.replica };
}

/** How often a peer behind the last membership change is sent the decisions it misses, at most. */
const servePreviousIntervalMs = 250;
/** Decisions sent to such a peer at once, at most. */
const servePreviousDecisionsMax = 16;
