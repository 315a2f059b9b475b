/**
 * Conflict votes: when a certified batch holds conflicts, the replica asks its host for one choice
 * per conflict. The node's policy (docs/policies.md) answers — at once for the automatic policies,
 * or once a person has voted with `acu vote` — and the answer goes back to the replica. People's
 * votes are logged before they count, and follow the ACUs they were cast on.
 */
import type { Choice, Effect } from '../core/consensus/index.js';
import { AcuError } from '../core/errors.js';
import { resolveConflict } from '../core/policy/index.js';
import type { Policy, PolicyConflict, Resolution } from '../core/policy/index.js';
import type { PersonVote } from './node-log.js';
import type { NodeContext, OpenConflict } from './node-types.js';
import type { BatchVerdict } from './batch.js';

/** Conflict ids whose sides are remembered for late votes, at most. */
const lastSidesMax = 1024;

interface PendingPolicy {
  readonly height: number;
  readonly round: number;
  readonly batchDigest: string;
  readonly validationDigest: string;
  readonly conflicts: readonly PolicyConflict[];
  readonly startedTick: number;
  readonly views: readonly OpenConflict[];
}

/** Where a replica stands, as the votes need it. */
export interface ReplicaPosition {
  readonly height: number;
  readonly round: number;
}

/** The conflict-vote side of a sync node. */
export class ConflictVotes {
  private pending: PendingPolicy | null = null;
  /**
   * The sides of every conflict id opened so far, latest round's: a person votes on what
   * `acu status` showed, and between two rounds (no conflict open at that instant) the vote must
   * still follow those ACUs rather than whatever the next round lists under the same id.
   */
  private readonly lastSides = new Map<string, [string, string]>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly policy: Policy,
    private readonly position: () => ReplicaPosition,
    private readonly nowTick: () => number,
  ) {}

  /** The conflicts open now, with this node's votes so far. */
  open(): readonly OpenConflict[] {
    return this.pending?.views ?? [];
  }

  /** The two ACU ids of conflict `id` as it was last opened (a before b), or null when none was. */
  sidesOf(id: string): readonly [string, string] | null {
    return this.lastSides.get(id) ?? null;
  }

  /** The replica asks for choices on a certified batch's conflicts. */
  start(effect: Extract<Effect, { type: 'policy' }>, verdict: BatchVerdict | undefined): void {
    const { memory } = this.ctx;
    const siteOf = (id: string): string => memory.records.get(id)?.record.origin.site ?? '';
    const whereOf = (id: string): string => {
      const acu = memory.records.get(id)?.record.acu;
      return acu === undefined ? id.slice(0, 12) : acu.level === 'decl' && acu.symbol !== '' ? `${acu.file}#${acu.symbol}` : acu.file;
    };
    const batch = effect.conflicts;
    // Sides are in canonical order (batch.ts); which one this round's batch lists first is the
    // sequence `prefer-earlier` looks at.
    const aFirst = (i: number): boolean => (verdict?.conflicts[i]?.earlier ?? 'a') === 'a';
    const conflicts: PolicyConflict[] = batch.map((c, i) => ({
      id: `${effect.height}.${i}`,
      a: { acuIds: [c.a], site: siteOf(c.a), sequence: aFirst(i) ? 0 : 1, risk: 0, interference: 0 },
      b: { acuIds: [c.b], site: siteOf(c.b), sequence: aFirst(i) ? 1 : 0, risk: 0, interference: 0 },
      bothValid: false,
    }));
    const views = batch.map((c, i) => ({
      id: `${effect.height}.${i}`, a: whereOf(c.a), b: whereOf(c.b), aSite: siteOf(c.a), bSite: siteOf(c.b),
      file: verdict?.conflicts[i]?.file ?? '', message: verdict?.conflicts[i]?.message ?? '', vote: null,
    }));
    this.pending = { ...effect, conflicts, startedTick: this.nowTick(), views };
    for (const c of conflicts) this.lastSides.set(c.id, [c.a.acuIds[0]!, c.b.acuIds[0]!]);
    if (this.lastSides.size > lastSidesMax) this.lastSides.delete(this.lastSides.keys().next().value!);
    for (const view of views) this.ctx.event('conflict', `conflict ${view.id}: ${view.a} vs ${view.b} (${view.message})`, { conflict: view.id });
    this.evaluate();
  }

  /** Ask the policy again (each tick, and when a person votes); submit the choices once all are made. */
  evaluate(): void {
    const pending = this.pending;
    if (pending === null) return;
    const status = this.position();
    if (status.height !== pending.height || status.round !== pending.round) {
      this.pending = null;
      return;
    }
    const votes = votesFor(pending.conflicts, this.ctx.memory.votes);
    const choices: Choice[] = [];
    const decided: (Resolution | null)[] = [];
    for (const conflict of pending.conflicts) {
      const answer = resolveConflict(this.policy, conflict, { votes, elapsedTicks: this.nowTick() - pending.startedTick });
      decided.push(answer.kind === 'choice' ? answer.resolution : null);
      if (answer.kind === 'choice') choices.push(consensusChoice(answer.resolution));
    }
    this.pending = { ...pending, views: pending.views.map((view, i) => ({ ...view, vote: decided[i] ?? null })) };
    if (choices.length !== pending.conflicts.length) return;
    this.pending = null;
    this.ctx.event('voted', `height ${pending.height}: votes ${choices.join(', ')}`, { height: pending.height, choices });
    this.ctx.submit({
      type: 'policy_vote', height: pending.height, round: pending.round, batchDigest: pending.batchDigest,
      validationDigest: pending.validationDigest, choices,
    });
  }

  /** A person's vote (`acu vote`): logged, then counted. */
  async personVote(conflict: string, choice: string): Promise<{ conflict: string; choice: string; open: boolean }> {
    const resolutions: readonly Resolution[] = ['keep-a', 'keep-b', 'keep-both', 'defer'];
    if (!(resolutions as readonly string[]).includes(choice)) {
      throw new AcuError('ERR_USAGE', `'${choice}' is not a choice`, { hint: `choose one of ${resolutions.join(', ')}` });
    }
    if (!/^\d+\.\d+$/.test(conflict)) throw new AcuError('ERR_USAGE', `'${conflict}' is not a conflict id`, { hint: "conflict ids look like '3.0'; 'acu status' lists the open ones" });
    const current = this.pending?.conflicts.find((c) => c.id === conflict);
    const sides: [string, string] | null = current === undefined ? this.lastSides.get(conflict) ?? null : [current.a.acuIds[0]!, current.b.acuIds[0]!];
    // Logged before it counts: a vote that was acted on must survive a restart.
    await this.ctx.log.append([{ k: 'vote', conflict, choice, sides }]);
    this.ctx.memory.votes.set(conflict, { choice, sides });
    const open = this.pending?.views.some((view) => view.id === conflict) ?? false;
    this.evaluate();
    return { conflict, choice, open };
  }
}

