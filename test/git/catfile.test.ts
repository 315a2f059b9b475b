// The long-lived cat-file process: big blobs, thousands of pipelined requests, closing, and never
// keeping a finished Node process alive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcuError } from '../../src/core/errors.js';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { GitRepo, gitBlobOid } from '../../src/git/index.js';
import { binaryBytes, git, tempDir } from './helpers.js';

const bigBytes = 24 * 1024 * 1024;

void describe('cat-file batch', () => {
  let dir = '';
  let repo: GitRepo;
  let small: string[] = [];
  let big = '';
  before(async () => {
    dir = await tempDir('catfile');
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i += 1) files[`f${i}.txt`] = `file ${i}\n`.repeat(i + 1);
    await buildFixtureRepo(dir, { commits: [{ id: 'a', files }] });
    small = git(dir, ['ls-tree', '-r', 'HEAD']).toString().trim().split('\n').map((line) => line.split(/\s+/)[2] ?? '');
    big = git(dir, ['hash-object', '-w', '--stdin'], { input: binaryBytes(bigBytes) }).toString().trim();
    repo = await GitRepo.open(dir);
  });
  after(async () => repo.close());

  void test('a blob of many megabytes comes back whole', async () => {
    const bytes = await repo.readBlob(big);
    assert.equal(bytes.byteLength, bigBytes);
    assert.equal(gitBlobOid(bytes), big);
  });

  void test('thousands of concurrent requests, mixed sizes, answer in order', async () => {
    const oids: string[] = [];
    for (let i = 0; i < 4000; i += 1) oids.push(i % 1000 === 500 ? big : (small[i % small.length] ?? ''));
    const blobs = await repo.readBlobs(oids);
    assert.equal(blobs.length, oids.length);
    blobs.forEach((bytes, index) => assert.equal(gitBlobOid(bytes), oids[index]));
    // Each blob owns its memory: no slice of a shared pool holding other objects' bytes.
    const first = blobs[0];
    assert.ok(first !== undefined && first.byteLength < 4096);
    assert.equal(first.buffer.byteLength, first.byteLength);
  });

  void test('reads from many callers at once interleave safely', async () => {
    const results = await Promise.all(small.map(async (oid) => {
      const [viaBatch, viaIso] = await Promise.all([repo.readBlob(oid), repo.readBlobIsomorphic(oid)]);
      return Buffer.from(viaBatch).equals(Buffer.from(viaIso)) && gitBlobOid(viaBatch) === oid;
    }));
    assert.ok(results.every(Boolean));
  });

  void test('close lets written requests finish, refuses new ones, and is idempotent', async () => {
    const other = await GitRepo.open(dir);
    const pending = Promise.allSettled([other.readBlobs(Array.from({ length: 3000 }, (_, i) => small[i % small.length] ?? ''))]);
    await other.close();
    await other.close();
    const settled = await pending;
    const outcome = settled[0];
    assert.ok(outcome !== undefined);
    if (outcome.status === 'rejected') {
      assert.ok(outcome.reason instanceof AcuError);
      assert.equal(outcome.reason.code, 'ERR_IO');
    }
    await assert.rejects(other.readBlob(small[0] ?? ''), (e: unknown) => e instanceof AcuError && e.code === 'ERR_IO');
  });
});

void describe('process lifetime', () => {
  let dir = '';
  let blob = '';
  before(async () => {
    dir = await tempDir('lifetime');
    await buildFixtureRepo(dir, { commits: [{ id: 'a', files: { 'a.txt': 'hello\n' } }] });
    blob = git(dir, ['rev-parse', 'HEAD:a.txt']).toString().trim();
  });

  let scriptCount = 0;
  function runScript(body: string): { status: number | null; stdout: string; stderr: string } {
    const moduleUrl = new URL('../../src/git/index.js', import.meta.url).href;
    const source = `import { GitRepo } from ${JSON.stringify(moduleUrl)};\n${body}`;
    scriptCount += 1;
    const file = join(dir, `script-${scriptCount}.mjs`);
    writeFileSync(file, source);
    const result = spawnSync(process.execPath, [file], { cwd: dir, timeout: 15_000, encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  void test('an open, idle repository does not keep Node alive', () => {
    const result = runScript(`const repo = await GitRepo.open(${JSON.stringify(dir)});\nconst bytes = await repo.readBlob(${JSON.stringify(blob)});\nprocess.stdout.write(Buffer.from(bytes).toString());\n`);
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.equal(result.stdout, 'hello\n');
  });

  void test('a pending read keeps Node alive until it is answered', () => {
    const result = runScript(`const repo = await GitRepo.open(${JSON.stringify(dir)});\nsetTimeout(() => undefined, 0).unref();\nconst all = await repo.readBlobs(Array(500).fill(${JSON.stringify(blob)}));\nprocess.stdout.write(String(all.length));\nawait repo.close();\n`);
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.equal(result.stdout, '500');
  });
});
