/**
 * `npm run bench:merge -- [<repo>] [--limit N] [--seed S] [--files N] [--rounds R] [--no-driver]`
 *
 * Collects the file scenarios of a history's merges (files changed on both sides since the merge
 * base, as `acu replay-merges` does), then times, per file, acu's composeFile (in process) and
 * `git merge-file` (one process per file, as a merge driver or replay would run it). Prints both
 * distributions and ends with
 * `bench:merge scenarios=N acu_p50_ms=X acu_p95_ms=Y git_p50_ms=Z`.
 *
 * Then (unless --no-driver) the merge driver's cost per file as git runs it, over the first
 * `--files` TypeScript scenarios driven through real `git merge` (merge-driver.ts), ending with
 * `bench:merge-driver files=N bare_p50_ms=... warm_p50_ms=... warm_ratio=... cold_first_p50_ms=...`.
 */
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GitRepo } from '../src/git/index.js';
import { composeFile } from '../src/compose/file.js';
import { MergeFileRunner, percentile, sampleMerges, scenariosOrSkip } from '../src/compose/replay.js';
import { listMergeCommits } from '../src/git/history.js';
import type { Scenario } from '../src/compose/replay.js';
import { benchDriver } from './merge-driver.js';

/** Scenarios merged untimed first, so the timings are of compiled code, not of the JIT warming up. */
const warmupScenarios = 20;

async function collect(repoDir: string, limit: number | undefined, seed: number): Promise<Scenario[]> {
  const repo = await GitRepo.open(repoDir);
  try {
    const scenarios: Scenario[] = [];
    for (const merge of sampleMerges(await listMergeCommits(repo), limit, seed)) scenarios.push(...((await scenariosOrSkip(repo, merge)) ?? []));
    return scenarios;
  } finally {
    await repo.close();
  }
}

function timeAcu(scenarios: readonly Scenario[]): number[] {
  for (const s of scenarios.slice(0, warmupScenarios)) composeFile(s);
  return scenarios.map((s) => {
    const started = performance.now();
    composeFile(s);
    return performance.now() - started;
  });
}

async function timeGit(scenarios: readonly Scenario[]): Promise<number[]> {
  const runner = await MergeFileRunner.create();
  try {
    const times: number[] = [];
    for (const s of scenarios) times.push((await runner.merge(s.base, s.ours, s.theirs)).ms);
    return times;
  } finally {
    await runner.close();
  }
}

function line(name: string, ms: readonly number[]): string {
  const f = (q: number): string => percentile(ms, q).toFixed(1);
  return `${name.padEnd(16)} p50 ${f(0.5)} ms  p90 ${f(0.9)} ms  p95 ${f(0.95)} ms  p99 ${f(0.99)} ms  max ${f(1)} ms`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { limit: { type: 'string' }, seed: { type: 'string' }, files: { type: 'string' }, rounds: { type: 'string' }, 'no-driver': { type: 'boolean' } } });
  const repoDir = resolve(positionals[0] ?? '.');
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  const scenarios = await collect(repoDir, limit, seed);
  const acu = timeAcu(scenarios);
  const git = await timeGit(scenarios);
  const bytes = scenarios.reduce((n, s) => n + s.ours.length, 0);
  console.log(`repository ${repoDir}: ${scenarios.length} file scenarios, ${(bytes / 1e6).toFixed(1)} MB (ours)`);
  console.log(line('acu composeFile', acu));
  console.log(line('git merge-file', git));
  const f = (ms: number[], q: number): string => percentile(ms, q).toFixed(1);
  console.log(`bench:merge scenarios=${scenarios.length} acu_p50_ms=${f(acu, 0.5)} acu_p95_ms=${f(acu, 0.95)} git_p50_ms=${f(git, 0.5)}`);
  if (values['no-driver'] === true) return;
  const report = await benchDriver(scenarios, { files: Number(values.files ?? 24), rounds: Number(values.rounds ?? 3) });
  const r = (ms: number): string => ms.toFixed(0);
  console.log(
    `bench:merge-driver files=${report.files} bare_p50_ms=${r(report.bareP50Ms)} warm_p50_ms=${r(report.warmP50Ms)} warm_ratio=${(report.warmP50Ms / report.bareP50Ms).toFixed(2)}`
      + ` cold_first_p50_ms=${r(report.coldFirstP50Ms)} inprocess_driver_p50_ms=${r(report.inProcessDriverP50Ms)} merge_file_p50_ms=${r(report.mergeFileP50Ms)}`
      + ` merge_p50_ms=${report.mergeP50Ms.toFixed(1)} warm_cpu_ms=${r(report.warmCpuMs)} bare_cpu_ms=${r(report.bareCpuMs)} cpu_ratio=${(report.warmCpuMs / report.bareCpuMs).toFixed(2)}`,
  );
}

await main();
