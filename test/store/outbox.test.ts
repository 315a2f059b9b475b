/**
 * The outbox under several writers: hooks of commits made at once (real processes) create and
 * append to it together without losing or mixing a record, and a reader skips a torn record
 * without mis-reading it or moving the records after it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { enqueueCommit, outboxLine, outboxPath, readOutbox } from '../../src/store/outbox.js';
import type { OutboxRecord } from '../../src/store/outbox.js';

let dir = '';
before(async () => {
  dir = await makeTempDir('outbox');
});
after(async () => {
  await removeTempDir(dir);
});

const commitOf = (writer: number, i: number): string => `${writer.toString(16).padStart(8, '0')}${i.toString(16).padStart(32, '0')}`;
const entry = (commit: string): OutboxRecord => ({ v: 1, type: 'commit', commit, branch: 'main', queuedAtMs: 0 });

it('takes concurrent appends from several processes, creating the file among them, whole and unmixed', async () => {
  const gitDir = join(dir, 'concurrent');
  const writers = 6;
  const each = 40;
  const moduleUrl = new URL('../../src/store/outbox.js', import.meta.url).href;
  const children = Array.from({ length: writers }, (_, w) => {
    const script = `const { enqueueCommit } = await import(${JSON.stringify(moduleUrl)});
      await Promise.all(Array.from({ length: ${each} }, (_, i) => enqueueCommit(${JSON.stringify(gitDir)}, { v: 1, type: 'commit', commit: ${JSON.stringify(commitOf(w, 0).slice(0, 8))} + i.toString(16).padStart(32, '0'), branch: 'main', queuedAtMs: 0 })));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    return new Promise<number | null>((done) => child.once('exit', done));
  });
  assert.deepEqual(await Promise.all(children), Array(writers).fill(0));
  const { records, unreadable } = await readOutbox(gitDir);
  assert.equal(unreadable, 0);
  assert.equal(records.length, writers * each);
  const expected = Array.from({ length: writers }, (_, w) => Array.from({ length: each }, (_, i) => commitOf(w, i))).flat().sort();
  assert.deepEqual(records.map((r) => r.commit).sort(), expected);
});

it('skips a torn record at every cut, never mis-reads it, and keeps the positions of the others', async () => {
  const gitDir = join(dir, 'torn');
  await mkdir(join(gitDir, 'acu'), { recursive: true });
  await enqueueCommit(gitDir, entry(commitOf(1, 1)));
  const line = outboxLine(entry(commitOf(2, 2)));
  // Every cut in the header, then every seventh byte, and the last (fewer fsyncs than every byte).
  for (let cut = 1; cut < line.length; cut += cut < 12 || cut >= line.length - 8 ? 1 : 7) {
    const gitDirCut = join(dir, `torn-${cut}`);
    await enqueueCommit(gitDirCut, entry(commitOf(1, 1)));
    await appendFile(outboxPath(gitDirCut), line.subarray(0, cut));
    const whileTorn = await readOutbox(gitDirCut);
    assert.deepEqual(whileTorn.records.map((r) => r.commit), [commitOf(1, 1)], `cut after ${cut} bytes`);
    await enqueueCommit(gitDirCut, entry(commitOf(3, 3)));
    const after = await readOutbox(gitDirCut);
    // Cut only before its final newline, the record is whole: the next append's newline ends it.
    const whole = cut === line.length - 1;
    const expected = whole ? [commitOf(1, 1), commitOf(2, 2), commitOf(3, 3)] : [commitOf(1, 1), commitOf(3, 3)];
    assert.deepEqual(after.records.map((r) => r.commit), expected, `cut after ${cut} bytes, then an append`);
    // Cut after its leading newline only, nothing of the record was written.
    assert.equal(after.unreadable, whole || cut === 1 ? 0 : 1, 'a torn record is skipped and counted');
  }
  assert.deepEqual(await readOutbox(join(dir, 'none')), { records: [], unreadable: 0 }, 'no outbox yet: empty');
});
