/**
 * A seed's scenario: everything random about a simulated run is drawn here from the seed, so
 * `(seed, replicas, byzantine, mutation)` replays a run exactly.
 */
import { faultsTolerated } from '../../src/core/consensus/index.js';
import type { Mutation } from '../../src/core/consensus/index.js';
import { Prng } from './prng.js';

/** How a Byzantine replica misbehaves. */
export type ByzantineStrategy =
  | 'silent'
  | 'withhold'
  | 'equivocate'
  | 'garbage'
  | 'twins'
  | 'wrong_validation'
  | 'replay';

/** Every strategy, for seeded choice. */
export const byzantineStrategies: readonly ByzantineStrategy[] = [
  'silent', 'withhold', 'equivocate', 'garbage', 'twins', 'wrong_validation', 'replay',
];

/** A network partition: while active, `blocked(from, to)` messages are dropped. */
export interface Partition {
  readonly startTick: number;
  readonly endTick: number;
  /** Group of each replica (0 or 1). */
  readonly group: readonly number[];
  /** Asymmetric partitions drop only group 0 -> group 1. */
  readonly asymmetric: boolean;
}

/** A run's scenario. */
export interface SimOptions {
  readonly seed: number;
  readonly replicas: number;
  readonly byzantine: readonly { readonly id: number; readonly strategy: ByzantineStrategy }[];
  readonly mutation: Mutation;
  /** Faults (drops, duplicates, long delays, partitions, crashes) stop at this tick: "GST". */
  readonly faultTicks: number;
  readonly dropP: number;
  readonly duplicateP: number;
  readonly delayTicksMax: number;
  /** After GST every message arrives within this many ticks. */
  readonly stableDelayTicksMax: number;
  readonly partitions: readonly Partition[];
  /** Chance, per honest step that persists, of crashing somewhere in its effects. */
  readonly crashP: number;
  readonly crashesMax: number;
  readonly downTicksMax: number;
  readonly acus: number;
  /** Symbols ACUs touch; two ACUs of one batch on one symbol conflict. */
  readonly symbols: number;
  readonly submitWaves: number;
  readonly validationDelayTicksMax: number;
  /** Votes go to the leader above this many replicas. */
  readonly relayThresholdReplicas: number;
  /** Ticks allowed after GST for every honest replica to decide everything submitted. */
  readonly stableTicksMax: number;
  readonly batchAcusMax: number;
}

/** The scenario for `seed`: faults, Byzantine strategies and workload all drawn from it. */
export function optionsForSeed(
  seed: number, replicas: number, byzantine: number, mutation: Mutation, strategy: ByzantineStrategy | null = null,
): SimOptions {
  const f = faultsTolerated(replicas);
  const k = Math.min(byzantine, f);
  const prng = new Prng(seed);
  const ids = prng.shuffle([...Array(replicas).keys()]);
  const drawn = ids.slice(0, k).map((id) => {
    const pick = prng.pick(byzantineStrategies);
    return { id, strategy: strategy ?? pick };
  });
  // The split-brain adversary is a coalition: when one Byzantine replica runs it, all do, as a
  // coordinated adversary would (the model allows the f faulty replicas to collude).
  const coalition = drawn.some((b) => b.strategy === 'equivocate');
  const byz = drawn.map((b) => (coalition ? { id: b.id, strategy: 'equivocate' as const } : b));
  const faultTicks = prng.range(60, 260);
  const calm = prng.chance(0.15);
  const partitions: Partition[] = [];
  const partitionCount = calm ? 0 : prng.range(0, 2);
  for (let i = 0; i < partitionCount; i += 1) {
    const startTick = prng.int(faultTicks);
    const endTick = Math.min(faultTicks, startTick + prng.range(10, 120));
    const group = [...Array(replicas).keys()].map(() => prng.int(2));
    partitions.push({ startTick, endTick, group, asymmetric: prng.chance(0.4) });
  }
  const acus = prng.range(3, 24);
  return {
    seed, replicas, byzantine: byz, mutation, faultTicks,
    dropP: calm ? 0 : prng.pick([0, 0.02, 0.1, 0.25]),
    duplicateP: prng.pick([0, 0.05, 0.2]),
    delayTicksMax: prng.pick([2, 4, 8, 16]),
    stableDelayTicksMax: 3,
    partitions,
    crashP: calm ? 0 : prng.pick([0, 0.01, 0.04]),
    crashesMax: prng.range(1, 3),
    downTicksMax: 40,
    acus,
    // At least acus/2 symbols keeps a batch's conflicts under conflictsMax (a batch with more
    // fails validation as a whole; per-ACU rejection is future work, see docs/protocol.md §10).
    symbols: prng.range(Math.max(4, Math.ceil(acus / 2)), 30),
    submitWaves: prng.range(1, 4),
    validationDelayTicksMax: prng.range(0, 2),
    relayThresholdReplicas: prng.chance(0.2) ? 1 : 16,
    stableTicksMax: 4 * (f + 4) * 160,
    batchAcusMax: prng.pick([4, 8, 64]),
  };
}