/**
 * People's votes for the conflicts open now, by their ids. A vote cast on an open conflict follows
 * its two ACUs: another round may list the conflicts in another order or swap a and b, and then
 * `keep-a` means the ACU that was a when the person voted. A vote cast before its conflict opened
 * applies to whatever conflict holds that id.
 */
export function votesFor(conflicts: readonly PolicyConflict[], stored: ReadonlyMap<string, PersonVote>): Map<string, Resolution> {
  const out = new Map<string, Resolution>();
  const swapped = (choice: Resolution): Resolution => (choice === 'keep-a' ? 'keep-b' : choice === 'keep-b' ? 'keep-a' : choice);
  for (const conflict of conflicts) {
    const [a, b] = [conflict.a.acuIds[0], conflict.b.acuIds[0]];
    let chosen: Resolution | undefined;
    for (const vote of stored.values()) {
      if (vote.sides === null) continue;
      if (vote.sides[0] === a && vote.sides[1] === b) chosen = vote.choice as Resolution;
      else if (vote.sides[0] === b && vote.sides[1] === a) chosen = swapped(vote.choice as Resolution);
    }
    const positional = stored.get(conflict.id);
    if (chosen === undefined && positional !== undefined && positional.sides === null) chosen = positional.choice as Resolution;
    if (chosen !== undefined) out.set(conflict.id, chosen);
  }
  return out;
}

function consensusChoice(resolution: Resolution): Choice {
  switch (resolution) {
    case 'keep-a':
      return 'keep_a';
    case 'keep-b':
      return 'keep_b';
    case 'keep-both':
      return 'keep_both';
    case 'defer':
      return 'defer_both';
  }
}
