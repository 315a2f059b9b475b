// The host simulator in CI: 1,000 seeds of whole sync nodes on the in-memory ports, with faults at
// every effect (host-world.ts), none left out. Every seed must end with no violation and no liveness
// failure; a failure prints the seed and the command that replays it. CPU time is printed (seeds and
// CPU per seed), not asserted: `npm run bench:host-sim` measures more seeds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeHostFailure, hostSummaryLine, runHostRange } from './host-run.js';
import type { HostRange } from './host-run.js';
import { runHostSeed } from './host-world.js';

const ranges: readonly HostRange[] = [
  { from: 1, seeds: 900, nodes: 4 },
  { from: 1, seeds: 100, nodes: 7 },
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
    assert.equal(report.seeds, range.seeds, 'no seed is left out');
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
