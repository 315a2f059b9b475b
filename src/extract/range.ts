/**
 * Extraction over a revision or range: list the commits (parents first), diff each against its
 * first parent in batches through one `git diff-tree --stdin` per batch, read the blobs they need
 * through the long-lived `git cat-file --batch`, and extract. With `check`, every commit's ACUs are
 * applied back to its parent and the result compared with the commit's tree, path by path.
 */
import { AcuError, assert } from '../core/errors.js';
import type { CommitAcus } from '../core/acu/model.js';
import type { CommitInfo, GitRepo, TreeChange } from '../git/index.js';
import { applyAcus } from './apply.js';
import { ParseCache } from './cache.js';
import { ExtractPool, planRouting } from './pool.js';
import type { PoolStats } from './pool.js';
import { isSourcePath } from './segment.js';
import { blobsMissing, blobsNeeded, extractIdentified, fileMode, memoized } from './commit.js';
import type { FileChange } from './commit.js';
import { parentView, verifyRoundTrip } from './round-trip.js';

/** What to extract. */
export interface ExtractRangeOptions {
  /** Revisions: one commit (`HEAD`), a range (`A..B`), or several as git takes them. */
  readonly revs: readonly string[];
  /** Walk every ref. */
  readonly all?: boolean;
  /** At most this many commits, the newest. */
  readonly maxCount?: number;
  /** Only these paths (pathspecs). */
  readonly paths?: readonly string[];
  /** Apply the ACUs back and compare with the commit. */
  readonly check?: boolean;
  /** Shared parse cache (one per run, so each blob is parsed once); single-threaded runs only. */
  readonly cache?: ParseCache;
  /** Worker threads (1: extract in this thread). */
  readonly jobs?: number;
  /**
   * A pool to run on (reset first, and left open): a long-lived process keeps its workers warm.
   * Without one, a multi-threaded run starts and closes its own.
   */
  readonly pool?: ExtractPool;
  /** Receives the pool's parse counters when a multi-threaded run ends (benchmarks read them). */
  readonly onPoolStats?: (stats: PoolStats) => void;
}

/** One commit's extraction, with its round-trip verdict when checked. */
export interface ExtractedCommit extends CommitAcus {
  readonly info: CommitInfo;
  /** Empty when the round trip is exact or was not checked. */
  readonly failures: readonly string[];
}

/** Commits diffed by one `git diff-tree --stdin` call. */
const diffBatchCommits = 64;



/** Commits handed to the worker pool ahead of the one being yielded. */
const poolWindowCommits = 128;

/** The commits a run covers, oldest first. */
export async function listRange(repo: GitRepo, options: ExtractRangeOptions): Promise<CommitInfo[]> {
  const revs = options.revs.length === 0 && options.all !== true ? ['HEAD'] : [...options.revs];
  return repo.listCommits({
    revs,
    ...(options.all === true ? { all: true } : {}),
    ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
    ...(options.paths === undefined || options.paths.length === 0 ? {} : { paths: [...options.paths] }),
  });
}

/** Extract the given commits in order, yielding each as soon as it is done. */
export async function* extractCommits(
  repo: GitRepo,
  commits: readonly CommitInfo[],
  options: ExtractRangeOptions = { revs: [] },
): AsyncGenerator<ExtractedCommit> {
  if ((options.pool !== undefined || (options.jobs ?? 1) > 1) && commits.length > 1) {
    yield* extractWithPool(repo, commits, options);
    return;
  }
  const cache = options.cache ?? new ParseCache();
  // Read the next commit's blobs while this one is extracted: git answers while we parse.
  let pending: { commit: CommitInfo; changes: readonly TreeChange[]; blobs: Promise<Map<string, Uint8Array>> } | null = null;
  for await (const { commit, changes } of diffedCommits(repo, commits, options)) {
    // The old side of a change is not read when its text is cached, or is the new side of the
    // commit being extracted (extraction keeps the texts it decodes).
    // A change the memo answers decodes nothing, so it brings no text for the next commit.
    const known = memoized(cache);
    const upcoming: ReadonlySet<string> = new Set(pending?.changes.flatMap((change) => (change.newOid === null || known(change) ? [] : [change.newOid])));
    const next = { commit, changes, blobs: readNeeded(repo, changes, (oid) => cache.hasText(oid) || upcoming.has(oid), known) };
    // A rejection is awaited below, in order; until then it must not count as unhandled.
    next.blobs.catch(() => undefined);
    if (pending !== null) yield await extractOne(repo, pending.commit, pending.changes, await pending.blobs, cache, options.check === true);
    pending = next;
  }
  if (pending !== null) yield await extractOne(repo, pending.commit, pending.changes, await pending.blobs, cache, options.check === true);
}

