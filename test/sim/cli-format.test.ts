// The simulator's output contract: the summary line, the replay command, and that a replayed seed
// reproduces its run exactly (determinism).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { optionsForSeed } from './options.js';
import { replayCommand, runRange, summaryLine } from './run.js';
import { runScenario } from './world.js';

void test('summary line and replay command', () => {
  assert.equal(summaryLine({ seeds: 10, safetyViolations: 1, livenessFailures: 2 }), 'sim: 10 seeds, 1 safety violations, 2 liveness failures');
  assert.equal(replayCommand(42, { replicas: 7, byzantine: 2, mutation: 'none' }), 'npm run sim -- --seeds 1 --from 42 --replicas 7 --byzantine 2');
  const report = runRange({ from: 133, seeds: 1, replicas: 4, byzantine: 1, mutation: 'send_before_persist' });
  assert.equal(report.failures[0]?.replay, 'npm run sim -- --seeds 1 --from 133 --replicas 4 --byzantine 1 --mutation send_before_persist');
});

void test('a seed replays exactly', () => {
  for (const seed of [3, 1879, 77]) {
    const a = runScenario(optionsForSeed(seed, 7, 2, 'none'));
    const b = runScenario(optionsForSeed(seed, 7, 2, 'none'));
    assert.deepEqual(a, b);
  }
});
