/**
 * The write-ahead log: an append-only file of checksummed records, made durable (fdatasync) before
 * an append resolves. A sync node appends the state that remembers a vote before the vote leaves.
 *
 * File layout: an 8-byte magic (`ACUWAL1\n`), then records of
 *   u32 LE payload length | u32 LE CRC-32 of the payload | payload bytes.
 * On open, records are read until the first that is short, or fails its checksum as the last record,
 * or is followed only by zero bytes — the tail of an append that a crash cut off — and the file is
 * truncated there, so the next append starts clean.
 * Nothing before that point is ever dropped: a damaged record in the middle stops recovery with an
 * error rather than silently discarding the records after it.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { crc32 } from 'node:zlib';
import { AcuError, assert } from '../core/errors.js';

const magic = Buffer.from('ACUWAL1\n', 'latin1');
const headerBytes = 8;

/**
 * Largest record the log accepts. A vote with its certificate is a few kilobytes; the large ones
 * are record bodies, and the log must hold any record a message can carry (64 MiB, net/frame.ts),
 * so that a commit with a large file is agreed like any other.
 */
export const walRecordBytesMax = 80 * 1024 * 1024;

/** What opening a log found. */
export interface WalRecovery {
  /** Every intact record, in append order. */
  readonly records: readonly Uint8Array[];
  /** Bytes of a torn final record that were cut off (0 after a clean shutdown). */
  readonly truncatedBytes: number;
}

/**
 * What to tell an operator about a damaged log. Never to delete or move it aside: it holds the
 * votes this node signed, and a node that starts without them can sign twice at one height.
 */
export const damagedLogHint =
  'do not delete or move the log: it holds what stops this node from signing twice. Keep the node stopped, ' +
  'keep a copy of the file, and restore the log from a backup of this machine; if there is none, this node ' +
  'may only rejoin under a new identity (a new key, added to the cluster in place of this one)';

/**
 * An open write-ahead log. Appends are serialised: each resolves once it is on disk. After a write
 * or sync fails, the log is failed: every later append is refused, and nothing is retried (after a
 * failed fsync the kernel may already have dropped the pages, and a retry that succeeds would
 * claim durability for data that is gone).
 */
export class Wal {
  private tail: Promise<void> = Promise.resolve();
  private closed = false;
  private failure: unknown = null;

  private constructor(
    private readonly handle: FileHandle,
    private size: number,
    readonly path: string,
  ) {}

