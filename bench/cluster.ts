/**
 * `npm run bench:cluster [-- --samples N] [--warmup W] [--other-samples M] [--acus K] [--batch B]
 * [--tick-ms T] [--cpu-prof DIR] [--trace DIR] [--keep]`: four real sync-node processes
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
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildClusterFixture } from '../fixtures/cluster.js';
import type { ClusterSite } from '../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
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

function summary(samples: readonly number[]): { p50: number; p90: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

function ms(value: number): string {
  return value.toFixed(2);
}

async function main(): Promise<void> {
  const samples = argValue('--samples', 200);
  const warmup = argValue('--warmup', 20);
  const otherSamples = argValue('--other-samples', 40);
  const acus = argValue('--acus', 50_000);
  const batch = argValue('--batch', 4096);
  const tickMs = argValue('--tick-ms', 20);
  const profileDir = argText('--cpu-prof');
  const keep = process.argv.includes('--keep');
  const traceDir = argText('--trace');
  const top = await makeTempDir('bench-cluster');
  const started = performance.now();
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`bench:cluster: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${load}, node ${process.version}; fixture in ${top}`);
  const fixture = await buildClusterFixture(top, {
    sites: ['s0', 's1', 's2', 's3'],
    files: { 'README.md': '# bench\n', 'src/index.ts': 'export const answer = 42;\n' },
  });
  const pendingMax = Math.max(4096, 4 * batch);
  const sortedIds = fixture.sites.map((site) => site.id).sort();
  if (traceDir !== null) await mkdir(resolve(traceDir), { recursive: true });
  if (profileDir !== null) await mkdir(resolve(profileDir), { recursive: true });
  const nodes = fixture.sites.map((site) => new BenchNode(site, sortedIds.indexOf(site.id), {
    // A round times out after 100 ticks (2 s at 20 ms): a batch of thousands is validated well within it.
    // The pool (default 4096, beyond which a node drops new ACUs from it) holds two batches in flight and more.
    cwd: site.dir, site: site.name, tickMs, batchMs: 0, batchAcusMax: batch, pendingAcusMax: pendingMax, roundTimeoutTicks: 100,
    trace: traceDir === null ? null : join(resolve(traceDir), `${site.name}.jsonl`),
  }));
  const byReplica = [...nodes].sort((a, b) => a.replica - b.replica);
  try {
    await Promise.all(nodes.map((node) => node.next('ready')));
    // Records are built off the clock, in the nodes themselves (IPC carries counts, not bodies).
    const perNodeLatency = warmup + samples + otherSamples;
    const perNodeBulk = Math.ceil(acus / nodes.length);
    await Promise.all(nodes.map(async (node) => {
      const done = node.next('generated', () => true, 120_000);
      node.send({ t: 'gen', prefix: 'lat', count: perNodeLatency, perCommit: 1, fanout: 256 });
      await done;
      const bulk = node.next('generated', () => true, 120_000);
      node.send({ t: 'gen', prefix: 'bulk', count: perNodeBulk, perCommit: 64, fanout: 256 });
      await bulk;
    }));

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
    const usageOf = async (): Promise<{ cpuMs: number; gitCpuMs: number }> => {
      const all = await Promise.all(nodes.map((node) => {
        const answer = node.next('usage');
        node.send({ t: 'usage' });
        return answer;
      }));
      return { cpuMs: all.reduce((n, u) => n + u.cpuMs, 0), gitCpuMs: all.reduce((n, u) => n + u.gitCpuMs, 0) };
    };
    await profile('throughput', true);
    const usageBefore = await usageOf();
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
    const usageAfter = await usageOf();
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
    const reference = nodes[0]!.commits;
    const differing = nodes.slice(1).filter((node) => node.commits.size !== reference.size || [...reference].some(([h, c]) => node.commits.get(h) !== c));
    if (differing.length > 0) throw new Error(`bench:cluster: agreed commits differ between nodes (${differing.map((node) => node.site.name).join(', ')})`);
    console.log(`same agreed commit on all 4 nodes at each of ${reference.size} heights; ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
    console.log(`bench:cluster p50_ms=${ms(decided.p50)} p99_ms=${ms(decided.p99)} acus_per_s=${decidedRate.toFixed(0)}`);
  } finally {
    for (const node of nodes) {
      if (node.child.connected) node.send({ t: 'stop' });
    }
    await Promise.race([Promise.all(nodes.map((node) => node.exited)), new Promise((r) => setTimeout(r, 10_000).unref())]);
    for (const node of nodes) if (node.child.exitCode === null) node.child.kill('SIGKILL');
    if (keep) console.log(`bench:cluster: kept ${top}`);
    else await removeTempDir(top);
  }
}

await main();
