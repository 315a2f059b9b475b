/**
 * The agreed-commit writer: every decided height becomes one git commit on `refs/acu/<branch>`
 * with its certificate as a note, in height order (docs/sync.md, "The agreed commit").
 *
 * Every decided height is written. A write that fails for a local reason — a held lock, a full
 * disk, a git process that died — is not the cluster's business: the writer logs it, shows it in
 * `acu status`, and tries again with a growing delay until it succeeds or the node stops. Later
 * heights wait behind it (each builds on the one before), and nothing about the failure leaves the
 * node. The record bodies and the certificate stay in the node's log, so a restart writes it too.
 */
import type { DecisionCert } from '../core/consensus/index.js';
import { defaultReplicaConfig } from '../core/consensus/index.js';
import { AcuError, assert, AssertionFailure } from '../core/errors.js';
import type { Rejection } from './batch.js';
import type { RecordExchange } from './exchange.js';
import { settle } from './node-log.js';
import type { CancelTimer } from './ports.js';
import type { NodeContext, WriteFailure } from './node-types.js';
import { decisionsKeptOf } from './node-types.js';
import type { IdentifiedRecord } from './records.js';
import type { NodeValidation } from './validation.js';

/** How often the replica asks again for an outcome its host could not give (L19a). */
const outcomeRetryTicks = defaultReplicaConfig(1, 0).outcomeRetryTicks;

/** First delay before retrying a failed write; it doubles up to {@link retryDelayMsMax}. */
const retryDelayMsMin = 250;
const retryDelayMsMax = 30_000;

/** The agreed-commit side of a sync node. */
export class AgreedWriter {
  /** Decided heights not written yet, by height. */
  private readonly queued = new Map<number, DecisionCert>();
  /**
   * The failing write `acu status` shows: the agreed commit's (`write`), or the proposed one's,
   * before the outcome was answered (`outcome`, over once an ask is answered) or after it, its
   * objects' files (`objects`, over once the commit is written).
   */
  private failure: (WriteFailure & { readonly atMs: number; readonly stage: 'write' | 'outcome' | 'objects' }) | null = null;
  private cancelRetry: CancelTimer | null = null;

  constructor(
    private readonly ctx: NodeContext,
    private readonly exchange: RecordExchange,
    private readonly validation: NodeValidation,
  ) {}

  /** The write failing now, if any, for `acu status`. */
  writeFailure(): WriteFailure | null {
    if (this.failure === null) return null;
    const { atMs, stage: _stage, ...rest } = this.failure;
    return { ...rest, retryInMs: Math.max(0, atMs - this.ctx.clock.nowMs()) };
  }

  /** A decided height: write it after every lower one. */
  enqueue(cert: DecisionCert): void {
    if (cert.height <= this.ctx.memory.writtenHeight) return;
    for (const id of cert.value.batch.acuIds) this.exchange.decidedUnwritten.add(id);
    this.queued.set(cert.height, cert);
    this.schedule();
  }

  private schedule(): void {
    if (this.cancelRetry !== null || this.ctx.isStopped()) return;
    void this.ctx.gitQueue.run(() => this.writeNext()).catch((error: unknown) => this.ctx.fail(error));
  }

  /** Write the lowest queued height when it is next in line; on a failure, retry later. */
  private async writeNext(): Promise<void> {
    const { ctx } = this;
    for (;;) {
      if (ctx.isStopped()) return; // The log still holds the decision; the next start writes it.
      const height = ctx.memory.writtenHeight + 1;
      const cert = this.queued.get(height);
      if (cert === undefined) {
        for (const h of this.queued.keys()) if (h < height) this.queued.delete(h);
        return;
      }
      let written: { readonly commit: string; readonly parent: string } | null;
      try {
        written = await this.write(cert);
      } catch (error) {
        if (!isLocalFailure(error)) throw error;
        this.retryLater(height, error);
        return;
      }
      this.queued.delete(height);
      this.failure = null;
      // Before the next height: a membership change in this commit decides who decides that one.
      if (written !== null) await ctx.afterWritten(height, written.commit, written.parent);
    }
  }

