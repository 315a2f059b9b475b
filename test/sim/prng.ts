/**
 * The simulator's only source of randomness: a small seeded generator (a SplitMix-style 32-bit
 * mixer over a Weyl sequence). Same seed, same run; `Math.random` is never used.
 */

/** A deterministic pseudo-random generator. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    // Fold the high bits of a 53-bit seed into the 32-bit state so nearby seeds diverge at once.
    const high = Math.floor(seed / 0x1_0000_0000) >>> 0;
    this.state = (seed >>> 0) ^ Math.imul(high, 0x27d4eb2d) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i += 1) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** A uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    return Math.floor(this.float() * maxExclusive);
  }

  /** A uniform integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
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
