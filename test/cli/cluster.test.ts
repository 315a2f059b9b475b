import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';

let top = '';
let dir = '';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo(dir);
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

function otherKey(): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('hex');
}

before(async () => {
  top = await makeTempDir('cluster');
  dir = join(top, 'repo');
  await buildFixtureRepo(dir, { commits: [{ id: 'root', files: { 'README.md': 'x\n' } }] });
});
after(async () => {
  await removeTempDir(top);
});

it('acu init creates the node identity once, with a private key only its owner reads', async () => {
  const first = await cli('init', '--json');
  assert.equal(first.code, 0);
  const made = JSON.parse(first.out) as { id: string; publicKey: string; created: boolean; key: string };
  assert.equal(made.created, true);
  assert.equal((await stat(made.key)).mode & 0o777, 0o600);
  const again = JSON.parse((await cli('init', '--json')).out) as { id: string; created: boolean };
  assert.deepEqual([again.id, again.created], [made.id, false]);
  assert.equal((await cli('init', 'extra')).code, 129);
});

it('acu cluster create, add and show describe the cluster in plain words', async () => {
  const missing = await cli('cluster', 'show');
  assert.equal(missing.code, 128);
  assert.match(missing.err, /^error: there is no cluster document/m);
  assert.match(missing.err, /^hint: create one with 'acu cluster create'/m);
  assert.equal((await cli('cluster', 'create')).code, 129);

  const created = await cli('cluster', 'create', '--address', 'ws://127.0.0.1:7401', '--site', 'paris');
  assert.equal(created.code, 0, created.err);
  assert.match(created.out, /1 node, protecting branch 'main': tolerates no faulty node; each decision needs 1 signatures; 3 more would tolerate 1/);
  for (const port of [7402, 7403, 7404]) {
    const added = await cli('cluster', 'add', otherKey(), `ws://127.0.0.1:${port}`);
    assert.equal(added.code, 0, added.err);
  }
  const shown = await cli('cluster', 'show');
  assert.match(shown.out, /^4 nodes, protecting branch 'main': tolerates 1 faulty node \(crashed, cut off, or lying\); each decision needs 3 signatures$/m);
  assert.equal(shown.out.match(/^ {2}replica \d/gm)?.length, 4);
  const json = JSON.parse((await cli('cluster', 'show', '--json')).out) as { n: number; f: number; quorum: number; members: { id: string }[] };
  assert.deepEqual([json.n, json.f, json.quorum], [4, 1, 3]);
  const ids = json.members.map((m) => m.id);
  assert.deepEqual(ids, [...ids].sort(), 'members are sorted by id, so replica numbers are the same everywhere');
});

it('acu cluster refuses duplicates, bad keys and a damaged document, naming the problem', async () => {
  const doc = JSON.parse(await readFile(join(dir, '.acu', 'cluster.json'), 'utf8')) as { members: { publicKey: string }[] };
  const dup = await cli('cluster', 'add', doc.members[0]!.publicKey, 'ws://127.0.0.1:7499');
  assert.equal(dup.code, 128);
  assert.match(dup.err, /already a member/);
  const bad = await cli('cluster', 'add', 'xyz', 'ws://127.0.0.1:7498');
  assert.equal(bad.code, 129);
  const sameAddress = await cli('cluster', 'add', otherKey(), 'ws://127.0.0.1:7402');
  assert.equal(sameAddress.code, 128);
  assert.match(sameAddress.err, /address: used by another member/);
  await writeFile(join(dir, '.acu', 'cluster.json'), JSON.stringify({ version: 1, branch: 'main', members: [{ ...doc.members[0], id: 'n0000000000000000' }] }));
  const damaged = await cli('cluster', 'show');
  assert.equal(damaged.code, 128);
  assert.match(damaged.err, /members\[0\]\.id: does not match its public key/);
  assert.equal((await cli('cluster', 'frobnicate')).code, 129);
});