  private retryLater(height: number, error: unknown): void {
    const attempts = (this.failure?.height === height ? this.failure.attempts : 0) + 1;
    const delayMs = Math.min(retryDelayMsMax, retryDelayMsMin * 2 ** Math.min(attempts - 1, 16));
    const message = error instanceof Error ? error.message : String(error);
    const lock = /'([^']+\.lock)': File exists/.exec(message)?.[1];
    const hint = lock !== undefined
      ? `git's lock ${lock} is held; if no git process is running in this repository, remove that file`
      : error instanceof AcuError ? error.hint ?? null : null;
    this.failure = { height, message, hint, attempts, retryInMs: delayMs, atMs: this.ctx.clock.nowMs() + delayMs, stage: 'write' };
    this.ctx.event('write-failed', `height ${height}: could not write the agreed commit (attempt ${attempts}, retrying in ${delayMs} ms): ${message}${hint === null ? '' : ` (hint: ${hint})`}`, {
      height, attempts, retryInMs: delayMs,
    });
    this.cancelRetry = this.ctx.clock.after(delayMs, () => {
      this.cancelRetry = null;
      this.schedule();
    });
  }

  /** Write one decided height; its commit and parent, or null when the node stopped or its log failed. */
  private async write(cert: DecisionCert): Promise<{ readonly commit: string; readonly parent: string } | null> {
    const { ctx } = this;
    const startedMs = performance.now();
    const height = cert.height;
    const parent = this.validation.baseFor(height);
    assert(parent !== null, 'decisions are written in height order');
    const outcome = await this.validation.outcomeOf(height, cert.value, Number.MAX_SAFE_INTEGER);
    if (outcome === null) {
      if (ctx.isStopped()) return null;
      throw new AcuError('ERR_NODE', `height ${height}: this node cannot compute the decided commit (its validation of the batch differs, or gives no verdict)`, {
        hint: "every node must run the same acu version with the same --validation mode; 'acu status' on the other sites shows theirs",
      });
    }
    if (outcome.commit !== cert.value.outcome) {
      throw new AcuError('ERR_NODE', `height ${height}: the cluster certified commit ${cert.value.outcome.slice(0, 12)}, but this node composes ${outcome.commit.slice(0, 12)}`, {
        hint: 'this node builds on other history or runs another acu version than the quorum; restart it from the same genesis and version',
      });
    }
    const commit = outcome.commit;
    // The outcome was answered once its id was known; its files are written now. Nothing names the
    // commit before they are in. A failed write is a local failure like any other: the outcome is
    // forgotten, and the retry computes it again, which writes the files again.
    try {
      await outcome.write();
    } catch (error) {
      this.validation.forget(outcome);
      throw error;
    }
    const items = (await this.exchange.bodiesOf(cert.value.batch.acuIds, 'all', 0)) ?? [];
    await ctx.chain.writeNote({
      branch: ctx.cluster.branch, commit, parentCommit: parent, cert, records: items, applied: outcome.applied,
      deferred: outcome.deferred, rejected: outcome.rejected, memberIds: ctx.memberIds,
    });
    await ctx.chain.setAgreed(ctx.cluster.branch, commit);
    if (ctx.options.fastForward === true) {
      const moved = await ctx.chain.fastForward(ctx.cluster.branch, commit);
      if (moved === 'checked-out') ctx.event('skipped', `height ${height}: '${ctx.cluster.branch}' is checked out in a work tree; not moved (fast-forward it there with 'git merge --ff-only ${commit.slice(0, 12)}')`);
    }
    const settled = cert.value.batch.acuIds;
    try {
      await ctx.log.append([{ k: 'written', height, commit, settled }]);
    } catch (error) {
      // The log failing is not a local git failure to retry: the node stops signing now.
      ctx.fail(error);
      return null;
    }
    ctx.options.observer?.agreedWritten?.((performance.now() - startedMs) / 1000);
    ctx.memory.writtenHeight = height;
    ctx.memory.writtenCommit = commit;
    settle(ctx.memory, height, settled, decisionsKeptOf(ctx.options));
    for (const id of settled) this.exchange.decidedUnwritten.delete(id);
    const { applied, deferred, rejected } = outcome;
    ctx.event('agreed', `height ${height}: agreed commit ${commit.slice(0, 12)} (${applied.length} applied, ${deferred.length} deferred, ${rejected.length} rejected)`, {
      height, commit, applied: applied.length, deferred: deferred.length, rejected: rejected.length,
      // Who to tell (notifications, src/ops/notify.ts): each ACU not applied, its reason and author.
      notApplied: notAppliedOf(items, deferred, rejected),
    });
    return { commit, parent };
  }

  /**
   * Computing the outcome the replica asked for failed (a git read, a full disk, a git process that
   * died), or, once it was answered, writing its objects' files did (`answered`). A local failure
   * is reported. An unanswered ask is left for the replica, which asks again every
   * `outcomeRetryTicks` (L19a): the next try may succeed, and meanwhile the others can decide
   * without this node. Files that failed after the answer are written again when the commit is
   * (the outcome was forgotten, so it is computed again). Anything else is our bug and stops the node.
   */
  outcomeFailed(height: number, error: unknown, answered = false): void {
    if (!isLocalFailure(error)) {
      this.ctx.fail(error);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    const then = answered ? 'written again when the commit is' : 'asked again shortly';
    this.ctx.event('write-failed', `height ${height}: could not write the proposed agreed commit (${then}): ${message}`, { height });
    // Shown in `acu status` unless a failing write of a decided commit is shown already.
    if (this.failure?.stage === 'write') return;
    const attempts = (this.failure?.height === height ? this.failure.attempts : 0) + 1;
    // The replica asks again every outcomeRetryTicks (L19a). Files that failed after the answer
    // are written again when the outcome is next computed: at the next ask, or by the writer.
    const retryInMs = this.ctx.options.tickMs * outcomeRetryTicks;
    const hint = error instanceof AcuError ? error.hint ?? null : null;
    const stage = answered ? 'objects' : 'outcome';
    this.failure = { height, message: `could not write the proposed agreed commit: ${message}`, hint, attempts, retryInMs, atMs: this.ctx.clock.nowMs() + retryInMs, stage };
  }

  /** The replica's request for an outcome was answered: a failure of an earlier try is over. */
  outcomeDone(height: number): void {
    if (this.failure?.stage === 'outcome' && this.failure.height <= height) this.failure = null;
  }

  /** Stop retrying (the node is stopping). */
  stop(): void {
    this.cancelRetry?.();
    this.cancelRetry = null;
  }
}

