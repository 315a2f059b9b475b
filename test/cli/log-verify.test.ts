/**
 * `acu log` and `acu verify` on real agreed commits: fixture repositories with fixed dates, four
 * real Ed25519 identities, certificates signed by three of them (the quorum of four), written with
 * writeAgreedCommit. Each tampered chain lives in its own repository, so one note never overwrites
 * another (a certificate's signatures do not change the agreed commit's id).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { genesisParent, signingBytes, valueIdOf } from '../../src/core/consensus/index.js';
import type { DecisionCert, Value } from '../../src/core/consensus/index.js';
import type { ExitCodeValue } from '../../src/core/errors.js';
import { runGit } from '../../src/git/exec.js';
import { GitRepo } from '../../src/git/index.js';
import type { Command } from '../../src/cli/command.js';
import { logCommand } from '../../src/cli/log.js';
import type { LogEntry } from '../../src/cli/log.js';
import { verifyCommand } from '../../src/cli/verify.js';
import { writeCluster } from '../../src/store/cluster.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { signBytes } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { agreedRef, notesRef } from '../../src/sync/agreed.js';
import type { Rejection } from '../../src/sync/batch.js';
import { sha256Hex } from '../../src/sync/crypto.js';
import { recordsOfCommit } from '../../src/sync/records.js';
import type { IdentifiedRecord } from '../../src/sync/records.js';
import { commitClusterDoc, siteCommits, writeAgreedStep } from '../support/agreed-chain.js';
import { runCommandIn } from '../support/cli-repo.js';
import { makeCluster } from '../support/gate-fixture.js';

// No machine's git configuration may leak in: the notes commit must work without a user identity.
process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

/** A base commit and four commits from four sites, each on its own branch from the base. */
const spec: FixtureSpec = { commits: [...siteCommits] };

const sites = ['paris', 'tokyo', 'lyon', 'berlin'] as const;
let top = '';
let cluster: ClusterDoc;
/** Identities by replica index (the cluster document's order). */
let replicas: NodeIdentity[] = [];

before(async () => {
  top = await makeTempDir('log-verify');
  ({ cluster, replicas } = await makeCluster(top, 7501));
});
after(async () => {
  await removeTempDir(top);
});

/** One decision to write: its records and what became of each. */
interface Step {
  readonly records: readonly IdentifiedRecord[];
  readonly deferred?: readonly Rejection[];
  readonly rejected?: readonly Rejection[];
  readonly round?: number;
  /** Replica indices whose FINALs the certificate holds; default the quorum 0, 1, 2. */
  readonly signers?: readonly number[];
  /** Change the certificate after signing (forgeries). */
  readonly tamper?: (cert: DecisionCert) => DecisionCert;
  /** Decide it, but write no agreed commit for it (a missing height). */
  readonly skip?: boolean;
}

/** A fixture repository with the cluster document; returns it and each commit label's id. */
async function makeRepo(name: string): Promise<{ dir: string; oids: Record<string, string>; records: Record<string, IdentifiedRecord[]> }> {
  const dir = join(top, name);
  const { oids } = await buildFixtureRepo(dir, spec);
  await writeCluster(dir, cluster);
  const repo = await GitRepo.open(dir);
  try {
    const records: Record<string, IdentifiedRecord[]> = {};
    for (const site of sites) {
      const at = cluster.members.findIndex((m) => m.site === site);
      records[site] = await recordsOfCommit(repo, oids[site]!, { identity: replicas[at]!, member: cluster.members[at]! });
    }
    return { dir, oids, records };
  } finally {
    await repo.close();
  }
}

/**
 * Write `steps` as heights 0, 1, ... onto a commit that adds the cluster document to the fixture's
 * root, and point refs/acu/main at the tip.
 */
