/**
 * The CI seed budget: 10,000 seeds with faults, over n = 4 (f = 1) and n = 7 (f = 2). Sized so the
 * two suites together stay within about three minutes on two slow cores (docs/benchmarks.md).
 */
import type { SeedRange } from './run.js';

/** Seeds CI runs at n = 4. */
export const ciRangeN4: SeedRange = { from: 1, seeds: 7500, replicas: 4, byzantine: 1, mutation: 'none' };

/** Seeds CI runs at n = 7. */
export const ciRangeN7: SeedRange = { from: 1, seeds: 2500, replicas: 7, byzantine: 2, mutation: 'none' };