  /** Open (creating if needed) the log at `path`, recovering from a torn final write. */
  static async open(path: string): Promise<{ wal: Wal; recovery: WalRecovery }> {
    const handle = await open(path, 'a+', 0o600);
    try {
      const bytes = await handle.readFile();
      if (bytes.length === 0) {
        await handle.write(magic, 0, magic.length, null);
        await handle.datasync();
        return { wal: new Wal(handle, magic.length, path), recovery: { records: [], truncatedBytes: 0 } };
      }
      const { records, end } = parseLog(path, bytes);
      if (end < bytes.length) {
        await handle.truncate(end);
        await handle.sync();
      }
      return { wal: new Wal(handle, end, path), recovery: { records, truncatedBytes: bytes.length - end } };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Bytes in the log. */
  get sizeBytes(): number {
    return this.size;
  }

  /** The error that failed the log, or null while it is healthy. */
  get failed(): unknown {
    return this.failure;
  }

  /** Append records and wait until they are durable. */
  append(payloads: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new AcuError('ERR_IO', `the write-ahead log ${this.path} is closed`));
    if (this.failure !== null) return Promise.reject(this.failedError());
    for (const payload of payloads) {
      assert(payload.length > 0, 'a WAL record is never empty');
      assert(payload.length <= walRecordBytesMax, `a WAL record is at most ${walRecordBytesMax} bytes`);
    }
    const frame = encodeRecords(payloads);
    const done = this.tail.then(async () => {
      // An append queued behind one that failed must not reach the disk either.
      if (this.failure !== null) throw this.failedError();
      try {
        // 'a+' appends at the end whatever the position; the size is tracked for recovery tests.
        const { bytesWritten } = await this.handle.write(frame, 0, frame.length, null);
        // A short write (a full disk) is not continued: the rest would be a second, separate append.
        if (bytesWritten !== frame.length) throw new AcuError('ERR_IO', `short write to ${this.path}: ${bytesWritten} of ${frame.length} bytes`);
        await this.handle.datasync();
      } catch (error) {
        this.failure = error;
        throw this.failedError();
      }
      this.size += frame.length;
    });
    // The chain never rejects, so no append leaves an unhandled rejection behind; each caller gets
    // its own outcome from `done`.
    this.tail = done.catch(() => undefined);
    return done;
  }

  private failedError(): AcuError {
    const reason = this.failure instanceof Error ? this.failure.message : String(this.failure);
    return new AcuError('ERR_IO', `writing ${this.path} failed (${reason}); nothing more is written to it`, {
      hint: 'stop the node, fix the disk (space, permissions, hardware), then start it again: it resumes from what the log holds',
      cause: this.failure,
    });
  }

  /** Wait for pending appends, then close the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.handle.close();
  }
}

/** The bytes of records as the log stores them. */
export function encodeRecords(payloads: readonly Uint8Array[]): Buffer {
  const total = payloads.reduce((n, p) => n + headerBytes + p.length, 0);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const payload of payloads) {
    out.writeUInt32LE(payload.length, at);
    out.writeUInt32LE(crc32(payload), at + 4);
    out.set(payload, at + headerBytes);
    at += headerBytes + payload.length;
  }
  assert(at === total, 'encodeRecords: every byte written');
  return out;
}

/**
 * Records of a log file and where the intact part ends. A torn record can only be the last one
 * (appends are sequential and each is synced before the next starts), so a bad record followed by
 * more data means corruption, not a crash: that is an error.
 */
function parseLog(path: string, bytes: Buffer): { records: Uint8Array[]; end: number } {
  if (bytes.length < magic.length || !bytes.subarray(0, magic.length).equals(magic)) {
    if (bytes.length < magic.length && magic.subarray(0, bytes.length).equals(bytes)) return { records: [], end: 0 };
    throw new AcuError('ERR_CORRUPT_LOG', `${path} is not an acu write-ahead log`, { hint: damagedLogHint });
  }
  const records: Uint8Array[] = [];
  let at = magic.length;
  while (at < bytes.length) {
    const verdict = recordAt(bytes, at);
    if (verdict.kind === 'ok') {
      records.push(verdict.payload);
      at = verdict.next;
      continue;
    }
    // A crash can leave a short last record, or (on file systems that extend the size before the
    // data lands) a run of zero bytes; both are a cut-off append, not damage.
    if (verdict.kind === 'torn' || verdict.reachesEnd || zeroTail(bytes, at)) return { records, end: at };
    throw new AcuError('ERR_CORRUPT_LOG', `${path} is damaged at byte ${at}: ${verdict.kind}`, { hint: damagedLogHint });
  }
  return { records, end: at };
}

function zeroTail(bytes: Buffer, at: number): boolean {
  for (let i = at; i < bytes.length; i += 1) if (bytes[i] !== 0) return false;
  return true;
}

type RecordVerdict =
  | { kind: 'ok'; payload: Uint8Array; next: number }
  | { kind: 'torn' }
  | { kind: 'bad checksum' | 'bad length'; reachesEnd: boolean };

function recordAt(bytes: Buffer, at: number): RecordVerdict {
  if (bytes.length - at < headerBytes) return { kind: 'torn' };
  const length = bytes.readUInt32LE(at);
  const checksum = bytes.readUInt32LE(at + 4);
  if (length === 0 || length > walRecordBytesMax) return { kind: 'bad length', reachesEnd: false };
  const next = at + headerBytes + length;
  if (next > bytes.length) return { kind: 'torn' };
  const payload = bytes.subarray(at + headerBytes, next);
  if (crc32(payload) !== checksum) return { kind: 'bad checksum', reachesEnd: next === bytes.length };
  return { kind: 'ok', payload: new Uint8Array(payload), next };
}

/**
 * The intact records at the start of a log's bytes and where they end, stopping (without an error)
 * at the first record that is not intact. For readers that never write: the outbox reads a log
 * written in this format by earlier versions before its own lines.
 */
export function walPrefix(bytes: Uint8Array): { records: Uint8Array[]; end: number } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buffer.length < magic.length || !buffer.subarray(0, magic.length).equals(magic)) return { records: [], end: 0 };
  const records: Uint8Array[] = [];
  let at = magic.length;
  for (;;) {
    const verdict = recordAt(buffer, at);
    if (verdict.kind !== 'ok') return { records, end: at };
    records.push(verdict.payload);
    at = verdict.next;
  }
}

// ---- the writer's lock ---------------------------------------------------------------------------

/** Who holds a log's lock: the content of `<log>.lock`. */
export interface LockHolder {
  readonly pid: number;
  /** Random, per acquisition: a lock is released only by the one who took it. */
  readonly token: string;
  readonly host: string;
  /** Linux's boot id, when there is one: a lock from before a reboot is stale whatever its pid. */
  readonly bootId: string | null;
  /** The holder's start time in clock ticks since boot (Linux): tells a reused pid from the holder. */
  readonly startTicks: string | null;
}

