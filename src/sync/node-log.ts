/**
 * The sync node's durable memory, one write-ahead log (`<git-common-dir>/acu/node.wal`) of msgpack
 * entries, each appended and fdatasynced before the node acts on it:
 *
 * - `genesis`: the commit the agreed chain starts from (written once);
 * - `state`: the consensus replica's persisted state, written before any message it signed leaves
 *   (its retained decisions are kept out of it and logged once each as `decision` instead, so a
 *   state entry stays small however many decisions the replica keeps);
 * - `records`: ACU record bodies this node learned (from its outbox or from peers);
 * - `written`: height h's agreed commit is written, with the record ids it settled;
 * - `outbox`: how many outbox entries the node has taken;
 * - `vote`: a person's vote on a conflict.
 *
 * Compaction writes only `snapshot*` entries besides these, which restore memory exactly (see
 * {@link snapshotEntries}).
 *
 * On start the node takes the log's lock (one writer per log) and replays the log into
 * {@link NodeMemory}. When the log has grown large it is rewritten with only what the memory still
 * needs, as entries each under the record limit, to a new file that is synced and renamed over the
 * old one (the directory synced after).
 */
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import type { DecisionCert, PersistedState } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import { groupByBytes } from '../net/frame.js';
import { damagedLogHint, encodeRecords, LogLock, Wal, walRecordBytesMax } from '../store/wal.js';
import type { AcuRecord, IdentifiedRecord, RecordVerifier } from './records.js';
import { decodeRecord } from './records.js';

/** One log entry. */
export type NodeLogEntry =
  | { readonly k: 'genesis'; readonly commit: string }
  | { readonly k: 'state'; readonly state: PersistedState }
  | { readonly k: 'decision'; readonly cert: DecisionCert }
  | { readonly k: 'records'; readonly records: readonly AcuRecord[] }
  | { readonly k: 'written'; readonly height: number; readonly commit: string; readonly settled: readonly string[] }
  | { readonly k: 'outbox'; readonly taken: number }
  | { readonly k: 'vote'; readonly conflict: string; readonly choice: string; readonly sides?: readonly [string, string] | null }
  // Written by compaction only: settled ids, a written height's ids, and the last written commit,
  // each without the side effects a `written` entry has (dropping old bodies).
  | { readonly k: 'snapshotSettled'; readonly ids: readonly string[] }
  | { readonly k: 'snapshotSettledAt'; readonly height: number; readonly ids: readonly string[] }
  | { readonly k: 'snapshotWritten'; readonly height: number; readonly commit: string };

/**
 * A person's vote. `sides` are the ACU ids of the conflict's sides a and b when the vote was cast
 * on an open conflict: a later round may order the batch differently, and the vote follows the
 * ACUs, not the position. Null for a vote cast before its conflict opened (positional).
 */
export interface PersonVote {
  readonly choice: string;
  readonly sides: readonly [string, string] | null;
}

/** What the log says, replayed. */
export interface NodeMemory {
  genesis: string | null;
  state: PersistedState | null;
  /** Retained decisions by height. */
  decisions: Map<number, DecisionCert>;
  records: Map<string, IdentifiedRecord>;
  /** Record ids that ended in an agreed commit, a deferral or a rejection. */
  settled: Set<string>;
  /** Per written height, its record ids: their bodies are kept for peers catching up, then dropped. */
  settledAt: Map<number, readonly string[]>;
  /** The last agreed commit written, and its height (-1: none). */
  writtenHeight: number;
  writtenCommit: string | null;
  outboxTaken: number;
  votes: Map<string, PersonVote>;
}

// Like wire frames, entries decode on their own (no shared msgpackr structures).
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });
const pack = (value: unknown): Uint8Array => packr.pack(value);
const unpack = (bytes: Uint8Array): unknown => unpackr.unpack(bytes);

/** By default, rewrite the log once it is larger than this and most of it is history. */
export const compactBytesMinDefault = 32 * 1024 * 1024;

/** Compaction packs lists (records, settled ids) into entries of about this size, well under the record limit. */
const snapshotChunkBytes = 1024 * 1024;

function emptyMemory(): NodeMemory {
  return {
    genesis: null, state: null, decisions: new Map(), records: new Map(), settled: new Set(), settledAt: new Map(), writtenHeight: -1,
    writtenCommit: null, outboxTaken: 0, votes: new Map(),
  };
}

/**
 * Fold one entry into the memory. Logged records are verified again, like a peer's: the log is
 * local and checksummed, but the cluster document may have changed since they were logged, and a
 * record whose signer is no longer a member (or has moved site) must not come back into the pool.
 */
