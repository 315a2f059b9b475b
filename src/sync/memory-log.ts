/**
 * The in-memory write-ahead log (ports.ts's NodeLogPort), for the log conformance suite and the
 * seeded host simulator: {@link MemoryNodeLog} on a {@link MemoryDisk} whose durable part survives
 * a simulated crash; faults: a full disk, an fsync error, a torn last entry at a crash.
 */
import { Packr, Unpackr } from 'msgpackr';
import { AcuError, assert } from '../core/errors.js';
import { walRecordBytesMax } from '../store/wal.js';
import { applyEntry } from './node-log.js';
import type { NodeLogEntry, NodeMemory } from './node-log.js';
import type { RecordVerifier } from './records.js';
import type { Clock, NodeLogPort, OpenedLog } from './ports.js';

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** A fault the disk has in store for the next write. */
export type DiskFault = 'enospc' | 'fsync-eio';

/**
 * The storage a {@link MemoryNodeLog} writes to. `durable` is what survives a crash (entries as
 * the bytes NodeLog would frame); the faults are set by the simulator and take effect at the next
 * write.
 */
export class MemoryDisk {
  readonly durable: Uint8Array[] = [];
  /** A fault for the next write; cleared once it happened. */
  nextFault: DiskFault | null = null;
  /** Bytes of a torn entry left at the end by the last crash, cut off by the next open. */
  tornBytes = 0;
  /** The log open on this disk now, if any. */
  openLog: MemoryNodeLog | null = null;

  /**
   * Simulate a crash: the open log's writes in flight are lost (`torn`: the first of them left a
   * partial entry at the end), and its promises never settle — the process that held them is gone.
   */
  crash(torn: boolean): void {
    const log = this.openLog;
    this.openLog = null;
    if (log === null) return;
    const unsynced = log.abandon();
    if (torn && unsynced !== null) this.tornBytes = Math.max(1, unsynced.length >> 1);
  }
}

interface MemoryAppend {
  readonly payloads: readonly Uint8Array[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** An error like the file system's (`code` as Node gives it). */
function ioError(code: 'ENOSPC' | 'EIO', message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * The node's log on a {@link MemoryDisk}, with the same contract as NodeLog: appends made while a
 * write is on its way go together in the next one (group commit); an append resolves once its
 * entries are durable; once an append failed, every later one rejects. A write takes
 * `writeMs` on the clock, so a crash can land while one is on its way.
 */
export class MemoryNodeLog implements NodeLogPort {
  private pending: MemoryAppend[] = [];
  private writing: MemoryAppend[] | null = null;
  private failed: unknown = null;
  private abandoned = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  private constructor(
    private readonly disk: MemoryDisk,
    private readonly clock: Clock | null,
    private readonly writeMs: number,
  ) {}

  /**
   * Open the log on `disk`: cut a torn tail, replay the durable entries (records checked by
   * `verifier`, as NodeLog does). A second open while one is open is refused, as NodeLog's lock does.
   */
  static open(
    disk: MemoryDisk,
    decisionsKept: number,
    verifier: RecordVerifier,
    options: { readonly clock?: Clock; readonly writeMs?: number } = {},
  ): OpenedLog & { readonly log: MemoryNodeLog } {
    if (disk.openLog !== null) {
      throw new AcuError('ERR_NODE', 'another sync node is already using this log', { hint: 'stop that node first' });
    }
    const memory: NodeMemory = {
      genesis: null, state: null, decisions: new Map(), records: new Map(), settled: new Set(), settledAt: new Map(), writtenHeight: -1,
      writtenCommit: null, outboxTaken: 0, votes: new Map(),
    };
    for (const bytes of disk.durable) applyEntry(memory, unpackr.unpack(bytes) as NodeLogEntry, decisionsKept, verifier);
    const truncatedBytes = disk.tornBytes;
    disk.tornBytes = 0;
    const log = new MemoryNodeLog(disk, options.clock ?? null, options.writeMs ?? 1);
    disk.openLog = log;
    return { log, memory, truncatedBytes };
  }

  append(entries: readonly NodeLogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const payloads = entries.map((entry) => packr.pack(entry) as Uint8Array);
      for (const payload of payloads) assert(payload.length <= walRecordBytesMax, `a log entry is at most ${walRecordBytesMax} bytes`);
      if (this.failed !== null) {
        reject(new AcuError('ERR_IO', 'the node log failed earlier; nothing more is written to it', { cause: this.failed }));
        return;
      }
      this.pending.push({ payloads, resolve, reject });
      if (this.writing === null) this.startWrite();
    });
  }

  private startWrite(): void {
    const group = this.pending;
    this.pending = [];
    this.writing = group;
    const finish = (): void => {
      if (this.abandoned) return;
      this.finishWrite(group);
    };
    if (this.clock === null) queueMicrotask(finish);
    else this.clock.after(this.writeMs, finish);
  }

  private finishWrite(group: readonly MemoryAppend[]): void {
    const fault = this.disk.nextFault;
    this.disk.nextFault = null;
    this.writing = null;
    if (fault !== null) {
      this.failed = fault === 'enospc' ? ioError('ENOSPC', 'no space left on device') : ioError('EIO', 'fsync failed');
      for (const append of group) append.reject(this.failed);
      const later = this.pending;
      this.pending = [];
      for (const append of later) append.reject(this.failed);
      this.wakeIdle();
      return;
    }
    for (const append of group) this.disk.durable.push(...append.payloads);
    for (const append of group) append.resolve();
    if (this.pending.length > 0) this.startWrite();
    else this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Whether an append has failed (the log takes nothing more). */
  get hasFailed(): boolean {
    return this.failed !== null;
  }

  /** @internal The process died: forget the writes in flight; returns the first unsynced entry. */
  abandon(): Uint8Array | null {
    this.abandoned = true;
    const first = this.writing?.[0]?.payloads[0] ?? this.pending[0]?.payloads[0] ?? null;
    this.writing = null;
    this.pending = [];
    return first;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Like NodeLog.close: wait for the writes in flight (their appends settle first).
    if (this.writing !== null) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.disk.openLog === this) this.disk.openLog = null;
  }
}
