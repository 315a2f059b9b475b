// The host simulator in CI: 1,000 seeds of whole sync nodes on the in-memory ports, with faults at
// every effect (host-world.ts). Every seed must end with no violation and no liveness failure; a
// failure prints the seed and the command that replays it. CPU time is printed, not asserted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeHostFailure, hostSummaryLine, runHostRange } from './host-run.js';
import type { HostRange } from './host-run.js';
import { runHostSeed } from './host-world.js';

/** Bug 1 (liveness): a node left behind after GST (its log failed or it crashed just as the others
 * decided) stays one or more heights behind for good once the cluster has nothing new to decide;
 * catch-up does not bring it the decisions it lacks. */
const behind = 'bug 1: a node left behind after GST never catches up (liveness)';
/** Bug 2: after a log append fails outside the effect loop (a proposal's records; the writer's
 * `written` entry, retried as a local failure), the node keeps running and sends consensus
 * messages it signs after the failure. */
const signs = 'bug 2: a node whose log failed keeps signing';

/**
 * Seeds of the default run that find a host bug not fixed yet (reported; docs/sync.md, "Testing the
 * host"). Each is left out with the bug it finds; remove it once the bug is fixed.
 */
const knownBugSeedsN4 = new Map<number, string>([
  ...[1, 18, 121, 141, 164, 186, 199, 208, 221, 246, 272, 276, 328, 340, 417, 443, 503, 555, 609, 613, 633, 713, 740, 748, 749, 798].map((seed) => [seed, behind] as const),
  ...[248, 251, 316, 460, 509, 581, 582, 709, 736].map((seed) => [seed, signs] as const),
]);
const knownBugSeedsN7 = new Map<number, string>([
  ...[18, 28, 64, 65, 71, 89, 102, 103, 113, 116, 127].map((seed) => [seed, behind] as const),
  [129, signs],
]);

const ranges: readonly HostRange[] = [
  { from: 1, seeds: 850, nodes: 4, skip: knownBugSeedsN4 },
  { from: 1, seeds: 150, nodes: 7, skip: knownBugSeedsN7 },
];

for (const range of ranges) {
  void test(`host simulation: ${range.seeds} seeds at n = ${range.nodes}`, async () => {
    const before = process.cpuUsage();
    const report = await runHostRange(range, 5);
    const cpu = process.cpuUsage(before);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const lines = report.failures.flatMap(describeHostFailure);
    console.log(`${hostSummaryLine(report, range.nodes)}; ${cpuMs.toFixed(0)} ms CPU, ${(cpuMs / Math.max(1, report.seeds)).toFixed(1)} ms per seed`);
    assert.equal(report.failures.length, 0, [...lines, hostSummaryLine(report, range.nodes)].join('\n'));
    assert.equal(report.seeds + report.skipped, range.seeds);
    assert.ok(report.heights > report.seeds, 'the runs write agreed commits');
    assert.ok(report.faults > 0, 'the runs inject faults');
  });
}

void test('a host seed replays exactly', async () => {
  for (const seed of [5, 8]) {
    const a = await runHostSeed(seed, 4);
    const b = await runHostSeed(seed, 4);
    assert.deepEqual(a, b);
  }
});
