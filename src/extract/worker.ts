/**
 * An extraction worker thread. It owns a repository handle (its own long-lived cat-file) and a
 * parse cache, and extracts the changes of the paths sharded to it, commit after commit. Every
 * path goes to one worker for the whole run, so a file's versions meet in one cache and each blob
 * is parsed once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GitRepo } from '../git/index.js';
import type { TreeChange } from '../git/index.js';
import type { IdentifiedAcu } from '../core/acu/model.js';
import { assert } from '../core/errors.js';
import { applyAcus } from './apply.js';
import { ParseCache } from './cache.js';
import { clearNamesMemo } from './names.js';
import type { ParseStats } from './cache.js';
import { blobsNeeded, extractChanges, identifyAll } from './commit.js';
import { parentView, verifyRoundTrip } from './range.js';

/** A request to a worker. */
export type WorkerRequest =
  | { readonly type: 'extract'; readonly job: number; readonly changes: readonly TreeChange[]; readonly check: boolean }
  | { readonly type: 'stats' }
  | { readonly type: 'reset' }
  | { readonly type: 'close' };

/** A worker's answer. */
export type WorkerResponse =
  | { readonly type: 'extracted'; readonly job: number; readonly acus: readonly (readonly IdentifiedAcu[])[]; readonly failures: readonly string[] }
  | { readonly type: 'failed'; readonly job: number; readonly error: { readonly message: string; readonly code?: string; readonly hint?: string } }
  | { readonly type: 'stats'; readonly stats: ParseStats; readonly blobs: readonly { oid: string; path: string }[] }
  | { readonly type: 'reset' }
  | { readonly type: 'closed' };

/** What the pool passes to each worker at start. */
export interface WorkerInit {
  readonly cwd: string;
}

async function serve(): Promise<void> {
  const port = parentPort;
  assert(port !== null, 'extract worker: started outside a worker thread');
  const init = workerData as WorkerInit;
  const repo = await GitRepo.open(init.cwd);
  const state = { cache: new ParseCache() };
  // Requests are served strictly in order: a file's later version must see its earlier one cached.
  let queue = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(() => handle(request, repo, state, (response) => port.postMessage(response)));
  });
}

async function handle(request: WorkerRequest, repo: GitRepo, state: { cache: ParseCache }, reply: (r: WorkerResponse) => void): Promise<void> {
  const cache = state.cache;
  switch (request.type) {
    case 'extract':
      try {
        reply(await extractJob(request.job, request.changes, request.check, repo, cache));
      } catch (error) {
        const e = error as { message?: string; code?: string; hint?: string };
        reply({ type: 'failed', job: request.job, error: { message: e.message ?? String(error), ...(e.code === undefined ? {} : { code: e.code }), ...(e.hint === undefined ? {} : { hint: e.hint }) } });
      }
      return;
    case 'stats':
      reply({ type: 'stats', stats: { ...cache.stats }, blobs: cache.parsedBlobs() });
      return;
    case 'reset':
      // A new run on a warm worker: forget the blobs, keep the compiled code.
      state.cache = new ParseCache();
      clearNamesMemo();
      reply({ type: 'reset' });
      return;
    case 'close':
      await repo.close();
      reply({ type: 'closed' });
      return;
  }
}

async function extractJob(job: number, changes: readonly TreeChange[], check: boolean, repo: GitRepo, cache: ParseCache): Promise<WorkerResponse> {
  const needed = blobsNeeded(changes);
  const contents = await repo.readBlobs(needed);
  const blobs = new Map(needed.map((oid, i) => [oid, contents[i]!]));
  // One change at a time, so the pool can put each change's ACUs back in the commit's order.
  const acus = changes.map((change) => identifyAll(extractChanges([change], blobs, cache)));
  const failures = check ? verifyRoundTrip(await applyAcus(parentView(repo, changes, blobs), acus.flat().map((a) => a.acu), cache), changes) : [];
  return { type: 'extracted', job, acus, failures };
}

await serve();
