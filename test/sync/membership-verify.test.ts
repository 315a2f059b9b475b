/**
 * The trust root comes from history: `acu verify`'s chain check (verifyChain) takes the genesis
 * document and the certified changes after it, never the work tree. Agreed commits written as a
 * sync node writes them (real keys, real git, fixed dates): height 0 removes a member, so height 1
 * must be certified by the three that remain. A removed member's signature counts for nothing
 * there, a certificate signed by the membership no longer in force fails, and a certified change
 * that brings in a key without its proof of possession fails too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { genesisParent, signMessage } from '../../src/core/consensus/index.js';
import type { DecisionCert, FinalMsg } from '../../src/core/consensus/index.js';
import { GitRepo } from '../../src/git/index.js';
import { memberProofOf } from '../../src/store/cluster.js';
import type { ClusterDoc, ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { signBytes } from '../../src/store/identity.js';
import { sha256Hex } from '../../src/sync/crypto.js';
import { notesFromRef, verifyChain } from '../../src/sync/verify-chain.js';
import type { VerifyFinding } from '../../src/sync/verify-chain.js';
import { commitClusterDoc, writeAgreedStep } from '../support/agreed-chain.js';
import { testIdentity } from '../support/identities.js';

process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

const people = [testIdentity(), testIdentity(), testIdentity(), testIdentity()].sort((x, y) => (x.id < y.id ? -1 : 1));
const member = (who: NodeIdentity, i: number, proof = false): ClusterMember => {
  const address = `ws://127.0.0.1:${7700 + i}`;
  return { id: who.id, publicKey: who.publicKey, address, site: `site-${i}`, priority: i, ...(proof ? { proof: memberProofOf(who, 'main', address) } : {}) };
};
const four: ClusterDoc = { version: 1, branch: 'main', members: people.map((who, i) => member(who, i)) };
/** The member with the largest id leaves at height 0; the others keep their replica numbers. */
const removed = people[3]!;
const three: ClusterDoc = { ...four, members: four.members.slice(0, 3) };
const remaining = people.slice(0, 3);

let top = '';

before(async () => {
  top = await makeTempDir('membership-verify');
});
after(async () => {
  await removeTempDir(top);
});

/** A fresh repository with the four-member genesis and an agreed height 0 that removes one member. */
async function chainWithRemoval(name: string): Promise<{ repo: GitRepo; genesis: string; h0: { commit: string; cert: DecisionCert } }> {
  const dir = join(top, name);
  const { oids } = await buildFixtureRepo(dir, { commits: [{ id: 'root', date: '2024-06-01T10:00:00+00:00', files: { 'README.md': '# p\n' } }] });
  const repo = await GitRepo.open(dir);
  const genesis = await commitClusterDoc(repo, oids.root!, four);
  const withThree = await commitClusterDoc(repo, genesis, three);
  const h0 = await writeAgreedStep(repo, four, people, {
    height: 0, parentCommit: genesis, parentValue: genesisParent, records: [], signers: [0, 1, 2], tree: await repo.resolveTree(withThree),
  });
  return { repo, genesis, h0 };
}

function problemsOf(findings: readonly VerifyFinding[], height: number): readonly string[] {
  return findings.find((f) => f.height === height)?.problems ?? [`no finding for height ${height}`];
}

describe('the membership in force at each height comes from the agreed history', () => {
  it('an honest chain verifies: height 0 signed by the four, height 1 by the three that remain', async () => {
    const { repo, h0 } = await chainWithRemoval('honest');
    try {
      const h1 = await writeAgreedStep(repo, three, remaining, { height: 1, parentCommit: h0.commit, parentValue: valueOf(h0.cert), records: [], signers: [0, 1] });
      const findings = await verifyChain(repo, h1.commit, { notes: notesFromRef(repo) });
      assert.deepEqual(findings.map((f) => [f.height, f.problems]), [[1, []], [0, []]]);
    } finally {
      await repo.close();
    }
  });

  it("a removed member's signature does not count after its removal", async () => {
    const { repo, h0 } = await chainWithRemoval('removed-signs');
    try {
      // Quorum of three is two: replica 0 signs, and the removed member signs in replica 1's place.
      const forged = (cert: DecisionCert): DecisionCert => {
        const final = cert.finals[1]!;
        const signer = { self: final.from, sign: (bytes: Uint8Array) => signBytes(removed, bytes), digestHex: sha256Hex };
        const byRemoved = signMessage<FinalMsg>(signer, { v: 1, type: 'final', from: final.from, height: final.height, round: final.round, body: final.body });
        return { ...cert, finals: [cert.finals[0]!, byRemoved] };
      };
      const h1 = await writeAgreedStep(repo, three, remaining, { height: 1, parentCommit: h0.commit, parentValue: valueOf(h0.cert), records: [], signers: [0, 1], tamper: forged });
      const findings = await verifyChain(repo, h1.commit, { notes: notesFromRef(repo) });
      assert.deepEqual(problemsOf(findings, 1), ['invalid signatures from replicas 1']);
      assert.deepEqual(problemsOf(findings, 0), []);
    } finally {
      await repo.close();
    }
  });

  it('a certificate signed by a membership not in force fails', async () => {
    const { repo, h0 } = await chainWithRemoval('old-membership');
    try {
      // Height 1 certified by the old membership: the removed member (replica 3 of four) among the signers.
      const h1 = await writeAgreedStep(repo, four, people, { height: 1, parentCommit: h0.commit, parentValue: valueOf(h0.cert), records: [], signers: [0, 3] });
      const findings = await verifyChain(repo, h1.commit, { notes: notesFromRef(repo) });
      assert.equal(findings.find((f) => f.height === 1)?.ok, false);
      assert.match(problemsOf(findings, 1).join('; '), /invalid signatures from replicas 3|fewer than 2 matching FINAL signatures/);
    } finally {
      await repo.close();
    }
  });

  it('a certified change that brings in a key without its proof of possession fails; with the proof it holds', async () => {
    for (const proof of [false, true]) {
      const dir = join(top, `proof-${proof}`);
      const { oids } = await buildFixtureRepo(dir, { commits: [{ id: 'root', date: '2024-06-01T10:00:00+00:00', files: { 'README.md': '# p\n' } }] });
      const repo = await GitRepo.open(dir);
      try {
        const genesis = await commitClusterDoc(repo, oids.root!, three);
        const joined = await commitClusterDoc(repo, genesis, { ...three, members: [...three.members, member(removed, 3, proof)] });
        const h0 = await writeAgreedStep(repo, three, remaining, { height: 0, parentCommit: genesis, parentValue: genesisParent, records: [], signers: [0, 1, 2], tree: await repo.resolveTree(joined) });
        const findings = await verifyChain(repo, h0.commit, { notes: notesFromRef(repo) });
        if (proof) assert.deepEqual(problemsOf(findings, 0), []);
        else assert.match(problemsOf(findings, 0).join('; '), /its membership change breaks the rules: member n[0-9a-f]{16} \(site-3\) brings in a key without a valid proof/);
      } finally {
        await repo.close();
      }
    }
  });
});

function valueOf(cert: DecisionCert): string {
  return cert.finals[0]!.body.valueId;
}
