/**
 * From a validation result to the conflicts the replicas vote on: each conflict record becomes a
 * policy conflict between its two ACUs, with the scores the policies weigh (docs/policies.md).
 */
import { assert } from '../core/errors.js';
import type { Candidate, PolicyConflict } from '../core/policy/index.js';
import type { ValidationResult } from './result.js';

/** The conflicts of a result, in the result's order, ready for `resolveConflict`. */
export function policyConflicts(result: ValidationResult): PolicyConflict[] {
  const indexOf = new Map(result.acus.map((verdict, index) => [verdict.id, index]));
  const interference = new Map<string, number>();
  for (const [i, j, ij, ji] of result.scores.pairs) {
    interference.set(`${i},${j}`, ij ?? 0);
    interference.set(`${j},${i}`, ji ?? 0);
  }
  const candidate = (self: number, other: number): Candidate => {
    const verdict = result.acus[self]!;
    return { acuIds: [verdict.id], site: verdict.site, sequence: verdict.proposal, risk: verdict.risk, interference: interference.get(`${self},${other}`) ?? 0 };
  };
  return result.conflicts.map((conflict) => {
    const a = indexOf.get(conflict.acus[0]);
    const b = indexOf.get(conflict.acus[1]);
    assert(a !== undefined && b !== undefined, 'policyConflicts: conflict records name ACUs of the result');
    return { id: `${conflict.kind}:${conflict.acus[0]}:${conflict.acus[1]}`, a: candidate(a, b), b: candidate(b, a), bothValid: false };
  });
}
