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
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { AcuError, assert } from '../core/errors.js';

const magic = Buffer.from('ACUWAL1\n', 'latin1');
const headerBytes = 8;

/** Largest record the log accepts (a vote with its certificate is a few kilobytes). */
export const walRecordBytesMax = 16 * 1024 * 1024;

/** What opening a log found. */
export interface WalRecovery {
  /** Every intact record, in append order. */
  readonly records: readonly Uint8Array[];
  /** Bytes of a torn final record that were cut off (0 after a clean shutdown). */
  readonly truncatedBytes: number;
}

/** An open write-ahead log. Appends are serialised: each resolves once it is on disk. */
export class Wal {
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

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

  /** Append records and wait until they are durable. */
  append(payloads: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new AcuError('ERR_IO', `the write-ahead log ${this.path} is closed`));
    for (const payload of payloads) {
      assert(payload.length > 0, 'a WAL record is never empty');
      assert(payload.length <= walRecordBytesMax, `a WAL record is at most ${walRecordBytesMax} bytes`);
    }
    const frame = encodeRecords(payloads);
    const done = this.tail.then(async () => {
      // 'a+' appends at the end whatever the position; the size is tracked for recovery tests.
      await this.handle.write(frame, 0, frame.length, null);
      await this.handle.datasync();
      this.size += frame.length;
    });
    this.tail = done.catch(() => undefined);
    return done;
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
    throw new AcuError('ERR_CORRUPT_LOG', `${path} is not an acu write-ahead log`, { hint: 'move it aside; the node will start a new log' });
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
    throw new AcuError('ERR_CORRUPT_LOG', `${path} is damaged at byte ${at}: ${verdict.kind}`, {
      hint: 'restore the log from a backup, or move it aside and let the node catch up from its peers',
    });
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
