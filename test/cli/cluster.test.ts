import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';
import { memberProofHolds, parseCluster } from '../../src/store/cluster.js';
import { cliRepo, otherKey } from '../support/cli-repo.js';

const repo = cliRepo('cluster');
const { cli } = repo;

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
  const doc = JSON.parse(await readFile(join(repo.dir, '.acu', 'cluster.json'), 'utf8')) as { members: { publicKey: string }[] };
  const dup = await cli('cluster', 'add', doc.members[0]!.publicKey, 'ws://127.0.0.1:7499');
  assert.equal(dup.code, 128);
  assert.match(dup.err, /already a member/);
  const bad = await cli('cluster', 'add', 'xyz', 'ws://127.0.0.1:7498');
  assert.equal(bad.code, 129);
  const sameAddress = await cli('cluster', 'add', otherKey(), 'ws://127.0.0.1:7402');
  assert.equal(sameAddress.code, 128);
  assert.match(sameAddress.err, /address: used by another member/);
  await writeFile(join(repo.dir, '.acu', 'cluster.json'), JSON.stringify({ version: 1, branch: 'main', members: [{ ...doc.members[0], id: 'n0000000000000000' }] }));
  const damaged = await cli('cluster', 'show');
  assert.equal(damaged.code, 128);
  assert.match(damaged.err, /members\[0\]\.id: does not match its public key/);
  assert.equal((await cli('cluster', 'frobnicate')).code, 129);
});

it('acu cluster proof, add --proof, remove, set-address and rotate-key edit the document and stage it', async () => {
  await rm(join(repo.dir, '.acu', 'cluster.json'));
  assert.equal((await cli('cluster', 'create', '--address', 'ws://127.0.0.1:7401', '--site', 'paris')).code, 0);
  // A new site's proof, made in its own repository, checked by `add`.
  const other = join(repo.top, 'other');
  await buildFixtureRepo(other, { commits: [{ id: 'root', files: { 'README.md': 'y\n' } }] });
  const io = bufferIo(other);
  assert.equal(await runCli(['init', '--json', '--address', 'ws://127.0.0.1:7405'], io), 0);
  const joining = JSON.parse(io.out()) as { publicKey: string; proof: string; id: string };
  const wrong = await cli('cluster', 'add', joining.publicKey, 'ws://127.0.0.1:7406', '--site', 'oslo', '--proof', joining.proof);
  assert.equal(wrong.code, 128, 'a proof for another address');
  assert.match(wrong.err, /^error: the proof does not hold for node n[0-9a-f]{16} at ws:\/\/127\.0\.0\.1:7406/m);
  const added = await cli('cluster', 'add', joining.publicKey, 'ws://127.0.0.1:7405', '--site', 'oslo', '--proof', joining.proof);
  assert.equal(added.code, 0, added.err);
  assert.match(added.err, /^hint: staged \.acu\/cluster\.json; commit it/m);
  const staged = spawnSync('git', ['diff', '--cached', '--name-only'], { cwd: repo.dir, encoding: 'utf8' }).stdout;
  assert.equal(staged, '.acu/cluster.json\n');

  const moved = await cli('cluster', 'set-address', 'oslo', 'ws://127.0.0.1:7407');
  assert.equal(moved.code, 0, moved.err);
  const afterMove = JSON.parse(await readFile(join(repo.dir, '.acu', 'cluster.json'), 'utf8')) as { members: { site: string; address: string; proof?: string }[] };
  const oslo = afterMove.members.find((m) => m.site === 'oslo')!;
  assert.deepEqual([oslo.address, oslo.proof], ['ws://127.0.0.1:7407', undefined], 'a stale proof is dropped with the old address');

  const self = JSON.parse((await cli('init', '--json')).out) as { id: string };
  const rotated = await cli('cluster', 'rotate-key', '--commit');
  assert.equal(rotated.code, 0, rotated.err);
  const next = /becomes (n[0-9a-f]{16})/.exec(rotated.out)?.[1];
  assert.ok(next !== undefined && next !== self.id, rotated.out);
  assert.equal((await stat(join(repo.dir, '.git', 'acu', 'node.key.next'))).mode & 0o777, 0o600);
  assert.equal((await cli('init', '--json')).out.includes(self.id), true, 'the old key stays the node key until the change is agreed');
  const doc = parseCluster(await readFile(join(repo.dir, '.acu', 'cluster.json'), 'utf8'), 'test');
  const paris = doc.members.find((m) => m.site === 'paris')!;
  assert.equal(paris.id, next);
  assert.ok(memberProofHolds(doc.branch, paris), 'the rotated entry carries its proof');
  assert.match(spawnSync('git', ['log', '-1', '--format=%s'], { cwd: repo.dir, encoding: 'utf8' }).stdout, /^acu cluster: rotate the key of paris/);

  const removed = await cli('cluster', 'remove', 'oslo');
  assert.equal(removed.code, 0, removed.err);
  assert.match(removed.out, /^removed node n[0-9a-f]{16} \(oslo\): 1 node/m);
  const last = await cli('cluster', 'remove', 'paris');
  assert.equal(last.code, 128);
  assert.match(last.err, /a cluster keeps at least one member/);
  assert.equal((await cli('cluster', 'remove', 'nowhere')).code, 128);
});
