/**
 * Record exchange: how ACU record bodies move between a sync node, its peers and its replica. New
 * commits come from the outbox the post-commit hook fills (or `acu propose`), and from a bounded
 * scan of the protected branch for this site's commits the hook missed, which the node queues in
 * the outbox itself; their records are logged, shipped to every peer and offered to the replica. Bodies a validation or a decision lacks
 * are asked for until they come. The consensus orders record ids; the id is the hash of the body,
 * so a body from any peer is as good as one from its origin.
 */
import { AcuError, assert, AssertionFailure } from '../core/errors.js';
import { encodedBytesOf, groupByBytes, messageBytesMax } from '../net/frame.js';
import { acuRefOf, decodeRecord, recordVerifier } from './records.js';
import type { IdentifiedRecord } from './records.js';
import type { OutboxRecord } from '../store/outbox.js';
import type { CancelTimer } from './ports.js';
import type { ConcurrentEdit, NodeContext, PeerFrame } from './node-types.js';
import { ConcurrentEdits } from './concurrent.js';

/** Records shipped per frame, at most (keeps frames well under the frame size limit). */
export const recordsPerFrameMax = 256;
/** Bytes of record bodies per message, about: a group of small records stays within one frame. */
const recordsMessageBytesMax = 1024 * 1024;
/**
 * Bytes of record bodies per log entry, about: well under the log's entry limit, so the records of
 * a commit with several large files go in several entries (one append, made durable together).
 */
const recordsEntryBytesMax = 4 * 1024 * 1024;
/**
 * The largest record (encoded) a node keeps or proposes: one message must carry it to the peers,
 * with room to spare for the frame around it. A commit holding a larger one (a file of more than
 * about 60 MiB) is refused whole, with a clear error; the log holds any record up to this.
 */
export const recordBytesMax = messageBytesMax - 1024 * 1024;
/** Ids asked for per request, at most. */
export const needIdsMax = 4096;
/**
 * Records of one origin member a node keeps unsettled, at most, unless a batch needs them. Beyond
 * it a member flooding the cluster with records it signed itself (each valid) fills neither disk
 * nor memory: the excess is refused and counted. Twice the replica's pool, so an honest member's
 * backlog (the pool holds at most 4,096 ACUs) never reaches it.
 */
export const unsettledRecordsPerMemberMax = 8192;
/** Bytes of unsettled record bodies of one origin member a node keeps, at most (as above). */
export const unsettledBytesPerMemberMax = 256 * 1024 * 1024;
/** How long a validation or a decision waits for missing record bodies before asking again. */
const bodyWaitMs = 1_000;
/**
 * Commits the scan for missed commits lists, at most: it bounds one scan's cost (one rev-list of
 * that many lines), not how far back history goes.
 */
export const scanCommitsMax = 256;
/** How often the node looks whether the protected branch moved (one rev-parse), and scans when it did. */
export const scanIntervalMs = 2_000;

/** The record side of a sync node. */
export class RecordExchange {
  private held: IdentifiedRecord[] = [];
  private cancelHeld: CancelTimer | null = null;
  private readonly bodyWaiters = new Set<() => void>();
  private cancelScan: CancelTimer | null = null;
  private scanQueued = false;
  /** The branch tip the last scan looked at (null: none yet, so the first call scans). */
  private scannedTip: string | null = null;
  private scanFullReported = false;
  /** Record ids of decided batches whose agreed commit is not written yet (then they are settled). */
  readonly decidedUnwritten = new Set<string>();
  /** Record ids a validation or a decision waits for: always taken, whatever the bounds. */
  private readonly wanted = new Map<string, number>();
  /** Encoded sizes of the records kept, computed once each. */
  private readonly sizes = new WeakMap<IdentifiedRecord, number>();
  /** Records of peers' frames admitted and on their way to the log (they count toward the bounds). */
  private readonly arriving = new Map<string, IdentifiedRecord>();
  /** Records a peer sent that were refused: over their origin member's bounds. */
  recordsRefused = 0;
  /** Pending ACUs by declaration: the early warning of two sites editing one (concurrent.ts). */
  readonly concurrent: ConcurrentEdits;

  constructor(private readonly ctx: NodeContext) {
    this.concurrent = new ConcurrentEdits(ctx);
  }

  /** Records known but neither agreed, deferred nor rejected yet. */
  unsettled(): IdentifiedRecord[] {
    const { memory } = this.ctx;
    return [...memory.records.values()].filter((item) => !memory.settled.has(item.id));
  }

