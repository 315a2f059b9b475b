/**
 * A pool of extraction workers for long ranges. Extraction is bound by parsing, which is
 * single-threaded JavaScript; worker threads put every core to work. Changes are sharded by path
 * (a path always goes to the same worker, so its blob chain stays in one parse cache), and each
 * commit's ACUs are reassembled in the commit's own change order, so the output is the same as a
 * single-threaded run, byte for byte.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AcuError, assert } from '../core/errors.js';
import type { AcuErrorCode } from '../core/errors.js';
import type { IdentifiedAcu } from '../core/acu/model.js';
import type { TreeChange } from '../git/index.js';
import type { ParseStats } from './cache.js';
import { fnv1a } from './segment.js';
import { unpackAcu } from './transfer.js';
import type { PackedAcu } from './transfer.js';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker.js';

/** Workers at most, whatever the machine: beyond this the single git reader becomes the bound. */
export const extractWorkersMax = 8;

/**
 * A bigger young generation per worker: the parser allocates many short-lived objects, and with
 * node's default semi-space the scavenger ran for a fifth of extraction time.
 */
const workerYoungGenerationMb = 64;

/** Ids of the empty blob (SHA-1 and SHA-256 repositories). */
const emptyBlobOids: ReadonlySet<string> = new Set([
  'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391',
  '473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813',
]);

/** Decides which worker extracts a change. */
export interface RoutingPlan {
  workerOf(change: TreeChange): number;
}

/**
 * Routing weights, in units of one byte of other text, from per-change costs measured in one
 * thread on the mobx and vscode-languageserver-node ranges (500 commits each; `docs/benchmarks.md`):
 * a byte of parsed source costs about 30 times a byte of other text (parsing and segmentation
 * against decoding, line diff and ids), and every change has a cost of its own besides its bytes
 * (names, the declaration diff, ids and packing of its ACUs): about 0.1-0.3 ms for a source file,
 * as much as 70-90 KB of other text, and 0.02-0.04 ms for another file.
 */
const parsedByteWeight = 32;
const sourceChangeWeight = 80 * 1024;
const otherChangeWeight = 10 * 1024;

/**
 * Plan the routing of a whole range before extracting it. The before- and after-blob of every
 * changed source file are joined (union-find) into families; a family's blobs are only ever
 * parsed by one worker, so each distinct blob is parsed at most once in the run. Other files are
 * never parsed, and each path is a family of its own (its last text is then at hand for its next
 * change). Families are spread over the workers heaviest first, onto the least loaded, which keeps
 * the split even and deterministic. A family weighs the bytes of its blobs (`sizeOf`; a blob of
 * unknown size weighs nothing), parsed ones {@link parsedByteWeight} times, plus
 * {@link sourceChangeWeight} or {@link otherChangeWeight} per change.
 */
