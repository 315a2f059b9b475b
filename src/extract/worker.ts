/**
 * An extraction worker thread. It owns a repository handle (its own long-lived cat-file) and a
 * parse cache, and extracts the changes of the paths sharded to it, commit after commit. Every
 * path goes to one worker for the whole run, so a file's versions meet in one cache and each blob
 * is parsed once.
 */
import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { GitRepo } from '../git/index.js';
import type { TreeChange } from '../git/index.js';
import { assert } from '../core/errors.js';
import { applyAcus } from './apply.js';
import { ParseCache } from './cache.js';
import { clearNamesMemo } from './names.js';
import type { ParseStats } from './cache.js';
import { blobsMissing, blobsNeeded, extractIdentified, memoized } from './commit.js';
import { parentView, verifyRoundTrip } from './round-trip.js';
import { packAcu } from './transfer.js';
import type { PackedAcu } from './transfer.js';

/** A request to a worker. */
export type WorkerRequest =
  | { readonly type: 'extract'; readonly job: number; readonly changes: readonly TreeChange[]; readonly check: boolean }
  | { readonly type: 'stats' }
  | { readonly type: 'reset' }
  | { readonly type: 'close' };

/** A worker's answer. */
export type WorkerResponse =
  | { readonly type: 'extracted'; readonly job: number; readonly acus: readonly (readonly PackedAcu[])[]; readonly failures: readonly string[] }
  | { readonly type: 'failed'; readonly job: number; readonly error: { readonly message: string; readonly code?: string; readonly hint?: string } }
  | { readonly type: 'stats'; readonly stats: ParseStats; readonly blobs: readonly { oid: string; path: string }[]; readonly busyMs: number }
  | { readonly type: 'reset' }
  | { readonly type: 'closed' };

/** What the pool passes to each worker at start. */
export interface WorkerInit {
  readonly cwd: string;
}

/**
 * Jobs whose blobs are read ahead of the one being extracted: git reads while this thread parses.
 * A bound on memory: a job of lock files holds a few megabytes.
 */
const readAheadJobsMax = 16;

/** A job waiting in the worker, with its blob reads once they are started. */
interface QueuedJob {
  readonly changes: readonly TreeChange[];
  blobs: Promise<Map<string, Uint8Array>> | null;
  /** The new sides this job was counted as bringing in `upcoming`, once its reads started. */
  brings: readonly string[];
}

/** The worker's state for one run. */
interface WorkerState {
  cache: ParseCache;
  /** Extraction jobs received and not yet extracted, in order. */
  readonly queued: QueuedJob[];
  /** How many queued jobs with reads started will produce each blob (their new sides). */
  readonly upcoming: Map<string, number>;
  /** Event-loop use at the start of the run: what the time busy is counted from. */
  since: EventLoopUtilization;
}

async function serve(): Promise<void> {
  const port = parentPort;
  assert(port !== null, 'extract worker: started outside a worker thread');
  const init = workerData as WorkerInit;
  const repo = await GitRepo.open(init.cwd);
  const state: WorkerState = { cache: new ParseCache(), queued: [], upcoming: new Map(), since: performance.eventLoopUtilization() };
  // Requests are served strictly in order: a file's later version must see its earlier one cached.
  let queue = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    const job: QueuedJob | null = request.type === 'extract' ? { changes: request.changes, blobs: null, brings: [] } : null;
    if (job !== null) {
      state.queued.push(job);
      readAhead(repo, state);
    }
    queue = queue.then(() => handle(request, job, repo, state, (response) => port.postMessage(response)));
  });
}

/**
 * Start the blob reads of the next queued jobs. A job does not read the old side of a change whose
 * text the cache holds or an earlier queued job brings (its new side): extraction keeps each
 * text it decodes, so the "before" of a file usually arrives as the "after" of its last change.
 */
function readAhead(repo: GitRepo, state: WorkerState): void {
  const ahead = Math.min(readAheadJobsMax, state.queued.length);
  for (let i = 0; i < ahead; i += 1) {
    const job = state.queued[i]!;
    if (job.blobs !== null) continue;
    const cache = state.cache;
    const known = memoized(cache);
    const needed = blobsNeeded(job.changes, (oid) => cache.hasText(oid) || state.upcoming.has(oid), known);
    // A change the memo answers decodes nothing, so it brings no text for a later job.
    job.brings = newSides(job.changes.filter((change) => !known(change)));
    for (const oid of job.brings) state.upcoming.set(oid, (state.upcoming.get(oid) ?? 0) + 1);
    job.blobs = repo.readBlobs(needed).then((contents) => new Map(needed.map((oid, k) => [oid, contents[k]!])));
    // Awaited in order when the job is extracted; until then a rejection is not unhandled.
    job.blobs.catch(() => undefined);
  }
}

function newSides(changes: readonly TreeChange[]): string[] {
  return changes.flatMap((change) => (change.newOid === null ? [] : [change.newOid]));
}

async function handle(request: WorkerRequest, job: QueuedJob | null, repo: GitRepo, state: WorkerState, reply: (r: WorkerResponse) => void): Promise<void> {
  const cache = state.cache;
  switch (request.type) {
    case 'extract':
      assert(job !== null && state.queued[0] === job, 'extract worker: jobs are extracted in order');
      try {
        readAhead(repo, state);
        reply(await extractJob(request.job, job, request.check, repo, cache));
      } catch (error) {
        const e = error as { message?: string; code?: string; hint?: string };
        reply({ type: 'failed', job: request.job, error: { message: e.message ?? String(error), ...(e.code === undefined ? {} : { code: e.code }), ...(e.hint === undefined ? {} : { hint: e.hint }) } });
      } finally {
        state.queued.shift();
        for (const oid of job.brings) {
          const left = (state.upcoming.get(oid) ?? 0) - 1;
          if (left > 0) state.upcoming.set(oid, left);
          else state.upcoming.delete(oid);
        }
        readAhead(repo, state);
      }
      return;
    case 'stats':
      reply({ type: 'stats', stats: { ...cache.stats }, blobs: cache.parsedBlobs(), busyMs: performance.eventLoopUtilization(state.since).active });
      return;
    case 'reset':
      // A new run on a warm worker: forget the blobs, keep the compiled code.
      assert(state.queued.length === 0, 'extract worker: reset with no job queued');
      state.cache = new ParseCache();
      state.since = performance.eventLoopUtilization();
      clearNamesMemo();
      reply({ type: 'reset' });
      return;
    case 'close':
      await repo.close();
      reply({ type: 'closed' });
      return;
  }
}

async function extractJob(job: number, queued: QueuedJob, check: boolean, repo: GitRepo, cache: ParseCache): Promise<WorkerResponse> {
  const changes = queued.changes;
  assert(queued.blobs !== null, 'extract worker: a job is read before it is extracted');
  const blobs = await queued.blobs;
  // A text an earlier job was to bring may be binary, or gone from the cache: read it now.
  const missing = blobsMissing(changes, blobs, cache);
  if (missing.length > 0) (await repo.readBlobs(missing)).forEach((bytes, i) => blobs.set(missing[i]!, bytes));
  // ACUs per change, so the pool can put each change's ACUs back in the commit's order.
  const acus = extractIdentified(changes, blobs, cache);
  const failures = check ? verifyRoundTrip(await applyAcus(parentView(repo, changes, blobs), acus.flat().map((a) => a.acu), cache), changes) : [];
  return { type: 'extracted', job, acus: acus.map((list) => list.map(packAcu)), failures };
}

await serve();
