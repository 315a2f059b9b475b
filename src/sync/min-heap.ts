/**
 * A binary min-heap under a strict total order: the ManualClock's timers and the simulator's
 * events, each ordered by time and then by a sequence number. The order being total, what pops
 * next never depends on the heap's layout, so a seeded run replays exactly.
 */

/** Items kept so that the least (by `before`) is always the next to pop. */
export class MinHeap<T> {
  private readonly items: T[] = [];

  /** `before(a, b)`: a pops before b; never true both ways. */
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  /** How many items are held. */
  get size(): number {
    return this.items.length;
  }

  /** The item that pops next, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const heap = this.items;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[up]!)) break;
      [heap[i], heap[up]] = [heap[up]!, heap[i]!];
      i = up;
    }
  }

  /** Take the least item out; undefined when empty. */
  pop(): T | undefined {
    const heap = this.items;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < heap.length && this.before(heap[l]!, heap[least]!)) least = l;
      if (r < heap.length && this.before(heap[r]!, heap[least]!)) least = r;
      if (least === i) return top;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }
}
