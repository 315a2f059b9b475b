/**
 * `acu verify --rebuild`: recompute agreed commits from what git keeps, and compare commit ids.
 *
 * A certificate proves the cluster agreed on a commit id; rebuilding proves that id is what the
 * agreed rules give from the records. For each agreed commit, the record bodies come from its note
 * on `refs/notes/acu-records` and the certified value (batch, validation, resolution) from its note
 * on `refs/notes/acu`. The bodies must be the certified batch, signed by members of the cluster at
 * the commit's parent; validation is run again (it is deterministic) and must give the certified
 * verdict; then the commit is composed exactly as a sync node composes it (computeOutcome with the
 * node's compose and stageAgreedCommit, then waiting for the objects' files) onto the commit's
 * parent. Its id must be the agreed one.
 *
 * The repository is not changed: the composed blobs, trees and commits go to a scratch bare
 * repository whose object store borrows the real one's (git alternates), removed afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValueDraft } from '../core/consensus/index.js';
import { bodyDigestOf } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import { allWritten } from '../git/index.js';
import type { GitRepo } from '../git/index.js';
import { createScratchRepository } from '../git/scratch.js';
import type { ClusterDoc } from '../store/cluster.js';
import { Validator } from '../validate/validate.js';
import { jsBitsetBackend } from '../validate/scoring/js-bitset.js';
import { readNoteChecked, readRecordsNote, stageAgreedCommit } from './agreed.js';
import type { AgreedNote } from './agreed.js';
import { composeAgreed, validateRecords } from './batch.js';
import type { BatchVerdict, ValidationMode } from './batch.js';
import { sha256Hex } from './crypto.js';
import { computeOutcome } from './outcome.js';
import { acuRefOf, decodeRecord, recordVerifier } from './records.js';
import type { IdentifiedRecord } from './records.js';
import { clusterAtCommit } from './verify-chain.js';

/** What rebuilding one agreed commit found. */
export interface RebuildFinding {
  readonly commit: string;
  readonly height: number | null;
  /**
   * `same`: the recomputed id is the agreed commit's; `differs`: it is another; `missing-records`:
   * no usable records note; `unbuildable`: something else stops the rebuild (see problems).
   */
  readonly status: 'same' | 'differs' | 'missing-records' | 'unbuildable';
  /** The recomputed commit id, when the rebuild got that far. */
  readonly rebuilt: string | null;
  /** The validation mode whose verdict matched the certified one. */
  readonly validation: ValidationMode | null;
  readonly problems: readonly string[];
}

/** How validation is re-run: the mode the cluster ran, or `auto` (parse, then typecheck). */
export type RebuildValidation = ValidationMode | 'auto';

/** Options for {@link rebuildAgreed}. */
export interface RebuildOptions {
  readonly validation?: RebuildValidation;
}

/** Most commits one rebuild takes on (each costs a composition and maybe a type-check). */
export const rebuildCommitsMax = 100_000;

/**
 * Rebuild each of `commits` (agreed commits, any order) from its notes; findings in the same
 * order. Never writes to `repo`.
 */
