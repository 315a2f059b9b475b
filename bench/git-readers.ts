/**
 * Per-object cost of each way acu could read git objects, on a real history: the figures behind the
 * tool choices in docs/git.md. Not part of `npm test`; run after a build:
 *
 *   node dist/bench/git-readers.js [git-dir] [--json]
 *
 * The default history is the read-only mobx mirror. This file imports isomorphic-git and simple-git
 * directly because it measures those libraries themselves; acu's code reaches them only via src/git.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import git from 'isomorphic-git';
import { simpleGit } from 'simple-git';
import { runGit } from '../src/git/exec.js';
import { GitRepo } from '../src/git/index.js';

const defaultGitDir = '/work/.mirror/mobxjs+mobx/repo';

/** How many objects or commits each method gets; the slow ones get fewer. */
const sampleSizes = {
  blobs: 2000,
  isoCachedBlobs: 1000,
  isoUncachedBlobs: 30,
  simpleGitShows: 100,
  diffTreeCommits: 2000,
  isoWalkCommits: 100,
  commits: 3000,
} as const;

/** Timed rounds per method after one untimed warm-up round; the median round is reported. */
const roundsMax = 5;
/** A method whose first round takes longer than this gets no more rounds (and no warm-up). */
const slowRoundMs = 2000;

interface Measurement {
  readonly method: string;
  readonly unit: string;
  readonly count: number;
  readonly rounds: number;
  /** Median round, in µs per unit. */
  readonly usPerUnit: number;
  /** Fastest and slowest rounds, in µs per unit. */
  readonly usPerUnitMin: number;
  readonly usPerUnitMax: number;
}

async function timeRound(count: number, run: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await run();
  return ((performance.now() - start) * 1000) / count;
}

async function measure(method: string, unit: string, count: number, run: () => Promise<void>): Promise<Measurement> {
  const first = await timeRound(count, run);
  const rounds: number[] = [];
  if ((first * count) / 1000 < slowRoundMs) {
    for (let round = 0; round < roundsMax; round += 1) rounds.push(await timeRound(count, run));
  } else {
    rounds.push(first);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)] ?? first;
  return { method, unit, count, rounds: rounds.length, usPerUnit: median, usPerUnitMin: rounds[0] ?? first, usPerUnitMax: rounds[rounds.length - 1] ?? first };
}

/** Blobs and first-parent commit pairs to read, taken from the newest history. */
async function samples(repo: GitRepo): Promise<{ blobs: string[]; pairs: Array<{ from: string | null; to: string }> }> {
  const commits = await repo.listCommits({ revs: ['HEAD'], walk: true, maxCount: sampleSizes.commits });
  const pairs = commits.map((c) => ({ from: c.parents[0] ?? null, to: c.oid }));
  const blobs = new Set<string>();
  for (const changes of await repo.diffTrees(pairs)) {
    for (const change of changes) {
      if (change.newOid !== null && change.newMode !== '160000') blobs.add(change.newOid);
    }
  }
  const present = [...blobs].slice(0, sampleSizes.blobs * 2);
  // A partial clone may lack some blobs: keep only those the object store has.
  const readable = await Promise.all(present.map(async (oid) => (await repo.readBlob(oid).then(() => true, () => false)) ? oid : null));
  return { blobs: readable.filter((oid): oid is string => oid !== null).slice(0, sampleSizes.blobs), pairs: pairs.reverse() };
}

