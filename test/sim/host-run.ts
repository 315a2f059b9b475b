/**
 * Runs ranges of host-simulator seeds (host-world.ts) and reports failures with the command that
 * replays each one. Shared by `npm run sim -- --hosts`, the test and the benchmark.
 */
import { runHostSeed } from './host-world.js';
import type { HostResult } from './host-world.js';

/** Which seeds to run, on how many nodes. */
export interface HostRange {
  readonly from: number;
  readonly seeds: number;
  readonly nodes: number;
}

/** What a range of seeds found. */
export interface HostReport {
  readonly seeds: number;
  readonly safetyViolations: number;
  readonly livenessFailures: number;
  readonly failures: readonly { readonly result: HostResult; readonly replay: string }[];
  readonly heights: number;
  readonly steps: number;
  readonly crashes: number;
  readonly faults: number;
}

/** The exact command that replays one seed. */
export function hostReplayCommand(seed: number, nodes: number): string {
  return `npm run sim -- --hosts --seeds 1 --from ${seed} --replicas ${nodes}`;
}

/** Run `range.seeds` seeds from `range.from`, one after another; stop after `stopAfterFailures`. */
export async function runHostRange(range: HostRange, stopAfterFailures = Infinity): Promise<HostReport> {
  let safetyViolations = 0;
  let livenessFailures = 0;
  let heights = 0;
  let steps = 0;
  let crashes = 0;
  let faults = 0;
  let seeds = 0;
  const failures: { result: HostResult; replay: string }[] = [];
  for (let seed = range.from; seed < range.from + range.seeds; seed += 1) {
    const result = await runHostSeed(seed, range.nodes);
    seeds += 1;
    heights += result.heights;
    steps += result.steps;
    crashes += result.crashes;
    faults += result.faults;
    if (result.violations.length > 0) safetyViolations += 1;
    else if (result.liveness !== null) livenessFailures += 1;
    if (result.violations.length > 0 || result.liveness !== null) {
      failures.push({ result, replay: hostReplayCommand(seed, range.nodes) });
      if (failures.length >= stopAfterFailures) break;
    }
  }
  return { seeds, safetyViolations, livenessFailures, failures, heights, steps, crashes, faults };
}

/** The summary line the CLI ends with. */
export function hostSummaryLine(report: HostReport, nodes: number): string {
  return `sim --hosts: ${report.seeds} seeds at n = ${nodes}, ${report.safetyViolations} safety violations, ${report.livenessFailures} liveness failures, ${report.heights} heights written, ${report.crashes} crashes, ${report.faults} faults`;
}

/** Human-readable lines for one failure: what broke, the seed, and how to replay it. */
export function describeHostFailure(failure: { result: HostResult; replay: string }): string[] {
  const { result } = failure;
  const kind = result.violations.length > 0 ? 'violation' : 'liveness failure';
  return [
    `sim --hosts: seed ${result.seed} (n = ${result.nodes}): ${kind}`,
    ...result.violations.slice(0, 10).map((v) => `  ${v}`),
    ...(result.liveness === null ? [] : [`  ${result.liveness}`]),
    `  replay: ${failure.replay}`,
  ];
}
