// CI simulation at n = 7: every seed of the budget must end with no safety violation and no
// liveness failure. A failure prints the seed and the command that replays it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ciRangeN7 } from './ci.js';
import { describeFailure, runRange, summaryLine } from './run.js';

void test(`simulation: ${ciRangeN7.seeds} seeds at n = 7 with faults`, () => {
  const report = runRange(ciRangeN7, 5);
  const lines = report.failures.flatMap(describeFailure);
  assert.equal(report.failures.length, 0, [...lines, summaryLine(report)].join('\n'));
  assert.equal(report.seeds, ciRangeN7.seeds);
  assert.ok(report.decisions > ciRangeN7.seeds, 'the runs decide something');
});
