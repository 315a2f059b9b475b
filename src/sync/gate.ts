/**
 * The gate where commits land: the server side of acu. Installed as the pre-receive hook of the
 * shared bare repository (`acu hooks install --server`), it lets the protected branch (and the
 * agreed ref) move only to commits the cluster certified, and the certificate notes only forward.
 * It reads nothing but the repository: the membership that must have signed each commit is the
 * cluster document in that commit's parent, so the commit already on the branch is the trust root.
 */
import { AcuError } from '../core/errors.js';
import type { GitRepo } from '../git/index.js';
import { notesRef } from './agreed.js';
import { clusterAtCommit, notesFromCommit, notesFromRef, verifyChain } from './verify-chain.js';
import type { NoteSource, VerifyFinding } from './verify-chain.js';

/** One ref a push wants to move: `<old> <new> <ref>` (all zeros: does not exist). */
export interface RefUpdate {
  readonly oldOid: string;
  readonly newOid: string;
  readonly ref: string;
}

/** What the gate says of one ref. */
export interface GateVerdict {
  readonly ref: string;
  readonly ok: boolean;
  /** Why not, or a remark on an accepted update (empty when there is nothing to say). */
  readonly message: string;
  readonly findings: readonly VerifyFinding[];
}

/** Most ref updates one push may ask for (pre-receive reads them all from stdin). */
const refUpdatesMax = 10_000;

const isZero = (oid: string): boolean => /^0+$/.test(oid);

/** Parse pre-receive's stdin; ERR_USAGE on anything that is not `<old> <new> <ref>` lines. */
export function parseRefUpdates(stdin: string): RefUpdate[] {
  const out: RefUpdate[] = [];
  for (const line of stdin.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const [oldOid, newOid, ref] = fields;
    if (fields.length !== 3 || !/^[0-9a-f]{40,64}$/.test(oldOid!) || !/^[0-9a-f]{40,64}$/.test(newOid!) || !ref!.startsWith('refs/')) {
      throw new AcuError('ERR_USAGE', `pre-receive: not a ref update line: ${JSON.stringify(line.slice(0, 200))}`, { hint: 'git passes `<old> <new> <ref>` lines on stdin' });
    }
    out.push({ oldOid: oldOid!, newOid: newOid!, ref: ref! });
    if (out.length > refUpdatesMax) throw new AcuError('ERR_USAGE', `pre-receive: more than ${refUpdatesMax} ref updates`, { hint: 'push fewer refs at once' });
  }
  return out;
}

/** The branch a ref update's cluster document protects, read from the tip that is there now (else the new one). */
async function protectedBranchOf(repo: GitRepo, update: RefUpdate): Promise<string | null> {
  const at = isZero(update.oldOid) ? update.newOid : update.oldOid;
  if (isZero(at)) return null;
  const found = await clusterAtCommit(repo, at);
  return 'cluster' in found ? found.cluster.branch : null;
}

/** Check every ref a push moves; a push goes through only when every verdict is ok. */
export async function checkRefUpdates(repo: GitRepo, updates: readonly RefUpdate[]): Promise<GateVerdict[]> {
  const pushedNotes = updates.find((u) => u.ref === notesRef && !isZero(u.newOid));
  const notes = pushedNotes === undefined ? notesFromRef(repo) : notesFromCommit(repo, pushedNotes.newOid);
  const verdicts: GateVerdict[] = [];
  for (const update of updates) verdicts.push(await checkOne(repo, update, notes));
  return verdicts;
}

async function checkOne(repo: GitRepo, update: RefUpdate, notes: NoteSource): Promise<GateVerdict> {
  const { ref, oldOid, newOid } = update;
  const refuse = (message: string, findings: readonly VerifyFinding[] = []): GateVerdict => ({ ref, ok: false, message, findings });
  const accept = (message = '', findings: readonly VerifyFinding[] = []): GateVerdict => ({ ref, ok: true, message, findings });
  if (ref === notesRef) {
    if (isZero(newOid)) return refuse(`${notesRef} holds the cluster's certificates; it may not be deleted`);
    if (!isZero(oldOid) && !(await repo.isAncestor(oldOid, newOid))) return refuse(`${notesRef} may only move forward (certificates are never rewritten)`);
    return accept();
  }
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref.startsWith('refs/acu/') ? ref.slice('refs/acu/'.length) : null;
  if (branch === null) return accept();
  const protectedBranch = await protectedBranchOf(repo, update);
  if (protectedBranch !== branch) return accept();
  if (isZero(newOid)) return refuse(`${ref} is protected by the acu cluster; it may not be deleted`);
  if (!isZero(oldOid) && !(await repo.isAncestor(oldOid, newOid))) {
    return refuse(`${ref} is protected by the acu cluster and may only move forward to agreed commits; this push rewrites it`);
  }
  if (isZero(oldOid) && (await notes(newOid)).status === 'missing') {
    return accept(`${ref} created at ${newOid.slice(0, 12)}: the agreed chain will start from it`);
  }
  const findings = await verifyChain(repo, newOid, { notes, stopAt: isZero(oldOid) ? null : oldOid });
  const bad = findings.filter((finding) => !finding.ok);
  if (bad.length === 0) return accept('', findings);
  const first = bad[bad.length - 1]!;
  const count = `${bad.length} of ${findings.length} new commit${findings.length === 1 ? '' : 's'}`;
  return refuse(`${ref}: ${count} not certified by the acu cluster; first: ${first.commit.slice(0, 12)}: ${first.problems.join('; ')}`, findings);
}
