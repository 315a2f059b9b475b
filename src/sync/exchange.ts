/**
 * Record exchange: how ACU record bodies move between a sync node, its peers and its replica. New
 * commits come from the outbox the post-commit hook fills (or `acu propose`); their records are
 * logged, shipped to every peer and offered to the replica. Bodies a validation or a decision lacks
 * are asked for until they come. The consensus orders record ids; the id is the hash of the body,
 * so a body from any peer is as good as one from its origin.
 */
import { AcuError } from '../core/errors.js';
import { encodedBytesOf, groupByBytes } from '../net/frame.js';
import { walRecordBytesMax } from '../store/wal.js';
import { acuRefOf, decodeRecord, recordVerifier } from './records.js';
import type { IdentifiedRecord } from './records.js';
import type { CancelTimer } from './ports.js';
import type { NodeContext, PeerFrame } from './node-types.js';

/** Records shipped per frame, at most (keeps frames well under the frame size limit). */
export const recordsPerFrameMax = 256;
/** Bytes of record bodies per message, about: a group of small records stays within one frame. */
const recordsMessageBytesMax = 1024 * 1024;
/**
 * Bytes of record bodies per log entry, about: well under the log's entry limit, so the records of
 * a commit with several large files go in several entries (one append, made durable together).
 */
const recordsEntryBytesMax = 4 * 1024 * 1024;
/** Room for the entry around one record (`{ k: 'records', records: [...] }`). */
const recordsEntryOverheadBytes = 64;
/** Ids asked for per request, at most. */
export const needIdsMax = 4096;
/** How long a validation or a decision waits for missing record bodies before asking again. */
const bodyWaitMs = 1_000;

/** The record side of a sync node. */
export class RecordExchange {
  private held: IdentifiedRecord[] = [];
  private cancelHeld: CancelTimer | null = null;
  private readonly bodyWaiters = new Set<() => void>();
  /** Record ids of decided batches whose agreed commit is not written yet (then they are settled). */
  readonly decidedUnwritten = new Set<string>();

  constructor(private readonly ctx: NodeContext) {}

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
      const items = frame.records.map((raw) => decodeRecord(raw, verifier)).filter((item): item is IdentifiedRecord => item !== null);
      void this.learn(items).catch((error: unknown) => this.ctx.fail(error));
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
   * Keep new record bodies durably, then offer them to the replica; returns the new ones. A record
   * too large for one log entry can never be durable: it is refused and reported (a peer may send
   * one; a commit may hold one), never appended, which the log would refuse as our bug.
   */
  async learn(items: readonly IdentifiedRecord[]): Promise<IdentifiedRecord[]> {
    const { memory } = this.ctx;
    const sized: { item: IdentifiedRecord; bytes: number }[] = [];
    for (const item of items) {
      if (memory.records.has(item.id) || memory.settled.has(item.id)) continue;
      const bytes = encodedBytesOf(item.record);
      if (bytes + recordsEntryOverheadBytes <= walRecordBytesMax) sized.push({ item, bytes });
      else this.ctx.event('skipped', `record ${item.id.slice(0, 12)} (${item.record.acu.file}, ${bytes} bytes) is larger than a log entry can hold (${walRecordBytesMax} bytes); not kept`, { id: item.id, bytes });
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
    }
    return null;
  }

  /** Take new commits from the outbox the post-commit hook fills; returns how many ACUs were proposed. */
  takeOutbox(): Promise<number> {
    const { ctx } = this;
    return ctx.gitQueue.run(async () => {
      const records = await ctx.chain.readOutbox();
      let proposed = 0;
      for (let i = ctx.memory.outboxTaken; i < records.length; i += 1) {
        const entry = records[i]!;
        const branch = ctx.cluster.branch;
        if (entry.branch !== null && entry.branch !== branch) {
          const short = entry.commit.slice(0, 12);
          ctx.event('skipped', `commit ${short} is on branch '${entry.branch}', not '${branch}'; propose it with 'acu propose ${short}'`);
        } else {
          proposed += await this.proposeCommit(entry.commit);
        }
        await ctx.log.append([{ k: 'outbox', taken: i + 1 }]);
        ctx.memory.outboxTaken = i + 1;
      }
      return proposed;
    });
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

  /** Wake every wait for bodies (the node is stopping) and drop the batching window. */
  stop(): void {
    this.cancelHeld?.();
    this.cancelHeld = null;
    for (const wake of [...this.bodyWaiters]) wake();
  }
}