async function readNeeded(
  repo: GitRepo,
  changes: readonly TreeChange[],
  held: (oid: string) => boolean,
  known: (change: FileChange) => boolean,
): Promise<Map<string, Uint8Array>> {
  const needed = blobsNeeded(changes, held, known);
  const contents = await repo.readBlobs(needed);
  return new Map(needed.map((oid, i) => [oid, contents[i]!]));
}

/** Each commit with its changes against its first parent, diffed in batches. */
async function* diffedCommits(
  repo: GitRepo,
  commits: readonly CommitInfo[],
  options: ExtractRangeOptions,
): AsyncGenerator<{ commit: CommitInfo; changes: readonly TreeChange[] }> {
  const shallow = repo.isShallow ? await repo.shallowBoundary() : new Set<string>();
  const paths = options.paths === undefined || options.paths.length === 0 ? {} : { paths: [...options.paths] };
  const diffBatch = (start: number): { batch: readonly CommitInfo[]; diffs: Promise<TreeChange[][]> } => {
    const batch = commits.slice(start, start + diffBatchCommits);
    const pairs = batch.map((commit) => ({ from: commit.parents[0] ?? null, to: commit.oid }));
    const diffs = repo.diffTrees(pairs, { renames: true, ...paths });
    // Awaited in order below; until then a rejection must not count as unhandled.
    diffs.catch(() => undefined);
    return { batch, diffs };
  };
  // The next batch's diff-tree runs while this batch is extracted.
  let current = commits.length > 0 ? diffBatch(0) : null;
  for (let start = 0; current !== null; start += diffBatchCommits) {
    // Named before git's own error about a missing parent can surface.
    for (const commit of current.batch) refuseShallow(commit, shallow);
    const next = start + diffBatchCommits < commits.length ? diffBatch(start + diffBatchCommits) : null;
    const diffs = await current.diffs;
    for (let i = 0; i < current.batch.length; i += 1) yield { commit: current.batch[i]!, changes: diffs[i] ?? [] };
    current = next;
  }
}

async function* extractWithPool(repo: GitRepo, commits: readonly CommitInfo[], options: ExtractRangeOptions): AsyncGenerator<ExtractedCommit> {
  const jobs = options.pool?.size ?? options.jobs ?? 1;
  const { diffed, sizes } = await diffForPlan(repo, commits, options, jobs);
  const plan = planRouting(diffed.flatMap((item) => item.changes), jobs, isSourcePath, (oid) => sizes.get(oid) ?? 0);
  const owned = options.pool === undefined;
  const pool = options.pool ?? ExtractPool.start(repo.workTree ?? repo.gitDir, jobs, plan);
  if (!owned) await pool.reset(plan);
  const window: { commit: CommitInfo; result: ReturnType<ExtractPool['extract']> }[] = [];
  const settle = async (): Promise<ExtractedCommit> => {
    const head = window.shift()!;
    const { acus, failures } = await head.result;
    return { commit: head.commit.oid, parent: head.commit.parents[0] ?? null, merge: head.commit.parents.length > 1, acus: acus.flat(), info: head.commit, failures };
  };
  try {
    for (const { commit, changes } of diffed) {
      const result = pool.extract(changes, options.check === true);
      // A rejected job is awaited in order below; until then, keep it from counting as unhandled.
      result.catch(() => undefined);
      window.push({ commit, result });
      if (window.length >= poolWindowCommits) yield await settle();
    }
    while (window.length > 0) yield await settle();
    options.onPoolStats?.(await pool.stats());
  } finally {
    if (owned) await pool.close();
  }
}