  /** Whether a record may (still) be offered to the replica. */
  isOpen(id: string): boolean {
    return !this.ctx.memory.settled.has(id) && !this.decidedUnwritten.has(id);
  }

  /** A peer came up: it may have missed record bodies, so offer the unsettled ones again. */
  onPeerUp(id: string): void {
    this.send(id, this.unsettled());
  }

  /** A `records` or `need` frame; false when the frame is malformed (the caller counts it). */
  onFrame(from: string, frame: Partial<Record<string, unknown>>): boolean {
    if (frame.t === 'records' && Array.isArray(frame.records) && frame.records.length <= recordsPerFrameMax) {
      const verifier = recordVerifier(this.ctx.cluster);
      const previous = this.ctx.previousCluster === null ? null : recordVerifier(this.ctx.previousCluster);
      const items = frame.records
        .map((raw) => decodeRecord(raw, verifier) ?? (previous === null ? null : this.ifWanted(decodeRecord(raw, previous))))
        .filter((item): item is IdentifiedRecord => item !== null);
      const admitted = this.admit(from, items);
      for (const item of admitted) this.arriving.set(item.id, item);
      void this.learn(admitted)
        .finally(() => {
          for (const item of admitted) this.arriving.delete(item.id);
        })
        .catch((error: unknown) => this.ctx.fail(error));
      return true;
    }
    if (frame.t === 'need' && Array.isArray(frame.ids) && frame.ids.length <= needIdsMax) {
      const known = frame.ids
        .filter((id): id is string => typeof id === 'string')
        .map((id) => this.ctx.memory.records.get(id))
        .filter((item) => item !== undefined);
      this.send(from, known);
      return true;
    }
    return false;
  }

  /**
   * Ship record bodies to one peer or to all, in messages of at most {@link recordsPerFrameMax}
   * records and about {@link recordsMessageBytesMax} bytes. A record larger than that (a big file)
   * goes alone; the transport splits such a message into fragments.
   */
  send(to: string /* a node id, or 'all' */, items: readonly IdentifiedRecord[]): void {
    const { transport } = this.ctx;
    for (const group of groupByBytes(items, (item) => encodedBytesOf(item.record), recordsMessageBytesMax)) {
      for (let at = 0; at < group.length; at += recordsPerFrameMax) {
        const frame: PeerFrame = { t: 'records', records: group.slice(at, at + recordsPerFrameMax).map((item) => item.record) };
        if (to === 'all') transport.broadcast(frame);
        else transport.send(to, frame);
      }
    }
  }

  /**
   * The records of a peer's frame this node keeps: all a batch waits for, and the others while
   * their origin member stays within {@link unsettledRecordsPerMemberMax} and
   * {@link unsettledBytesPerMemberMax} of unsettled records. The rest are refused and counted once
   * per frame; a member that floods is the one that loses, and the honest ones' records still fit.
   */
  private admit(from: string, items: readonly IdentifiedRecord[]): IdentifiedRecord[] {
    const { memory } = this.ctx;
    const fresh = items.filter((item) => !memory.records.has(item.id) && !memory.settled.has(item.id) && !this.arriving.has(item.id));
    if (fresh.every((item) => this.wanted.has(item.id))) return fresh;
    const usage = new Map<string, { records: number; bytes: number }>();
    for (const item of [...memory.records.values(), ...this.arriving.values()]) {
      if (memory.settled.has(item.id)) continue;
      const used = usage.get(item.record.origin.node) ?? { records: 0, bytes: 0 };
      used.records += 1;
      used.bytes += this.sizeOf(item);
      usage.set(item.record.origin.node, used);
    }
    const admitted: IdentifiedRecord[] = [];
    let refused = 0;
    for (const item of fresh) {
      const used = usage.get(item.record.origin.node) ?? { records: 0, bytes: 0 };
      const bytes = this.sizeOf(item);
      const within = used.records + 1 <= unsettledRecordsPerMemberMax && used.bytes + bytes <= unsettledBytesPerMemberMax;
      if (!within && !this.wanted.has(item.id)) {
        refused += 1;
        continue;
      }
      used.records += 1;
      used.bytes += bytes;
      usage.set(item.record.origin.node, used);
      admitted.push(item);
    }
    if (refused > 0) {
      this.recordsRefused += refused;
      this.ctx.event('fault', `refused ${refused} record${refused === 1 ? '' : 's'} from ${this.ctx.siteOf(from)}: their origin member is over its bound of unsettled records (${unsettledRecordsPerMemberMax} records, ${unsettledBytesPerMemberMax / (1024 * 1024)} MiB)`, { peer: from, refused });
    }
    return admitted;
  }

