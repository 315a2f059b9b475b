/**
 * `acu verify --rebuild` on agreed chains built the way the sync nodes build them: records
 * extracted and signed by the proposing member, validated (parse mode), conflicts resolved, the
 * outcome composed by computeOutcome through the node's GitChain, certified by three of four real
 * Ed25519 identities, and written with both notes. Fixture repositories have fixed dates.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bodyDigestOf, genesisParent, valueIdOf } from '../../src/core/consensus/index.js';
import type { Value, ValueDraft } from '../../src/core/consensus/index.js';
import { runGit } from '../../src/git/exec.js';
import { GitRepo } from '../../src/git/index.js';
import { verifyCommand } from '../../src/cli/verify.js';
import type { VerifyJsonCommit } from '../../src/cli/verify.js';
import { writeCluster } from '../../src/store/cluster.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { agreedRef, readRecordsNote, recordsNotesRef, writeAgreedCommit, writeAgreedNote } from '../../src/sync/agreed.js';
import { validateRecords } from '../../src/sync/batch.js';
import { GitChain } from '../../src/sync/chain.js';
import { sha256Hex } from '../../src/sync/crypto.js';
import { computeOutcome } from '../../src/sync/outcome.js';
import { acuRefOf, recordsOfCommit } from '../../src/sync/records.js';
import type { IdentifiedRecord, RecordSigner } from '../../src/sync/records.js';
import { certifyValue, commitClusterDoc, siteCommits } from '../support/agreed-chain.js';
import { runCommandIn } from '../support/cli-repo.js';
import { git, makeCluster } from '../support/gate-fixture.js';

/** Origin commits from the sites, each on its own branch from the root. */
const spec: FixtureSpec = {
  commits: [
    ...siteCommits,
    { id: 'lyon2', branch: 'lyon2', parents: ['root'], message: 'c, the lyon way', files: { 'src/c.ts': 'export const c = 1;\n' } },
    { id: 'berlin2', branch: 'berlin2', parents: ['root'], message: 'c, the berlin way', files: { 'src/c.ts': 'export const c = 2;\n' } },
  ],
};

let top = '';
let cluster: ClusterDoc;
let replicas: NodeIdentity[] = [];

before(async () => {
  top = await makeTempDir('rebuild');
  await mkdir(join(top, 'keys'));
  ({ cluster, replicas } = await makeCluster(join(top, 'keys')));
});
after(async () => {
  await removeTempDir(top);
});

function signerOf(site: string): RecordSigner {
  const at = cluster.members.findIndex((m) => m.site === site);
  return { identity: replicas[at]!, member: cluster.members[at]! };
}

/**
 * Heights 0..2 as a sync node decides and writes them: paris; then tokyo, lyon and berlin (whose
 * change to f no longer applies after paris's); then two different src/c.ts, a conflict resolved
 * keep_a. `forgeTreeAt`: that height's certified commit keeps its parent's tree instead (a quorum
 * that certified something the records do not give).
 */
async function buildChain(name: string, forgeTreeAt: number | null = null): Promise<{ dir: string; commits: string[] }> {
  const dir = join(top, name);
  const { oids } = await buildFixtureRepo(dir, spec);
  await writeCluster(dir, cluster);
  const repo = await GitRepo.open(dir);
  const chain = new GitChain(repo, 'parse', null, signerOf('paris'));
  try {
    const origins = [['paris'], ['tokyo', 'lyon', 'berlin'], ['lyon2', 'berlin2']];
    let parent = await commitClusterDoc(repo, oids.root!, cluster);
    let parentValue = genesisParent;
    const commits: string[] = [];
    for (const [height, labels] of origins.entries()) {
      const items: IdentifiedRecord[] = [];
      for (const label of labels) items.push(...(await recordsOfCommit(repo, oids[label]!, signerOf(label.replace(/2$/, '')))));
      const verdict = await validateRecords(repo, parent, items, { mode: 'parse', validator: null });
      assert.ok(verdict !== null);
      const draft: ValueDraft = {
        batch: { height, parent: parentValue, acuIds: items.map((item) => item.id), bodyDigest: bodyDigestOf(sha256Hex, items.map(acuRefOf)) },
        validation: verdict.consensus,
        resolution: verdict.consensus.conflicts.map(() => 'keep_a' as const),
      };
      const outcome = await computeOutcome(chain, { height, parent, draft, items, verdict });
      await outcome.write(); // the id comes once hashed; the note below reads the commit
      const commit = height === forgeTreeAt
        ? await writeAgreedCommit(repo, { height, parentCommit: parent, records: items, tree: await repo.resolveTree(parent), applied: outcome.applied })
        : outcome.commit;
      const value: Value = { ...draft, outcome: commit };
      const cert = certifyValue(cluster, replicas, height, 0, value, [0, 1, 2]);
      await writeAgreedNote(repo, {
        branch: 'main', commit, parentCommit: parent, cert, records: items, applied: outcome.applied,
        deferred: outcome.deferred, rejected: outcome.rejected, memberIds: cluster.members.map((m) => m.id),
      });
      commits.push(commit);
      parent = commit;
      parentValue = valueIdOf({ digestHex: sha256Hex }, cert.value);
    }
    await repo.updateRef(agreedRef('main'), parent);
    return { dir, commits };
  } finally {
    await repo.close();
  }
}

