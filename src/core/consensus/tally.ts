/**
 * The conflict-resolution tally: a deterministic function of the quorum of votes the leader chose
 * (protocol.md L18). Every replica that sees the same RESOLVE computes the same resolution.
 */
import { assert } from '../errors.js';
import { choicesInTieBreakOrder } from './types.js';
import type { Choice, VoteMsg } from './types.js';

/**
 * Per conflict, the choice with the most votes; a tie goes to the earliest choice in
 * {@link choicesInTieBreakOrder} (deferring is the conservative outcome).
 */
export function tallyResolution(votes: readonly VoteMsg[], conflicts: number): Choice[] {
  assert(votes.length > 0, 'a tally needs votes');
  assert(votes.every((vote) => vote.body.choices.length === conflicts), 'every vote covers every conflict');
  const resolution: Choice[] = [];
  for (let i = 0; i < conflicts; i += 1) {
    let best: Choice = choicesInTieBreakOrder[0] ?? 'defer_both';
    let bestCount = -1;
    for (const choice of choicesInTieBreakOrder) {
      const count = votes.filter((vote) => vote.body.choices[i] === choice).length;
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