export function applyEntry(memory: NodeMemory, entry: NodeLogEntry, decisionsKept: number, verifier: RecordVerifier): void {
  switch (entry.k) {
    case 'genesis':
      memory.genesis ??= entry.commit;
      break;
    case 'state':
      memory.state = entry.state;
      break;
    case 'decision':
      memory.decisions.set(entry.cert.height, entry.cert);
      memory.decisions.delete(entry.cert.height - decisionsKept);
      break;
    case 'records':
      for (const raw of entry.records) {
        const item = decodeRecord(raw, verifier);
        if (item !== null) memory.records.set(item.id, item);
      }
      break;
    case 'written':
      memory.writtenHeight = entry.height;
      memory.writtenCommit = entry.commit;
      settle(memory, entry.height, entry.settled, decisionsKept);
      break;
    case 'outbox':
      memory.outboxTaken = Math.max(memory.outboxTaken, entry.taken);
      break;
    case 'vote': {
      const sides = entry.sides;
      const valid = Array.isArray(sides) && sides.length === 2 && sides.every((id) => typeof id === 'string');
      memory.votes.set(entry.conflict, { choice: entry.choice, sides: valid ? [sides[0], sides[1]] : null });
      break;
    }
    case 'snapshotSettled':
      for (const id of entry.ids) memory.settled.add(id);
      break;
    case 'snapshotSettledAt':
      for (const id of entry.ids) memory.settled.add(id);
      memory.settledAt.set(entry.height, [...(memory.settledAt.get(entry.height) ?? []), ...entry.ids]);
      break;
    case 'snapshotWritten':
      memory.writtenHeight = entry.height;
      memory.writtenCommit = entry.commit;
      break;
  }
}

/**
 * Entries that rebuild `memory` exactly when replayed into an empty one, each small: lists are cut
 * into chunks of about {@link snapshotChunkBytes}, so a snapshot of any size fits the log's record
 * limit. Order matters: settled ids come before the per-height lists (which re-add them), so the
 * set keeps its order; decisions, records and votes are written in their maps' order.
 */
export function snapshotEntries(memory: NodeMemory): NodeLogEntry[] {
  const entries: NodeLogEntry[] = [];
  if (memory.genesis !== null) entries.push({ k: 'genesis', commit: memory.genesis });
  for (const cert of memory.decisions.values()) entries.push({ k: 'decision', cert });
  if (memory.state !== null) entries.push({ k: 'state', state: memory.state });
  for (const records of chunks([...memory.records.values()].map((item) => item.record), (record) => pack(record).length)) entries.push({ k: 'records', records });
  for (const ids of chunks([...memory.settled], (id) => id.length)) entries.push({ k: 'snapshotSettled', ids });
  for (const [height, all] of memory.settledAt) {
    const parts = chunks(all, (id) => id.length);
    if (parts.length === 0) entries.push({ k: 'snapshotSettledAt', height, ids: [] });
    for (const ids of parts) entries.push({ k: 'snapshotSettledAt', height, ids });
  }
  if (memory.writtenCommit !== null) entries.push({ k: 'snapshotWritten', height: memory.writtenHeight, commit: memory.writtenCommit });
  entries.push({ k: 'outbox', taken: memory.outboxTaken });
  for (const [conflict, vote] of memory.votes) entries.push({ k: 'vote', conflict, choice: vote.choice, sides: vote.sides });
  return entries;
}

/**
 * Cut a list into runs whose sizes add up to about {@link snapshotChunkBytes} each (the grouping
 * the transport uses for its batches), each item counted as its size plus 8 bytes: room for its
 * encoding inside the entry, so that an entry stays under the log's record limit.
 */
function chunks<T>(items: readonly T[], sizeOf: (item: T) => number): T[][] {
  return groupByBytes(items, (item) => sizeOf(item) + 8, snapshotChunkBytes);
}