/** The changed paths between two trees, the way isomorphic-git's walk finds them (no renames). */
async function isoWalkDiff(gitdir: string, cache: object, from: string, to: string): Promise<number> {
  const changed: unknown = await git.walk({
    fs, gitdir, cache,
    trees: [git.TREE({ ref: from }), git.TREE({ ref: to })],
    map: async (path, [a, b]) => {
      if (path === '.') return undefined;
      const [typeA, typeB] = await Promise.all([a?.type(), b?.type()]);
      if (typeA === 'tree' || typeB === 'tree') {
        const [oidA, oidB] = await Promise.all([a?.oid(), b?.oid()]);
        return oidA === oidB ? null : undefined; // null prunes an unchanged subtree
      }
      const [oidA, oidB] = await Promise.all([a?.oid(), b?.oid()]);
      return oidA === oidB ? undefined : path;
    },
  });
  return Array.isArray(changed) ? changed.length : 0;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const gitDir = args.find((a) => !a.startsWith('--')) ?? defaultGitDir;
  const asJson = args.includes('--json');
  const repo = await GitRepo.open(gitDir);
  const { blobs, pairs } = await samples(repo);
  const results: Measurement[] = [];

  const sequential = await GitRepo.open(gitDir);
  await sequential.readBlobs(blobs.slice(0, 20)); // start the process outside the timing
  results.push(await measure('cat-file --batch, sequential', 'blob', blobs.length, async () => {
    for (const oid of blobs) await sequential.readBlob(oid);
  }));
  await sequential.close();
  const pipelined = await GitRepo.open(gitDir);
  await pipelined.readBlobs(blobs.slice(0, 20));
  results.push(await measure('cat-file --batch, pipelined', 'blob', blobs.length, async () => {
    await pipelined.readBlobs(blobs);
  }));
  await pipelined.close();

  const cache = {};
  const cached = blobs.slice(0, sampleSizes.isoCachedBlobs);
  await git.readBlob({ fs, gitdir: gitDir, oid: cached[0] ?? '', cache });
  results.push(await measure('isomorphic-git readBlob, shared cache', 'blob', cached.length, async () => {
    for (const oid of cached) await git.readBlob({ fs, gitdir: gitDir, oid, cache });
  }));
  const uncached = blobs.slice(0, sampleSizes.isoUncachedBlobs);
  results.push(await measure('isomorphic-git readBlob, no cache', 'blob', uncached.length, async () => {
    for (const oid of uncached) await git.readBlob({ fs, gitdir: gitDir, oid });
  }));

  const shows = blobs.slice(0, sampleSizes.simpleGitShows);
  const sg = simpleGit({ baseDir: gitDir });
  results.push(await measure('simple-git show (a process per call)', 'blob', shows.length, async () => {
    for (const oid of shows) await sg.show([oid]);
  }));

  results.push(await measure('git cat-file blob via runGit (a process per call)', 'blob', shows.length, async () => {
    for (const oid of shows) await runGit(['cat-file', 'blob', oid], { cwd: gitDir, gitDir });
  }));

  const diffPairs = pairs.slice(0, sampleSizes.diffTreeCommits);
  results.push(await measure('diff-tree --stdin -r -M (one process)', 'commit', diffPairs.length, async () => {
    await repo.diffTrees(diffPairs);
  }));
  const walkPairs = diffPairs.filter((p) => p.from !== null).slice(0, sampleSizes.isoWalkCommits);
  results.push(await measure('isomorphic-git walk, shared cache (no renames)', 'commit', walkPairs.length, async () => {
    for (const pair of walkPairs) await isoWalkDiff(gitDir, cache, pair.from ?? '', pair.to);
  }));

  results.push(await measure('listCommits (rev-list + pipelined commitInfo)', 'commit', sampleSizes.commits, async () => {
    await repo.listCommits({ revs: ['HEAD'], walk: true, maxCount: sampleSizes.commits });
  }));
  await repo.close();

  if (asJson) {
    process.stdout.write(`${JSON.stringify({ gitDir, node: process.version, results }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`history: ${gitDir} (node ${process.version})\n`);
  for (const r of results) {
    const spread = `${r.usPerUnitMin.toFixed(0)}-${r.usPerUnitMax.toFixed(0)}`;
    process.stdout.write(`${r.method.padEnd(50)} ${r.usPerUnit.toFixed(1).padStart(10)} µs/${r.unit}  (${r.count} per round, ${r.rounds} rounds, ${spread})\n`);
  }
}

await main();