async function writeChain(dir: string, root: string, steps: readonly Step[]): Promise<string[]> {
  const repo = await GitRepo.open(dir);
  try {
    const commits: string[] = [];
    let parentCommit = await commitClusterDoc(repo, root, cluster);
    let parentValue = genesisParent;
    for (const [height, step] of steps.entries()) {
      if (step.skip === true) {
        // Decided, but its agreed commit is missing: the next height names its value all the same.
        const lost = await writeAgreedStep(repo, cluster, replicas, { ...step, height, parentCommit, parentValue, signers: step.signers ?? [0, 1, 2] });
        parentValue = valueIdOf({ digestHex: sha256Hex }, lost.cert.value);
        continue;
      }
      const { commit, cert } = await writeAgreedStep(repo, cluster, replicas, { ...step, height, parentCommit, parentValue, signers: step.signers ?? [0, 1, 2] });
      commits.push(commit);
      parentCommit = commit;
      parentValue = valueIdOf({ digestHex: sha256Hex }, cert.value);
    }
    await repo.updateRef(agreedRef('main'), parentCommit);
    return commits;
  } finally {
    await repo.close();
  }
}

/** The honest three decisions: paris applied; tokyo half applied, half deferred; lyon applied, berlin rejected. */
function honestSteps(records: Record<string, IdentifiedRecord[]>): Step[] {
  const tokyo = records.tokyo!;
  const berlin = records.berlin!;
  return [
    { records: records.paris! },
    { records: tokyo, round: 1, signers: [1, 2, 3], deferred: [{ id: tokyo[1]!.id, reason: 'conflicts with a pending ACU; the vote deferred both' }] },
    { records: [...records.lyon!, ...berlin], signers: [0, 2, 3], rejected: berlin.map((r) => ({ id: r.id, reason: 'did not compose onto the agreed parent: f changed since' })) },
  ];
}

