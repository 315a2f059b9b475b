/**
 * The outcome of a decision: the agreed commit it becomes. Computed before the decision — the
 * replica asks for it once a value's resolution is fixed, and PREPAREs the value together with it
 * (docs/protocol.md, L19) — so the certificate the cluster signs names the very commit every
 * honest node writes, and no note can be moved onto other content.
 *
 * The commit is a function of the previous agreed commit, the batch's record bodies, the certified
 * validation and the resolution: applied = the batch minus what the resolution defers, minus what
 * validation found invalid, minus what does not compose (each with its reason).
 */
import type { ValueDraft } from '../core/consensus/index.js';
import { outcomeOf } from '../core/consensus/index.js';
import type { BatchVerdict, Rejection } from './batch.js';
import { writeGate } from './chain.js';
import type { Chain, StagedCommit } from './chain.js';
import type { IdentifiedRecord } from './records.js';

/**
 * An agreed commit (no ref, no note yet) and what it applies and leaves out. Its id is known as
 * soon as its objects are hashed; their files land later (`written`).
 */
export interface AgreedOutcome {
  readonly commit: string;
  readonly applied: readonly string[];
  readonly deferred: readonly Rejection[];
  readonly rejected: readonly Rejection[];
  /**
   * Resolves once the commit object and every object it adds are stored; rejects when one could
   * not be (the outcome must then be computed again, which writes them again). The files are
   * written once {@link write} is called (or a chain reader of the commit needs them).
   */
  readonly written: Promise<void>;
  /** Start writing the files (if not yet) and wait for them: {@link written}. */
  write(): Promise<void>;
}

/** What computing an outcome needs. */
export interface OutcomeInput {
  readonly height: number;
  /** The agreed commit of height - 1 (or the genesis commit). */
  readonly parent: string;
  readonly draft: ValueDraft;
  /** The batch's records, in batch order. */
  readonly items: readonly IdentifiedRecord[];
  /** This node's verdict on the batch; its detail digest is the certified one. */
  readonly verdict: BatchVerdict;
}

/**
 * Compose the applied records onto the parent and stage the agreed commit object: returns once
 * its id is known; its files (and its tree's) are written when `write` is called.
 */
export async function computeOutcome(chain: Pick<Chain, 'compose' | 'stageCommit'>, input: OutcomeInput): Promise<AgreedOutcome> {
  const { draft, verdict, items } = input;
  const split = outcomeOf(draft.batch.acuIds, draft.validation.conflicts, draft.resolution);
  const deferred: Rejection[] = split.deferred.map((id) => ({ id, reason: deferralReason(id, input.height, draft) }));
  const invalid = new Map(verdict.invalid.map((r) => [r.id, r.reason]));
  const appliedSet = new Set(split.applied.filter((id) => !invalid.has(id)));
  const candidates = items.filter((item) => appliedSet.has(item.id));
  // The files wait until they are needed: the answer (the id) needs only the hashes, and writing
  // them meanwhile would compete with the PREPARE and FINAL exchange for the same CPU and disk.
  const gate = writeGate();
  const composed = await chain.compose(input.parent, candidates, gate);
  const rejected: Rejection[] = [
    ...[...invalid].filter(([id]) => split.applied.includes(id)).map(([id, reason]) => ({ id, reason })),
    ...composed.rejected,
  ];
  let staged: StagedCommit;
  try {
    staged = await chain.stageCommit({ height: input.height, parentCommit: input.parent, records: items, tree: composed.tree, applied: composed.applied }, composed.written, gate);
  } catch (error) {
    // Nothing is left running: the tree's writes finish before the failure is reported.
    gate.open();
    await composed.written.catch(() => undefined);
    throw error;
  }
  const { written } = staged;
  return {
    commit: staged.commit, applied: composed.applied, deferred, rejected, written,
    write: () => {
      gate.open();
      return written;
    },
  };
}

function deferralReason(id: string, height: number, draft: ValueDraft): string {
  const { conflicts } = draft.validation;
  const i = conflicts.findIndex((c) => c.a === id || c.b === id);
  const other = i < 0 ? '' : conflicts[i]!.a === id ? conflicts[i]!.b : conflicts[i]!.a;
  return `conflict ${height}.${i} with ${other.slice(0, 12)}: the cluster resolved it as ${draft.resolution[i] ?? 'defer_both'}`;
}
