/**
 * The CI seed budget: 10,000 seeds with faults, over n = 4 (f = 1) and n = 7 (f = 2). Sized so the
 * two suites together stay within about three minutes on two slow cores (docs/benchmarks.md).
 */
import assert from 'node:assert/strict';
import { describeFailure, runRange, summaryLine } from './run.js';
import type { SeedRange } from './run.js';

/** Seeds CI runs at n = 4. */
export const ciRangeN4: SeedRange = { from: 1, seeds: 7500, replicas: 4, byzantine: 1, mutation: 'none' };

/** Seeds CI runs at n = 7. */
export const ciRangeN7: SeedRange = { from: 1, seeds: 2500, replicas: 7, byzantine: 2, mutation: 'none' };

/**
 * The CI check of one range (each suite, n = 4 and n = 7, in a file of its own, so that the two run
 * side by side): every seed ends with no safety violation and no liveness failure, a failure
 * printing the first five failing seeds and the commands that replay them; and the runs decide
 * something.
 */
export function assertCiRange(range: SeedRange): void {
  const report = runRange(range, 5);
  const lines = report.failures.flatMap(describeFailure);
  assert.equal(report.failures.length, 0, [...lines, summaryLine(report)].join('\n'));
  assert.equal(report.seeds, range.seeds);
  assert.ok(report.decisions > range.seeds, 'the runs decide something');
}
