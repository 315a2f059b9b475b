// CI simulation at n = 4: every seed of the budget must end with no safety violation and no
// liveness failure. A failure prints the seed and the command that replays it.
import { test } from 'node:test';
import { assertCiRange, ciRangeN4 } from './ci.js';

void test(`simulation: ${ciRangeN4.seeds} seeds at n = 4 with faults`, () => {
  assertCiRange(ciRangeN4);
});
