/**
 * The chain port's state-transfer methods on real repositories (docs/sync.md, "State transfer"):
 * a peer packs its agreed chain and both notes refs minus what the receiver has, the receiver
 * indexes the pack, checks every certificate against the membership in force and adopts the refs;
 * a second transfer is a thin pack of the new heights only. A chain with a certificate short of a
 * quorum, one signed by a key the membership does not hold, a chain that does not build on the
 * receiver's, and bytes git will not index are each refused, and a refused pack leaves the store.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { genesisParent, signingBytes, valueIdOf } from '../../src/core/consensus/index.js';
import type { DecisionCert } from '../../src/core/consensus/index.js';
import { runGit } from '../../src/git/exec.js';
import { GitRepo } from '../../src/git/index.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { initIdentity, signBytes } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { agreedRef, notesRef, recordsNotesRef } from '../../src/sync/agreed.js';
import { GitChain } from '../../src/sync/chain.js';
import type { AgreedPoint } from '../../src/sync/chain.js';
import { sha256Hex } from '../../src/sync/crypto.js';
import { commitClusterDoc, writeAgreedStep } from '../support/agreed-chain.js';

let top = '';
let cluster: ClusterDoc;
let replicas: NodeIdentity[] = [];
/** A key no member holds. */
let stranger: NodeIdentity;
let root = '';
let genesis = '';

async function identityIn(name: string): Promise<NodeIdentity> {
  const dir = join(top, name);
  await runGit(['init', '-q', dir], { cwd: top, gitDir: null });
  return (await initIdentity(join(dir, '.git'))).identity;
}

/** A repository with the project root and the genesis commit (the cluster document) on main. */
async function baseRepo(name: string): Promise<string> {
  const dir = join(top, name);
  const { oids } = await buildFixtureRepo(dir, { commits: [{ id: 'root', message: 'The project', files: { 'README.md': '# p\n' } }] });
  root = oids.root!;
  const repo = await GitRepo.open(dir);
  try {
    genesis = await commitClusterDoc(repo, root, cluster);
    await repo.updateRef('refs/heads/main', genesis);
  } finally {
    await repo.close();
  }
  return dir;
}

/** Heights `from`..`to` onto the repository's agreed chain (or genesis); `signersAt` picks each height's signers and keys. */
async function extend(dir: string, from: number, to: number, signersAt: (height: number) => { signers: number[]; tamper?: (cert: DecisionCert) => DecisionCert } = () => ({ signers: [0, 1, 2] })): Promise<void> {
  const repo = await GitRepo.open(dir);
  try {
    let parentCommit = (await repo.revParseCommit(agreedRef('main'))) ?? genesis;
    let parentValue = genesisParent;
    if (from > 0) {
      const note = JSON.parse((await runGit(['notes', `--ref=${notesRef}`, 'show', parentCommit], { cwd: dir, gitDir: null })).stdout.toString('utf8')) as { valueId: string };
      parentValue = note.valueId;
    }
    for (let height = from; height <= to; height += 1) {
      const { signers, tamper } = signersAt(height);
      const { commit, cert } = await writeAgreedStep(repo, cluster, replicas, { height, parentCommit, parentValue, records: [], signers, ...(tamper === undefined ? {} : { tamper }) });
      parentCommit = commit;
      parentValue = valueIdOf({ digestHex: sha256Hex }, cert.value);
    }
    await repo.updateRef(agreedRef('main'), parentCommit);
  } finally {
    await repo.close();
  }
}

async function chainOf(dir: string): Promise<GitChain> {
  return new GitChain(await GitRepo.open(dir), 'parse', null, { identity: replicas[0]!, member: cluster.members[0]! });
}

const rev = async (dir: string, ref: string): Promise<string> => (await runGit(['rev-parse', ref], { cwd: dir, gitDir: null })).stdout.toString('utf8').trim();

