/**
 * The validation job of a sync node: when the replica asks it to validate a batch, fetch the bodies
 * the batch names, check them against the batch's body digest, compose and check them on the
 * previous agreed commit (through the chain port), and hand the verdict back to the replica. The
 * verdicts are kept by batch digest, for the conflict votes and for writing the agreed commit.
 */
import type { Batch, ValueDraft } from '../core/consensus/index.js';
import { batchDigestOf, bodyDigestOf, draftIdOf, leaderOf } from '../core/consensus/index.js';
import type { BatchVerdict } from './batch.js';
import { computeOutcome } from './outcome.js';
import type { AgreedOutcome } from './outcome.js';
import type { IdentifiedRecord } from './records.js';
import { sha256Hex } from './crypto.js';
import type { RecordExchange } from './exchange.js';
import type { NodeContext } from './node-types.js';
import { acuRefOf } from './records.js';

/** Verdicts and outcomes kept, oldest dropped first (a round's votes and the decision need only recent ones). */
const verdictsKept = 64;

/** The validation side of a sync node. */
export class NodeValidation {
  private readonly verdicts = new Map<string, BatchVerdict>();
  /** Outcomes computed for drafts, by draft id: the writer writes the notes of the one decided. */
  private readonly outcomes = new Map<string, AgreedOutcome>();

  /**
   * `objectsFailed`: the files of an outcome computed (and maybe answered) could not be written;
   * the outcome is forgotten already, so the next ask computes it, and writes them, again.
   */
  constructor(
    private readonly ctx: NodeContext,
    private readonly exchange: RecordExchange,
    private readonly objectsFailed: (height: number, error: unknown) => void,
  ) {}

  /** The commit height `height` builds on, or null while this node has not written it yet. */
  baseFor(height: number): string | null {
    const { memory } = this.ctx;
    if (height === 0) return memory.genesis;
    return height - 1 === memory.writtenHeight ? memory.writtenCommit : null;
  }

  /** This node's verdict on a batch, if it validated it recently. */
  verdictOf(batchDigest: string): BatchVerdict | undefined {
    return this.verdicts.get(batchDigest);
  }

  /** Keep a verdict computed elsewhere (the writer recomputes one a decision needs). */
  remember(batchDigest: string, verdict: BatchVerdict): void {
    this.verdicts.set(batchDigest, verdict);
    if (this.verdicts.size > verdictsKept) this.verdicts.delete(this.verdicts.keys().next().value!);
  }

  /** The replica's `validate` effect. Returns without an answer where the round should time out. */
  async validate(height: number, round: number, batch: Batch): Promise<void> {
    const { ctx } = this;
    const leader = ctx.memberIds[leaderOf(height, round, ctx.memberIds.length)]!;
    const items = await this.exchange.bodiesOf(batch.acuIds, leader, 3);
    if (items === null) return; // Bodies never came: a lying leader; the round times out.
    if (bodyDigestOf(sha256Hex, items.map(acuRefOf)) !== batch.bodyDigest) return;
    const base = this.baseFor(height);
    if (base === null) return; // Behind: catch-up will bring the decision.
    const verdict = await ctx.chain.validate(base, items);
    if (verdict === null) {
      // No verdict (the type-check did not finish): sign nothing rather than a digest the other
      // nodes would not compute; the round times out or the others certify without this node.
      ctx.event('error', `height ${height} round ${round}: no verdict (the type-check did not finish); this node abstains`, { height, round });
      return;
    }
    const batchDigest = batchDigestOf({ digestHex: sha256Hex }, batch);
    this.remember(batchDigest, verdict);
    const invalid = verdict.invalid.length;
    const conflicts = verdict.conflicts.length;
    ctx.event('validated', `height ${height} round ${round}: ${items.length} ACUs, ${conflicts} conflict${conflicts === 1 ? '' : 's'}${invalid > 0 ? `, ${invalid} invalid` : ''}`, { height, round });
    ctx.submit({ type: 'validated', height, round, batchDigest, result: verdict.consensus });
  }

  /** This node's verdict on a batch built on `base`: the one kept, or a fresh one (null: no verdict). */
  async verdictFor(batch: Batch, base: string, items: readonly IdentifiedRecord[]): Promise<BatchVerdict | null> {
    const batchDigest = batchDigestOf({ digestHex: sha256Hex }, batch);
    const kept = this.verdicts.get(batchDigest);
    if (kept !== undefined) return kept;
    const verdict = await this.ctx.chain.validate(base, items);
    if (verdict !== null) this.remember(batchDigest, verdict);
    return verdict;
  }

  /**
   * The agreed commit a draft becomes on this node, computed and kept; null when this node cannot
   * say (behind, bodies missing, no verdict, or its verdict is not the certified one). It is
   * returned once its id is known: its objects' files are written once they are needed
   * ({@link AgreedOutcome.write}). One whose files fail is forgotten, so it is computed again.
   */
  async outcomeOf(height: number, draft: ValueDraft, patience: number): Promise<AgreedOutcome | null> {
    const draftId = draftIdOf({ digestHex: sha256Hex }, draft);
    const kept = this.outcomes.get(draftId);
    if (kept !== undefined) return kept;
    const items = await this.exchange.bodiesOf(draft.batch.acuIds, 'all', patience);
    if (items === null) return null;
    const base = this.baseFor(height);
    if (base === null) return null;
    const verdict = await this.verdictFor(draft.batch, base, items);
    if (verdict === null) return null;
    if (verdict.consensus.detailDigest !== draft.validation.detailDigest) {
      // Another verdict than the certified one would give another commit: say nothing rather
      // than PREPARE a value the honest quorum does not compute.
      this.ctx.event('error', `height ${height}: this node's validation differs from the certified one; it does not vote on the outcome`, { height });
      return null;
    }
    const outcome = await computeOutcome(this.ctx.chain, { height, parent: base, draft, items, verdict });
    this.outcomes.set(draftId, outcome);
    if (this.outcomes.size > verdictsKept) this.outcomes.delete(this.outcomes.keys().next().value!);
    outcome.written.catch((error: unknown) => {
      if (!this.forget(outcome)) return; // Dropped or computed again meanwhile: nothing to report.
      this.objectsFailed(height, error);
    });
    return outcome;
  }

  /** Forget a kept outcome (its files could not be written): whether it was still kept. */
  forget(outcome: AgreedOutcome): boolean {
    for (const [draftId, kept] of this.outcomes) {
      if (kept !== outcome) continue;
      this.outcomes.delete(draftId);
      return true;
    }
    return false;
  }

  /**
   * The replica's `outcome` effect: compute the draft's agreed commit and answer with its id, as
   * soon as the id is known. The files are not written yet: the id is a hash of the content, and
   * nothing names the commit before they are in (the writer writes them and waits for them).
   */
  async outcome(height: number, round: number, draft: ValueDraft): Promise<void> {
    const outcome = await this.outcomeOf(height, draft, 3);
    if (outcome === null) return; // The replica asks again.
    const draftId = draftIdOf({ digestHex: sha256Hex }, draft);
    this.ctx.submit({ type: 'outcome', height, round, draftId, outcome: outcome.commit });
  }
}
