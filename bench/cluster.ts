/**
 * `npm run bench:cluster [-- --samples N] [--warmup W] [--other-samples M] [--acus K] [--batch B]
 * [--tick-ms T] [--links plain|tls|both] [--block S] [--cpu-prof DIR] [--trace DIR] [--keep]`: four real sync-node processes
 * (bench/cluster-node.ts) on loopback, over a cluster fixture (fixtures/cluster.ts), parse-only
 * validation. Not run by CI; results and what bounds them in docs/benchmarks.md. Two measurements:
 *
 * 1. Decision latency: one fresh ACU at a time, handed to the node that leads the next height
 *    (round 0), which is where a proposal starts without a hop; the time from handing it over to
 *    that node's `decided` event (FINAL quorum, logged) and to its `agreed` event (the agreed
 *    commit and its note written, the ref moved). Each sample waits until all four nodes wrote the
 *    agreed commit, so samples do not queue behind each other. W warm-up samples, then N measured.
 *    M samples handed to the replica after the leader follow, for comparison.
 * 2. Throughput: K synthetic ACUs (whole-file additions, B per batch), handed to the four nodes in
 *    turn in chunks of 256, with at most 2B undecided at a time (the replica pool is made 4B); ACUs
 *    per second decided and written as agreed commits, on all four nodes, from the first hand-over.
 *
 * Every node must write the same agreed commit at every height; the bench fails otherwise. Ends
 * with one line: `bench:cluster p50_ms=X p99_ms=Y acus_per_s=Z` (latency to `decided`, and ACUs
 * per second decided).
 *
 * Links: `--links plain` (the default) links the nodes with plain `ws://` on loopback; `--links tls`
 * with `wss://` (TLS 1.3), each node's certificate from `acu init`'s code, pinned by the cluster
 * document, as the product does. `--links both` runs only the latency measurement, on two clusters
 * at once (one of each, eight processes, the idle four only ticking), in alternating blocks of S
 * samples (default 25) so that both modes see the same load on a shared machine; it prints both,
 * the CPU of the four node processes per decision in each, and the ratio, and ends with
 * `bench:cluster:links plain_p50_ms=X tls_p50_ms=Y p50_ratio=Z`.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fixtureEpochSeconds } from '../fixtures/builder.js';
import { buildClusterFixture, commitAll } from '../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { assert } from '../src/core/errors.js';
import { runGit } from '../src/git/exec.js';
import { readCluster, writeCluster } from '../src/store/cluster.js';
import { initTlsIdentity } from '../src/store/identity.js';
import type { FromNode, NodeSpec, ToNode } from './cluster-node.js';

const childEntry = fileURLToPath(new URL('./cluster-node.js', import.meta.url));

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i === -1 ? undefined : Number(process.argv[i + 1]);
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

function argText(name: string): string | null {
  const i = process.argv.indexOf(name);
  return i === -1 ? null : (process.argv[i + 1] ?? null);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

type Waiter = { readonly test: (message: FromNode) => boolean; readonly resolve: (message: FromNode) => void };

/** One child process running a node, with its messages. */
class BenchNode {
  readonly child: ChildProcess;
  private waiters: Waiter[] = [];
  decidedAcus = 0;
  agreedAcus = 0;
  readonly commits = new Map<number, string>();
  readonly exited: Promise<number | null>;
  onMessage: ((message: FromNode) => void) | null = null;