describe('acu log and acu verify on an honest chain', () => {
  let dir = '';
  let commits: string[] = [];
  let records: Record<string, IdentifiedRecord[]> = {};

  before(async () => {
    const made = await makeRepo('honest');
    dir = made.dir;
    records = made.records;
    assert.equal(records.paris!.length, 1, 'paris changed f');
    assert.equal(records.tokyo!.length, 2, 'tokyo changed g and h');
    assert.ok(records.lyon!.length >= 1 && records.berlin!.length === 1);
    commits = await writeChain(dir, made.oids.root!, honestSteps(records));
  });

  it('verify checks every certificate back to height 0 and exits 0', async () => {
    const { code, out, err } = await runCommandIn(verifyCommand, dir);
    assert.equal(code, 0, out + err);
    assert.equal(out.match(/^ok {3}[0-9a-f]{12} height \d$/gm)?.length, 3, out);
    assert.match(out, /^verified 3 agreed commits: all certificates valid$/m);
    const json = JSON.parse((await runCommandIn(verifyCommand, dir, '--json')).out) as { ok: boolean; commits: { commit: string; height: number; ok: boolean }[] };
    assert.equal(json.ok, true);
    assert.deepEqual(json.commits.map((c) => [c.commit, c.height, c.ok]), [[commits[2], 2, true], [commits[1], 1, true], [commits[0], 0, true]]);
  });

  it('verify takes a ref, and checks from there back', async () => {
    const { code, out } = await runCommandIn(verifyCommand, dir, commits[1]!);
    assert.equal(code, 0);
    assert.match(out, /^verified 2 agreed commits: all certificates valid$/m);
    assert.equal((await runCommandIn(verifyCommand, dir, 'no-such-ref')).code, 128);
    assert.equal((await runCommandIn(verifyCommand, dir, 'a', 'b')).code, 129);
  });

  it('log shows each decision newest first: applied, deferred and rejected ACUs, and the signers with their sites', async () => {
    const { code, out, err } = await runCommandIn(logCommand, dir);
    assert.equal(code, 0, err);
    const heads = [...out.matchAll(/^agreed ([0-9a-f]{40}) {2}height (\d), round (\d)$/gm)].map((m) => [m[1], Number(m[2]), Number(m[3])]);
    assert.deepEqual(heads, [[commits[2], 2, 0], [commits[1], 1, 1], [commits[0], 0, 0]]);
    const paris = records.paris![0]!.record;
    assert.match(out, new RegExp(`^ {2}applied {3}~ modify src/a\\.ts#function:f {2}from ${paris.origin.commit.slice(0, 12)} \\(paris\\)$`, 'm'));
    assert.match(out, /^ {2}applied {3}~ modify src\/a\.ts#function:g {2}from [0-9a-f]{12} \(tokyo\)$/m);
    assert.match(out, /^ {2}deferred {2}~ modify src\/a\.ts#function:h {2}from [0-9a-f]{12} \(tokyo\): conflicts with a pending ACU; the vote deferred both$/m);
    assert.match(out, /^ {2}rejected {2}~ modify src\/a\.ts#function:f {2}from [0-9a-f]{12} \(berlin\): did not compose onto the agreed parent: f changed since$/m);
    assert.match(out, /^ {2}applied {3}\+ add {4}src\/b\.ts.* \(lyon\)$/m);
    const signedBy = (indices: number[]): string => indices.map((i) => `${cluster.members[i]!.id} \\(${cluster.members[i]!.site}\\)`).join(', ');
    assert.match(out, new RegExp(`^ {2}signed by 3 of 4: ${signedBy([1, 2, 3])}$`, 'm'));
    assert.match(out, new RegExp(`^ {2}signed by 3 of 4: ${signedBy([0, 2, 3])}$`, 'm'));
  });

  it('log -n limits to the newest decisions, and --json is an array of objects', async () => {
    const limited = await runCommandIn(logCommand, dir, '-n', '1');
    assert.equal(limited.out.match(/^agreed /gm)?.length, 1);
    const entries = JSON.parse((await runCommandIn(logCommand, dir, '--json')).out) as LogEntry[];
    assert.deepEqual(entries.map((e) => e.height), [2, 1, 0]);
    const tokyo = entries[1]!;
    assert.equal(tokyo.round, 1);
    assert.deepEqual(tokyo.applied.map((a) => [a.where, a.op, a.site]), [['src/a.ts#function:g', 'modify', 'tokyo']]);
    assert.deepEqual(tokyo.deferred.map((a) => [a.where, a.reason]), [['src/a.ts#function:h', 'conflicts with a pending ACU; the vote deferred both']]);
    assert.deepEqual(tokyo.signers, [1, 2, 3].map((i) => ({ id: cluster.members[i]!.id, site: cluster.members[i]!.site })));
    assert.deepEqual(entries[0]!.rejected.map((a) => a.site), ['berlin']);
    assert.equal((await runCommandIn(logCommand, dir, '-n', 'x')).code, 129);
  });
});

describe('acu verify finds forged and broken chains', () => {
  async function verifyChain(name: string, edit: (steps: Step[]) => Step[]): Promise<{ code: ExitCodeValue; out: string; dir: string; commits: string[] }> {
    const made = await makeRepo(name);
    const commits = await writeChain(made.dir, made.oids.root!, edit(honestSteps(made.records)));
    const result = await runCommandIn(verifyCommand, made.dir);
    return { ...result, dir: made.dir, commits };
  }

  it('a forged signature: replica 1 FINAL signed with another key', async () => {
    const forge = (cert: DecisionCert): DecisionCert => ({
      ...cert,
      finals: cert.finals.map((f) => (f.from === 1 ? { ...f, sig: signBytes(replicas[3]!, signingBytes(f)) } : f)),
    });
    const { code, out } = await verifyChain('forged', (steps) => steps.map((s, h) => (h === 1 ? { ...s, tamper: forge } : s)));
    assert.equal(code, 1, out);
    assert.match(out, /^FAIL [0-9a-f]{12} height 1: invalid signatures from replicas 1$/m);
    assert.match(out, /^ok {3}[0-9a-f]{12} height 2$/m);
    assert.match(out, /^verified 3 agreed commits: 1 problem$/m);
  });

  it('two signatures of four: below the quorum of three', async () => {
    const { code, out } = await verifyChain('two-of-four', (steps) => steps.map((s, h) => (h === 2 ? { ...s, signers: [0, 3] } : s)));
    assert.equal(code, 1);
    assert.match(out, /^FAIL [0-9a-f]{12} height 2: fewer than 3 matching FINAL signatures from distinct members$/m);
  });

  it('one member signing three times is still one signature', async () => {
    const { code, out } = await verifyChain('repeats', (steps) => steps.map((s, h) => (h === 0 ? { ...s, signers: [2, 2, 2] } : s)));
    assert.equal(code, 1);
    assert.match(out, /^FAIL [0-9a-f]{12} height 0: fewer than 3 matching FINAL signatures/m);
  });

  it('a note edited to claim a different value', async () => {
    const { dir, commits } = await verifyChain('edited-note', (steps) => steps);
    const shown = await runGit(['notes', `--ref=${notesRef}`, 'show', commits[1]!], { cwd: dir, gitDir: null });
    const note = JSON.parse(shown.stdout.toString('utf8')) as { valueId: string; cert: DecisionCert };
    const value: Value = { ...note.cert.value, batch: { ...note.cert.value.batch, acuIds: note.cert.value.batch.acuIds.slice(1) } };
    const edited = { ...note, valueId: valueIdOf({ digestHex: sha256Hex }, value), cert: { ...note.cert, value } };
    await runGit(['notes', `--ref=${notesRef}`, 'add', '-f', '-F', '-', commits[1]!], { cwd: dir, gitDir: null, input: JSON.stringify(edited) });
    const { code, out } = await runCommandIn(verifyCommand, dir);
    assert.equal(code, 1, out);
    assert.match(out, /^FAIL [0-9a-f]{12} height 1: fewer than 3 matching FINAL signatures from distinct members; applies a record outside the certified batch$/m);
    assert.match(out, /^FAIL [0-9a-f]{12} height 2: its value does not extend the previous decision$/m);
    assert.match(out, /^verified 3 agreed commits: 3 problems$/m);
  });

  it('a certificate note copied onto a commit with other content', async () => {
    const { dir, commits } = await verifyChain('copied-note', (steps) => steps);
    const repo = await GitRepo.open(dir);
    try {
      // Same parent, same message, same author and dates: only the tree differs (a file removed).
      const honest = await repo.commitInfo(commits[2]!);
      const message = (await runGit(['cat-file', 'commit', commits[2]!], { cwd: dir, gitDir: null })).stdout.toString('utf8').split('\n\n').slice(1).join('\n\n');
      const tree = await repo.writeTreeFromPaths(honest.tree, new Map([['README.md', null]]));
      const when = { timestamp: Date.parse(honest.committerDate) / 1000, timezoneOffset: 0 };
      const forged = await repo.writeCommit({
        tree, parents: honest.parents, message, author: { name: 'acu', email: 'acu@cluster', ...when }, committer: { name: 'acu', email: 'acu@cluster', ...when },
      });
      const note = await runGit(['notes', `--ref=${notesRef}`, 'show', commits[2]!], { cwd: dir, gitDir: null });
      await runGit(['notes', `--ref=${notesRef}`, 'add', '-f', '-F', '-', forged], { cwd: dir, gitDir: null, input: note.stdout.toString('utf8') });
      await repo.updateRef(agreedRef('main'), forged);
    } finally {
      await repo.close();
    }
    const { code, out } = await runCommandIn(verifyCommand, dir);
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^FAIL [0-9a-f]{12} height 2: its tree, parent or message is not what the certificate certifies \\(the certificate is for commit ${commits[2]!.slice(0, 12)}\\)$`, 'm'));
    assert.match(out, /^ok {3}[0-9a-f]{12} height 1$/m);
  });

  it('a certificate replayed from another repository of the same cluster', async () => {
    const { dir, commits } = await verifyChain('replay-target', (steps) => steps);
    // Another repository, same members and keys, whose height 1 agreed on other records.
    const other = await verifyChain('replay-source', (steps) => [steps[0]!, { records: steps[2]!.records.slice(0, 1) }, steps[2]!]);
    assert.equal(other.code, 0, other.out);
    assert.notEqual(other.commits[1], commits[1]);
    const note = await runGit(['notes', `--ref=${notesRef}`, 'show', other.commits[1]!], { cwd: other.dir, gitDir: null });
    await runGit(['notes', `--ref=${notesRef}`, 'add', '-f', '-F', '-', commits[1]!], { cwd: dir, gitDir: null, input: note.stdout.toString('utf8') });
    const { code, out } = await runCommandIn(verifyCommand, dir);
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^FAIL ${commits[1]!.slice(0, 12)} height 1: .*its tree, parent or message is not what the certificate certifies \\(the certificate is for commit ${other.commits[1]!.slice(0, 12)}\\)`, 'm'));
  });

  it('a missing height: height 2 written onto height 0', async () => {
    const { code, out } = await verifyChain('missing-height', (steps) => steps.map((s, h) => (h === 1 ? { ...s, skip: true } : s)));
    assert.equal(code, 1);
    assert.match(out, /^FAIL [0-9a-f]{12} height 2: follows height 0, not 1; its value does not extend the previous decision$/m);
    assert.match(out, /^verified 2 agreed commits: 2 problems$/m);
  });

  it('a chain that does not reach height 0', async () => {
    const { code, out } = await verifyChain('no-genesis', (steps) => steps.map((s, h) => (h === 0 ? { ...s, skip: true } : s)));
    assert.equal(code, 1);
    assert.match(out, /^FAIL [0-9a-f]{12} height 1: the chain stops at height 1; heights below it are missing$/m);
  });

  it('a missing or malformed note is a problem, not a crash', async () => {
    const { dir, commits } = await verifyChain('malformed', (steps) => steps);
    await runGit(['notes', `--ref=${notesRef}`, 'add', '-f', '-m', '{"v":1,"cert":null}', commits[2]!], { cwd: dir, gitDir: null });
    await runGit(['notes', `--ref=${notesRef}`, 'remove', commits[1]!], { cwd: dir, gitDir: null });
    const { code, out } = await runCommandIn(verifyCommand, dir);
    assert.equal(code, 1, out);
    assert.match(out, /^FAIL [0-9a-f]{12} height \?: the certificate note \(refs\/notes\/acu\) is malformed: branch: expected a string$/m);
    assert.match(out, /^FAIL [0-9a-f]{12} height \?: no certificate note \(refs\/notes\/acu\)$/m);
    assert.match(out, /^ok {3}[0-9a-f]{12} height 0$/m);
    const log = await runCommandIn(logCommand, dir);
    assert.equal(log.code, 0);
    assert.match(log.out, /^ {2}no certificate note \(refs\/notes\/acu\)$/m);
  });
});

describe('acu log and acu verify without a cluster or a decision', () => {
  it('explain what is missing, with a hint', async () => {
    const dir = join(top, 'bare-start');
    await buildFixtureRepo(dir, spec);
    for (const command of [logCommand, verifyCommand] as Command<unknown>[]) {
      const none = await runCommandIn(command, dir);
      assert.equal(none.code, 128);
      assert.match(none.err, /^error: there is no cluster document at .*\.acu\/cluster\.json$/m);
      assert.match(none.err, /^hint: create one with 'acu cluster create'$/m);
    }
    await writeCluster(dir, cluster);
    for (const command of [logCommand, verifyCommand] as Command<unknown>[]) {
      const empty = await runCommandIn(command, dir);
      assert.equal(empty.code, 128);
      assert.match(empty.err, /^error: the cluster has no agreed commit yet \(refs\/acu\/main does not exist\)$/m);
      assert.match(empty.err, /^hint: /m);
    }
  });
});
