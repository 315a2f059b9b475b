/**
 * A clone and a shared bare repository for the push-side checks (pre-push, the server's
 * pre-receive gate): four real Ed25519 identities, a committed cluster document as genesis, and
 * agreed commits certified by three of them, written as a sync node writes them. Every git call
 * here pins the dates, so commit ids are the same on every run.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { valueIdOf } from '../../src/core/consensus/index.js';
import { runGit } from '../../src/git/exec.js';
import { GitRepo } from '../../src/git/index.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import { initIdentity } from '../../src/store/identity.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { sha256Hex } from '../../src/sync/crypto.js';
import { commitClusterDoc, writeAgreedStep } from './agreed-chain.js';

/** The result of one git call. */
export interface GitOutput {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run git with fixed dates and no machine configuration. */
export function git(cwd: string, ...args: string[]): GitOutput {
  const date = '1714600000 +0000';
  const result = spawnSync('git', args, {
    cwd, encoding: 'utf8',
    env: {
      ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, NO_COLOR: '1',
    },
  });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Four identities sorted by id (replica order), their keys in repositories under `top`, and the
 * cluster document that names them, with addresses on loopback from port `firstPort` on.
 */
export async function makeCluster(top: string, firstPort = 7601): Promise<{ cluster: ClusterDoc; replicas: NodeIdentity[] }> {
  const made: { identity: NodeIdentity; site: string }[] = [];
  for (const site of ['paris', 'tokyo', 'lyon', 'berlin']) {
    const dir = join(top, `key-${site}`);
    await runGit(['init', '-q', dir], { cwd: top, gitDir: null });
    made.push({ identity: (await initIdentity(join(dir, '.git'))).identity, site });
  }
  made.sort((a, b) => (a.identity.id < b.identity.id ? -1 : 1));
  const cluster: ClusterDoc = {
    version: 1, branch: 'main',
    members: made.map((m, i) => ({ id: m.identity.id, publicKey: m.identity.publicKey, address: `ws://127.0.0.1:${firstPort + i}`, site: m.site, priority: i })),
  };
  return { cluster, replicas: made.map((m) => m.identity) };
}

/** A clone whose main is the genesis commit (the cluster document committed), checked out. */
export async function makeClone(dir: string, cluster: ClusterDoc): Promise<string> {
  await buildFixtureRepo(dir, { commits: [{ id: 'root', files: { 'a.ts': 'export const a = 1;\n' } }] });
  const repo = await GitRepo.open(dir);
  try {
    const genesis = await commitClusterDoc(repo, await repo.resolveCommit('HEAD'), cluster);
    git(dir, 'reset', '-q', '--hard', genesis);
    return genesis;
  } finally {
    await repo.close();
  }
}

/** Where an agreed chain stands: its tip commit and the value id of its last decision. */
export interface ChainTip {
  readonly commit: string;
  readonly height: number;
  readonly valueId: string;
}

/**
 * Write `count` more agreed commits (no records: the tree stays the parent's) on top of `from`
 * (null: from genesis, at height 0), certified by replicas 0, 1 and 2, and move refs/acu/main.
 */
export async function agree(dir: string, cluster: ClusterDoc, replicas: readonly NodeIdentity[], from: ChainTip | { genesis: string }, count: number): Promise<ChainTip> {
  const repo = await GitRepo.open(dir);
  try {
    let tip: ChainTip = 'genesis' in from ? { commit: from.genesis, height: -1, valueId: 'genesis' } : from;
    for (let i = 0; i < count; i += 1) {
      const height = tip.height + 1;
      const { commit, cert } = await writeAgreedStep(repo, cluster, replicas, { height, parentCommit: tip.commit, parentValue: tip.valueId, records: [], signers: [0, 1, 2] });
      tip = { commit, height, valueId: valueIdOf({ digestHex: sha256Hex }, cert.value) };
    }
    await repo.updateRef('refs/acu/main', tip.commit);
    return tip;
  } finally {
    await repo.close();
  }
}

/** A commit with `parent` as parent and one more file than it: other content under any note. */
export async function commitOnTop(dir: string, parent: string, file: string): Promise<string> {
  const repo = await GitRepo.open(dir);
  try {
    const blob = await repo.writeBlob(new TextEncoder().encode(`${file}\n`));
    const tree = await repo.writeTreeFromPaths(await repo.resolveTree(parent), new Map([[file, { mode: '100644', oid: blob }]]));
    const signature = { name: 'Mallory', email: 'mallory@example.com', timestamp: 1_714_600_000, timezoneOffset: 0 };
    return await repo.writeCommit({ tree, parents: [parent], message: `add ${file}\n`, author: signature, committer: signature });
  } finally {
    await repo.close();
  }
}
