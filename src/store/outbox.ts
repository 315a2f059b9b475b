/**
 * The outbox: commits the post-commit hook hands to the sync node, kept in a write-ahead log
 * (`<git-common-dir>/acu/outbox.wal`) so that nothing a developer committed is lost while the node
 * is down. The hook only appends (a few milliseconds, fsynced); the node reads the records, does
 * the heavy work (extraction, proposal) and records how far it got.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../core/errors.js';
import { Wal } from './wal.js';

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

/** Where a repository's outbox lives. */
export function outboxPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'outbox.wal');
}

/** Append a record durably; returns how many records the outbox now holds. */
export async function enqueueCommit(gitCommonDir: string, record: OutboxRecord): Promise<number> {
  assert(/^[0-9a-f]{40,64}$/.test(record.commit), 'enqueueCommit: a commit id');
  await mkdir(join(gitCommonDir, 'acu'), { recursive: true, mode: 0o700 });
  const { wal, recovery } = await Wal.open(outboxPath(gitCommonDir));
  try {
    await wal.append([new TextEncoder().encode(JSON.stringify(record))]);
    return recovery.records.length + 1;
  } finally {
    await wal.close();
  }
}

/** Every queued record, oldest first; unreadable records are skipped and counted. */
export async function readOutbox(gitCommonDir: string): Promise<{ records: OutboxRecord[]; unreadable: number }> {
  const { wal, recovery } = await Wal.open(outboxPath(gitCommonDir));
  await wal.close();
  const records: OutboxRecord[] = [];
  let unreadable = 0;
  for (const bytes of recovery.records) {
    try {
      const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<OutboxRecord>;
      if (value.v === 1 && value.type === 'commit' && typeof value.commit === 'string') records.push(value as OutboxRecord);
      else unreadable += 1;
    } catch {
      unreadable += 1;
    }
  }
  return { records, unreadable };
}
