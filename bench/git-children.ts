/**
 * Measuring what git's child processes cost, as git sees them: GIT_TRACE2_EVENT gives each child's
 * wall time from start to exit (`t_rel` of `child_exit`), and /proc gives the CPU time of every
 * process this benchmark waited for (git, and the drivers and hooks git waited for), plus any
 * long-lived process by pid (the merge service, which no one waits for). Linux only.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU fields (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;

/** CPU milliseconds used by the processes this one has waited for (cutime + cstime). */
export function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ": field 3 is state, so cutime (16) and cstime (17) are at 13 and 14.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
}

/** CPU milliseconds used so far by process `pid` itself (utime + stime); 0 when it is gone. */
export function processCpuMs(pid: number | null): number {
  if (pid === null) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** One git run: its exit status, its wall time, the CPU of it and its waited-for children, and each matching child's wall time. */
export interface GitRun {
  readonly status: number | null;
  readonly wallMs: number;
  readonly cpuMs: number;
  /** Wall milliseconds of each child whose command line matched, in start order. */
  readonly childMs: number[];
  readonly output: string;
}

/** Run git with trace2 on and pick out the children whose command line contains `childMarker`. */
export function runGitTraced(cwd: string, args: readonly string[], env: Record<string, string | undefined>, childMarker: string, input?: string): GitRun {
  const trace = `${cwd}.trace2.json`;
  rmSync(trace, { force: true });
  const cpuBefore = childrenCpuMs();
  const started = performance.now();
  const result = spawnSync('git', args, { cwd, encoding: 'utf8', input, env: { ...env, GIT_TRACE2_EVENT: trace } });
  const wallMs = performance.now() - started;
  const cpuMs = childrenCpuMs() - cpuBefore;
  const ids = new Set<number>();
  const childMs: number[] = [];
  let text = '';
  try {
    text = readFileSync(trace, 'utf8');
  } catch {
    text = '';
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const event = JSON.parse(line) as { event?: string; sid?: string; child_id?: number; argv?: string[]; t_rel?: number };
    // Git processes started under this one (by a hook, by push) write to the same file with a
    // nested session id ("parent/child") and child ids of their own: only the top one counts.
    if (event.sid?.includes('/') !== false) continue;
    if (event.event === 'child_start' && event.child_id !== undefined && (event.argv ?? []).join(' ').includes(childMarker)) ids.add(event.child_id);
    if (event.event === 'child_exit' && event.child_id !== undefined && ids.has(event.child_id) && event.t_rel !== undefined) childMs.push(event.t_rel * 1000);
  }
  rmSync(trace, { force: true });
  return { status: result.status, wallMs, cpuMs, childMs, output: `${result.stdout}${result.stderr}` };
}

/** The q-quantile of `values` (nearest rank); NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A fixed-width row: name, p50 and p95 wall per child, CPU per child, and the ratio of p50s to a baseline. */
export function costRow(name: string, childMs: readonly number[], cpuPerChildMs: number, baselineP50Ms: number): string {
  const p50 = quantile(childMs, 0.5);
  return `${name.padEnd(34)} n=${String(childMs.length).padStart(3)}  p50 ${p50.toFixed(0).padStart(5)} ms  p95 ${quantile(childMs, 0.95).toFixed(0).padStart(5)} ms  cpu ${cpuPerChildMs.toFixed(0).padStart(5)} ms  x${(p50 / baselineP50Ms).toFixed(2)}`;
}