export function planRouting(
  changes: Iterable<TreeChange>,
  jobs: number,
  isParsed: (path: string) => boolean,
  sizeOf: (oid: string) => number = () => 0,
): RoutingPlan {
  assert(jobs >= 1, 'planRouting: at least one worker');
  const parent = new Map<string, string>();
  const find = (oid: string): string => {
    let root = oid;
    while (parent.get(root) !== root) root = parent.get(root)!;
    for (let at = oid; at !== root; ) {
      const next = parent.get(at)!;
      parent.set(at, root);
      at = next;
    }
    return root;
  };
  const add = (oid: string): void => {
    if (!parent.has(oid)) parent.set(oid, oid);
  };
  // Weights are kept on blobs and on paths, and summed per family once the families are known.
  const weight = new Map<string, number>();
  const addWeight = (key: string, value: number): void => {
    weight.set(key, (weight.get(key) ?? 0) + value);
  };
  const parsedBlobs = new Set<string>();
  const otherPaths = new Map<string, number>();
  for (const change of changes) {
    const path = change.newPath ?? change.oldPath ?? '';
    if (!isParsed(path)) {
      const bytes = change.newOid === null ? 0 : sizeOf(change.newOid);
      otherPaths.set(path, (otherPaths.get(path) ?? 0) + bytes + otherChangeWeight);
      continue;
    }
    // The empty blob (new empty files, emptied files) would join unrelated families into one and
    // load one worker with most of the range; parsing it costs nothing, so it joins none.
    const oids = [change.oldOid, change.newOid].filter((oid): oid is string => oid !== null && !emptyBlobOids.has(oid));
    for (const oid of oids) add(oid);
    if (oids.length === 2) {
      const [a, b] = [find(oids[0]!), find(oids[1]!)];
      if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
      // Both sides of a modification are parsed (once each, whatever the number of changes).
      for (const oid of oids) parsedBlobs.add(oid);
    } else if (oids.length === 1) {
      addWeight(oids[0]!, sizeOf(oids[0]!));
    }
    if (oids.length > 0) addWeight(oids[0]!, sourceChangeWeight);
  }
  for (const oid of parsedBlobs) addWeight(oid, sizeOf(oid) * parsedByteWeight);
  const families = new Map<string, number>();
  for (const oid of parent.keys()) {
    const root = find(oid);
    families.set(root, (families.get(root) ?? 0) + (weight.get(oid) ?? 0));
  }
  // Source families are keyed by a blob id, other paths by the path behind a prefix no id has.
  for (const [path, bytes] of otherPaths) families.set(`path:${path}`, bytes);
  const load: number[] = new Array<number>(jobs).fill(0);
  const home = new Map<string, number>();
  const ordered = [...families].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  for (const [key, size] of ordered) {
    const worker = load.indexOf(Math.min(...load));
    home.set(key, worker);
    load[worker]! += size;
  }
  return {
    workerOf: (change) => {
      const path = change.newPath ?? change.oldPath ?? '';
      // The first side in a family: an emptied file's empty old side is in none.
      const oid = [change.oldOid, change.newOid].find((side) => side !== null && parent.has(side));
      const family = isParsed(path) ? (oid === undefined || oid === null ? undefined : home.get(find(oid))) : home.get(`path:${path}`);
      return family ?? Number.parseInt(fnv1a(path), 16) % jobs;
    },
  };
}

/** The default worker count: one per core, within {@link extractWorkersMax}. */
export function defaultJobs(): number {
  return Math.max(1, Math.min(extractWorkersMax, availableParallelism()));
}

interface Pending {
  readonly resolve: (value: { acus: (readonly IdentifiedAcu[])[]; failures: string[] }) => void;
  readonly reject: (error: Error) => void;
  readonly parts: Map<number, { acus: readonly (readonly PackedAcu[])[]; failures: readonly string[] }>;
  readonly shards: { worker: number; indices: number[] }[];
  readonly changeCount: number;
}

/** A run's counters, from {@link ExtractPool.stats}. */
export interface PoolStats {
  /** Parse counters summed over the workers. */
  readonly stats: ParseStats;
  /** Every blob the workers parsed, with the path it was parsed as. */
  readonly blobs: { oid: string; path: string }[];
  /** Per worker: time its thread was busy since the run began, time in the parser, bytes parsed. */
  readonly workers: readonly { readonly busyMs: number; readonly parseMs: number; readonly parsedBytes: number }[];
}