/** How many times taking a lock goes round (a stale lock broken, a race lost) before it gives up. */
const lockAttemptsMax = 20;
const lockRetryMs = 10;

async function readOrNull(path: string): Promise<string | null> {
  return readFile(path, 'utf8').then((text) => text.trim(), () => null);
}

async function startTicksOf(pid: number): Promise<string | null> {
  const stat = await readOrNull(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Fields after the command name (which may hold spaces) start at field 3; starttime is field 22.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

function parseHolder(text: string | null): LockHolder | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.token !== 'string' || typeof value.host !== 'string') return null;
    return { pid: value.pid, token: value.token, host: value.host, bootId: value.bootId ?? null, startTicks: value.startTicks ?? null };
  } catch {
    return null;
  }
}

/**
 * Whether a lock's holder may still be running. Conservative: only a definite sign of death makes
 * a lock stale (no such pid, the machine rebooted since, or the pid now belongs to a process that
 * started at another time, which is how a reused pid shows). A holder on another host is alive.
 */
async function holderAlive(holder: LockHolder): Promise<boolean> {
  if (holder.host !== hostname()) return true;
  const bootId = await readOrNull('/proc/sys/kernel/random/boot_id');
  if (bootId !== null && holder.bootId !== null && bootId !== holder.bootId) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const ticks = await startTicksOf(holder.pid);
  return !(ticks !== null && holder.startTicks !== null && ticks !== holder.startTicks);
}

/** Create `path` holding `text`, atomically and only if it does not exist: false when it does. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  // Written to a private name and linked into place, so the lock is never seen empty or half written.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * The exclusive lock of one log's writer, `<log>.lock`: two sync nodes appending to one log would
 * each sign without seeing the other's votes. A lock whose holder is dead is taken over under a
 * second lock (`<log>.lock.break`), so two starters that both find it stale cannot both take it.
 */
export class LogLock {
  private released = false;

  private constructor(readonly path: string, readonly holder: LockHolder) {}

  /** Take the lock of the log at `logPath`; an AcuError names the live holder. */
  static async acquire(logPath: string): Promise<LogLock> {
    const path = `${logPath}.lock`;
    const self: LockHolder = {
      pid: process.pid, token: randomBytes(12).toString('hex'), host: hostname(),
      bootId: await readOrNull('/proc/sys/kernel/random/boot_id'), startTicks: await startTicksOf(process.pid),
    };
    const text = JSON.stringify(self);
    for (let attempt = 0; attempt < lockAttemptsMax; attempt += 1) {
      if (await createExclusive(path, text)) return new LogLock(path, self);
      const seen = await readOrNull(path);
      const holder = parseHolder(seen);
      if (seen === null) continue; // released between our try and our read
      // A lock is linked into place whole, so one that does not parse is nobody's: it is stale.
      if (holder !== null && (await holderAlive(holder))) throw lockedError(logPath, holder);
      await breakStale(path, seen);
      await new Promise((done) => setTimeout(done, lockRetryMs));
    }
    throw new AcuError('ERR_NODE', `could not take the lock ${path}: other processes keep taking it`, { hint: 'check for other acu nodes on this repository, then try again' });
  }

  /** Give the lock back, if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    assert(this.holder.pid === process.pid, 'a lock is released by the process that took it');
    this.released = true;
    if (parseHolder(await readOrNull(this.path))?.token === this.holder.token) await unlink(this.path).catch(() => undefined);
  }
}

function lockedError(logPath: string, holder: LockHolder): AcuError {
  const where = holder.host === hostname() ? `process ${holder.pid}` : `process ${holder.pid} on ${holder.host}`;
  return new AcuError('ERR_NODE', `another sync node (${where}) is already using ${logPath}`, {
    hint: `stop that node first ('acu node stop', or kill ${holder.pid}); if ${where} is not an acu node, remove ${logPath}.lock`,
    data: { pid: holder.pid, host: holder.host },
  });
}

/**
 * Remove a stale lock, under the break lock, and only if it still holds what was judged stale (a
 * new holder may have taken it meanwhile). A break lock whose own holder died is removed first.
 */
async function breakStale(path: string, staleText: string): Promise<void> {
  const breakPath = `${path}.break`;
  const self = JSON.stringify({ pid: process.pid, token: randomBytes(12).toString('hex'), host: hostname(), bootId: null, startTicks: await startTicksOf(process.pid) });
  if (!(await createExclusive(breakPath, self))) {
    const breaker = parseHolder(await readOrNull(breakPath));
    if (breaker !== null && !(await holderAlive(breaker))) await unlink(breakPath).catch(() => undefined);
    return;
  }
  try {
    if ((await readOrNull(path)) === staleText) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(breakPath).catch(() => undefined);
  }
}
