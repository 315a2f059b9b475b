import assert from 'node:assert/strict';
import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { AcuError } from '../../src/core/errors.js';
import { Wal, encodeRecords } from '../../src/store/wal.js';

let dir = '';
before(async () => {
  dir = await makeTempDir('wal');
});
after(async () => {
  await removeTempDir(dir);
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const texts = (records: readonly Uint8Array[]): string[] => records.map((r) => new TextDecoder().decode(r));

it('keeps every appended record across close and reopen', async () => {
  const path = join(dir, 'a.wal');
  const { wal, recovery } = await Wal.open(path);
  assert.deepEqual(recovery.records, []);
  await wal.append([bytes('one'), bytes('two')]);
  await Promise.all([wal.append([bytes('three')]), wal.append([bytes('four')])]);
  await wal.close();
  const reopened = await Wal.open(path);
  assert.deepEqual(texts(reopened.recovery.records), ['one', 'two', 'three', 'four']);
  assert.equal(reopened.recovery.truncatedBytes, 0);
  await reopened.wal.close();
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

it('cuts off a torn last record, at every byte it could have been cut at', async () => {
  const path = join(dir, 'torn.wal');
  const { wal } = await Wal.open(path);
  await wal.append([bytes('kept')]);
  await wal.close();
  const good = (await stat(path)).size;
  const last = encodeRecords([bytes('lost in the crash')]);
  for (let cut = 1; cut < last.length; cut += 1) {
    await truncate(path, good);
    await appendFile(path, last.subarray(0, cut));
    const { wal: again, recovery } = await Wal.open(path);
    assert.deepEqual(texts(recovery.records), ['kept'], `cut after ${cut} bytes`);
    assert.equal(recovery.truncatedBytes, cut);
    await again.append([bytes('next')]);
    await again.close();
    const after = await Wal.open(path);
    assert.deepEqual(texts(after.recovery.records), ['kept', 'next'], 'appends continue cleanly after recovery');
    await after.wal.close();
  }
});

it('treats a zero-filled tail as a cut-off append', async () => {
  const path = join(dir, 'zeros.wal');
  const { wal } = await Wal.open(path);
  await wal.append([bytes('kept')]);
  await wal.close();
  await appendFile(path, new Uint8Array(64));
  const { wal: again, recovery } = await Wal.open(path);
  assert.deepEqual(texts(recovery.records), ['kept']);
  assert.equal(recovery.truncatedBytes, 64);
  await again.close();
});

it('refuses a log damaged in the middle rather than drop what follows', async () => {
  const path = join(dir, 'damaged.wal');
  const { wal } = await Wal.open(path);
  await wal.append([bytes('first'), bytes('second'), bytes('third')]);
  await wal.close();
  const content = await readFile(path);
  content[8 + 8 + 1] = content[8 + 8 + 1]! ^ 0xff; // a byte of the first payload
  await writeFile(path, content);
  await assert.rejects(Wal.open(path), (error: unknown) => error instanceof AcuError && error.code === 'ERR_CORRUPT_LOG');
  await writeFile(join(dir, 'other.wal'), 'not a log at all');
  await assert.rejects(Wal.open(join(dir, 'other.wal')), (error: unknown) => error instanceof AcuError && error.code === 'ERR_CORRUPT_LOG');
});
