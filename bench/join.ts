/**
 * `node dist/bench/join.js [heights]`: the time a new site takes to join a cluster that has agreed
 * on `heights` heights (default 10,000), end to end with real node processes on loopback.
 *
 * A 4-site cluster fixture; its chain is written in the first site's repository: `heights` agreed
 * commits on the genesis (empty batches, real certificates with three members' FINALs) and their
 * notes, the notes through one `git fast-import` (one notes commit per height and notes ref, as
 * `git notes add` makes them; fast-import fans the notes tree out as git does). Two more sites
 * fetch that chain and its notes. The three start their nodes with no log: each verifies the
 * whole chain and starts after it (the product's path for a site that cloned an agreed history).
 * The fourth site never ran and has a clone of the genesis only; its node is started, and the
 * benchmark times it until it reports its state transfer done and its written height is the tip:
 * wall time, and the CPU of its process and of the git processes it waited for, plus the CPU of
 * the peer that served it over the same span.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildClusterFixture } from '../fixtures/cluster.js';
import type { ClusterSite } from '../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { bodyDigestOf, genesisParent, valueIdOf } from '../src/core/consensus/index.js';
import type { Value } from '../src/core/consensus/index.js';
import { runGit } from '../src/git/exec.js';
import { GitRepo } from '../src/git/index.js';
import { loadIdentity } from '../src/store/identity.js';
import type { NodeIdentity } from '../src/store/identity.js';
import { agreedRef, notesRef, recordsNotesRef, writeAgreedCommit } from '../src/sync/agreed.js';
import type { AgreedNote, RecordsNote } from '../src/sync/agreed.js';
import { sha256Hex } from '../src/sync/crypto.js';
import type { NodeEvent } from '../src/sync/node.js';
import { clusterAtCommit } from '../src/sync/verify-chain.js';
import { certifyValue } from '../test/support/agreed-chain.js';
import { acu, nodeStatus, startNode, stopNode } from '../test/sync/real-nodes.js';
import type { RunningNode } from '../test/sync/real-nodes.js';

const heights = Number(process.argv[2] ?? 10_000);
if (!Number.isSafeInteger(heights) || heights < 1) throw new Error('usage: join.js [heights]');
/** How long any one wait may take before the benchmark gives up (a hung cluster). */
const waitMsMax = 30 * 60_000;
/** Clock ticks per second of /proc's CPU fields (USER_HZ). */
const ticksPerSecond = 100;

/** CPU ms of process `pid` and of the children it waited for (Linux /proc); 0 when it is gone. */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // After "pid (comm) ": utime, stime, cutime, cstime are fields 14 to 17, here 11 to 14.
    return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

