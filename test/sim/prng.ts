/**
 * The simulator's only source of randomness: a small seeded generator (a SplitMix-style 32-bit
 * mixer over a Weyl sequence). Same seed, same run; `Math.random` is never used.
 */
import { SeededRandom } from '../../src/sync/memory-clock.js';

/**
 * A deterministic pseudo-random generator: the memory ports' SeededRandom (the same mixer), four
 * draws in, with the draws the simulator needs besides.
 */
export class Prng extends SeededRandom {
  constructor(seed: number) {
    super(seed);
    // The four draws thrown away are part of what a seed means here: without them, a seed printed
    // by an earlier failing run would no longer replay that run.
    for (let i = 0; i < 4; i += 1) this.u32();
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** A uniform integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /**
   * True with probability `p`; unlike SeededRandom's, it draws even when `p` is 0, so that the
   * draws that follow, and so a seed's run, stay what they were.
   */
  override chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty array');
    return item;
  }

  /** A shuffled copy of `items`. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = this.int(i + 1);
      const a = out[i] as T;
      out[i] = out[j] as T;
      out[j] = a;
    }
    return out;
  }
}