  private sizeOf(item: IdentifiedRecord): number {
    let size = this.sizes.get(item);
    if (size === undefined) {
      size = encodedBytesOf(item.record);
      this.sizes.set(item, size);
    }
    return size;
  }

  /**
   * Keep new record bodies durably, then offer them to the replica; returns the new ones. A record
   * too large for one log entry can never be durable: it is refused and reported (a peer may send
   * one; a commit may hold one), never appended, which the log would refuse as our bug.
   */
  async learn(items: readonly IdentifiedRecord[]): Promise<IdentifiedRecord[]> {
    const { memory } = this.ctx;
    const sized: { item: IdentifiedRecord; bytes: number }[] = [];
    for (const item of items) {
      if (memory.records.has(item.id) || memory.settled.has(item.id)) continue;
      const bytes = this.sizeOf(item);
      if (bytes <= recordBytesMax) sized.push({ item, bytes });
      else this.ctx.event('skipped', `record ${item.id.slice(0, 12)} (${item.record.acu.file}, ${bytes} bytes) is larger than a record may be (${recordBytesMax} bytes); not kept`, { id: item.id, bytes });
    }
    const fresh = sized.map(({ item }) => item);
    if (fresh.length === 0) return [];
    const entries = groupByBytes(sized, ({ bytes }) => bytes, recordsEntryBytesMax).map((group) => ({ k: 'records' as const, records: group.map(({ item }) => item.record) }));
    try {
      await this.ctx.log.append(entries);
    } catch (error) {
      // A log that failed takes the node down before it signs anything more.
      this.ctx.fail(error);
      throw error;
    }
    // Known only once durable: a record acknowledged before its append must not be lost in a crash.
    for (const item of fresh) memory.records.set(item.id, item);
    this.concurrent.learned(fresh);
    this.pool(fresh);
    for (const wake of [...this.bodyWaiters]) wake();
    return fresh;
  }

  /** Offer records to the replica, after the batching window when there is one. */
  private pool(items: readonly IdentifiedRecord[]): void {
    const windowMs = this.ctx.options.batchMs ?? 0;
    if (windowMs <= 0) {
      this.ctx.submit({ type: 'propose_request', acus: items.map(acuRefOf) });
      return;
    }
    this.held.push(...items);
    this.cancelHeld ??= this.ctx.clock.after(windowMs, () => {
      this.cancelHeld = null;
      const held = this.held;
      this.held = [];
      this.ctx.submit({ type: 'propose_request', acus: held.map(acuRefOf) });
    });
  }