/**
 * The whole range diffed, with the sizes of its blobs, before the first job is sent: the routing
 * plan needs every blob family, and sizes weigh the families so that the workers get even shares
 * of bytes to parse. The workers wait for this, so the range is cut into `parts` slices, each
 * diffed by one diff-tree process and sized by one batch-check, all at once (a spawn costs 10-30
 * ms here, and git's rename detection keeps a core busy).
 */
async function diffForPlan(
  repo: GitRepo,
  commits: readonly CommitInfo[],
  options: ExtractRangeOptions,
  parts: number,
): Promise<{ diffed: { commit: CommitInfo; changes: readonly TreeChange[] }[]; sizes: Map<string, number> }> {
  assert(parts >= 1, 'diffForPlan: at least one part');
  const shallow = repo.isShallow ? await repo.shallowBoundary() : new Set<string>();
  // Named before git's own error about a missing parent can surface.
  for (const commit of commits) refuseShallow(commit, shallow);
  const paths = options.paths === undefined || options.paths.length === 0 ? {} : { paths: [...options.paths] };
  const sliceCommits = Math.max(diffBatchCommits, Math.ceil(commits.length / parts));
  const slices: (readonly CommitInfo[])[] = [];
  for (let start = 0; start < commits.length; start += sliceCommits) slices.push(commits.slice(start, start + sliceCommits));
  const results = await Promise.all(slices.map(async (slice) => {
    const diffs = await repo.diffTrees(slice.map((commit) => ({ from: commit.parents[0] ?? null, to: commit.oid })), { renames: true, ...paths });
    return { slice, diffs, sizes: await blobSizes(repo, diffs.flat()) };
  }));
  const diffed: { commit: CommitInfo; changes: readonly TreeChange[] }[] = [];
  const sizes = new Map<string, number>();
  for (const { slice, diffs, sizes: sliceSizes } of results) {
    slice.forEach((commit, i) => diffed.push({ commit, changes: diffs[i] ?? [] }));
    for (const [oid, size] of sliceSizes) sizes.set(oid, size);
  }
  return { diffed, sizes };
}

/** The sizes of the blobs of these changes (gitlinks name commits, not blobs: left out). */
async function blobSizes(repo: GitRepo, changes: readonly TreeChange[]): Promise<Map<string, number>> {
  const oids = new Set<string>();
  for (const change of changes) {
    if (change.oldOid !== null && change.oldMode !== fileMode.gitlink) oids.add(change.oldOid);
    if (change.newOid !== null && change.newMode !== fileMode.gitlink) oids.add(change.newOid);
  }
  const list = [...oids];
  const sizes = await repo.objectSizes(list);
  const out = new Map<string, number>();
  list.forEach((oid, i) => {
    const size = sizes[i];
    if (size !== null && size !== undefined) out.set(oid, size);
  });
  return out;
}

function refuseShallow(commit: CommitInfo, shallow: ReadonlySet<string>): void {
  if (!shallow.has(commit.oid) || commit.parents.length === 0) return;
  throw new AcuError('ERR_SHALLOW_BOUNDARY', `commit ${commit.oid.slice(0, 12)} is at the shallow boundary: its parent is not in this clone`, {
    hint: "fetch more history ('git fetch --deepen=<n>' or 'git fetch --unshallow'), or choose a range that stops above it",
    data: { commit: commit.oid },
  });
}

async function extractOne(
  repo: GitRepo,
  info: CommitInfo,
  changes: readonly TreeChange[],
  blobs: Map<string, Uint8Array>,
  cache: ParseCache,
  check: boolean,
): Promise<ExtractedCommit> {
  // A text expected from the cache may be binary, or gone from it since: read it now.
  const missing = blobsMissing(changes, blobs, cache);
  if (missing.length > 0) (await repo.readBlobs(missing)).forEach((bytes, i) => blobs.set(missing[i]!, bytes));
  const acus = extractIdentified(changes, blobs, cache).flat();
  const failures = check ? verifyRoundTrip(await applyAcus(parentView(repo, changes, blobs), acus.map((a) => a.acu), cache), changes).sort() : [];
  return {
    commit: info.oid,
    parent: info.parents[0] ?? null,
    merge: info.parents.length > 1,
    acus,
    info,
    failures,
  };
}
