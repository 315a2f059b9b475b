/**
 * The sync node's log: compaction of any size restores exactly the memory it replaced, one writer
 * per log (across real processes, a dead holder's lock taken over, a reused pid told apart), and a
 * failed write stops every later append.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bufferIo } from '../../src/cli/io.js';
import { reportError } from '../../src/cli/main.js';
import type { DecisionCert, PersistedState } from '../../src/core/consensus/index.js';
import { AcuError, ExitCode } from '../../src/core/errors.js';
import { NodeLog } from '../../src/sync/node-log.js';
import type { NodeLogEntry, NodeMemory } from '../../src/sync/node-log.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { nodeIdOf } from '../../src/store/identity.js';
import { recordId, recordVerifier, signRecord } from '../../src/sync/records.js';
import type { AcuRecord, RecordSigner } from '../../src/sync/records.js';

const decisionsKept = 4;
let dir = '';
before(async () => {
  dir = await makeTempDir('node-log');
});
after(async () => {
  await removeTempDir(dir);
});

const hex = (seed: string): string => createHash('sha256').update(seed).digest('hex');

/** The one member whose records these logs hold. */
const signer: RecordSigner = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
  const identity = { id: nodeIdOf(raw), publicKey: raw, privateKey };
  return { identity, member: { id: identity.id, publicKey: raw, address: 'ws://127.0.0.1:7701', site: 's0', priority: 0 } };
})();
const cluster: ClusterDoc = { version: 1, branch: 'main', members: [signer.member] };
const verifier = recordVerifier(cluster);

function record(i: number): AcuRecord {
  const acu = {
    v: 1, level: 'file', file: `src/f${i}.ts`, fromFile: null, op: 'add', content: 'text', modeBefore: null, modeAfter: '100644',
    beforeOid: null, afterOid: hex(`oid${i}`).slice(0, 40), data: '', hunks: null, reason: 'added',
  } as const;
  const origin = { commit: 'a'.repeat(40), parent: 'b'.repeat(40), authorName: 'A', authorEmail: 'a@example.com', authorTime: 1_700_000_000, subject: `c${i}` };
  return signRecord(signer, acu, origin).record;
}

// The log stores these as opaque values: only `height` is read by the log itself.
const cert = (height: number): DecisionCert => ({ height, round: 0, value: { batch: { acuIds: [hex(`d${height}`)] } }, votes: [] }) as unknown as DecisionCert;
const state = (height: number): PersistedState => ({ height, round: 1, padding: 'x'.repeat(200) }) as unknown as PersistedState;

/** A history of `heights` agreed heights with `idsPerHeight` settled records each. */
function history(heights: number, idsPerHeight: number): NodeLogEntry[][] {
  const groups: NodeLogEntry[][] = [[{ k: 'genesis', commit: 'c'.repeat(40) }]];
  for (let h = 0; h < heights; h += 1) {
    const records = [record(2 * h), record(2 * h + 1)];
    // Each height settles its own records (their bodies then leave the memory) and more ids.
    const ids = [...records.map(recordId), ...Array.from({ length: idsPerHeight }, (_, i) => hex(`${h}.${i}`))];
    groups.push([
      { k: 'records', records },
      { k: 'state', state: state(h) },
      { k: 'decision', cert: cert(h) },
      { k: 'written', height: h, commit: hex(`commit${h}`).slice(0, 40), settled: ids },
      { k: 'outbox', taken: h + 1 },
      { k: 'vote', conflict: `c${h % 3}`, choice: h % 2 === 0 ? 'a' : 'b', sides: [hex(`a${h}`), hex(`b${h}`)] },
    ]);
  }
  return groups;
}

async function writeLog(path: string, groups: NodeLogEntry[][]): Promise<NodeMemory> {
  const { log } = await NodeLog.open(path, decisionsKept, verifier, { compactBytesMin: Number.MAX_SAFE_INTEGER });
  // Twenty heights per append: each under the entry limit, and few fsyncs.
  for (let i = 0; i < groups.length; i += 20) await log.append(groups.slice(i, i + 20).flat());
  await log.close();
  const { log: again, memory } = await NodeLog.open(path, decisionsKept, verifier, { compactBytesMin: Number.MAX_SAFE_INTEGER });
  await again.close();
  return memory;
}

it('compacts a log and reopens it to exactly the same memory', async () => {
  const path = join(dir, 'small.wal');
  const expected = await writeLog(path, history(40, 3));
  assert.equal(expected.decisions.size, decisionsKept);
  assert.ok(expected.records.size > 0);
  const before = (await stat(path)).size;
  const { log, memory } = await NodeLog.open(path, decisionsKept, verifier, { compactBytesMin: 0 });
  assert.deepEqual(memory, expected);
  assert.ok(log.sizeBytes < before, `compacted: ${log.sizeBytes} < ${before} bytes`);
  await log.append([{ k: 'outbox', taken: 99 }]);
  await log.close();
  const { log: reopened, memory: after } = await NodeLog.open(path, decisionsKept, verifier, { compactBytesMin: Number.MAX_SAFE_INTEGER });
  await reopened.close();
  assert.deepEqual({ ...after, outboxTaken: expected.outboxTaken }, expected, 'the compacted log replays to the same memory');
  assert.equal(after.outboxTaken, 99, 'appends continue after compaction');
  assert.deepEqual([...after.settled], [...expected.settled], 'settled ids keep their order');
});