async function verify(dir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const { code, out, err } = await runCommandIn(verifyCommand, dir, ...args);
  return { code, out: out + err };
}

/** Everything in the repository a check must leave alone: refs and the object count. */
function repositoryState(dir: string): string {
  return `${git(dir, 'for-each-ref').stdout}\n${git(dir, 'count-objects', '-v').stdout}`;
}

describe('acu verify --rebuild', () => {
  it('recomputes every agreed commit of an honest chain from its records, and changes nothing', async () => {
    const { dir, commits } = await buildChain('honest');
    const state = repositoryState(dir);
    const result = await verify(dir, '--rebuild');
    assert.equal(result.code, 0, result.out);
    assert.match(result.out, /verified 3 agreed commits: all certificates valid\nrebuilt 3 agreed commits from their records: every commit id is the same\n/);
    const json = await verify(dir, '--rebuild', '--json');
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.out) as { ok: boolean; commits: VerifyJsonCommit[] };
    assert.deepEqual(parsed.commits.map((c) => [c.commit, c.height, c.rebuild?.status, c.rebuild?.rebuilt, c.rebuild?.validation]), [
      [commits[2], 2, 'same', commits[2], 'parse'],
      [commits[1], 1, 'same', commits[1], 'parse'],
      [commits[0], 0, 'same', commits[0], 'parse'],
    ]);
    // The chain exercised the paths that decide an id: a rejected record and a deferred one.
    const notes = git(dir, 'log', '--notes=acu', '--format=%N', agreedRef('main')).stdout;
    assert.match(notes, /"rejected": \[\n {2}\{\n {3}"id"/);
    assert.match(notes, /"deferred": \[\n {2}\{\n {3}"id"/);
    assert.equal(repositoryState(dir), state, 'the rebuild wrote nothing to the repository');
  });

  it('fails, naming the height, when a records note holds a different body or is missing', async () => {
    const { dir, commits } = await buildChain('tampered');
    const repo = await GitRepo.open(dir);
    const bodies = await readRecordsNote(repo, commits[1]!);
    await repo.close();
    assert.ok(bodies !== null);
    const changed = { ...bodies, records: bodies.records.map((r, i) => (i === 0 ? { ...r, origin: { ...r.origin, subject: 'something else' } } : r)) };
    await runGit(['notes', `--ref=${recordsNotesRef}`, 'add', '-f', '-m', JSON.stringify(changed), commits[1]!], { cwd: dir, gitDir: null });
    assert.equal((await verify(dir)).code, 0, 'the certificates alone still hold');
    const result = await verify(dir, '--rebuild');
    assert.equal(result.code, 1);
    assert.match(result.out, new RegExp(`FAIL ${commits[1]!.slice(0, 12)} height 1: rebuild: record 0 of the records note is malformed or not signed by a member of the cluster at the parent`));
    assert.match(result.out, /rebuilt 3 agreed commits from their records: 1 is not the same or could not be rebuilt/);

    await runGit(['notes', `--ref=${recordsNotesRef}`, 'remove', commits[0]!], { cwd: dir, gitDir: null });
    const json = JSON.parse((await verify(dir, '--rebuild', '--json')).out) as { ok: boolean; commits: VerifyJsonCommit[] };
    assert.equal(json.ok, false);
    assert.deepEqual(json.commits.map((c) => c.rebuild?.status), ['same', 'unbuildable', 'missing-records']);
  });

  it('fails when the cluster certified a commit its records do not give', async () => {
    const { dir, commits } = await buildChain('forged', 1);
    assert.equal((await verify(dir)).code, 0, 'the certificates hold: a quorum signed it');
    const result = await verify(dir, '--rebuild', '--json');
    assert.equal(result.code, 1);
    const json = JSON.parse(result.out) as { ok: boolean; commits: VerifyJsonCommit[] };
    const forged = json.commits.find((c) => c.commit === commits[1]);
    assert.equal(forged?.rebuild?.status, 'differs');
    assert.notEqual(forged.rebuild.rebuilt, commits[1]);
    assert.match(forged.problems.join('\n'), /rebuild: recomputed from its records it is commit [0-9a-f]{12}, not this one/);
  });
});
