/**
 * `npm run bench:sim [-- --seeds N] [--replicas n] [--workers W]`: runs N simulator seeds (a
 * million by default) across worker threads and reports seeds per second. Not run by CI.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { runRange, summaryLine } from '../test/sim/run.js';
import type { RangeReport, SeedRange } from '../test/sim/run.js';

interface Job {
  readonly range: SeedRange;
}

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i === -1 ? undefined : Number(process.argv[i + 1]);
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

async function main(): Promise<void> {
  const seeds = argValue('--seeds', 1_000_000);
  const replicas = argValue('--replicas', 4);
  const workers = argValue('--workers', availableParallelism());
  const from = argValue('--from', 1);
  const byzantine = Math.floor((replicas - 1) / 3);
  const per = Math.ceil(seeds / workers);
  const started = performance.now();
  const jobs: Promise<RangeReport>[] = [];
  for (let w = 0; w < workers; w += 1) {
    const count = Math.max(0, Math.min(per, seeds - w * per));
    if (count === 0) continue;
    const job: Job = { range: { from: from + w * per, seeds: count, replicas, byzantine, mutation: 'none' } };
    jobs.push(new Promise((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: job });
      worker.once('message', (report: RangeReport) => resolve(report));
      worker.once('error', reject);
    }));
  }
  const reports = await Promise.all(jobs);
  const seconds = (performance.now() - started) / 1000;
  const total = {
    seeds: reports.reduce((a, r) => a + r.seeds, 0),
    safetyViolations: reports.reduce((a, r) => a + r.safetyViolations, 0),
    livenessFailures: reports.reduce((a, r) => a + r.livenessFailures, 0),
  };
  for (const report of reports) for (const failure of report.failures) console.log(`failure: ${failure.replay}`);
  console.log(`bench:sim: n = ${replicas}, ${workers} workers, ${total.seeds} seeds in ${seconds.toFixed(1)} s = ${(total.seeds / seconds).toFixed(0)} seeds/s`);
  console.log(summaryLine(total));
  process.exitCode = total.safetyViolations + total.livenessFailures > 0 ? 1 : 0;
}

if (isMainThread) {
  await main();
} else {
  const job = workerData as Job;
  const report = runRange(job.range, 20);
  parentPort?.postMessage({ ...report, failures: report.failures.map((f) => ({ replay: f.replay, result: { ...f.result } })) });
}