/** A receiver: a clone of `source` with only main (the genesis), no agreed chain, no notes. */
async function receiver(name: string, source: string): Promise<string> {
  const dir = join(top, name);
  await runGit(['clone', '-q', '--single-branch', '-b', 'main', '--no-tags', source, dir], { cwd: top, gitDir: null });
  for (const ref of [agreedRef('main'), notesRef, recordsNotesRef]) await runGit(['update-ref', '-d', ref], { cwd: dir, gitDir: null });
  return dir;
}

/** Pack from `source` for the receiver's haves, and check it there. */
async function transfer(source: string, target: string, from: AgreedPoint): Promise<{ check: Awaited<ReturnType<GitChain['checkAgreed']>>; pack: string }> {
  const serving = await chainOf(source);
  const receiving = await chainOf(target);
  try {
    const packed = await serving.packAgreed(await rev(source, agreedRef('main')), [...(await receiving.agreedHaves('main')), genesis], 1 << 30);
    assert.ok(packed !== null);
    const indexed = await receiving.unpack(packed.bytes);
    assert.ok(indexed.ok, indexed.ok ? '' : indexed.reason);
    const check = await receiving.checkAgreed(packed.tips, from, 1000);
    if (check.ok) await receiving.adoptAgreed('main', packed.tips);
    else await receiving.discardPack(indexed.pack);
    return { check, pack: indexed.pack };
  } finally {
    await serving.close();
    await receiving.close();
  }
}

before(async () => {
  top = await makeTempDir('transfer-chain');
  const keys: NodeIdentity[] = [];
  for (const name of ['k0', 'k1', 'k2', 'k3']) keys.push(await identityIn(name));
  replicas = keys.sort((a, b) => (a.id < b.id ? -1 : 1));
  stranger = await identityIn('stranger');
  cluster = {
    version: 1, branch: 'main',
    members: replicas.map((identity, i) => ({ id: identity.id, publicKey: identity.publicKey, address: `ws://127.0.0.1:${7601 + i}`, site: `s${i}`, priority: i })),
  };
});

after(async () => {
  await removeTempDir(top);
});

it('a receiver with no chain adopts a peer chain from zero, then the next heights as a thin pack', async () => {
  const source = await baseRepo('source');
  await extend(source, 0, 5);
  const target = await receiver('target', source);
  const first = await transfer(source, target, { commit: genesis, height: -1 });
  assert.ok(first.check.ok, first.check.ok ? '' : first.check.problem);
  assert.deepEqual(first.check.heights.map((h) => h.height), [0, 1, 2, 3, 4, 5]);
  for (const ref of [agreedRef('main'), notesRef, recordsNotesRef]) assert.equal(await rev(target, ref), await rev(source, ref), ref);
  const tip5 = await rev(target, agreedRef('main'));
  assert.equal(first.check.heights.at(-1)!.commit, tip5);

  await extend(source, 6, 8);
  const second = await transfer(source, target, { commit: tip5, height: 5 });
  assert.ok(second.check.ok, second.check.ok ? '' : second.check.problem);
  assert.deepEqual(second.check.heights.map((h) => h.height), [6, 7, 8]);
  assert.equal(await rev(target, agreedRef('main')), await rev(source, agreedRef('main')));
  const verified = await runGit(['fsck', '--no-dangling', '--connectivity-only'], { cwd: target, gitDir: null });
  assert.equal(verified.exitCode, 0);
});

