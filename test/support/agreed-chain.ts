/**
 * Agreed commits for tests: a commit that adds the cluster document (the membership the chain is
 * checked against), and agreed commits written the way a sync node writes them — the commit object
 * first, then a certificate whose value names that commit as its outcome, then the notes.
 */
import type { FixtureCommit } from '../../fixtures/builder.js';
import { bodyDigestOf, signMessage, valueIdOf } from '../../src/core/consensus/index.js';
import type { DecisionCert, FinalMsg, Value } from '../../src/core/consensus/index.js';
import type { GitRepo } from '../../src/git/index.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { writeAgreedCommit, writeAgreedNote } from '../../src/sync/agreed.js';
import type { Rejection } from '../../src/sync/batch.js';
import { identitySigner, sha256Hex } from '../../src/sync/crypto.js';
import { acuRefOf } from '../../src/sync/records.js';
import type { IdentifiedRecord } from '../../src/sync/records.js';
import { clusterDocPath } from '../../src/sync/verify-chain.js';

const threeFunctions = [1, 2, 3].map((n, i) => `export function ${'fgh'[i]}(x: number): number {\n  return x + ${n};\n}\n`).join('\n');

/**
 * Origin commits to agree on: a root with `src/a.ts` (functions f, g and h), then one commit from
 * each of four sites, each on its own branch from the root. Paris and berlin change f differently,
 * so berlin's change no longer applies once paris's is agreed.
 */
export const siteCommits: readonly FixtureCommit[] = [
  { id: 'root', files: { 'src/a.ts': threeFunctions, 'README.md': 'agreed\n' } },
  { id: 'paris', branch: 'paris', parents: ['root'], message: 'f adds ten', files: { 'src/a.ts': threeFunctions.replace('x + 1', 'x + 10') } },
  { id: 'tokyo', branch: 'tokyo', parents: ['root'], message: 'g and h add more', files: { 'src/a.ts': threeFunctions.replace('x + 2', 'x + 20').replace('x + 3', 'x + 30') } },
  { id: 'lyon', branch: 'lyon', parents: ['root'], message: 'a new module', files: { 'src/b.ts': 'export const b = 1;\n' } },
  { id: 'berlin', branch: 'berlin', parents: ['root'], message: 'f adds a hundred', files: { 'src/a.ts': threeFunctions.replace('x + 1', 'x + 100') } },
];

/** Commit `cluster` as `.acu/cluster.json` on top of `parent` (fixed date); returns the commit. */
export async function commitClusterDoc(repo: GitRepo, parent: string, cluster: ClusterDoc): Promise<string> {
  const blob = await repo.writeBlob(new TextEncoder().encode(`${JSON.stringify(cluster, null, 2)}\n`));
  const tree = await repo.writeTreeFromPaths(await repo.resolveTree(parent), new Map([[clusterDocPath, { mode: '100644', oid: blob }]]));
  const signature = { name: 'Admin', email: 'admin@example.com', timestamp: 1_714_550_400, timezoneOffset: 0 };
  return await repo.writeCommit({ tree, parents: [parent], message: 'acu cluster\n', author: signature, committer: signature });
}

/** A certificate for `value`, signed by the replicas at `signers` (indices into `replicas`). */
export function certifyValue(cluster: ClusterDoc, replicas: readonly NodeIdentity[], height: number, round: number, value: Value, signers: readonly number[]): DecisionCert {
  const valueId = valueIdOf({ digestHex: sha256Hex }, value);
  const finals = signers.map((i) => signMessage<FinalMsg>(identitySigner(cluster, replicas[i]!), { v: 1, type: 'final', from: i, height, round, body: { valueId } }));
  return { height, round, value, finals };
}

/** One agreed commit to write. */
export interface AgreedStep {
  readonly height: number;
  readonly round?: number;
  readonly parentCommit: string;
  /** The previous decision's value id, or `genesis`. */
  readonly parentValue: string;
  readonly records: readonly IdentifiedRecord[];
  readonly deferred?: readonly Rejection[];
  readonly rejected?: readonly Rejection[];
  /** Replica indices whose FINALs the certificate holds. */
  readonly signers: readonly number[];
  /** Change the certificate after signing (forgeries). */
  readonly tamper?: (cert: DecisionCert) => DecisionCert;
  /** The agreed commit's tree (default: the parent's): one that changes the cluster document, say. */
  readonly tree?: string;
}

/** Write one agreed commit (tree: the parent's) with its notes; returns it and its honest certificate. */
export async function writeAgreedStep(repo: GitRepo, cluster: ClusterDoc, replicas: readonly NodeIdentity[], step: AgreedStep): Promise<{ commit: string; cert: DecisionCert }> {
  const out = new Set([...(step.deferred ?? []), ...(step.rejected ?? [])].map((r) => r.id));
  const applied = step.records.map((r) => r.id).filter((id) => !out.has(id));
  const commit = await writeAgreedCommit(repo, {
    height: step.height, parentCommit: step.parentCommit, records: step.records, tree: step.tree ?? (await repo.resolveTree(step.parentCommit)), applied,
  });
  const value: Value = {
    batch: { height: step.height, parent: step.parentValue, acuIds: step.records.map((r) => r.id), bodyDigest: bodyDigestOf(sha256Hex, step.records.map(acuRefOf)) },
    validation: { ok: true, conflicts: [], detailDigest: sha256Hex(new TextEncoder().encode(`detail of height ${step.height}`)) },
    resolution: [],
    outcome: commit,
  };
  const cert = certifyValue(cluster, replicas, step.height, step.round ?? 0, value, step.signers);
  await writeAgreedNote(repo, {
    branch: cluster.branch, commit, parentCommit: step.parentCommit, cert: step.tamper?.(cert) ?? cert, records: step.records, applied,
    deferred: step.deferred ?? [], rejected: step.rejected ?? [], memberIds: cluster.members.map((m) => m.id),
  });
  return { commit, cert };
}