/** Extraction workers sharing one repository. */
export class ExtractPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: ((response: WorkerResponse) => void)[][];
  private nextJob = 0;
  private failure: Error | null = null;

  private constructor(cwd: string, jobs: number, private plan: RoutingPlan) {
    assert(jobs >= 1 && jobs <= extractWorkersMax, 'ExtractPool: jobs within bounds');
    const init: WorkerInit = { cwd };
    this.workers = Array.from({ length: jobs }, () => new Worker(new URL('./worker.js', import.meta.url), {
      workerData: init,
      resourceLimits: { maxYoungGenerationSizeMb: workerYoungGenerationMb },
    }));
    this.waiters = this.workers.map(() => []);
    this.workers.forEach((worker, index) => {
      worker.on('message', (response: WorkerResponse) => this.onMessage(index, response));
      worker.on('error', (error) => this.fail(error));
    });
  }

  /** Start `jobs` workers on the repository at `cwd`, routing changes by `plan`. */
  static start(cwd: string, jobs: number, plan: RoutingPlan): ExtractPool {
    return new ExtractPool(cwd, jobs, plan);
  }

  /** Extract one commit's changes: ACUs per change, in order, and round-trip failures. */
  extract(changes: readonly TreeChange[], check: boolean): Promise<{ acus: (readonly IdentifiedAcu[])[]; failures: string[] }> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const job = this.nextJob;
    this.nextJob += 1;
    const byWorker = new Map<number, number[]>();
    changes.forEach((change, index) => {
      const worker = this.shardOf(change);
      byWorker.set(worker, [...(byWorker.get(worker) ?? []), index]);
    });
    const shards = [...byWorker].map(([worker, indices]) => ({ worker, indices }));
    return new Promise((resolve, reject) => {
      if (shards.length === 0) {
        resolve({ acus: [], failures: [] });
        return;
      }
      this.pending.set(job, { resolve, reject, parts: new Map(), shards, changeCount: changes.length });
      for (const shard of shards) {
        const request: WorkerRequest = { type: 'extract', job, changes: shard.indices.map((i) => changes[i]!), check };
        this.workers[shard.worker]!.postMessage(request);
      }
    });
  }

  /** Workers in the pool. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Start a new run on warm workers: a new routing plan and empty parse caches (so the run parses
   * every blob it needs, as a fresh pool would), with the workers' compiled code kept.
   */
  async reset(plan: RoutingPlan): Promise<void> {
    assert(this.pending.size === 0, 'reset: no job in flight');
    this.plan = plan;
    await Promise.all(this.workers.map((_, i) => this.ask(i, { type: 'reset' })));
  }

  /** Parse counters summed over the workers, and every blob they parsed. */
  async stats(): Promise<PoolStats> {
    const answers = await Promise.all(this.workers.map((_, i) => this.ask(i, { type: 'stats' })));
    const total: ParseStats = { parses: 0, distinctBlobs: 0, parsedChars: 0, parsedBytes: 0, parseMs: 0, hits: 0, changeHits: 0 };
    const blobs: { oid: string; path: string }[] = [];
    const workers: PoolStats['workers'][number][] = [];
    for (const answer of answers) {
      assert(answer.type === 'stats', 'a stats request gets stats');
      for (const key of Object.keys(total) as (keyof ParseStats)[]) total[key] += answer.stats[key];
      blobs.push(...answer.blobs);
      workers.push({ busyMs: answer.busyMs, parseMs: answer.stats.parseMs, parsedBytes: answer.stats.parsedBytes });
    }
    return { stats: total, blobs, workers };
  }

  /** Close every worker's repository and stop the threads. */
  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((_, i) => this.ask(i, { type: 'close' })));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private shardOf(change: TreeChange): number {
    return this.plan.workerOf(change);
  }

  private ask(worker: number, request: WorkerRequest): Promise<WorkerResponse> {
    return new Promise((resolve) => {
      this.waiters[worker]!.push(resolve);
      this.workers[worker]!.postMessage(request);
    });
  }

  private onMessage(worker: number, response: WorkerResponse): void {
    if (response.type === 'stats' || response.type === 'closed' || response.type === 'reset') {
      this.waiters[worker]!.shift()?.(response);
      return;
    }
    const pending = this.pending.get(response.job);
    if (pending === undefined) return;
    if (response.type === 'failed') {
      this.pending.delete(response.job);
      const { message, code, hint } = response.error;
      pending.reject(code === undefined ? new Error(message) : new AcuError(code as AcuErrorCode, message, hint === undefined ? {} : { hint }));
      return;
    }
    pending.parts.set(worker, { acus: response.acus, failures: response.failures });
    if (pending.parts.size < pending.shards.length) return;
    this.pending.delete(response.job);
    const acus: (readonly IdentifiedAcu[])[] = new Array<readonly IdentifiedAcu[]>(pending.changeCount).fill([]);
    const failures: string[] = [];
    for (const shard of pending.shards) {
      const part = pending.parts.get(shard.worker)!;
      shard.indices.forEach((changeIndex, i) => {
        acus[changeIndex] = (part.acus[i] ?? []).map(unpackAcu);
      });
      failures.push(...part.failures);
    }
    pending.resolve({ acus, failures: failures.sort() });
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
