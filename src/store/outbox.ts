/**
 * The outbox: commits the post-commit hook hands to the sync node, in an append-only file
 * (`<git-common-dir>/acu/outbox.wal`) so that nothing a developer committed is lost while the node
 * is down. The hook only appends (one write and an fsync); the node reads the records, does the
 * heavy work (extraction, proposal) and records in its own log how many it has taken.
 *
 * Several writers share the file without a lock: hooks of commits made at once, and the node. So
 * every record is one line, `\n<crc32 hex> <json>\n`, written with a single write() on a file
 * opened O_APPEND|O_CREAT: creation is race-free (both openers get the same file), each append
 * lands whole at the end, and two appends never interleave their bytes. Nothing ever truncates or
 * rewrites the file. A reader takes only complete lines whose checksum holds: the unfinished tail
 * of an append in flight is not read yet, and an append cut short (a killed hook, a full disk) is a
 * damaged line that the next record's leading newline closes off, skipped and counted, never read
 * as half a record. The position of every readable record therefore never changes, which is what
 * the node's `outbox` count relies on.
 *
 * Files written by earlier versions start with the binary write-ahead log format; their records
 * are read first, and lines appended after them.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { assert } from '../core/errors.js';
import { walPrefix } from './wal.js';

/** One queued commit. */
export interface OutboxRecord {
  readonly v: 1;
  readonly type: 'commit';
  readonly commit: string;
  /** The branch checked out when it was made (null on a detached HEAD). */
  readonly branch: string | null;
  /** Milliseconds since the epoch, when the hook ran (for status output only). */
  readonly queuedAtMs: number;
}

/** A record line is far below this; a larger one is refused rather than risk a split write. */
const outboxLineBytesMax = 4096;

/** Where a repository's outbox lives. */
export function outboxPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'outbox.wal');
}

/** The bytes one record is appended as. */
export function outboxLine(record: OutboxRecord): Buffer {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  const line = Buffer.concat([Buffer.from(`\n${crc32(json).toString(16).padStart(8, '0')} `, 'latin1'), json, Buffer.from('\n', 'latin1')]);
  assert(!json.includes(0x0a), 'a JSON record has no newline');
  assert(line.length <= outboxLineBytesMax, `an outbox line is at most ${outboxLineBytesMax} bytes`);
  return line;
}

/**
 * Append a record and resolve once it is durable: the file data synced, and the directory synced
 * so that a newly created outbox survives a crash too.
 */
export async function enqueueCommit(gitCommonDir: string, record: OutboxRecord): Promise<void> {
  assert(/^[0-9a-f]{40,64}$/.test(record.commit), 'enqueueCommit: a commit id');
  const line = outboxLine(record);
  const directory = join(gitCommonDir, 'acu');
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const handle = await open(outboxPath(gitCommonDir), 'a', 0o600);
  try {
    const { bytesWritten } = await handle.write(line, 0, line.length, null);
    // Never continue a short write: the rest would be a separate append, maybe after another's.
    if (bytesWritten !== line.length) throw new Error(`short write to the outbox: ${bytesWritten} of ${line.length} bytes`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Every queued record, oldest first; damaged or unknown records are skipped and counted. */
export async function readOutbox(gitCommonDir: string): Promise<{ records: OutboxRecord[]; unreadable: number }> {
  const bytes = await readFile(outboxPath(gitCommonDir)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  });
  return parseOutbox(bytes);
}

/** The records of an outbox file's bytes (see the module comment for the format). */
export function parseOutbox(bytes: Buffer): { records: OutboxRecord[]; unreadable: number } {
  const legacy = walPrefix(bytes);
  const records: OutboxRecord[] = [];
  let unreadable = 0;
  const take = (json: Uint8Array): void => {
    const record = recordOf(json);
    if (record === null) unreadable += 1;
    else records.push(record);
  };
  for (const payload of legacy.records) take(payload);
  let at = legacy.end;
  for (;;) {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) break; // no newline yet: an append in flight, or one cut short (closed off by the next)
    const line = bytes.subarray(at, end);
    at = end + 1;
    if (line.length === 0) continue;
    const checksum = /^[0-9a-f]{8} /.test(line.subarray(0, 9).toString('latin1')) ? Number.parseInt(line.subarray(0, 8).toString('latin1'), 16) : -1;
    const json = line.subarray(9);
    if (checksum !== crc32(json)) unreadable += 1;
    else take(json);
  }
  return { records, unreadable };
}

function recordOf(json: Uint8Array): OutboxRecord | null {
  try {
    const value = JSON.parse(new TextDecoder().decode(json)) as Partial<OutboxRecord>;
    if (value.v === 1 && value.type === 'commit' && typeof value.commit === 'string') return value as OutboxRecord;
  } catch {
    // not JSON: counted by the caller
  }
  return null;
}
