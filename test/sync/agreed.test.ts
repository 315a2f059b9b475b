/**
 * Agreed commits (src/sync/agreed.ts) on real repositories and real Ed25519 keys: the commit is a
 * function of the decision alone, so two repositories that share the parent write the same id;
 * the chain reads back newest first and verifies; a note is untrusted input, checked at the edge.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { genesisParent, valueIdOf } from '../../src/core/consensus/index.js';
import type { DecisionCert } from '../../src/core/consensus/index.js';
import { AcuError } from '../../src/core/errors.js';
import { runGit } from '../../src/git/exec.js';
import { GitRepo } from '../../src/git/index.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { initIdentity } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { agreedRef, agreedTip, noteIssue, readAgreedChain, readNote, readRecordsNote } from '../../src/sync/agreed.js';
import { sha256Hex } from '../../src/sync/crypto.js';
import { recordsOfCommit } from '../../src/sync/records.js';
import { notesFromRef, verifyChain } from '../../src/sync/verify-chain.js';
import { certifyValue, commitClusterDoc, writeAgreedStep } from '../support/agreed-chain.js';
import type { IdentifiedRecord, RecordSigner } from '../../src/sync/records.js';

// No machine's git configuration may leak in: writing the note must need no user identity.
process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

const source = 'export function f(x: number): number {\n  return x + 1;\n}\n\nexport function g(x: number): number {\n  return x + 2;\n}\n';

/** Fixed dates throughout: the base, then two site commits an hour and a day later. */
const spec: FixtureSpec = {
  commits: [
    { id: 'root', files: { 'src/a.ts': source }, date: '2024-05-01T10:00:00+02:00' },
    { id: 'paris', branch: 'paris', parents: ['root'], message: 'f adds ten', date: '2024-05-01T11:00:00+02:00', files: { 'src/a.ts': source.replace('x + 1', 'x + 10') } },
    { id: 'tokyo', branch: 'tokyo', parents: ['root'], message: 'g adds twenty', date: '2024-05-02T10:00:00+09:00', files: { 'src/a.ts': source.replace('x + 2', 'x + 20') } },
  ],
};

let top = '';
let cluster: ClusterDoc;
let replicas: NodeIdentity[] = [];

before(async () => {
  top = await makeTempDir('agreed');
  const identities: NodeIdentity[] = [];
  for (let i = 0; i < 4; i += 1) {
    const dir = join(top, `key-${i}`);
    await runGit(['init', '-q', dir], { cwd: top, gitDir: null });
    identities.push((await initIdentity(join(dir, '.git'))).identity);
  }
  replicas = identities.sort((a, b) => (a.id < b.id ? -1 : 1));
  cluster = {
    version: 1, branch: 'main',
    members: replicas.map((r, i) => ({ id: r.id, publicKey: r.publicKey, address: `ws://127.0.0.1:${7601 + i}`, site: `site-${i}`, priority: i })),
  };
});
after(async () => {
  await removeTempDir(top);
});

/** A certificate of a value with a placeholder outcome (for the note's shape checks). */
function certify(height: number, parent: string, signers: readonly number[]): DecisionCert {
  const value = {
    batch: { height, parent, acuIds: [], bodyDigest: sha256Hex(new Uint8Array()) },
    validation: { ok: true, conflicts: [], detailDigest: sha256Hex(new TextEncoder().encode(`detail ${height}`)) },
    resolution: [], outcome: 'ab'.repeat(20),
  };
  return certifyValue(cluster, replicas, height, 0, value, signers);
}

/** A fixture repository and the records of its two site commits. */
async function makeRepo(name: string): Promise<{ dir: string; root: string; paris: IdentifiedRecord[]; tokyo: IdentifiedRecord[] }> {
  const dir = join(top, name);
  const { oids } = await buildFixtureRepo(dir, spec);
  const repo = await GitRepo.open(dir);
  try {
    // The paris commit is proposed by replica 0, the tokyo commit by replica 1 (sites from the cluster document).
    const signer = (i: number): RecordSigner => ({ identity: replicas[i]!, member: cluster.members[i]! });
    return { dir, root: oids.root!, paris: await recordsOfCommit(repo, oids.paris!, signer(0)), tokyo: await recordsOfCommit(repo, oids.tokyo!, signer(1)) };
  } finally {
    await repo.close();
  }
}

