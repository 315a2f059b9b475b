/**
 * The conflict-resolution tally: a deterministic function of the quorum of votes the leader chose
 * (protocol.md L18). Every replica that sees the same RESOLVE computes the same resolution.
 */
import { assert } from '../errors.js';
import { choicesInTieBreakOrder } from './types.js';
import type { Choice, TallyVote, VoteMsg } from './types.js';

/**
 * Per conflict, the choice with the most votes; a tie goes to the earliest choice in
 * {@link choicesInTieBreakOrder} (deferring is the conservative outcome).
 */
export function tallyResolution(votes: readonly VoteMsg[], conflicts: number): Choice[] {
  return tallyChoices(votes.map((vote) => ({ from: vote.from, choices: vote.body.choices })), conflicts);
}

/** The votes of a RESOLVE as a value carries them: their choices, by replica, in replica order. */
export function tallyOf(votes: readonly VoteMsg[]): TallyVote[] {
  const tally = votes.map((vote) => ({ from: vote.from, choices: vote.body.choices })).sort((a, b) => a.from - b.from);
  assert(tally.every((vote, i) => i === 0 || tally[i - 1]!.from < vote.from), 'a quorum has one vote per replica');
  return tally;
}

/** {@link tallyResolution} of the choices a value carries (the same rule, without the signatures). */
export function tallyChoices(votes: readonly TallyVote[], conflicts: number): Choice[] {
  assert(votes.length > 0, 'a tally needs votes');
  assert(votes.every((vote) => vote.choices.length === conflicts), 'every vote covers every conflict');
  const resolution: Choice[] = [];
  for (let i = 0; i < conflicts; i += 1) {
    let best: Choice = choicesInTieBreakOrder[0] ?? 'defer_both';
    let bestCount = -1;
    for (const choice of choicesInTieBreakOrder) {
      const count = votes.filter((vote) => vote.choices[i] === choice).length;
      if (count > bestCount) {
        best = choice;
        bestCount = count;
      }
    }
    resolution.push(best);
  }
  assert(resolution.length === conflicts, 'one choice per conflict');
  return resolution;
}

/** Which of a batch's ACUs a resolved value applies, and which it defers (protocol.md §4). */
export function outcomeOf(acuIds: readonly string[], conflicts: readonly { a: string; b: string }[], resolution: readonly Choice[]): {
  applied: string[];
  deferred: string[];
} {
  assert(conflicts.length === resolution.length, 'one choice per conflict');
  const deferred = new Set<string>();
  conflicts.forEach((conflict, i) => {
    const choice = resolution[i];
    if (choice === 'keep_a' || choice === 'defer_both') deferred.add(conflict.b);
    if (choice === 'keep_b' || choice === 'defer_both') deferred.add(conflict.a);
  });
  return { applied: acuIds.filter((id) => !deferred.has(id)), deferred: acuIds.filter((id) => deferred.has(id)) };
}
