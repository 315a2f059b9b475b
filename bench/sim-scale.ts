/**
 * `node dist/bench/sim-scale.js`: the consensus at scale, in simulation. n = 4, 7, 31 and 100
 * replicas, no faults, every link one tick = one 50 ms one-way delay; reports decision latency in
 * one-way delays and messages per decision (docs/benchmarks.md, "Consensus (simulation)").
 */
import { performance } from 'node:perf_hooks';
import { runScenario } from '../test/sim/world.js';
import type { SimOptions } from '../test/sim/options.js';

const linkMs = 50;

function scenario(replicas: number, conflicts: boolean, relayThresholdReplicas: number): SimOptions {
  return {
    seed: 1000 + replicas, replicas, byzantine: [], mutation: 'none', faultTicks: 1, dropP: 0, duplicateP: 0,
    delayTicksMax: 1, stableDelayTicksMax: 1, partitions: [], crashP: 0, crashesMax: 0, downTicksMax: 1,
    acus: 40, symbols: conflicts ? 12 : 100_000, submitWaves: 1, validationDelayTicksMax: 0,
    relayThresholdReplicas, stableTicksMax: 20_000, batchAcusMax: 8,
  };
}

console.log('| n | f | votes | conflicts | heights | latency, first decision (one-way delays) | latency, mean over replicas | at 50 ms links | messages / decision | wall ms |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const runs: { replicas: number; conflicts: boolean; relayThresholdReplicas: number }[] = [];
for (const replicas of [4, 7, 31, 100]) {
  for (const conflicts of [false, true]) runs.push({ replicas, conflicts, relayThresholdReplicas: 16 });
}
// For comparison: the large clusters with all-to-all votes, as if there were no relay threshold.
for (const replicas of [31, 100]) runs.push({ replicas, conflicts: false, relayThresholdReplicas: 1000 });

for (const { replicas, conflicts, relayThresholdReplicas } of runs) {
  const started = performance.now();
  const result = runScenario(scenario(replicas, conflicts, relayThresholdReplicas));
  const wallMs = performance.now() - started;
  if (result.violations.length > 0 || result.liveness !== null) {
    console.log(`n = ${replicas}: FAILED ${[...result.violations, result.liveness].join('; ')}`);
    process.exitCode = 1;
    continue;
  }
  const first = result.decisionLatencyTicks.reduce((a, b) => a + b, 0) / result.decisionLatencyTicks.length;
  const mean = result.meanReplicaLatencyTicks;
  const f = Math.floor((replicas - 1) / 3);
  const mode = replicas > relayThresholdReplicas ? 'to leader, relayed' : 'all-to-all';
  console.log(`| ${replicas} | ${f} | ${mode} | ${conflicts ? 'yes' : 'no'} | ${result.decisions} | ${first.toFixed(2)} | ${mean.toFixed(2)} | ${(mean * linkMs).toFixed(0)} ms | ${(result.messagesSent / result.decisions).toFixed(0)} | ${wallMs.toFixed(0)} |`);
}