export async function rebuildAgreed(repo: GitRepo, commits: readonly string[], options: RebuildOptions = {}): Promise<RebuildFinding[]> {
  if (commits.length > rebuildCommitsMax) {
    throw new AcuError('ERR_USAGE', `rebuild: ${commits.length} agreed commits are more than one rebuild takes (${rebuildCommitsMax})`, {
      hint: 'rebuild part of the chain at a time with --since <commit>',
    });
  }
  const scratchDir = await mkdtemp(join(tmpdir(), 'acu-rebuild-'));
  let scratch: GitRepo | null = null;
  let validator: Validator | null = null;
  try {
    scratch = await createScratchRepository(repo, scratchDir);
    const context: RebuildContext = {
      repo, scratch, mode: options.validation ?? 'auto', clusters: new Map(),
      validator: () => (validator ??= new Validator(jsBitsetBackend())),
    };
    const findings: RebuildFinding[] = [];
    for (const commit of commits) findings.push(await rebuildOne(context, commit));
    assert(findings.length === commits.length, 'one finding per commit');
    return findings;
  } finally {
    (validator as Validator | null)?.dispose();
    await scratch?.close();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

interface RebuildContext {
  readonly repo: GitRepo;
  readonly scratch: GitRepo;
  readonly mode: RebuildValidation;
  /** Cluster documents by commit, read once. */
  readonly clusters: Map<string, Promise<{ cluster: ClusterDoc } | { problem: string }>>;
  readonly validator: () => Validator;
}

function clusterOf(context: RebuildContext, commit: string): Promise<{ cluster: ClusterDoc } | { problem: string }> {
  let found = context.clusters.get(commit);
  if (found === undefined) {
    found = clusterAtCommit(context.repo, commit);
    context.clusters.set(commit, found);
  }
  return found;
}

async function rebuildOne(context: RebuildContext, commit: string): Promise<RebuildFinding> {
  const { repo } = context;
  const fail = (status: RebuildFinding['status'], height: number | null, problems: string[]): RebuildFinding => ({
    commit, height, status, rebuilt: null, validation: null, problems,
  });
  const read = await readNoteChecked(repo, commit);
  if (read.status !== 'ok') return fail('unbuildable', null, [`no readable certificate note to rebuild from (${read.status})`]);
  const note = read.note;
  const parent = (await repo.commitInfo(commit)).parents[0];
  if (parent === undefined) return fail('unbuildable', note.height, ['an agreed commit has a parent; this one has none']);
  const found = await clusterOf(context, parent);
  if ('problem' in found) return fail('unbuildable', note.height, [`no membership to check its records against: ${found.problem}`]);
  const items = await certifiedRecords(repo, commit, note, found.cluster);
  if ('missing' in items) return fail('missing-records', note.height, [items.missing]);
  if ('problem' in items) return fail('unbuildable', note.height, [items.problem]);
  const verdict = await certifiedVerdict(context, parent, note, items.records);
  if ('problem' in verdict) return fail('unbuildable', note.height, [verdict.problem]);
  const { batch, validation, resolution } = note.cert.value;
  const draft: ValueDraft = { batch, validation, resolution };
  // The node's own composition and commit writer, pointed at the scratch repository.
  const chain = {
    compose: (base: string, candidates: readonly IdentifiedRecord[]) => composeAgreed(context.scratch, base, candidates),
    stageCommit: async (input: Parameters<typeof stageAgreedCommit>[1], treeWritten: Promise<void>) => {
      const staged = await stageAgreedCommit(context.scratch, input);
      return { commit: staged.oid, written: allWritten([{ oid: input.tree, written: treeWritten }, staged]) };
    },
  };
  const outcome = await computeOutcome(chain, { height: note.height, parent, draft, items: items.records, verdict: verdict.verdict });
  // The rebuilt objects are stored before the finding names them (and a later height composes onto
  // the same scratch store).
  await outcome.write();
  const problems: string[] = [];
  if (outcome.commit !== commit) {
    problems.push(`recomputed from its records it is commit ${outcome.commit.slice(0, 12)}, not this one (its tree, parent or message differs from what the records give)`);
  }
  if (outcome.applied.join() !== note.applied.join()) problems.push('the note lists other applied records than the rebuild applies');
  return { commit, height: note.height, status: outcome.commit === commit ? 'same' : 'differs', rebuilt: outcome.commit, validation: verdict.mode, problems };
}

/** The record bodies of the certified batch, in batch order, each signed by a member; or what is wrong. */
async function certifiedRecords(
  repo: GitRepo, commit: string, note: AgreedNote, cluster: ClusterDoc,
): Promise<{ records: IdentifiedRecord[] } | { missing: string } | { problem: string }> {
  const bodies = await readRecordsNote(repo, commit);
  if (bodies === null) return { missing: 'no records note (refs/notes/acu-records) holds the record bodies of this commit' };
  if (bodies.height !== note.height) return { problem: `the records note is for height ${bodies.height}, the certificate for ${note.height}` };
  const certified = note.cert.value.batch.acuIds;
  if (bodies.records.length !== certified.length) {
    return { problem: `the records note holds ${bodies.records.length} records, the certified batch ${certified.length}` };
  }
  const verifier = recordVerifier(cluster);
  const records: IdentifiedRecord[] = [];
  for (let i = 0; i < certified.length; i += 1) {
    const item = decodeRecord(bodies.records[i], verifier);
    if (item === null) return { problem: `record ${i} of the records note is malformed or not signed by a member of the cluster at the parent` };
    if (item.id !== certified[i]) return { problem: `record ${i} of the records note is ${item.id.slice(0, 12)}, the certified batch has ${certified[i]!.slice(0, 12)} there` };
    records.push(item);
  }
  if (bodyDigestOf(sha256Hex, records.map(acuRefOf)) !== note.cert.value.batch.bodyDigest) return { problem: 'the record bodies do not give the certified body digest' };
  return { records };
}

/** Validation run again, in the mode whose verdict is the certified one. */
async function certifiedVerdict(
  context: RebuildContext, parent: string, note: AgreedNote, records: readonly IdentifiedRecord[],
): Promise<{ verdict: BatchVerdict; mode: ValidationMode } | { problem: string }> {
  const certified = note.cert.value.validation.detailDigest;
  const modes: ValidationMode[] = context.mode === 'auto' ? ['parse', 'typecheck'] : [context.mode];
  for (const mode of modes) {
    const validator = mode === 'typecheck' ? context.validator() : null;
    const verdict = await validateRecords(context.scratch, parent, records, { mode, validator });
    if (verdict !== null && verdict.consensus.detailDigest === certified) return { verdict, mode };
  }
  return { problem: `validating its records again (${modes.join(', then ')}) does not give the certified verdict` };
}
