/**
 * The merge driver's cost per file as git runs it. The chosen scenarios become one scratch
 * repository (base, ours and theirs commits with one file per scenario); `git merge` then runs a
 * driver per file, configured in turn as: a bare `node -e 0` (the floor for any node driver),
 * `git merge-file`, acu with the service off (everything in the driver process), acu cold (the
 * service killed before each merge: the first file starts it), and acu warm (service up). Per file:
 * wall time from trace2 (start to exit of the driver, as git waits for it), and CPU per file: the
 * driver processes and git, plus the service's own CPU where one serves.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixtureRepo } from '../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import type { Scenario } from '../src/compose/replay.js';
import { mergeForDriver } from '../src/compose/service-merge.js';
import { buildId, runtimeDirectory, servicePidPath, serviceSocketPath } from '../src/compose/service-protocol.js';
import { launcherCommand, shellQuote } from '../src/git/launcher.js';
import { costRow, processCpuMs, quantile, runGitTraced } from './git-children.js';

/** How the driver bench is run. */
export interface DriverBenchOptions {
  /** Files per merge (TypeScript scenarios, in the sampled order). */
  readonly files: number;
  /** Merges per configuration. */
  readonly rounds: number;
}

/** The figures, for the summary line. */
export interface DriverBenchReport {
  readonly files: number;
  readonly bareP50Ms: number;
  readonly warmP50Ms: number;
  readonly coldFirstP50Ms: number;
  readonly inProcessDriverP50Ms: number;
  readonly mergeFileP50Ms: number;
  readonly mergeP50Ms: number;
  readonly warmCpuMs: number;
  readonly bareCpuMs: number;
}

const marker = 'bench-driver';

async function scratchRepo(scenarios: readonly Scenario[]): Promise<string> {
  const dir = await makeTempDir('bench-driver');
  const name = (s: Scenario, i: number): string => `f${String(i).padStart(3, '0')}-${s.path.split('/').pop() ?? 'file.ts'}`;
  const files = (pick: (s: Scenario) => string): Record<string, string> => Object.fromEntries(scenarios.map((s, i) => [name(s, i), pick(s)]));
  await buildFixtureRepo(dir, {
    commits: [
      { id: 'base', files: files((s) => s.base) },
      { id: 'theirs', parents: ['base'], branch: 'theirs', files: files((s) => s.theirs) },
      { id: 'ours', parents: ['base'], files: files((s) => s.ours) },
    ],
    tags: { ours: 'ours' },
  });
  mkdirSync(join(dir, '.git', 'info'), { recursive: true });
  writeFileSync(join(dir, '.git', 'info', 'attributes'), '* merge=bench\n');
  return dir;
}

interface Mode {
  readonly name: string;
  readonly driver: string;
  readonly env: Record<string, string>;
  /** Kill the service before each merge (the cold case). */
  readonly cold?: boolean;
}

