// Teeth: each test-only mutation breaks one rule of the protocol; the simulator must catch every
// one within the CI seed budget. The search walks the CI seeds in order and stops at the first
// failure, so the test is as fast as the breakage is easy to find.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Mutation } from '../../src/core/consensus/index.js';
import { ciRangeN4, ciRangeN7 } from './ci.js';
import { runRange } from './run.js';

const mutations: readonly { mutation: Mutation; rule: string }[] = [
  { mutation: 'quorum_minus_one', rule: 'certificates need a full quorum (2f + 1 when n = 3f + 1)' },
  { mutation: 'send_before_persist', rule: 'persist before send' },
  { mutation: 'skip_lock_check', rule: 'the lock rule' },
  { mutation: 'prepare_without_outcome', rule: 'prepare only the outcome its own host computed' },
];

for (const { mutation, rule } of mutations) {
  void test(`teeth: breaking ${rule} (${mutation}) is caught within the CI seeds`, () => {
    // n = 7 first: two Byzantine replicas find every mutation sooner than one.
    for (const range of [ciRangeN7, ciRangeN4]) {
      const report = runRange({ ...range, mutation }, 1);
      if (report.safetyViolations > 0) {
        const failure = report.failures[0];
        assert.ok(failure !== undefined);
        assert.match(failure.replay, new RegExp(`--mutation ${mutation}`));
        return;
      }
    }
    assert.fail(`the simulator did not catch ${mutation} in ${ciRangeN7.seeds + ciRangeN4.seeds} seeds`);
  });
}