it('compacts a log past the default threshold whose snapshot is larger than one entry may be', async () => {
  const path = join(dir, 'large.wal');
  // 520 heights of 1000 settled ids: about 35 MiB, past the default 32 MiB, and a snapshot whose
  // settled ids alone are twice the entry limit.
  const expected = await writeLog(path, history(520, 1000));
  assert.ok((await stat(path)).size > 32 * 1024 * 1024);
  // 16 MiB was the log's entry limit when this failure was found; the snapshot is written in
  // entries of about 1 MiB whatever the limit, so it spans many.
  assert.ok(expected.settled.size * 64 > 16 * 1024 * 1024, 'the snapshot is far larger than one entry');
  const { log, memory } = await NodeLog.open(path, decisionsKept, verifier);
  await log.close();
  assert.deepEqual(memory, expected);
  const { log: reopened, memory: after } = await NodeLog.open(path, decisionsKept, verifier);
  await reopened.close();
  assert.deepEqual(after, expected, 'the compacted log opens (the node starts) and replays to the same memory');
});

it('never tells the operator to delete or move aside a damaged log', async () => {
  const path = join(dir, 'damaged.wal');
  await writeLog(path, history(3, 1));
  const content = await readFile(path);
  content[8 + 8 + 2] = content[8 + 8 + 2]! ^ 0xff;
  await writeFile(path, content);
  const error = await NodeLog.open(path, decisionsKept, verifier).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof AcuError && error.code === 'ERR_CORRUPT_LOG');
  assert.match(error.hint ?? '', /do not delete or move the log/);
  assert.doesNotMatch(error.hint ?? '', /move (it|the log) aside;/);
});

/** A child process that opens the log and holds it until killed. */
async function holder(path: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const moduleUrl = new URL('../../src/sync/node-log.js', import.meta.url).href;
  const script = `const { NodeLog } = await import(${JSON.stringify(moduleUrl)}); await NodeLog.open(${JSON.stringify(path)}, 4); process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ready, fail) => {
    child.stdout.on('data', (data: Buffer) => data.toString().includes('ready') && ready());
    child.once('exit', (code) => fail(new Error(`the holder exited with ${code}`)));
  });
  const exited = new Promise((done) => child.once('exit', done));
  return { pid: child.pid!, kill: async () => { child.kill('SIGKILL'); await exited; } };
}

it('lets one process write a log: a second node is refused with the holder named, a dead holder\'s lock is taken over', async () => {
  const path = join(dir, 'locked.wal');
  const first = await holder(path);
  const error = await NodeLog.open(path, decisionsKept, verifier).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof AcuError, 'a second opener gets an AcuError');
  assert.match(error.message, new RegExp(`another sync node \\(process ${first.pid}\\) is already using`));
  assert.match(error.hint ?? '', /acu node stop/);
  const io = bufferIo(dir);
  assert.equal(reportError(error, io, false), ExitCode.fatal, 'exit code 128 at the CLI');
  await first.kill(); // SIGKILL: the lock file stays behind
  const { log } = await NodeLog.open(path, decisionsKept, verifier);
  const again = await NodeLog.open(path, decisionsKept, verifier).then(() => null, (e: unknown) => e);
  assert.ok(again instanceof AcuError, 'also within one process');
  await log.close();
  const { log: last } = await NodeLog.open(path, decisionsKept, verifier);
  await last.close();
});

it('tells a reused pid from the lock\'s holder', async () => {
  const path = join(dir, 'reused.wal');
  const lock = await NodeLog.open(path, decisionsKept, verifier);
  const text = JSON.parse(await readFile(`${path}.lock`, 'utf8')) as Record<string, unknown>;
  await lock.log.close();
  // The pid is alive (ours) but started at another time than the holder did: not the holder.
  await writeFile(`${path}.lock`, JSON.stringify({ ...text, token: 'old', startTicks: '1' }));
  const { log } = await NodeLog.open(path, decisionsKept, verifier);
  await log.close();
});

it('refuses every append after a failed sync, and leaves no unhandled rejection', async () => {
  const path = join(dir, 'failed.wal');
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  process.on('unhandledRejection', onRejection);
  const { log } = await NodeLog.open(path, decisionsKept, verifier);
  await log.append([{ k: 'outbox', taken: 1 }]);
  const probe = await open(path, 'r');
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back below, called with its own receiver
  const datasync = proto.datasync;
  let failures = 1;
  proto.datasync = async function (this: FileHandle): Promise<void> {
    if (failures > 0) {
      failures -= 1;
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    }
    return datasync.call(this);
  };
  try {
    const [a, b] = await Promise.allSettled([log.append([{ k: 'outbox', taken: 2 }]), log.append([{ k: 'outbox', taken: 3 }])]);
    assert.equal(a.status, 'rejected');
    assert.equal(b.status, 'rejected', 'an append queued behind the failed one is refused');
    await assert.rejects(log.append([{ k: 'outbox', taken: 4 }]), (e: unknown) => e instanceof AcuError && e.code === 'ERR_IO' && /nothing more is written/.test(e.message));
    assert.ok(log.failed !== null);
  } finally {
    proto.datasync = datasync;
  }
  await log.close();
  await new Promise((done) => setImmediate(done));
  process.off('unhandledRejection', onRejection);
  assert.deepEqual(rejections, []);
  const { log: reopened, memory } = await NodeLog.open(path, decisionsKept, verifier);
  await reopened.close();
  assert.ok(memory.outboxTaken <= 3, 'nothing after the failure reached the log');
});