/** Entries waiting for the write in flight to finish, with the promises of their appends. */
interface PendingAppend {
  readonly payloads: readonly Uint8Array[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Mark a written height's records settled. Their bodies stay while the decision is retained, so a
 * peer catching up on that decision can still fetch them from this node; older bodies are dropped.
 */
export function settle(memory: NodeMemory, height: number, ids: readonly string[], decisionsKept: number): void {
  for (const id of ids) memory.settled.add(id);
  memory.settledAt.set(height, ids);
  const old = memory.settledAt.get(height - decisionsKept);
  if (old === undefined) return;
  for (const id of old) memory.records.delete(id);
  memory.settledAt.delete(height - decisionsKept);
}

/**
 * The node's log: replay on open, durable appends after. Appends made while a write is on its way
 * wait for it and then go to disk together, in order, with one fsync (group commit): record bodies
 * from several peers and the replica's state need not each wait for a sync of their own.
 */
export class NodeLog {
  private pending: PendingAppend[] = [];
  private writing: Promise<void> | null = null;
  /** Told how long each group's write and fdatasync took, in seconds (metrics; null: nobody asks). */
  private onSynced: ((seconds: number) => void) | null = null;

  private constructor(private wal: Wal, private readonly lock: LogLock, readonly path: string) {}

  /**
   * Take the log's lock, open it, replay it (records checked by `verifier`), and compact it when it is larger than
   * `compactBytesMin` (default {@link compactBytesMinDefault}) and mostly history. A second opener
   * of the same log, in this process or another, gets an AcuError naming the holder.
   */
  static async open(
    path: string,
    decisionsKept: number,
    verifier: RecordVerifier,
    options: { readonly compactBytesMin?: number; readonly onSynced?: (seconds: number) => void } = {},
  ): Promise<{ log: NodeLog; memory: NodeMemory; truncatedBytes: number }> {
    const compactBytesMin = options.compactBytesMin ?? compactBytesMinDefault;
    assert(compactBytesMin >= 0, 'NodeLog.open: a compaction threshold');
    const lock = await LogLock.acquire(path);
    let wal: Wal | null = null;
    try {
      const opened = await Wal.open(path);
      wal = opened.wal;
      const memory = replay(path, opened.recovery.records, decisionsKept, verifier);
      const log = new NodeLog(wal, lock, path);
      log.onSynced = options.onSynced ?? null;
      if (wal.sizeBytes > compactBytesMin) await log.compact(memory);
      return { log, memory, truncatedBytes: opened.recovery.truncatedBytes };
    } catch (error) {
      await wal?.close().catch(() => undefined);
      await lock.release();
      throw error;
    }
  }

  /**
   * Append entries; resolves once they are on disk (after every entry appended before them).
   * Once an append has failed, every later one is refused: the node must not send what it could
   * not make durable, and a write is never retried after a failed sync.
   */
  append(entries: readonly NodeLogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      // An entry the log cannot take fails its own append (thrown here), not the group it would join.
      const payloads = entries.map((entry) => pack(entry));
      for (const payload of payloads) assert(payload.length <= walRecordBytesMax, `a log entry is at most ${walRecordBytesMax} bytes`);
      this.pending.push({ payloads, resolve, reject });
      this.writing ??= this.writePending();
    });
  }

  /** The error that stopped the log, or null while appends are accepted. */
  get failed(): unknown {
    return this.wal.failed;
  }

  private async writePending(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      try {
        const startedMs = performance.now();
        await this.wal.append(group.flatMap((append) => append.payloads));
        this.onSynced?.((performance.now() - startedMs) / 1000);
        for (const append of group) append.resolve();
      } catch (error) {
        for (const append of group) append.reject(error);
      }
    }
    this.writing = null;
  }

  /** Bytes in the log. */
  get sizeBytes(): number {
    return this.wal.sizeBytes;
  }

  /** Wait for appends in flight, close the log and give its lock back. */
  async close(): Promise<void> {
    await this.writing;
    try {
      await this.wal.close();
    } finally {
      await this.lock.release();
    }
  }

  /**
   * Replace the log with the entries that rebuild `memory`, when they are at most half of it. The
   * new log is written beside the old one and renamed over it, so a crash at any point leaves
   * either the old log or the new one, whole. The lock is held throughout.
   */
  private async compact(memory: NodeMemory): Promise<void> {
    const payloads = snapshotEntries(memory).map((entry) => pack(entry));
    for (const payload of payloads) assert(payload.length <= walRecordBytesMax, 'a snapshot entry fits the record limit');
    const snapshotBytes = payloads.reduce((n, p) => n + p.length + 8, 8);
    if (snapshotBytes * 2 > this.wal.sizeBytes) return;
    const temporary = `${this.path}.compact`;
    try {
      await rm(temporary, { force: true }); // left by a compaction that crashed
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(Buffer.concat([Buffer.from('ACUWAL1\n', 'latin1'), encodeRecords(payloads)]));
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // The old log is untouched and whole: start on it uncompacted rather than not at all (a
      // full disk then fails the first append, which stops the node before it signs anything).
      await rm(temporary, { force: true }).catch(() => undefined);
      return;
    }
    await this.wal.close();
    await rename(temporary, this.path);
    const directory = await open(dirname(this.path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
    const reopened = await Wal.open(this.path);
    assert(reopened.recovery.records.length === payloads.length, 'the compacted log holds every snapshot entry');
    this.wal = reopened.wal;
  }
}

/** Fold a log's records into a fresh memory. */
function replay(path: string, records: readonly Uint8Array[], decisionsKept: number, verifier: RecordVerifier): NodeMemory {
  const memory = emptyMemory();
  for (const bytes of records) {
    let entry: NodeLogEntry;
    try {
      entry = unpack(bytes) as NodeLogEntry;
    } catch (cause) {
      throw new AcuError('ERR_CORRUPT_LOG', `${path} holds an entry that does not decode`, { hint: damagedLogHint, cause });
    }
    applyEntry(memory, entry, decisionsKept, verifier);
  }
  return memory;
}
