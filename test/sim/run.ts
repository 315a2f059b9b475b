/**
 * Runs ranges of seeds and reports failures with the command that replays each one. Shared by the
 * CLI (`npm run sim`), the CI test and the benchmark.
 */
import { faultsTolerated } from '../../src/core/consensus/index.js';
import type { Mutation } from '../../src/core/consensus/index.js';
import { optionsForSeed } from './options.js';
import type { ByzantineStrategy } from './options.js';
import { runScenario } from './world.js';
import type { SimResult } from './world.js';

/** Which seeds to run, on what cluster. */
export interface SeedRange {
  readonly from: number;
  readonly seeds: number;
  readonly replicas: number;
  readonly byzantine: number;
  readonly mutation: Mutation;
  /** Forces every Byzantine replica to one strategy; null draws one per seed. */
  readonly strategy?: ByzantineStrategy | null;
}

/** What a range of seeds found. */
export interface RangeReport {
  readonly seeds: number;
  readonly safetyViolations: number;
  readonly livenessFailures: number;
  readonly failures: readonly { readonly result: SimResult; readonly replay: string }[];
  readonly decisions: number;
  readonly messagesSent: number;
}

/** The exact command that replays one seed. */
export function replayCommand(seed: number, range: Omit<SeedRange, 'from' | 'seeds'>): string {
  const mutation = range.mutation === 'none' ? '' : ` --mutation ${range.mutation}`;
  const strategy = range.strategy == null ? '' : ` --strategy ${range.strategy}`;
  return `npm run sim -- --seeds 1 --from ${seed} --replicas ${range.replicas} --byzantine ${range.byzantine}${mutation}${strategy}`;
}

/** Run one seed; an exception out of the core (a failed assertion) is a safety violation too. */
function runGuarded(seed: number, range: SeedRange, byzantine: number): SimResult {
  try {
    return runScenario(optionsForSeed(seed, range.replicas, byzantine, range.mutation, range.strategy ?? null));
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return {
      seed, violations: [`exception: ${text}`], liveness: null, ticks: 0, decisions: 0, messagesSent: 0, crashes: 0,
      evidence: 0, garbageRejected: 0, decisionLatencyTicks: [], meanReplicaLatencyTicks: 0,
    };
  }
}

/** Run `range.seeds` seeds from `range.from`; stop early after `stopAfterFailures` failures. */
export function runRange(range: SeedRange, stopAfterFailures = Infinity): RangeReport {
  const byzantine = Math.min(range.byzantine, faultsTolerated(range.replicas));
  let safetyViolations = 0;
  let livenessFailures = 0;
  let decisions = 0;
  let messagesSent = 0;
  let seeds = 0;
  const failures: { result: SimResult; replay: string }[] = [];
  for (let seed = range.from; seed < range.from + range.seeds; seed += 1) {
    const result = runGuarded(seed, range, byzantine);
    seeds += 1;
    decisions += result.decisions;
    messagesSent += result.messagesSent;
    if (result.violations.length > 0) safetyViolations += 1;
    else if (result.liveness !== null) livenessFailures += 1;
    if (result.violations.length > 0 || result.liveness !== null) {
      failures.push({ result, replay: replayCommand(seed, { ...range, byzantine }) });
      if (failures.length >= stopAfterFailures) break;
    }
  }
  return { seeds, safetyViolations, livenessFailures, failures, decisions, messagesSent };
}

/** The summary line the CLI ends with. */
export function summaryLine(report: Pick<RangeReport, 'seeds' | 'safetyViolations' | 'livenessFailures'>): string {
  return `sim: ${report.seeds} seeds, ${report.safetyViolations} safety violations, ${report.livenessFailures} liveness failures`;
}

/** Human-readable lines for one failure: what broke, the seed, and how to replay it. */
export function describeFailure(failure: { result: SimResult; replay: string }): string[] {
  const { result } = failure;
  const kind = result.violations.length > 0 ? 'safety violation' : 'liveness failure';
  return [
    `sim: seed ${result.seed}: ${kind}`,
    ...result.violations.map((v) => `  ${v}`),
    ...(result.liveness === null ? [] : [`  ${result.liveness}`]),
    `  replay: ${failure.replay}`,
  ];
}
