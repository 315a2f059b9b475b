/**
 * `npm run bench:host-sim -- [--seeds N] [--from S] [--replicas n]`: runs host-simulator seeds
 * (test/sim/host-world.ts: whole sync nodes on the in-memory ports) and prints seeds per second
 * and CPU time per seed, with the failures and their replay commands.
 */
import { describeHostFailure, hostSummaryLine, runHostRange } from '../test/sim/host-run.js';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} takes a positive integer`);
  return value;
}

const seeds = flag('--seeds', 2_000);
const from = flag('--from', 10_001);
const nodes = flag('--replicas', 4);
const cpuBefore = process.cpuUsage();
const startedMs = performance.now();
const report = await runHostRange({ from, seeds, nodes });
const wallMs = performance.now() - startedMs;
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
for (const failure of report.failures) for (const line of describeHostFailure(failure)) console.log(line);
console.log(hostSummaryLine(report, nodes));
console.log(`bench:host-sim n = ${nodes}: ${report.seeds} seeds in ${(wallMs / 1000).toFixed(1)} s: ${(report.seeds / (wallMs / 1000)).toFixed(1)} seeds/s, ${(cpuMs / report.seeds).toFixed(1)} ms CPU per seed, ${Math.round(report.steps / report.seeds)} steps per seed`);
process.exitCode = report.failures.length > 0 ? 1 : 0;
