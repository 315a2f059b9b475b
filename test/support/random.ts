/**
 * Seeded randomness for tests: a small splitmix32 generator. Every test that uses it prints its
 * seed on failure, so a failure replays with `ACU_SEED=<seed>`.
 */

/** A deterministic pseudo-random source. */
export interface Rng {
  readonly seed: number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** True with probability p. */
  chance(p: number): boolean;
}

/** A generator seeded by `seed` (32-bit). */
export function rng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const self: Rng = {
    seed,
    int: (n) => Math.floor((next() / 0x1_0000_0000) * n),
    pick: (items) => items[self.int(items.length)]!,
    chance: (p) => next() / 0x1_0000_0000 < p,
  };
  return self;
}

/** The base seed for a test run: `ACU_SEED` when set, else a fixed default. */
export function baseSeed(fallback: number): number {
  const fromEnv = process.env.ACU_SEED;
  return fromEnv === undefined || fromEnv === '' ? fallback : Number(fromEnv);
}
