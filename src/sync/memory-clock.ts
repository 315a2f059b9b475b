/**
 * Time and randomness for the in-memory ports (memory-network.ts, memory-log.ts), the conformance
 * suites and the seeded host simulator (test/sim/host-world.ts). Deterministic: nothing reads
 * `Date.now` or `Math.random`.
 *
 * - {@link SeededRandom}: same seed, same draws.
 * - {@link ManualClock}: timers fire only when the caller steps the clock, one at a time, in
 *   (due time, creation order) order. {@link ManualClock.scope} gives a node a view whose timers
 *   can all be dropped at once (a simulated crash).
 */
import { assert } from '../core/errors.js';
import { MinHeap } from './min-heap.js';
import type { CancelTimer, Clock } from './ports.js';

// ---- randomness -----------------------------------------------------------------------------

/** A small seeded generator (a 32-bit mixer over a Weyl sequence): same seed, same draws. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x27d4eb2d) ^ 0x9e3779b9;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * maxExclusive);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.u32() / 0x1_0000_0000 < p;
  }
}

// ---- clock ----------------------------------------------------------------------------------

interface Timer {
  readonly seq: number;
  atMs: number;
  readonly periodMs: number | null;
  readonly fn: () => void;
  readonly scope: ClockScope | null;
  cancelled: boolean;
}

/** A group of timers that can be dropped together (one node's, at a crash). */
interface ClockScope {
  dropped: boolean;
}

/** Most timers pending at once: a bound on a runaway scheduler, not a tuning knob. */
const timersPendingMax = 1_000_000;

/**
 * A clock the caller drives: {@link ManualClock.step} fires the next due timer and nothing else,
 * so the caller can let promises settle between timers and every run is the same.
 */
export class ManualClock implements Clock {
  private now = 0;
  private seq = 0;
  /** Pending timers by due time, then by the order they were set: timers due together fire in that order. */
  private readonly heap = new MinHeap<Timer>((a, b) => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq));

  nowMs(): number {
    return this.now;
  }

  every(ms: number, fn: () => void): CancelTimer {
    assert(ms > 0, 'ManualClock.every: a positive period');
    return this.add(ms, ms, fn, null);
  }

  after(ms: number, fn: () => void): CancelTimer {
    return this.add(Math.max(0, ms), null, fn, null);
  }

  /** A view of this clock whose timers are all dropped by `drop()` (a crashed node's). */
  scope(): { clock: Clock; drop: () => void } {
    const scope: ClockScope = { dropped: false };
    const clock: Clock = {
      nowMs: () => this.now,
      every: (ms, fn) => this.add(ms, ms, fn, scope),
      after: (ms, fn) => this.add(Math.max(0, ms), null, fn, scope),
    };
    return { clock, drop: () => void (scope.dropped = true) };
  }

  /** When the next live timer is due, or null when none is pending. */
  nextAtMs(): number | null {
    this.prune();
    return this.heap.peek()?.atMs ?? null;
  }

  /** Fire the next timer if it is due by `untilMs`; false when none is. Time moves to its due time. */
  step(untilMs = Number.POSITIVE_INFINITY): boolean {
    this.prune();
    const timer = this.heap.peek();
    if (timer === undefined || timer.atMs > untilMs) return false;
    this.heap.pop();
    assert(timer.atMs >= this.now, 'ManualClock: time never goes back');
    this.now = timer.atMs;
    if (timer.periodMs !== null) {
      timer.atMs += timer.periodMs;
      this.heap.push(timer);
    }
    timer.fn();
    return true;
  }

  /** Move time forward to `ms` without firing anything (only when nothing is due before). */
  advanceTo(ms: number): void {
    const next = this.nextAtMs();
    assert(next === null || next >= ms, 'ManualClock.advanceTo: no timer is skipped');
    this.now = Math.max(this.now, ms);
  }

  private add(delayMs: number, periodMs: number | null, fn: () => void, scope: ClockScope | null): CancelTimer {
    assert(this.heap.size < timersPendingMax, `ManualClock: at most ${timersPendingMax} timers pending`);
    const timer: Timer = { seq: this.seq++, atMs: this.now + delayMs, periodMs, fn, scope, cancelled: false };
    this.heap.push(timer);
    return () => void (timer.cancelled = true);
  }

  private prune(): void {
    let next = this.heap.peek();
    while (next !== undefined && (next.cancelled || next.scope?.dropped === true)) {
      this.heap.pop();
      next = this.heap.peek();
    }
  }
}

