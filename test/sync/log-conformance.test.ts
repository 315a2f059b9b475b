/**
 * One conformance suite for the node-log port (NodeLogPort), run against both implementations:
 * NodeLog on a temporary directory and MemoryNodeLog on a MemoryDisk. Replaying what was appended
 * gives the memory `applyEntry` builds; an append is durable once it resolves (a crash right after
 * loses nothing); after a failed append every later append rejects.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { MemoryDisk, MemoryNodeLog } from '../../src/sync/memory-log.js';
import { applyEntry, NodeLog } from '../../src/sync/node-log.js';
import type { NodeLogEntry, NodeMemory } from '../../src/sync/node-log.js';
import { decisionsKept } from '../../src/sync/node-types.js';
import type { OpenedLog } from '../../src/sync/ports.js';
import { recordVerifier } from '../../src/sync/records.js';
import { seededIdentity, simCluster, simSigner, syntheticRecord } from '../sim/host-world.js';

const identities = [seededIdentity('log conformance 0'), seededIdentity('log conformance 1')].sort((x, y) => (x.id < y.id ? -1 : 1));
const cluster = simCluster(identities);
const verifier = recordVerifier(cluster);

/** How a suite reaches one implementation. */
interface LogHarness {
  /** Open (or reopen after a crash) the one log this harness holds. */
  open(): Promise<OpenedLog>;
  /** The process dies right now: nothing is closed; the next `open` replays what is durable. */
  crash(): Promise<void>;
  /** Make the next write fail as a disk would (an I/O error). */
  failNextWrite(log: OpenedLog['log']): void;
  cleanup(): Promise<void>;
}

async function nodeLogHarness(): Promise<LogHarness> {
  const dir = await makeTempDir('log-conformance');
  const path = join(dir, 'node.wal');
  return {
    open: () => NodeLog.open(path, decisionsKept, verifier),
    // A second open of the file, without closing the first, sees exactly what reached the disk; the
    // dead process's lock is gone with it (here: removed, as a stale lock would be broken).
    crash: () => rm(`${path}.lock`, { force: true }),
    failNextWrite: (log) => {
      // The disk refuses the next write (an I/O error): the real Wal sees it and fails the log.
      const handle = (log as unknown as { wal: { handle: { write: (...args: unknown[]) => Promise<unknown> } } }).wal.handle;
      const real = handle.write.bind(handle);
      let failed = false;
      handle.write = (...args) => {
        if (failed) return real(...args);
        failed = true;
        return Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
      };
    },
    cleanup: () => removeTempDir(dir),
  };
}

function memoryLogHarness(): LogHarness {
  const disk = new MemoryDisk();
  return {
    // A refused open rejects, as NodeLog.open does (MemoryNodeLog.open throws).
    open: () => new Promise((resolve) => resolve(MemoryNodeLog.open(disk, decisionsKept, verifier))),
    crash: () => Promise.resolve(disk.crash(false)),
    failNextWrite: () => void (disk.nextFault = 'fsync-eio'),
    cleanup: () => Promise.resolve(),
  };
}

function emptyMemory(): NodeMemory {
  return {
    genesis: null, state: null, decisions: new Map(), records: new Map(), settled: new Set(), settledAt: new Map(), writtenHeight: -1,
    writtenCommit: null, outboxTaken: 0, votes: new Map(),
  };
}

const a = syntheticRecord(simSigner(cluster, identities[0]!), 'src/a.txt', 'alpha\n');
const b = syntheticRecord(simSigner(cluster, identities[1]!), 'src/b.txt', 'beta\n');
const sample: readonly NodeLogEntry[] = [
  { k: 'genesis', commit: 'c'.repeat(40) },
  { k: 'records', records: [a.record, b.record] },
  { k: 'written', height: 0, commit: 'd'.repeat(40), settled: [a.id] },
  { k: 'outbox', taken: 3 },
  { k: 'vote', conflict: '1.0', choice: 'keep-a', sides: [a.id, b.id] },
];

function expectedMemory(entries: readonly NodeLogEntry[]): NodeMemory {
  const memory = emptyMemory();
  for (const entry of entries) applyEntry(memory, entry, decisionsKept, verifier);
  return memory;
}

const implementations: readonly { readonly name: string; readonly make: () => Promise<LogHarness> }[] = [
  { name: 'NodeLog (temp dir)', make: nodeLogHarness },
  { name: 'MemoryNodeLog', make: () => Promise.resolve(memoryLogHarness()) },
];

for (const impl of implementations) {
  void describe(`log conformance: ${impl.name}`, () => {
    const harnesses: LogHarness[] = [];
    const make = async (): Promise<LogHarness> => {
      const harness = await impl.make();
      harnesses.push(harness);
      return harness;
    };
    after(async () => {
      for (const harness of harnesses) await harness.cleanup();
    });

    void it('a new log is empty', async () => {
      const harness = await make();
      const opened = await harness.open();
      assert.deepEqual(opened.memory, emptyMemory());
      assert.equal(opened.truncatedBytes, 0);
      await opened.log.close();
    });

    void it('append then reopen gives the memory applyEntry builds', async () => {
      const harness = await make();
      const first = await harness.open();
      await first.log.append(sample.slice(0, 2));
      await first.log.append(sample.slice(2));
      await first.log.close();
      const second = await harness.open();
      assert.deepEqual(second.memory, expectedMemory(sample));
      await second.log.close();
    });

    void it('appends are durable once they resolve (a crash right after loses nothing)', async () => {
      const harness = await make();
      const first = await harness.open();
      // Several appends in flight at once go out together (group commit); each resolves durable.
      await Promise.all(sample.map((entry) => first.log.append([entry])));
      await harness.crash();
      const second = await harness.open();
      assert.deepEqual(second.memory, expectedMemory(sample));
      await second.log.close();
      await first.log.close().catch(() => undefined);
    });

    void it('one log open at a time: a second open is refused until the first is closed', async () => {
      const harness = await make();
      const first = await harness.open();
      await assert.rejects(harness.open(), (error: unknown) => (error as { code?: unknown }).code === 'ERR_NODE');
      await first.log.close();
      const second = await harness.open();
      await second.log.close();
    });

    void it('a failed append rejects, and so does every later one', async () => {
      const harness = await make();
      const opened = await harness.open();
      await opened.log.append(sample.slice(0, 1));
      harness.failNextWrite(opened.log);
      await assert.rejects(opened.log.append(sample.slice(1, 2)));
      await assert.rejects(opened.log.append(sample.slice(2, 3)), 'an append after a failed one rejects');
      await opened.log.close().catch(() => undefined);
      const reopened = await harness.open();
      assert.deepEqual(reopened.memory, expectedMemory(sample.slice(0, 1)), 'nothing after the failure was kept');
      await reopened.log.close();
    });
  });
}