it('a receiver whose certificate notes diverged from the peer\'s (a note written twice) still adopts the new heights and the peer\'s notes', async () => {
  const source = await baseRepo('diverged');
  await extend(source, 0, 3);
  const target = await receiver('diverged-target', source);
  const first = await transfer(source, target, { commit: genesis, height: -1 });
  assert.ok(first.check.ok);
  const tip3 = await rev(target, agreedRef('main'));
  // The same note written again (a write retried after a crash): another notes commit, not the peer's.
  const shown = await runGit(['notes', `--ref=${notesRef}`, 'show', tip3], { cwd: target, gitDir: null });
  const date = { GIT_COMMITTER_DATE: '@1714560000 +0000', GIT_AUTHOR_DATE: '@1714560000 +0000', GIT_AUTHOR_NAME: 'acu', GIT_AUTHOR_EMAIL: 'acu@cluster', GIT_COMMITTER_NAME: 'acu', GIT_COMMITTER_EMAIL: 'acu@cluster' };
  await runGit(['notes', `--ref=${notesRef}`, 'add', '-f', '-F', '-', tip3], { cwd: target, gitDir: null, input: shown.stdout, env: date });
  const ours = await rev(target, notesRef);
  assert.notEqual(ours, await rev(source, notesRef));
  await extend(source, 4, 5);
  const second = await transfer(source, target, { commit: tip3, height: 3 });
  assert.ok(second.check.ok, second.check.ok ? '' : second.check.problem);
  assert.deepEqual(second.check.heights.map((h) => h.height), [4, 5]);
  assert.equal(await rev(target, notesRef), await rev(source, notesRef));
});

it('a certificate short of a quorum is refused, and its pack leaves the object store', async () => {
  const source = await baseRepo('short');
  await extend(source, 0, 4, (height) => ({ signers: height === 3 ? [0, 1] : [0, 1, 2] }));
  const target = await receiver('short-target', source);
  const packsBefore = await readdir(join(target, '.git', 'objects', 'pack'));
  const { check, pack } = await transfer(source, target, { commit: genesis, height: -1 });
  assert.equal(check.ok, false);
  assert.match(check.ok ? '' : check.problem, /height 3\).*fewer than 3 matching FINAL/);
  const packsAfter = await readdir(join(target, '.git', 'objects', 'pack'));
  assert.deepEqual(packsAfter.sort(), packsBefore.sort());
  assert.ok(!packsAfter.some((name) => name.includes(pack)));
  assert.equal((await runGit(['rev-parse', '--verify', '--quiet', agreedRef('main')], { cwd: target, gitDir: null, okExitCodes: [0, 1] })).exitCode, 1, 'no ref moved');
});

it('a certificate signed with a key the membership in force does not hold is refused', async () => {
  const source = await baseRepo('stranger');
  // Replica 2's FINAL signed with a key that is not replica 2's in the cluster document.
  const forge = (cert: DecisionCert): DecisionCert => ({ ...cert, finals: cert.finals.map((f) => (f.from === 2 ? { ...f, sig: signBytes(stranger, signingBytes(f)) } : f)) });
  await extend(source, 0, 2, (height) => (height === 1 ? { signers: [0, 1, 2], tamper: forge } : { signers: [0, 1, 2] }));
  const target = await receiver('stranger-target', source);
  const { check } = await transfer(source, target, { commit: genesis, height: -1 });
  assert.equal(check.ok, false);
  assert.match(check.ok ? '' : check.problem, /height 1\).*invalid signatures from replicas 2/);
});

it('a chain that does not build on the receiver\'s written commit is refused', async () => {
  const source = await baseRepo('other');
  await extend(source, 0, 3);
  const target = await receiver('other-target', source);
  // The receiver claims to stand at height 0 on a commit the peer's chain does not contain.
  const { check } = await transfer(source, target, { commit: root, height: 0 });
  assert.equal(check.ok, false);
});

it('bytes git will not index are a returned reason, not an error', async () => {
  const source = await baseRepo('bytes');
  await extend(source, 0, 1);
  const target = await receiver('bytes-target', source);
  const serving = await chainOf(source);
  const receiving = await chainOf(target);
  try {
    const packed = await serving.packAgreed(await rev(source, agreedRef('main')), [genesis], 1 << 30);
    assert.ok(packed !== null);
    const bytes = Uint8Array.from(packed.bytes);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    const indexed = await receiving.unpack(bytes);
    assert.equal(indexed.ok, false);
    assert.equal(await serving.packAgreed(await rev(source, agreedRef('main')), [genesis], 16), null, 'a pack over the bound is not made');
  } finally {
    await serving.close();
    await receiving.close();
  }
});
