// CI simulation at n = 7: every seed of the budget must end with no safety violation and no
// liveness failure. A failure prints the seed and the command that replays it.
import { test } from 'node:test';
import { assertCiRange, ciRangeN7 } from './ci.js';

void test(`simulation: ${ciRangeN7.seeds} seeds at n = 7 with faults`, () => {
  assertCiRange(ciRangeN7);
});