/**
 * The cluster document committed onto `root`, then heights 0 (paris, signed by `signers[0]`) and 1
 * (tokyo, by `signers[1]`) on top; returns the commits, their certificates and the notes' text.
 */
async function writeTwo(dir: string, root: string, signers: readonly (readonly number[])[], records: readonly IdentifiedRecord[][], doc = cluster): Promise<{ commits: string[]; certs: DecisionCert[]; notes: string[] }> {
  const repo = await GitRepo.open(dir);
  try {
    const commits: string[] = [];
    const certs: DecisionCert[] = [];
    const notes: string[] = [];
    let parentCommit = await commitClusterDoc(repo, root, doc);
    let parentValue = genesisParent;
    for (const [height, batch] of records.entries()) {
      const { commit, cert } = await writeAgreedStep(repo, cluster, replicas, { height, parentCommit, parentValue, records: batch, signers: signers[height]! });
      commits.push(commit);
      certs.push(cert);
      notes.push((await runGit(['notes', '--ref=refs/notes/acu', 'show', commit], { cwd: dir, gitDir: null })).stdout.toString('utf8'));
      parentCommit = commit;
      parentValue = valueIdOf({ digestHex: sha256Hex }, cert.value);
    }
    await repo.updateRef(agreedRef('main'), parentCommit);
    return { commits, certs, notes };
  } finally {
    await repo.close();
  }
}

it('two repositories writing the same decisions write the same agreed commits, with no git identity configured', async () => {
  const one = await makeRepo('one');
  const two = await makeRepo('two');
  assert.equal(one.root, two.root, 'the fixture gives both the same parent commit');
  assert.deepEqual(one.paris, two.paris);
  for (const dir of [one.dir, two.dir]) {
    for (const key of ['user.name', 'user.email']) await runGit(['config', '--unset', key], { cwd: dir, gitDir: null });
  }
  const a = await writeTwo(one.dir, one.root, [[0, 1, 2], [1, 2, 3]], [one.paris, one.tokyo]);
  const b = await writeTwo(two.dir, two.root, [[0, 1, 2], [1, 2, 3]], [two.paris, two.tokyo]);
  assert.deepEqual(a.commits, b.commits);
  assert.deepEqual(a.certs.map((c) => c.value.outcome), a.commits, 'each certificate names its commit');
  assert.deepEqual(a.notes, b.notes);
  const notesTips = await Promise.all([one.dir, two.dir].map(async (dir) => (await runGit(['rev-parse', 'refs/notes/acu'], { cwd: dir, gitDir: null })).stdout.toString('utf8')));
  assert.equal(notesTips[0], notesTips[1], 'the notes commits are pinned too');

  const body = (await runGit(['cat-file', 'commit', a.commits[1]!], { cwd: one.dir, gitDir: null })).stdout.toString('utf8');
  // tokyo's author time (2024-05-02T01:00:00Z) is later than the parent's, so it dates the commit.
  const tokyoTime = Date.parse('2024-05-02T10:00:00+09:00') / 1000;
  assert.match(body, new RegExp(`^author acu <acu@cluster> ${tokyoTime} \\+0000$`, 'm'));
  assert.match(body, new RegExp(`^committer acu <acu@cluster> ${tokyoTime} \\+0000$`, 'm'));
  assert.match(body, /^acu: height 1, 1 ACU from 1 commit$/m);
  assert.match(body, /^Acu-Height: 1$/m);
  assert.doesNotMatch(body, /Acu-Value/, 'the value names the commit, so the commit cannot name the value');
  assert.match(body, /^Co-authored-by: A U Thor <author@example\.com>$/m);
});