function servicePid(env: Record<string, string>): number | null {
  const dir = runtimeDirectory(env);
  const socket = dir === null ? null : serviceSocketPath(dir, buildId());
  if (socket === null || !existsSync(servicePidPath(socket))) return null;
  const pid = Number(readFileSync(servicePidPath(socket), 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

function stopService(env: Record<string, string>): void {
  const pid = servicePid(env);
  if (pid === null) return;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 1000; i += 1) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    execFileSync('sleep', ['0.01']);
  }
}

interface Measured {
  readonly childMs: number[];
  readonly firstMs: number[];
  cpuMs: number;
  files: number;
}

/** One merge in one mode, added to `into`: each driver's wall time, and the CPU it took. */
function measureOnce(dir: string, mode: Mode, into: Measured): void {
  const env = { ...process.env, ...mode.env, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' };
  execFileSync('git', ['reset', '-q', '--hard', 'ours'], { cwd: dir, env });
  if (mode.cold === true) stopService(mode.env);
  const servicePidBefore = servicePid(mode.env);
  const serviceBefore = processCpuMs(servicePidBefore);
  const run = runGitTraced(dir, ['-c', `merge.bench.driver=${mode.driver}`, '-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'merge', '--no-edit', '-q', 'theirs'], env, marker);
  const pidAfter = servicePid(mode.env);
  const serviceCpu = pidAfter === null ? 0 : processCpuMs(pidAfter) - (pidAfter === servicePidBefore ? serviceBefore : 0);
  into.cpuMs += run.cpuMs + serviceCpu;
  into.files += run.childMs.length;
  into.firstMs.push(run.childMs[0] ?? NaN);
  into.childMs.push(...(mode.cold === true ? run.childMs.slice(1) : run.childMs));
  spawnSync('git', ['merge', '--abort'], { cwd: dir, env, stdio: 'ignore' }); // Fails, harmlessly, after a clean merge.
}

/** Time the driver configurations over `scenarios` (TypeScript ones only) and print a table. */
export async function benchDriver(all: readonly Scenario[], options: DriverBenchOptions): Promise<DriverBenchReport> {
  const scenarios = all.filter((s) => /\.(ts|tsx|mts|cts)$/.test(s.path)).slice(0, options.files);
  const dir = await scratchRepo(scenarios);
  const runtime = await makeTempDir('bench-runtime');
  chmodSync(runtime, 0o700);
  const acu = `${launcherCommand()} merge-driver %O %A %B %P --marker-size %L`;
  const service = { XDG_RUNTIME_DIR: runtime, ACU_MERGE_SERVICE_IDLE_MS: '120000' };
  // Each command line carries the marker (as a shell comment's stand-in: an unused variable), so
  // trace2's child list can be filtered to the drivers.
  const tagged = (command: string): string => `BENCH=${marker} ${command}`;
  const modes: Mode[] = [
    { name: 'node -e 0 (bare node start)', driver: tagged(`${shellQuote(process.execPath)} -e 0`), env: {} },
    { name: 'git merge-file', driver: tagged('git merge-file --marker-size=%L %A %O %B'), env: {} },
    { name: 'acu, service off (in process)', driver: tagged(acu), env: { ...service, ACU_MERGE_SERVICE: '0' } },
    { name: 'acu, cold (first file starts it)', driver: tagged(acu), env: service, cold: true },
    { name: 'acu, warm (service up)', driver: tagged(acu), env: service },
  ];
  const results = new Map<string, Measured>(modes.map((mode) => [mode.name, { childMs: [], firstMs: [], cpuMs: 0, files: 0 }]));
  try {
    // Modes take turns within each round, so that a change in the machine's load (it is shared)
    // falls on all of them alike and the ratios stay meaningful.
    for (let round = 0; round < options.rounds; round += 1) for (const mode of modes) measureOnce(dir, mode, results.get(mode.name)!);
  } finally {
    stopService(service);
    await removeTempDir(dir);
    await removeTempDir(runtime);
  }
  for (const s of scenarios.slice(0, 5)) mergeForDriver({ path: s.path, base: Buffer.from(s.base), ours: Buffer.from(s.ours), theirs: Buffer.from(s.theirs), markerSize: 7 });
  const mergeMs = scenarios.map((s) => {
    const started = performance.now();
    mergeForDriver({ path: s.path, base: Buffer.from(s.base), ours: Buffer.from(s.ours), theirs: Buffer.from(s.theirs), markerSize: 7 });
    return performance.now() - started;
  });
  const get = (name: string): Measured & { cpuPerFileMs: number } => {
    const r = results.get(name)!;
    return { ...r, cpuPerFileMs: r.cpuMs / Math.max(r.files, 1) };
  };
  const bare = get(modes[0]!.name);
  const bareP50 = quantile(bare.childMs, 0.5);
  console.log(`\nmerge driver, per file as git runs it (${scenarios.length} TypeScript files x ${options.rounds} merges; wall: trace2 start-to-exit; cpu: per file, git + drivers + service):`);
  for (const mode of modes) {
    const r = get(mode.name);
    console.log(costRow(mode.name, r.childMs, r.cpuPerFileMs, bareP50));
    if (mode.cold === true) console.log(costRow('acu, cold: the first file alone', r.firstMs, NaN, bareP50));
  }
  console.log(costRow('mergeForDriver in process (no start)', mergeMs, NaN, bareP50));
  const cold = get(modes[3]!.name);
  const warm = get(modes[4]!.name);
  return {
    files: scenarios.length,
    bareP50Ms: bareP50,
    warmP50Ms: quantile(warm.childMs, 0.5),
    coldFirstP50Ms: quantile(cold.firstMs, 0.5),
    inProcessDriverP50Ms: quantile(get(modes[2]!.name).childMs, 0.5),
    mergeFileP50Ms: quantile(get(modes[1]!.name).childMs, 0.5),
    mergeP50Ms: quantile(mergeMs, 0.5),
    warmCpuMs: warm.cpuPerFileMs,
    bareCpuMs: bare.cpuPerFileMs,
  };
}