  /** The bodies of `ids`, asking the peers for missing ones until they come or the node stops. */
  async bodiesOf(ids: readonly string[], ask: string /* a node id, or 'all' */, patience: number): Promise<IdentifiedRecord[] | null> {
    const { memory, transport, clock } = this.ctx;
    for (let attempt = 0; attempt <= patience && !this.ctx.isStopped(); attempt += 1) {
      const missing = ids.filter((id) => !memory.records.has(id));
      if (missing.length === 0) return ids.map((id) => memory.records.get(id)!);
      this.want(missing, +1);
      const frame: PeerFrame = { t: 'need', ids: missing.slice(0, needIdsMax) };
      if (ask === 'all' || ask === this.ctx.identity.id || attempt > 0) transport.broadcast(frame);
      else transport.send(ask, frame);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          cancel();
          this.bodyWaiters.delete(wake);
          resolve();
        };
        const cancel = clock.after(bodyWaitMs, wake);
        this.bodyWaiters.add(wake);
      });
      this.want(missing, -1);
    }
    return null;
  }

  /**
   * A record signed under the previous membership (a site's old key before its rotation took
   * effect, or a member since removed): taken only when a batch waits for it. Such a record was
   * proposed while its signer was a member, and a leader has put it in a batch; refusing its body
   * would leave that batch unvalidated for good. A new record of a key no longer in force is never
   * taken into the pool.
   */
  private ifWanted(item: IdentifiedRecord | null): IdentifiedRecord | null {
    return item !== null && this.wanted.has(item.id) ? item : null;
  }

  /** Count `ids` as waited for (+1) or no longer (-1); several waits may want one id. */
  private want(ids: readonly string[], delta: 1 | -1): void {
    for (const id of ids) {
      const count = (this.wanted.get(id) ?? 0) + delta;
      if (count > 0) this.wanted.set(id, count);
      else this.wanted.delete(id);
    }
  }

  /**
   * Find this site's commits the hook missed, then take new commits from the outbox; returns how
   * many ACUs were proposed. Runs on start and on every poke; the first call also starts the
   * periodic scan (see {@link scanIntervalMs}).
   */
  takeOutbox(): Promise<number> {
    if (!this.ctx.isStopped()) this.cancelScan ??= this.ctx.clock.every(scanIntervalMs, () => this.scanSoon());
    return this.ctx.gitQueue.run(async () => {
      await this.scanBranchOrReport();
      return await this.takeQueued();
    });
  }

  /** The periodic scan: queued at most once at a time, and cheap while the branch has not moved. */
  private scanSoon(): void {
    if (this.scanQueued || this.ctx.isStopped()) return;
    this.scanQueued = true;
    void this.ctx.gitQueue.run(async () => {
      this.scanQueued = false;
      if (this.ctx.isStopped()) return;
      if (await this.scanBranchOrReport()) await this.takeQueued();
    }).catch((error: unknown) => this.ctx.fail(error));
  }

  /**
   * Scan, and on a local failure (git failed, the disk is full) say so and go on: the commits stay
   * on the branch, and the next scan (the last scanned tip is unchanged) tries again. Only the
   * hook's entries wait meanwhile; nothing of the consensus depends on the scan.
   */
  private async scanBranchOrReport(): Promise<boolean> {
    try {
      return await this.scanBranch();
    } catch (error) {
      if (error instanceof AssertionFailure) throw error;
      const message = error instanceof Error ? error.message : String(error);
      this.ctx.event('error', `could not look for commits the hook missed (retrying in ${scanIntervalMs} ms): ${message}`, { scan: true });
      return false;
    }
  }

  /**
   * Queue, in the outbox, this site's commits on the protected branch that no outbox entry for
   * that branch names yet (docs/sync.md, "Commits the hook missed"). A commit it queues is then
   * taken like any other entry, once, and a restart finds it in the outbox and leaves it. Returns
   * whether the tip moved (then the outbox may hold new entries, the scan's or the hook's). Skipped
   * while the branch tip is where the last scan saw it: what the
   * scan excludes (agreed commits, remote-tracking refs, the outbox) only grows.
   */
  private async scanBranch(): Promise<boolean> {
    const { ctx } = this;
    const branch = ctx.cluster.branch;
    const tip = await ctx.chain.revParse(`refs/heads/${branch}`);
    if (tip === null || tip === this.scannedTip) return false;
    const exclude = [ctx.memory.genesis, ctx.memory.writtenCommit].filter((commit): commit is string => commit !== null);
    const found = await ctx.chain.localCommits(branch, exclude, scanCommitsMax);
    assert(found.length <= scanCommitsMax, 'the scan is bounded');
    if (found.length === scanCommitsMax && !this.scanFullReported) {
      this.scanFullReported = true;
      ctx.event('skipped', `'${branch}' has at least ${scanCommitsMax} commits that are not agreed; the node looks for missed ones among the newest ${scanCommitsMax} only (propose older ones with 'acu propose <commit>')`);
    }
    const queued = queuedCommits(await ctx.chain.readOutbox(), branch);
    for (const commit of found) {
      if (queued.has(commit)) continue;
      // Durable before it is taken: the outbox entry is what tells a restart that it was queued.
      await ctx.chain.appendOutbox({ v: 1, type: 'commit', commit, branch, queuedAtMs: ctx.clock.nowMs(), source: 'scan' });
      queued.add(commit);
      ctx.event('queued', `commit ${commit.slice(0, 12)} on '${branch}' was not in the outbox (made without the post-commit hook, or before it ran); queued`, { commit, found: true });
    }
    this.scannedTip = tip;
    // The tip moved: whether the scan queued the commits or the hook did (its poke may have come
    // too late for a busy node, or not at all), the outbox has entries to take.
    return true;
  }

  /** Take the outbox entries not taken yet; an entry for a commit an earlier entry proposed is passed over. */
  private async takeQueued(): Promise<number> {
    const { ctx } = this;
    const records = await ctx.chain.readOutbox();
    const branch = ctx.cluster.branch;
    const earlier = queuedCommits(records.slice(0, ctx.memory.outboxTaken), branch);
    let proposed = 0;
    for (let i = ctx.memory.outboxTaken; i < records.length; i += 1) {
      const entry = records[i]!;
      if (!proposes(entry, branch)) {
        const short = entry.commit.slice(0, 12);
        ctx.event('skipped', `commit ${short} is on branch '${entry.branch}', not '${branch}'; propose it with 'acu propose ${short}'`);
      } else if (!earlier.has(entry.commit)) {
        // The hook and the scan may both queue one commit; only its first entry proposes it.
        earlier.add(entry.commit);
        proposed += await this.proposeCommit(entry.commit);
      }
      await ctx.log.append([{ k: 'outbox', taken: i + 1 }]);
      ctx.memory.outboxTaken = i + 1;
    }
    return proposed;
  }

  /**
   * The local API's poke (the post-commit hook): take the outbox. With the commit the hook queued,
   * answer once it is taken, with the concurrent edits its ACUs are part of; the hook waits for
   * that only within its budget. Without one, answer at once.
   */
  async poke(commit: string | undefined): Promise<{ taken: true; concurrent?: ConcurrentEdit[] }> {
    const taking = this.takeOutbox();
    if (commit === undefined) {
      taking.catch((error: unknown) => this.ctx.fail(error));
      return { taken: true };
    }
    try {
      await taking;
    } catch (error) {
      this.ctx.fail(error);
      throw error;
    }
    return { taken: true, concurrent: this.concurrent.ofCommit(commit) };
  }

  /** Propose the commit `rev` names (the local API's `propose`). */
  async proposeRev(rev: string): Promise<{ commit: string; acus: number }> {
    const commit = await this.ctx.chain.revParse(rev);
    if (commit === null) throw new AcuError('ERR_UNKNOWN_REVISION', `'${rev}' does not name a commit`, { hint: 'pass a commit id, a branch name or HEAD' });
    const acus = await this.ctx.gitQueue.run(() => this.proposeCommit(commit));
    return { commit, acus };
  }

  /** Extract a commit's records, keep them, send them to every peer and pool them. */
  private async proposeCommit(commit: string): Promise<number> {
    const { ctx } = this;
    let items: IdentifiedRecord[];
    try {
      items = await ctx.chain.recordsOfCommit(commit);
    } catch (error) {
      ctx.event('error', `could not extract ${commit.slice(0, 12)}: ${error instanceof Error ? error.message : String(error)}`);
      return 0;
    }
    const tooLarge = items.find((item) => this.sizeOf(item) > recordBytesMax);
    if (tooLarge !== undefined) {
      // Proposing the rest would land part of a commit; nothing of it is proposed, and it stays on
      // the branch, so nothing is lost.
      const mib = (this.sizeOf(tooLarge) / (1024 * 1024)).toFixed(1);
      ctx.event('error', `commit ${commit.slice(0, 12)} is not proposed: its change to ${tooLarge.record.acu.file} is ${mib} MiB, and a record carries at most ${recordBytesMax / (1024 * 1024)} MiB (hint: keep files that large out of the repository, e.g. with Git LFS, and amend the commit)`, { commit, file: tooLarge.record.acu.file });
      return 0;
    }
    const fresh = await this.proposeRecords(items);
    ctx.event('queued', `commit ${commit.slice(0, 12)}: ${fresh} ACU${fresh === 1 ? '' : 's'} proposed`, { commit, acus: fresh });
    return fresh;
  }

  /** Keep records, send them to every peer and pool them; returns how many were new. */
  async proposeRecords(items: readonly IdentifiedRecord[]): Promise<number> {
    const fresh = await this.learn(items);
    this.send('all', fresh);
    return fresh.length;
  }

  /** Wake every wait for bodies (the node is stopping), drop the batching window and the scan. */
  stop(): void {
    this.cancelScan?.();
    this.cancelScan = null;
    this.cancelHeld?.();
    this.cancelHeld = null;
    for (const wake of [...this.bodyWaiters]) wake();
  }
}

/** Whether taking an outbox entry proposes its commit: it was made on the protected branch, or on a detached HEAD. */
function proposes(entry: OutboxRecord, branch: string): boolean {
  return entry.branch === null || entry.branch === branch;
}

/** The commits of the entries that propose theirs. */
function queuedCommits(records: readonly OutboxRecord[], branch: string): Set<string> {
  return new Set(records.filter((entry) => proposes(entry, branch)).map((entry) => entry.commit));
}