it('the chain reads back newest first and verifies against the cluster document', async () => {
  const made = await makeRepo('chain');
  const { commits } = await writeTwo(made.dir, made.root, [[0, 1, 2], [0, 1, 2, 3]], [made.paris, made.tokyo]);
  const repo = await GitRepo.open(made.dir);
  try {
    const tip = await agreedTip(repo, 'main');
    assert.equal(tip, commits[1]);
    const chain = await readAgreedChain(repo, tip);
    assert.deepEqual(chain.map((e) => [e.commit, e.note?.height, e.noteProblem]), [[commits[1], 1, null], [commits[0], 0, null]]);
    assert.deepEqual(chain[0]!.note?.signers, cluster.members.map((m) => m.id));
    assert.equal((await readAgreedChain(repo, tip, 1)).length, 1);
    const findings = await verifyChain(repo, tip, { notes: notesFromRef(repo) });
    assert.deepEqual(findings.map((f) => [f.height, f.ok, f.problems]), [[1, true, []], [0, true, []]]);
    const bodies = await readRecordsNote(repo, commits[1]!);
    assert.deepEqual(bodies?.records, made.tokyo.map((r) => r.record), 'the record bodies are kept in git beside the certificate');
  } finally {
    await repo.close();
  }
});

it('signatures are checked against the membership committed at the parent, not the work tree', async () => {
  const made = await makeRepo('stranger');
  // Another membership in the tree the chain builds on (same sites, other keys): every signature is foreign.
  const others: NodeIdentity[] = [];
  for (let i = 0; i < 4; i += 1) {
    const keyDir = join(top, `stranger-key-${i}`);
    await runGit(['init', '-q', keyDir], { cwd: top, gitDir: null });
    others.push((await initIdentity(join(keyDir, '.git'))).identity);
  }
  others.sort((a, b) => (a.id < b.id ? -1 : 1));
  const stranger: ClusterDoc = { ...cluster, members: cluster.members.map((m, i) => ({ ...m, id: others[i]!.id, publicKey: others[i]!.publicKey })) };
  await writeTwo(made.dir, made.root, [[0, 1, 2], [0, 1, 2, 3]], [made.paris, made.tokyo], stranger);
  const repo = await GitRepo.open(made.dir);
  try {
    const foreign = await verifyChain(repo, await agreedTip(repo, 'main'), { notes: notesFromRef(repo) });
    assert.deepEqual(foreign.map((f) => f.problems), [
      ['invalid signatures from replicas 0, 1, 2, 3'],
      ['invalid signatures from replicas 0, 1, 2'],
    ]);
  } finally {
    await repo.close();
  }
});

it('agreedTip says there is no agreed commit yet', async () => {
  const made = await makeRepo('empty');
  const repo = await GitRepo.open(made.dir);
  try {
    await assert.rejects(agreedTip(repo, 'main'), (error: unknown) => error instanceof AcuError && error.code === 'ERR_UNKNOWN_REVISION' && error.hint !== undefined);
    assert.equal(await readNote(repo, made.root), null);
  } finally {
    await repo.close();
  }
});

it('a note is checked field by field: wrong shapes and numbers the canonical encoding refuses are named', () => {
  const cert = certify(0, genesisParent, [0, 1, 2]);
  const note = {
    v: 1, branch: 'main', height: 0, round: 0, valueId: valueIdOf({ digestHex: sha256Hex }, cert.value), parent: 'p',
    acus: [], applied: [], deferred: [], rejected: [], signers: [], cert,
  };
  const roundTrip = JSON.parse(JSON.stringify(note)) as unknown;
  assert.equal(noteIssue(roundTrip), null);
  assert.equal(noteIssue({ ...note, cert: null }), 'cert: expected an object');
  assert.equal(noteIssue({ ...note, cert: { ...cert, finals: [{ ...cert.finals[0], body: {} }] } }), 'cert.finals[0].body.valueId: expected a string');
  assert.equal(noteIssue({ ...note, cert: { ...cert, value: { ...cert.value, extra: 0.5 } } }), 'cert.value.extra: not a whole number');
  assert.equal(noteIssue({ ...note, deferred: [{ id: 'x' }] }), 'deferred[0].reason: expected a string');
  assert.equal(noteIssue([]), 'the note: expected an object');
});
