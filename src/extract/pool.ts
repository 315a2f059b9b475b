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
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker.js';

/** Workers at most, whatever the machine: beyond this the single git reader becomes the bound. */
export const extractWorkersMax = 8;

/**
 * A bigger young generation per worker: the parser allocates many short-lived objects, and with
 * node's default semi-space the scavenger ran for a fifth of extraction time.
 */
const workerYoungGenerationMb = 64;

/** Blob-to-worker entries kept; past this the map starts over (costing at most a few re-parses). */
const blobHomeEntriesMax = 1_000_000;

/** The default worker count: one per core, within {@link extractWorkersMax}. */
export function defaultJobs(): number {
  return Math.max(1, Math.min(extractWorkersMax, availableParallelism()));
}

interface Pending {
  readonly resolve: (value: { acus: (readonly IdentifiedAcu[])[]; failures: string[] }) => void;
  readonly reject: (error: Error) => void;
  readonly parts: Map<number, { acus: readonly (readonly IdentifiedAcu[])[]; failures: readonly string[] }>;
  readonly shards: { worker: number; indices: number[] }[];
  readonly changeCount: number;
}

/** Extraction workers sharing one repository. */
export class ExtractPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: ((response: WorkerResponse) => void)[][];
  private nextJob = 0;
  /** Which worker parsed (or will parse) each blob, so a blob's next use goes to the same cache. */
  private readonly blobHome = new Map<string, number>();
  private failure: Error | null = null;

  private constructor(cwd: string, jobs: number) {
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

  /** Start `jobs` workers on the repository at `cwd`. */
  static start(cwd: string, jobs: number): ExtractPool {
    return new ExtractPool(cwd, jobs);
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

  /** Parse counters summed over the workers, and every blob they parsed. */
  async stats(): Promise<{ stats: ParseStats; blobs: { oid: string; path: string }[] }> {
    const answers = await Promise.all(this.workers.map((_, i) => this.ask(i, { type: 'stats' })));
    const total: ParseStats = { parses: 0, distinctBlobs: 0, parsedChars: 0, parsedBytes: 0, parseMs: 0, hits: 0 };
    const blobs: { oid: string; path: string }[] = [];
    for (const answer of answers) {
      assert(answer.type === 'stats', 'a stats request gets stats');
      for (const key of Object.keys(total) as (keyof ParseStats)[]) total[key] += answer.stats[key];
      blobs.push(...answer.blobs);
    }
    return { stats: total, blobs };
  }

  /** Close every worker's repository and stop the threads. */
  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((_, i) => this.ask(i, { type: 'close' })));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  /**
   * The worker for a change: the one that holds its before-blob, else the one that will hold its
   * after-blob, else one chosen by path. A file's versions thus stay in one worker, and a blob
   * shared by two paths (a copy) is still parsed once.
   */
  private shardOf(change: TreeChange): number {
    const known = (change.oldOid === null ? undefined : this.blobHome.get(change.oldOid)) ??
      (change.newOid === null ? undefined : this.blobHome.get(change.newOid));
    const path = change.newPath ?? change.oldPath ?? '';
    const worker = known ?? Number.parseInt(fnv1a(path), 16) % this.workers.length;
    if (this.blobHome.size >= blobHomeEntriesMax) this.blobHome.clear();
    for (const oid of [change.oldOid, change.newOid]) if (oid !== null) this.blobHome.set(oid, worker);
    return worker;
  }

  private ask(worker: number, request: WorkerRequest): Promise<WorkerResponse> {
    return new Promise((resolve) => {
      this.waiters[worker]!.push(resolve);
      this.workers[worker]!.postMessage(request);
    });
  }

  private onMessage(worker: number, response: WorkerResponse): void {
    if (response.type === 'stats' || response.type === 'closed') {
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
        acus[changeIndex] = part.acus[i] ?? [];
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
