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
 * On start the node replays the log into {@link NodeMemory}. When the log has grown large it is
 * rewritten with only what the memory still needs, to a temporary file that is synced and renamed
 * over the old one.
 */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import type { DecisionCert, PersistedState } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import { encodeRecords, Wal, walRecordBytesMax } from '../store/wal.js';
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
  | { readonly k: 'vote'; readonly conflict: string; readonly choice: string; readonly sides?: readonly [string, string] | null };

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

/** Rewrite the log once it is larger than this and most of it is history. */
const compactBytesMin = 32 * 1024 * 1024;

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
  }
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

  private constructor(private wal: Wal, readonly path: string) {}

  /** Open the log, replay it (records checked by `verifier`) and compact it when it has grown large. */
  static async open(path: string, decisionsKept: number, verifier: RecordVerifier): Promise<{ log: NodeLog; memory: NodeMemory; truncatedBytes: number }> {
    const { wal, recovery } = await Wal.open(path);
    const memory = emptyMemory();
    for (const bytes of recovery.records) {
      let entry: NodeLogEntry;
      try {
        entry = unpack(bytes) as NodeLogEntry;
      } catch (cause) {
        await wal.close();
        throw new AcuError('ERR_CORRUPT_LOG', `${path} holds an entry that does not decode`, { hint: 'move the log aside; the node will catch up from its peers', cause });
      }
      applyEntry(memory, entry, decisionsKept, verifier);
    }
    const log = new NodeLog(wal, path);
    if (wal.sizeBytes > compactBytesMin) await log.compact(memory);
    return { log, memory, truncatedBytes: recovery.truncatedBytes };
  }

  /** Append entries; resolves once they are on disk (after every entry appended before them). */
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

  private async writePending(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      try {
        await this.wal.append(group.flatMap((append) => append.payloads));
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

  async close(): Promise<void> {
    await this.writing;
    await this.wal.close();
  }

  /** Replace the log with the entries that rebuild `memory`. */
  private async compact(memory: NodeMemory): Promise<void> {
    const entries: NodeLogEntry[] = [];
    if (memory.genesis !== null) entries.push({ k: 'genesis', commit: memory.genesis });
    for (const cert of [...memory.decisions.values()].sort((a, b) => a.height - b.height)) entries.push({ k: 'decision', cert });
    if (memory.state !== null) entries.push({ k: 'state', state: memory.state });
    entries.push({ k: 'records', records: [...memory.records.values()].map((item) => item.record) });
    if (memory.writtenCommit !== null) entries.push({ k: 'written', height: memory.writtenHeight, commit: memory.writtenCommit, settled: [...memory.settled] });
    entries.push({ k: 'outbox', taken: memory.outboxTaken });
    for (const [conflict, vote] of memory.votes) entries.push({ k: 'vote', conflict, choice: vote.choice, sides: vote.sides });
    const temporary = `${this.path}.compact`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.write(Buffer.from('ACUWAL1\n', 'latin1'));
      await handle.write(encodeRecords(entries.map((entry) => pack(entry))));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.wal.close();
    await rename(temporary, this.path);
    const directory = await open(dirname(this.path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
    this.wal = (await Wal.open(this.path)).wal;
  }
}
