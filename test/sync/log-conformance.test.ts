/**
 * One conformance suite for the node-log port (NodeLogPort), run against both implementations:
 * NodeLog on a temporary directory and MemoryNodeLog on a MemoryDisk. Replaying what was appended
 * gives the memory `applyEntry` builds; an append is durable once it resolves (a crash right after
 * loses nothing); after a failed append every later append rejects.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { MemoryDisk, MemoryNodeLog } from '../../src/sync/memory-ports.js';
import { applyEntry, NodeLog } from '../../src/sync/node-log.js';
import type { NodeLogEntry, NodeMemory } from '../../src/sync/node-log.js';
import { decisionsKept } from '../../src/sync/node-types.js';
import type { OpenedLog } from '../../src/sync/ports.js';
import { syntheticRecord } from '../sim/host-world.js';

/** How a suite reaches one implementation. */
interface LogHarness {
  /** Open (or reopen after a crash) the one log this harness holds. */
  open(): Promise<OpenedLog>;
  /** The process dies right now: nothing is closed; the next `open` replays what is durable. */
  crash(): void;
  /** Make the next write fail as a disk would (an I/O error). */
  failNextWrite(log: OpenedLog['log']): void;
  cleanup(): Promise<void>;
}

async function nodeLogHarness(): Promise<LogHarness> {
  const dir = await makeTempDir('log-conformance');
  const path = join(dir, 'node.wal');
  return {
    open: () => NodeLog.open(path, decisionsKept),
    // A second open of the file, without closing the first, sees exactly what reached the disk.
    crash: () => undefined,
    failNextWrite: (log) => {
      const wal = (log as unknown as { wal: { append: (payloads: readonly Uint8Array[]) => Promise<void> } }).wal;
      const real = wal.append.bind(wal);
      let failed = false;
      wal.append = (payloads) => {
        if (failed) return real(payloads);
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
    open: () => Promise.resolve(MemoryNodeLog.open(disk, decisionsKept)),
    crash: () => disk.crash(false),
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

const a = syntheticRecord('s0', 'src/a.txt', 'alpha\n');
const b = syntheticRecord('s1', 'src/b.txt', 'beta\n');
const sample: readonly NodeLogEntry[] = [
  { k: 'genesis', commit: 'c'.repeat(40) },
  { k: 'records', records: [a.record, b.record] },
  { k: 'written', height: 0, commit: 'd'.repeat(40), settled: [a.id] },
  { k: 'outbox', taken: 3 },
  { k: 'vote', conflict: '1.0', choice: 'keep-a', sides: [a.id, b.id] },
];

function expectedMemory(entries: readonly NodeLogEntry[]): NodeMemory {
  const memory = emptyMemory();
  for (const entry of entries) applyEntry(memory, entry, decisionsKept);
  return memory;
}

const implementations: readonly { readonly name: string; readonly make: () => Promise<LogHarness>; readonly refusesAfterFailure: boolean }[] = [
  // NodeLog does not refuse appends after a failed one yet (being added on another branch): that
  // single case is marked todo for it below.
  { name: 'NodeLog (temp dir)', make: nodeLogHarness, refusesAfterFailure: false },
  { name: 'MemoryNodeLog', make: () => Promise.resolve(memoryLogHarness()), refusesAfterFailure: true },
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
      harness.crash();
      const second = await harness.open();
      assert.deepEqual(second.memory, expectedMemory(sample));
      await second.log.close();
      await first.log.close().catch(() => undefined);
    });

    void it('a failed append rejects, and so does every later one', { todo: impl.refusesAfterFailure ? false : 'NodeLog does not refuse appends after a failed one yet' }, async () => {
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