  constructor(readonly site: ClusterSite, readonly replica: number, spec: NodeSpec) {
    this.child = fork(childEntry, [JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.on('message', (message: FromNode) => {
      if (message.t === 'decided') this.decidedAcus += message.acus;
      if (message.t === 'agreed') {
        this.agreedAcus += message.acus;
        if (message.commit !== null) this.commits.set(message.height, message.commit);
      }
      if (message.t === 'error') console.error(`bench:cluster: node error: ${message.text}`);
      this.onMessage?.(message);
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) {
        if (waiter.test(message)) waiter.resolve(message);
        else this.waiters.push(waiter);
      }
    });
  }

  send(message: ToNode): void {
    this.child.send(message);
  }

  /** The next message that passes `test` (register before causing it). */
  next<K extends FromNode['t']>(t: K, test: (message: Extract<FromNode, { t: K }>) => boolean = () => true, timeoutMs = 30_000): Promise<Extract<FromNode, { t: K }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench:cluster: ${this.site.name} sent no '${t}' in ${timeoutMs} ms`)), timeoutMs).unref();
      this.waiters.push({
        test: (message) => message.t === t && test(message as Extract<FromNode, { t: K }>),
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as Extract<FromNode, { t: K }>);
        },
      });
    });
  }
}

/**
 * What one durable append costs on this disk: `writers` files appended to (512 bytes) and
 * fdatasynced `count` times each, all at once. A decision waits for six such writes in a row
 * (docs/benchmarks.md), each on the slowest node of a quorum.
 */
async function fsyncProbe(dir: string, writers: number, count: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    const handle = await open(join(dir, `fsync-probe-${w}`), 'a');
    try {
      for (let i = 0; i < count; i += 1) {
        const start = performance.now();
        await handle.write(Buffer.alloc(512, w));
        await handle.datasync();
        samples.push(performance.now() - start);
      }
    } finally {
      await handle.close();
    }
  }));
  const sorted = samples.sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

interface LatencySamples {
  readonly decidedMs: number[];
  readonly agreedMs: number[];
}

/** One ACU at a time to `pick(height)`, waiting for every node's agreed commit after each. */
async function latencyRun(nodes: readonly BenchNode[], count: number, pick: (height: number) => BenchNode, height: { next: number }): Promise<LatencySamples> {
  const decidedMs: number[] = [];
  const agreedMs: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const target = pick(height.next);
    const decided = target.next('decided');
    const agreed = target.next('agreed');
    const everywhere = Promise.all(nodes.map((node) => node.next('agreed', (m) => m.height === height.next)));
    target.send({ t: 'propose', count: 1 });
    const d = await decided;
    const a = await agreed;
    await everywhere;
    if (d.acus !== 1) throw new Error(`bench:cluster: height ${d.height} decided ${d.acus} ACUs, expected 1`);
    decidedMs.push(d.sinceProposeMs);
    agreedMs.push(a.sinceProposeMs);
    height.next = d.height + 1;
  }
  return { decidedMs, agreedMs };
}

function summary(samples: readonly number[]): { p50: number; p90: number; p95: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

function ms(value: number): string {
  return value.toFixed(2);
}

/** How the four nodes link: plain WebSocket on loopback, or TLS pinned by the cluster document. */
type Links = 'plain' | 'tls';

/**
 * Turn the fixture's plain loopback cluster into the product default: each site's TLS key and
 * certificate (as `acu init` makes them), `wss://` addresses and every member's pin, committed on
 * main and pulled by every site, so every site still starts from the same genesis commit.
 */
async function secureLinks(fixture: ClusterFixture): Promise<void> {
  const doc = await readCluster(fixture.origin);
  const members = [];
  for (const member of doc.members) {
    const site = fixture.sites.find((s) => s.id === member.id)!;
    const { tls } = await initTlsIdentity(join(site.dir, '.git'), site.id);
    members.push({ ...member, address: `wss://127.0.0.1:${site.port}`, tlsPin: tls.pin });
  }
  await writeCluster(fixture.origin, { ...doc, members });
  await commitAll(fixture.origin, 'acu cluster: wss:// addresses and TLS pins', fixtureEpochSeconds + 7200);
  for (const site of fixture.sites) await runGit(['pull', '-q', '--ff-only'], { cwd: site.dir, gitDir: null });
}

interface ClusterParams {
  readonly tickMs: number;
  readonly batch: number;
  readonly pendingMax: number;
  readonly traceDir: string | null;
}

/** Four sites under `dir`, linked as `links` says, their nodes started and ready. */
async function startCluster(dir: string, links: Links, params: ClusterParams, started: BenchNode[]): Promise<BenchNode[]> {
  const fixture = await buildClusterFixture(dir, {
    sites: ['s0', 's1', 's2', 's3'],
    files: { 'README.md': '# bench\n', 'src/index.ts': 'export const answer = 42;\n' },
  });
  if (links === 'tls') await secureLinks(fixture);
  const sortedIds = fixture.sites.map((site) => site.id).sort();
  const nodes = fixture.sites.map((site) => new BenchNode(site, sortedIds.indexOf(site.id), {
    // A round times out after 100 ticks (2 s at 20 ms): a batch of thousands is validated well within it.
    // The pool (default 4096, beyond which a node drops new ACUs from it) holds two batches in flight and more.
    cwd: site.dir, site: site.name, tickMs: params.tickMs, batchMs: 0, batchAcusMax: params.batch, pendingAcusMax: params.pendingMax, roundTimeoutTicks: 100,
    trace: params.traceDir === null ? null : join(resolve(params.traceDir), `${links}-${site.name}.jsonl`),
  }));
  // The caller stops them, whatever happens next.
  started.push(...nodes);
  await Promise.all(nodes.map((node) => node.next('ready')));
  return nodes;
}

/** Records built off the clock, in the nodes themselves (IPC carries counts, not bodies). */
async function generate(nodes: readonly BenchNode[], prefix: string, perNode: number, perCommit: number): Promise<void> {
  await Promise.all(nodes.map(async (node) => {
    const done = node.next('generated', () => true, 120_000);
    node.send({ t: 'gen', prefix, count: perNode, perCommit, fanout: 256 });
    await done;
  }));
}

/** CPU milliseconds the node processes (and their finished git processes) have used so far. */
async function usageOf(nodes: readonly BenchNode[]): Promise<{ cpuMs: number; gitCpuMs: number }> {
  const all = await Promise.all(nodes.map((node) => {
    const answer = node.next('usage');
    node.send({ t: 'usage' });
    return answer;
  }));
  return { cpuMs: all.reduce((n, u) => n + u.cpuMs, 0), gitCpuMs: all.reduce((n, u) => n + u.gitCpuMs, 0) };
}

/** One linked cluster in the comparison, with what it measured. */
interface Compared {
  readonly links: Links;
  readonly nodes: readonly BenchNode[];
  readonly byReplica: readonly BenchNode[];
  readonly height: { next: number };
  readonly decidedMs: number[];
  readonly agreedMs: number[];
  cpuMs: number;
  gitCpuMs: number;
}

/**
 * `--links both`: the latency measurement on a plain and a TLS cluster, in alternating blocks, with
 * the CPU of each cluster's node processes over its own blocks. Prints both and their ratio.
 */
async function compareLinks(top: string, params: ClusterParams, samples: number, warmup: number, blockSamples: number, started: BenchNode[]): Promise<void> {
  assert(blockSamples > 0, 'compareLinks: blocks of at least one sample');
  assert(samples > 0, 'compareLinks: at least one sample per mode');
  const modes: Compared[] = [];
  for (const links of ['plain', 'tls'] as const) {
    const nodes = await startCluster(join(top, links), links, params, started);
    await generate(nodes, 'lat', warmup + samples, 1);
    const byReplica = [...nodes].sort((a, b) => a.replica - b.replica);
    modes.push({ links, nodes, byReplica, height: { next: 0 }, decidedMs: [], agreedMs: [], cpuMs: 0, gitCpuMs: 0 });
  }
  for (const mode of modes) await latencyRun(mode.nodes, warmup, (h) => mode.byReplica[h % mode.byReplica.length]!, mode.height);
  // Alternate blocks, the order flipping each round, so that a change in the machine's load
  // (other jobs) falls on both modes alike.
  for (let done = 0, round = 0; done < samples; done += blockSamples, round += 1) {
    const count = Math.min(blockSamples, samples - done);
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const before = await usageOf(mode.nodes);
      const run = await latencyRun(mode.nodes, count, (h) => mode.byReplica[h % mode.byReplica.length]!, mode.height);
      const after = await usageOf(mode.nodes);
      mode.decidedMs.push(...run.decidedMs);
      mode.agreedMs.push(...run.agreedMs);
      mode.cpuMs += after.cpuMs - before.cpuMs;
      mode.gitCpuMs += after.gitCpuMs - before.gitCpuMs;
    }
  }
  console.log(`latency over plain ws:// and pinned TLS (wss://) links, one ACU at a time to the next height's leader, ${samples} samples each after ${warmup} warm-up, alternating blocks of ${blockSamples}:`);
  const figures = modes.map((mode) => ({ mode, decided: summary(mode.decidedMs), agreed: summary(mode.agreedMs) }));
  for (const { mode, decided, agreed } of figures) {
    assert(mode.decidedMs.length === samples, 'compareLinks: every sample measured');
    console.log(`  ${mode.links.padEnd(5)} decided: p50 ${ms(decided.p50)} ms, p95 ${ms(decided.p95)} ms, p99 ${ms(decided.p99)} ms, max ${ms(decided.max)} ms; agreed: p50 ${ms(agreed.p50)} ms, p99 ${ms(agreed.p99)} ms`);
    console.log(`  ${mode.links.padEnd(5)} CPU per decision, the 4 node processes together: ${ms(mode.cpuMs / samples)} ms (their git processes ${ms(mode.gitCpuMs / samples)} ms)`);
  }
  const [plain, tls] = figures as [typeof figures[0], typeof figures[0]];
  const ratio = (a: number, b: number): string => (a / b).toFixed(2);
  console.log(`  tls / plain: decided p50 ${ratio(tls.decided.p50, plain.decided.p50)}, p95 ${ratio(tls.decided.p95, plain.decided.p95)}, p99 ${ratio(tls.decided.p99, plain.decided.p99)}; CPU per decision ${ratio(tls.mode.cpuMs, plain.mode.cpuMs)}`);
  for (const { mode } of figures) sameCommits(mode.nodes);
  console.log(`bench:cluster:links plain_p50_ms=${ms(plain.decided.p50)} tls_p50_ms=${ms(tls.decided.p50)} p50_ratio=${ratio(tls.decided.p50, plain.decided.p50)}`);
}

/** Every node wrote the same agreed commit at every height; throws otherwise. The number of heights. */
function sameCommits(nodes: readonly BenchNode[]): number {
  const reference = nodes[0]!.commits;
  const differing = nodes.slice(1).filter((node) => node.commits.size !== reference.size || [...reference].some(([h, c]) => node.commits.get(h) !== c));
  if (differing.length > 0) throw new Error(`bench:cluster: agreed commits differ between nodes (${differing.map((node) => node.site.name).join(', ')})`);
  return reference.size;
}

async function main(): Promise<void> {
  const samples = argValue('--samples', 200);
  const warmup = argValue('--warmup', 20);
  const otherSamples = argValue('--other-samples', 40);
  const acus = argValue('--acus', 50_000);
  const batch = argValue('--batch', 4096);
  const tickMs = argValue('--tick-ms', 20);
  const blockSamples = argValue('--block', 25);
  const profileDir = argText('--cpu-prof');
  const keep = process.argv.includes('--keep');
  const traceDir = argText('--trace');
  const links = argText('--links') ?? 'plain';
  if (links !== 'plain' && links !== 'tls' && links !== 'both') throw new Error(`bench:cluster: --links ${links}: plain, tls or both`);
  const top = await makeTempDir('bench-cluster');
  const started = performance.now();
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`bench:cluster: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${load}, node ${process.version}, links ${links}; fixture in ${top}`);
  const pendingMax = Math.max(4096, 4 * batch);
  if (traceDir !== null) await mkdir(resolve(traceDir), { recursive: true });
  if (profileDir !== null) await mkdir(resolve(profileDir), { recursive: true });
  const params: ClusterParams = { tickMs, batch, pendingMax, traceDir };
  const all: BenchNode[] = [];
  try {
    if (links === 'both') {
      await compareLinks(top, params, samples, warmup, blockSamples, all);
      console.log(`${((performance.now() - started) / 1000).toFixed(1)} s in all; load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      return;
    }
    const nodes = await startCluster(top, links, params, all);
    const byReplica = [...nodes].sort((a, b) => a.replica - b.replica);
    const perNodeLatency = warmup + samples + otherSamples;
    const perNodeBulk = Math.ceil(acus / nodes.length);
    await generate(nodes, 'lat', perNodeLatency, 1);
    await generate(nodes, 'bulk', perNodeBulk, 64);

    const alone = await fsyncProbe(top, 1, 100);
    const together = await fsyncProbe(top, nodes.length, 50);
    console.log(`fsync (512-byte append + fdatasync) here: alone p50 ${ms(alone.p50)} ms, p99 ${ms(alone.p99)} ms; four at once p50 ${ms(together.p50)} ms, p99 ${ms(together.p99)} ms`);

    // --cpu-prof: each node profiles the measured latency samples, then the throughput run, apart.
    const profile = async (phase: 'latency' | 'throughput', start: boolean): Promise<void> => {
      if (profileDir === null) return;
      await Promise.all(nodes.map((node) => {
        const answer = node.next('profiled');
        node.send({ t: 'profile', start, path: join(resolve(profileDir), `${node.site.name}-${phase}.cpuprofile`) });
        return answer;
      }));
    };

    // ---- 1. latency ------------------------------------------------------------------------
    const height = { next: 0 };
    const leaderOfNext = (h: number): BenchNode => byReplica[h % byReplica.length]!;
    await latencyRun(nodes, warmup, leaderOfNext, height);
    await profile('latency', true);
    const latency = await latencyRun(nodes, samples, leaderOfNext, height);
    await profile('latency', false);
    // For comparison: handed to the replica after the next leader (one more hop, one more fsync).
    const other = await latencyRun(nodes, otherSamples, (h) => byReplica[(h + 1) % byReplica.length]!, height);
    const decided = summary(latency.decidedMs);
    const agreed = summary(latency.agreedMs);
    const otherDecided = summary(other.decidedMs);
    const otherAgreed = summary(other.agreedMs);
    console.log(`latency, one ACU at a time to the next height's leader, ${samples} samples after ${warmup} warm-up:`);
    console.log(`  decided: p50 ${ms(decided.p50)} ms, p90 ${ms(decided.p90)} ms, p99 ${ms(decided.p99)} ms, max ${ms(decided.max)} ms`);
    console.log(`  agreed commit written: p50 ${ms(agreed.p50)} ms, p90 ${ms(agreed.p90)} ms, p99 ${ms(agreed.p99)} ms, max ${ms(agreed.max)} ms`);
    console.log(`latency, to a node that does not lead the next height, ${otherSamples} samples:`);
    console.log(`  decided: p50 ${ms(otherDecided.p50)} ms, p99 ${ms(otherDecided.p99)} ms; agreed: p50 ${ms(otherAgreed.p50)} ms, p99 ${ms(otherAgreed.p99)} ms`);

    // ---- 2. throughput ---------------------------------------------------------------------
    const chunk = 256;
    const window = Math.min(2 * batch, pendingMax - chunk);
    const base = nodes.map((node) => ({ decided: node.decidedAcus, agreed: node.agreedAcus }));
    const decidedOf = (i: number): number => nodes[i]!.decidedAcus - base[i]!.decided;
    const agreedOf = (i: number): number => nodes[i]!.agreedAcus - base[i]!.agreed;
    const firstHeight = height.next;
    const total = perNodeBulk * nodes.length;
    const sentPer = nodes.map(() => 0);
    let sent = 0;
    let turn = 0;
    await profile('throughput', true);
    const usageBefore = await usageOf(nodes);
    const t0 = performance.now();
    const doneDecided = nodes.map(() => Number.NaN);
    const doneAgreed = nodes.map(() => Number.NaN);
    await new Promise<void>((resolveAll, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench:cluster: throughput run did not finish (decided ${nodes.map((_, i) => decidedOf(i)).join('/')}, agreed ${nodes.map((_, i) => agreedOf(i)).join('/')} of ${total})`)), 180_000);
      const pump = (): void => {
        const settled = Math.min(...nodes.map((_, i) => decidedOf(i)));
        while (sent < total && sent - settled + chunk <= window) {
          const i = turn % nodes.length;
          turn += 1;
          const count = Math.min(chunk, perNodeBulk - sentPer[i]!);
          if (count <= 0) continue;
          nodes[i]!.send({ t: 'propose', count });
          sentPer[i]! += count;
          sent += count;
        }
      };
      const check = (): void => {
        const now = performance.now() - t0;
        nodes.forEach((_, i) => {
          if (Number.isNaN(doneDecided[i]!) && decidedOf(i) >= total) doneDecided[i] = now;
          if (Number.isNaN(doneAgreed[i]!) && agreedOf(i) >= total) doneAgreed[i] = now;
        });
        if (doneAgreed.every((x) => !Number.isNaN(x))) {
          clearTimeout(timer);
          resolveAll();
        }
      };
      for (const node of nodes) {
        node.onMessage = (message) => {
          if (message.t === 'decided') pump();
          if (message.t === 'decided' || message.t === 'agreed') check();
        };
      }
      pump();
    });
    for (const node of nodes) node.onMessage = null;
    const usageAfter = await usageOf(nodes);
    await profile('throughput', false);
    const wallS = (performance.now() - t0) / 1000;
    const nodeCpuS = (usageAfter.cpuMs - usageBefore.cpuMs) / 1000;
    const gitCpuS = (usageAfter.gitCpuMs - usageBefore.gitCpuMs) / 1000;
    const decidedS = Math.max(...doneDecided) / 1000;
    const agreedS = Math.max(...doneAgreed) / 1000;
    const heights = Math.max(...nodes[0]!.commits.keys()) + 1 - firstHeight;
    const decidedRate = total / decidedS;
    const agreedRate = total / agreedS;
    console.log(`throughput, ${total} ACUs (whole-file additions) over 4 nodes, batches of at most ${batch}, at most ${window} undecided:`);
    console.log(`  decided on all 4 nodes in ${decidedS.toFixed(2)} s = ${decidedRate.toFixed(0)} ACUs/s; agreed commits written on all 4 in ${agreedS.toFixed(2)} s = ${agreedRate.toFixed(0)} ACUs/s`);
    console.log(`  ${heights} heights, ${(total / Math.max(1, heights)).toFixed(0)} ACUs per height on average`);
    console.log(`  CPU: the 4 node processes ${nodeCpuS.toFixed(1)} s (${((nodeCpuS * 1e6) / total / nodes.length).toFixed(0)} us per ACU per node), their git processes ${gitCpuS.toFixed(1)} s; ${((nodeCpuS + gitCpuS) / wallS).toFixed(2)} cores busy on average over ${wallS.toFixed(1)} s`);

    // ---- every node wrote the same commits -------------------------------------------------
    const heightsWritten = sameCommits(nodes);
    console.log(`same agreed commit on all 4 nodes at each of ${heightsWritten} heights; ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
    console.log(`bench:cluster p50_ms=${ms(decided.p50)} p99_ms=${ms(decided.p99)} acus_per_s=${decidedRate.toFixed(0)}`);
  } finally {
    for (const node of all) {
      if (node.child.connected) node.send({ t: 'stop' });
    }
    await Promise.race([Promise.all(all.map((node) => node.exited)), new Promise((r) => setTimeout(r, 10_000).unref())]);
    for (const node of all) if (node.child.exitCode === null) node.child.kill('SIGKILL');
    if (keep) console.log(`bench:cluster: kept ${top}`);
    else await removeTempDir(top);
  }
}

await main();
