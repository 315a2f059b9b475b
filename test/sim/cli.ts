/**
 * `npm run sim -- [--hosts] --seeds N [--from S] [--replicas n] [--byzantine k] [--mutation m]`:
 * runs seeds through the simulator (`--hosts`: the host simulator, whole sync nodes, host-world.ts),
 * prints every failure with its replay command, and ends with a summary line (`sim: N seeds, V safety
 * violations, L liveness failures`); exits 1 when V + L > 0, 129 on bad usage.
 */
import type { Mutation } from '../../src/core/consensus/index.js';
import { byzantineStrategies } from './options.js';
import type { ByzantineStrategy } from './options.js';
import { describeHostFailure, hostSummaryLine, runHostRange } from './host-run.js';
import { describeFailure, runRange, summaryLine } from './run.js';

const mutations: readonly Mutation[] = ['none', 'skip_lock_check', 'quorum_minus_one', 'send_before_persist', 'prepare_without_outcome'];
const usage = 'usage: npm run sim -- [--hosts] --seeds N [--from S] [--replicas n] [--byzantine k] [--mutation m] [--strategy s]';

interface Args {
  seeds: number;
  from: number;
  replicas: number;
  byzantine: number | null;
  mutation: Mutation;
  strategy: ByzantineStrategy | null;
  /** Run whole sync nodes on the in-memory ports (host-world.ts) instead of replicas alone. */
  hosts: boolean;
}

function parse(argv: readonly string[]): Args | string {
  const out: Args = { seeds: 100, from: 1, replicas: 4, byzantine: null, mutation: 'none', strategy: null, hosts: false };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    // A switch takes no value.
    if (flag === '--hosts') {
      out.hosts = true;
      i -= 1;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) return `error: ${flag} needs a value`;
    if (flag === '--mutation') {
      if (!mutations.includes(value as Mutation)) return `error: unknown mutation '${value}'`;
      out.mutation = value as Mutation;
      continue;
    }
    if (flag === '--strategy') {
      if (!byzantineStrategies.includes(value as ByzantineStrategy)) return `error: unknown strategy '${value}'`;
      out.strategy = value as ByzantineStrategy;
      continue;
    }
    const num = Number(value);
    if (!Number.isSafeInteger(num) || num < 0) return `error: ${flag} takes a non-negative integer`;
    if (flag === '--seeds') out.seeds = num;
    else if (flag === '--from') out.from = num;
    else if (flag === '--replicas') out.replicas = num;
    else if (flag === '--byzantine') out.byzantine = num;
    else return `error: unknown option '${flag}'`;
  }
  if (out.replicas < 1) return 'error: --replicas must be at least 1';
  return out;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (typeof args === 'string') {
    console.error(args);
    console.error(usage);
    return 129;
  }
  if (args.hosts) {
    const report = await runHostRange({ from: args.from, seeds: args.seeds, nodes: args.replicas });
    for (const failure of report.failures) for (const line of describeHostFailure(failure)) console.log(line);
    console.log(hostSummaryLine(report, args.replicas));
    return report.safetyViolations + report.livenessFailures > 0 ? 1 : 0;
  }
  const byzantine = args.byzantine ?? Math.floor((args.replicas - 1) / 3);
  const report = runRange({ from: args.from, seeds: args.seeds, replicas: args.replicas, byzantine, mutation: args.mutation, strategy: args.strategy });
  for (const failure of report.failures) for (const line of describeFailure(failure)) console.log(line);
  console.log(summaryLine(report));
  return report.safetyViolations + report.livenessFailures > 0 ? 1 : 0;
}

process.exitCode = await main();