/**
 * A failure of this machine rather than of the decision: git refused or failed (a held lock, a full
 * disk, a killed process) or the file system did. Our own bugs (assertions) are not retried.
 */
function isLocalFailure(error: unknown): boolean {
  if (error instanceof AssertionFailure) return false;
  if (error instanceof AcuError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** ACUs listed with their authors in one 'agreed' event, at most (the counts stay exact). */
const notAppliedAcusMax = 50;

/** The deferred and rejected ACUs of an outcome, with where they came from and who wrote them. */
function notAppliedOf(items: readonly IdentifiedRecord[], deferred: readonly Rejection[], rejected: readonly Rejection[]): Record<string, unknown>[] {
  const byId = new Map(items.map((item) => [item.id, item.record]));
  const listed = [...deferred.map((r) => ({ r, outcome: 'deferred' })), ...rejected.map((r) => ({ r, outcome: 'rejected' }))].slice(0, notAppliedAcusMax);
  return listed.map(({ r, outcome }) => {
    const record = byId.get(r.id);
    return {
      id: r.id, outcome, reason: r.reason, file: record?.acu.file ?? '', symbol: record !== undefined && record.acu.level === 'decl' ? record.acu.symbol : '',
      site: record?.origin.site ?? '', author: record === undefined ? '' : `${record.origin.authorName} <${record.origin.authorEmail}>`, subject: record?.origin.subject ?? '',
    };
  });
}