async function waitFor(what: string, test: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + waitMsMax;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const top = await makeTempDir('bench-join');
const nodes: RunningNode[] = [];
try {
  const fixture = await buildClusterFixture(top, {
    sites: ['ash', 'birch', 'cedar', 'dogwood'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
  const [ash, birch, cedar, dogwood] = fixture.sites as [ClusterSite, ClusterSite, ClusterSite, ClusterSite];

  // The chain, in ash's repository.
  const building = performance.now();
  const repo = await GitRepo.open(ash.dir);
  const found = await clusterAtCommit(repo, fixture.genesis);
  if (!('cluster' in found)) throw new Error(found.problem);
  const cluster = found.cluster;
  const replicas: NodeIdentity[] = [];
  for (const member of cluster.members) {
    const site = fixture.sites.find((s) => s.id === member.id)!;
    replicas.push(await loadIdentity(join(site.dir, '.git')));
  }
  const tree = await repo.resolveTree(fixture.genesis);
  const stream: string[] = [];
  let parentCommit = fixture.genesis;
  let parentValue = genesisParent;
  for (let height = 0; height < heights; height += 1) {
    const commit = await writeAgreedCommit(repo, { height, parentCommit, records: [], tree, applied: [] });
    const value: Value = {
      batch: { height, parent: parentValue, acuIds: [], bodyDigest: bodyDigestOf(sha256Hex, []) },
      validation: { ok: true, conflicts: [], detailDigest: sha256Hex(new TextEncoder().encode(`detail of height ${height}`)) },
      resolution: [],
      outcome: commit,
    };
    const cert = certifyValue(cluster, replicas, height, 0, value, [0, 1, 2]);
    const valueId = valueIdOf({ digestHex: sha256Hex }, value);
    const note: AgreedNote = {
      v: 1, branch: cluster.branch, height, round: 0, valueId, parent: parentCommit, acus: [], applied: [], deferred: [], rejected: [],
      signers: cert.finals.map((f) => cluster.members[f.from]!.id), cert,
    };
    const bodies: RecordsNote = { v: 1, height, records: [] };
    const date = `${Math.floor(Date.parse((await repo.commitInfo(commit)).committerDate) / 1000)} +0000`;
    // Bodies first, as the node writes them; each note its own notes commit, as `git notes add`.
    for (const [ref, text] of [[recordsNotesRef, `${JSON.stringify(bodies)}\n`], [notesRef, `${JSON.stringify(note, null, 1)}\n`]] as const) {
      stream.push(`commit ${ref}\nauthor acu <acu@cluster> ${date}\ncommitter acu <acu@cluster> ${date}\ndata 0\nN inline ${commit}\ndata ${Buffer.byteLength(text)}\n${text}\n`);
    }
    parentCommit = commit;
    parentValue = valueId;
  }
  await runGit(['fast-import', '--quiet'], { cwd: repo.gitDir, gitDir: repo.gitDir, input: stream.join('') });
  await repo.updateRef(agreedRef(cluster.branch), parentCommit);
  await repo.close();
  const refs = [agreedRef(cluster.branch), notesRef, recordsNotesRef].map((ref) => `${ref}:${ref}`);
  for (const site of [birch, cedar]) await runGit(['fetch', '-q', ash.dir, ...refs], { cwd: site.dir, gitDir: null });
  const verified = acu(birch, ['verify', agreedRef(cluster.branch)]);
  if (verified.status !== 0) throw new Error(`acu verify: ${verified.stdout}${verified.stderr}`);
  console.log(`built ${heights} agreed heights in ${Math.round(performance.now() - building)} ms (acu verify passes on a site that fetched them)`);

  // The three sites that hold the chain start after it.
  const serversStarted = performance.now();
  for (const site of [ash, birch, cedar]) nodes.push(startNode(site));
  for (const site of [ash, birch, cedar]) {
    await waitFor(`${site.name} is up at the tip`, async () => (await nodeStatus(site))?.agreed.height === heights - 1);
  }
  console.log(`three sites started after the chain (each verified ${heights} heights) in ${Math.round(performance.now() - serversStarted)} ms`);

  // The new site joins.
  const serverPids = new Map(nodes.map((node, i) => [[ash, birch, cedar][i]!.id, node.child.pid]));
  const serverCpu0 = new Map([...serverPids].map(([id, pid]) => [id, cpuMsOf(pid)]));
  const t0 = performance.now();
  const startedAtMs = Date.now();
  const joining = startNode(dogwood);
  nodes.push(joining);
  const isDone = (e: NodeEvent): boolean => e.kind === 'catch-up' && e.data?.phase === 'done';
  let atTip = false;
  let cpuMs = 0;
  await waitFor('the new site joins', async () => {
    if (!atTip) atTip = (await nodeStatus(dogwood))?.agreed.height === heights - 1;
    if (!atTip || !joining.events.some(isDone)) return false;
    cpuMs = cpuMsOf(joining.child.pid);
    return true;
  });
  const wallMs = performance.now() - t0;
  const done = joining.events.find(isDone)!;
  const peer = String(done.data?.peer);
  const servedCpuMs = cpuMsOf(serverPids.get(peer)) - (serverCpu0.get(peer) ?? 0);
  const status = await nodeStatus(dogwood);
  if (status === null || status.catchUp !== null) throw new Error('the new site is not at rest after its transfer');
  // Where the time went, from the new node's own events.
  for (const e of joining.events) if (e.kind === 'started' || e.kind === 'catch-up') console.log(`  +${e.atMs - startedAtMs} ms ${e.kind}: ${e.text}`);
  console.log(`bench:join heights=${heights} pack_bytes=${String(done.data?.bytes)} join_wall_ms=${Math.round(wallMs)} join_cpu_ms=${Math.round(cpuMs)} server_cpu_ms=${Math.round(servedCpuMs)} heights_per_s=${(heights / (wallMs / 1000)).toFixed(1)}`);
} finally {
  for (const node of nodes) await stopNode(node);
  await removeTempDir(top);
}
