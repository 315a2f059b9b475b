/**
 * The host simulator: n real `SyncNode`s (the whole host — effect loop, record exchange,
 * validation, conflict votes, agreed-commit writer) on the in-memory ports of
 * src/sync/memory-clock.ts, memory-network.ts and memory-log.ts, a model chain (host-chain.ts) and one ManualClock, with faults injected
 * at every effect, all drawn from one seed.
 *
 * How time and promises are driven, deterministically: the world owns the only clock. Each step
 * fires exactly one timer (a node's tick, a frame's delivery, a log write finishing, a fault or a
 * proposal of the workload), then awaits one `setImmediate`, which lets every promise chain that
 * timer started run to its end (microtasks all run before the next macrotask; the ports never do
 * real I/O, so nothing else can be waiting). Then the invariants are checked, and the next timer
 * fires. Same seed, same timers, same order: the same run.
 *
 * Faults, each drawn per seed: dropped, duplicated, delayed and reordered messages; partitions;
 * slow peers and peers that stop reading; crashes (a torn last log entry half the time); a log
 * whose next write fails (full disk, fsync error), which stops its node; held git locks and full
 * disks in the chain (the writer retries; a failed outcome is asked again); records larger than a
 * frame; invalid and conflicting records; clients that retry a failed proposal at once.
 *
 * Invariants: every honest node writes the same agreed commit at each height; no node raises an
 * error event unless its log failed; no node stops on its own unless its log failed; no promise
 * rejects unhandled; a node whose log failed signs nothing new after the failure; at the end every
 * proposed record is settled (agreed, deferred or rejected) on every node, records larger than a
 * frame too (they travel as fragments). Faults stop at `faultMs` ("GST"); every node that is down
 * is then restarted, and liveness is expected within `stableMsMax`.
 *
 * `HOST_SIM_TRACE=1` prints every node event with its simulated time (for replaying one seed).
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import type { FileAcu } from '../../src/core/acu/model.js';
import { faultsTolerated } from '../../src/core/consensus/index.js';
import { defaultPolicy } from '../../src/core/policy/index.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { nodeIdOf } from '../../src/store/identity.js';
import type { MemoryTransport } from '../../src/sync/memory-network.js';
import { ManualClock } from '../../src/sync/memory-clock.js';
import { MemoryDisk, MemoryNodeLog } from '../../src/sync/memory-log.js';
import { MemoryNetwork } from '../../src/sync/memory-network.js';
import type { NodeHost, NodeOptions } from '../../src/sync/node.js';
import { SyncNode } from '../../src/sync/node.js';
import { decisionsKept } from '../../src/sync/node-types.js';
import { recordVerifier, signRecord } from '../../src/sync/records.js';
import type { IdentifiedRecord, RecordSigner } from '../../src/sync/records.js';
import { ModelChain, ModelRepo } from './host-chain.js';
import { Prng } from './prng.js';

/** A seed's scenario; everything random about a run is drawn from the seed. */
export interface HostScenario {
  readonly seed: number;
  readonly nodes: number;
  readonly tickMs: number;
  /** Faults stop here (GST); then every node is restarted and liveness is expected. */
  readonly faultMs: number;
  readonly stableMsMax: number;
  readonly records: number;
  /** Files the records write: two records on one file with different content conflict. */
  readonly files: number;
  readonly invalidP: number;
  /** Chance a record is larger than a frame (it travels as fragments, in a message of its own). */
  readonly oversizedP: number;
  readonly dropP: number;
  readonly duplicateP: number;
  readonly delayMsMax: number;
  readonly crashes: number;
  readonly diskFaults: number;
  readonly chainFaults: number;
  readonly partitions: number;
  readonly slowPeers: number;
  readonly deafPeers: number;
  /**
   * A client retries a failed proposal on the same node at once (the node's log failed, so it is
   * stopping: the retry must fail too, never be acknowledged unlogged); otherwise it waits for the
   * node's restart.
   */
  readonly retrySameNode: boolean;
}

/** A message larger than this goes as fragments (a small frame limit keeps oversized records cheap). */
export const hostFrameBytesMax = 16 * 1024;
/** An oversized record: a few frames' worth (the transport's fragments), in a message of its own. */
const oversizedRecordBytes = 2.5 * hostFrameBytesMax;

/** The scenario of `seed` on `nodes` nodes. */
export function hostScenarioFor(seed: number, nodes: number): HostScenario {
  const prng = new Prng(seed * 31 + nodes);
  const calm = prng.chance(0.1);
  const records = prng.range(2, 8);
  return {
    seed, nodes, tickMs: 20,
    faultMs: prng.range(300, 1_000),
    stableMsMax: 20_000,
    records,
    files: prng.range(Math.max(2, Math.ceil(records / 2)), 40),
    invalidP: prng.pick([0, 0.05, 0.15]),
    oversizedP: prng.pick([0, 0.05, 0.15]),
    dropP: calm ? 0 : prng.pick([0, 0.02, 0.1]),
    duplicateP: prng.pick([0, 0.05]),
    delayMsMax: prng.pick([2, 10, 40]),
    crashes: calm ? 0 : prng.range(0, 2),
    diskFaults: calm ? 0 : prng.range(0, 2),
    chainFaults: calm ? 0 : prng.range(0, 3),
    partitions: calm ? 0 : prng.range(0, 1),
    slowPeers: calm ? 0 : prng.range(0, 1),
    deafPeers: calm ? 0 : prng.range(0, 1),
    retrySameNode: prng.chance(0.5),
  };
}

/** What a run found. */
export interface HostResult {
  readonly seed: number;
  readonly nodes: number;
  readonly violations: readonly string[];
  readonly liveness: string | null;
  readonly steps: number;
  readonly simulatedMs: number;
  readonly heights: number;
  readonly crashes: number;
  readonly faults: number;
}

/** One site: its durable state (disk, repository) and its current incarnation, if up. */
interface Site {
  readonly index: number;
  readonly identity: NodeIdentity;
  /** Signs the records proposed at this site (their origin is this member). */
  readonly signer: RecordSigner;
  readonly disk: MemoryDisk;
  readonly repo: ModelRepo;
  incarnation: Incarnation | null;
  /** A restart is scheduled or on its way. */
  restarting: boolean;
}

/** One process of a site: what a crash throws away. */
interface Incarnation {
  node: SyncNode | null;
  readonly log: MemoryNodeLog;
  readonly chain: ModelChain;
  readonly dropTimers: () => void;
  transport: MemoryTransport | null;
  /** Consensus messages sent before the log failed (re-sending one is not signing anew). */
  readonly signed: Set<string>;
  ended: boolean;
}

const pkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A real Ed25519 identity from 32 seeded bytes. */
export function seededIdentity(label: string): NodeIdentity {
  const seedBytes = createHash('sha256').update(label).digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([pkcs8Ed25519Prefix, seedBytes]), format: 'der', type: 'pkcs8' });
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = der.subarray(der.length - 32).toString('hex');
  return { id: nodeIdOf(publicKey), publicKey, privateKey };
}

function sha1Hex(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

const identitiesByNodes = new Map<number, readonly NodeIdentity[]>();

/**
 * The identities of an n-node world, sorted by id: the same for every seed (keys are not what a
 * seed varies, and making them costs more than a calm seed's run).
 */
export function simIdentities(nodes: number): readonly NodeIdentity[] {
  let identities = identitiesByNodes.get(nodes);
  if (identities === undefined) {
    identities = [...Array(nodes).keys()].map((i) => seededIdentity(`host-sim n${nodes} node ${i}`)).sort((a, b) => (a.id < b.id ? -1 : 1));
    identitiesByNodes.set(nodes, identities);
  }
  return identities;
}

/** A cluster document of `identities` (sorted by id, as replica indices are), sites s0, s1, ... */
export function simCluster(identities: readonly NodeIdentity[]): ClusterDoc {
  return {
    version: 1, branch: 'main',
    members: identities.map((identity, i) => ({ id: identity.id, publicKey: identity.publicKey, address: `ws://sim-${i}:1`, site: `s${i}`, priority: i })),
  };
}

/** The record signer of member `index` of `cluster`. */
export function simSigner(cluster: ClusterDoc, identity: NodeIdentity): RecordSigner {
  const member = cluster.members.find((m) => m.id === identity.id);
  if (member === undefined) throw new Error(`simSigner: ${identity.id} is not a member`);
  return { identity, member };
}

/** A synthetic record: one whole-file write, like bench/cluster-node.ts builds, signed by `signer`. */
export function syntheticRecord(signer: RecordSigner, file: string, data: string): IdentifiedRecord {
  const commit = sha1Hex(`${signer.member.site}/${file}/${data}`);
  const acu: FileAcu = {
    v: 1, level: 'file', file, fromFile: null, op: 'add', content: 'text', modeBefore: null, modeAfter: '100644', beforeOid: null,
    afterOid: sha1Hex(`blob ${data.length}\0${data}`), data, hunks: null, reason: null,
  };
  return signRecord(signer, acu, {
    commit, parent: sha1Hex(`${commit}^`), authorName: 'Host Sim', authorEmail: 'sim@example.com', authorTime: 1_704_067_200, subject: `sim ${file}`,
  });
}

/** Steps per run at most: a bound on a livelocked run, far above what a healthy one takes. */
const stepsMax = 2_000_000;

/** The host simulator for one scenario. */
export class HostWorld {
  readonly clock = new ManualClock();
  readonly network: MemoryNetwork;
  readonly cluster: ClusterDoc;
  readonly sites: Site[];
  readonly violations: string[] = [];
  private readonly prng: Prng;
  /** Agreed commit per height, as the first node wrote it. */
  private readonly agreed = new Map<number, { commit: string; site: number }>();
  /** Records proposed and accepted (durable at the node they were proposed to), with that node. */
  private readonly proposed = new Map<string, { site: number; oversized: boolean }>();
  private crashes = 0;
  private faults = 0;
  private stable = false;

  constructor(readonly scenario: HostScenario) {
    this.prng = new Prng(scenario.seed);
    const identities = simIdentities(scenario.nodes);
    this.cluster = simCluster(identities);
    this.network = new MemoryNetwork(this.clock, identities.map((identity) => identity.id), { seed: scenario.seed, limits: { frameBytesMax: hostFrameBytesMax, unreadFramesMax: 64 } });
    this.network.faults.dropP = scenario.dropP;
    this.network.faults.duplicateP = scenario.duplicateP;
    this.network.faults.delayMsMax = scenario.delayMsMax;
    this.sites = identities.map((identity, index) => ({ index, identity, signer: simSigner(this.cluster, identity), disk: new MemoryDisk(), repo: new ModelRepo('main'), incarnation: null, restarting: false }));
  }

  /** Run the scenario to its end; never throws (a thrown error is a violation). */
  async run(): Promise<HostResult> {
    const unhandled = (reason: unknown): void => {
      this.violations.push(`unhandled rejection: ${reason instanceof Error ? reason.stack ?? reason.message : String(reason)}`);
    };
    process.on('unhandledRejection', unhandled);
    let steps = 0;
    let liveness: string | null = null;
    try {
      for (const site of this.sites) this.startSite(site);
      this.scheduleWorkload();
      this.scheduleFaults();
      this.clock.after(this.scenario.faultMs, () => this.stabilize());
      const endMs = this.scenario.faultMs + this.scenario.stableMsMax;
      for (;;) {
        if (this.stable && steps % 16 === 0 && this.live()) break;
        if (!this.clock.step(endMs)) break;
        steps += 1;
        // Let every promise chain the timer started run to its end (see the file comment).
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (steps >= stepsMax) {
          this.violations.push(`no end after ${stepsMax} steps`);
          break;
        }
      }
      if (this.violations.length === 0 && !this.live()) liveness = this.livenessReport();
      this.checkNothingLost();
      await this.shutdown();
    } catch (error) {
      this.violations.push(`world threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    } finally {
      process.off('unhandledRejection', unhandled);
    }
    return {
      seed: this.scenario.seed, nodes: this.scenario.nodes, violations: this.violations, liveness, steps, simulatedMs: this.clock.nowMs(),
      heights: this.agreed.size, crashes: this.crashes, faults: this.faults,
    };
  }

  // ---- nodes ----------------------------------------------------------------------------------

  private startSite(site: Site): void {
    const { clock, drop } = this.clock.scope();
    const opened = MemoryNodeLog.open(site.disk, decisionsKept, recordVerifier(this.cluster), { clock, writeMs: 1 });
    const chain = new ModelChain(site.repo, this.cluster);
    const incarnation: Incarnation = { node: null, log: opened.log, chain, dropTimers: drop, transport: null, signed: new Set(), ended: false };
    site.incarnation = incarnation;
    const host: NodeHost = {
      cluster: this.cluster, identity: site.identity, opened, chain, clock, policy: defaultPolicy, apiSocket: null,
      transport: (events) => {
        const transport = this.network.transport(site.identity.id)(events);
        transport.onSend = (_to, value) => this.onSend(site, incarnation, value);
        incarnation.transport = transport;
        return transport;
      },
    };
    const options: NodeOptions = {
      cwd: '/sim', validation: 'parse', tickMs: this.scenario.tickMs, batchMs: 0,
      onEvent: (event) => this.onEvent(site, incarnation, event.kind, event.text, event.data),
      replica: { batchAcusMax: 8 },
    };
    SyncNode.create(host, options).then(
      (node) => {
        if (incarnation.ended) return;
        incarnation.node = node;
        void node.stoppedPromise.then(() => this.ended(site, incarnation));
      },
      (error: unknown) => {
        // A start that failed (its log failed on the genesis entry): down until restarted.
        if (!incarnation.log.hasFailed) this.violations.push(`site ${site.index}: start failed: ${error instanceof Error ? error.message : String(error)}`);
        this.ended(site, incarnation);
      },
    );
  }

  private ended(site: Site, incarnation: Incarnation): void {
    if (incarnation.ended) return;
    incarnation.ended = true;
    if (!incarnation.log.hasFailed && !this.stable) {
      // Nothing but a failed log stops a node before the end of the run.
      this.violations.push(`site ${site.index}: stopped on its own at ${this.clock.nowMs()} ms without a log failure`);
    }
    if (site.incarnation === incarnation) site.incarnation = null;
    this.scheduleRestart(site, this.stable ? 0 : this.prng.range(50, 600));
  }

  private scheduleRestart(site: Site, delayMs: number): void {
    if (site.restarting) return;
    site.restarting = true;
    this.clock.after(delayMs, () => {
      site.restarting = false;
      if (site.incarnation === null) this.startSite(site);
    });
  }

  /** Kill a site's process: nothing it had not made durable survives; its promises never settle. */
  private crash(site: Site, torn: boolean): void {
    const incarnation = site.incarnation;
    if (incarnation === null) return;
    this.crashes += 1;
    incarnation.ended = true;
    incarnation.dropTimers();
    incarnation.chain.kill();
    site.disk.crash(torn);
    this.network.detach(site.identity.id);
    site.incarnation = null;
    this.scheduleRestart(site, this.prng.range(50, 1_000));
  }

  private onSend(site: Site, incarnation: Incarnation, value: unknown): void {
    const frame = value as { t?: unknown; m?: unknown };
    if (frame.t !== 'c') return;
    const key = JSON.stringify(frame.m);
    if (!incarnation.log.hasFailed) {
      incarnation.signed.add(key);
      return;
    }
    if (!incarnation.signed.has(key)) this.violations.push(`site ${site.index}: sent a consensus message it signed after its log failed, at ${this.clock.nowMs()} ms`);
  }

  private onEvent(site: Site, incarnation: Incarnation, kind: string, text: string, data: Readonly<Record<string, unknown>> | undefined): void {
    if (process.env.HOST_SIM_TRACE === '1') console.log(`${this.clock.nowMs()} s${site.index} ${kind}: ${text.split('\n')[0]}`);
    if (kind === 'agreed') {
      const height = Number(data?.height);
      const commit = String(data?.commit);
      const first = this.agreed.get(height);
      if (first === undefined) this.agreed.set(height, { commit, site: site.index });
      else if (first.commit !== commit) this.violations.push(`height ${height}: site ${site.index} wrote ${commit.slice(0, 12)}, site ${first.site} wrote ${first.commit.slice(0, 12)}`);
    }
    if (kind === 'error' && !incarnation.log.hasFailed) this.violations.push(`site ${site.index}: error event: ${text.split('\n')[0]}`);
  }

  // ---- workload and faults ------------------------------------------------------------------

  private scheduleWorkload(): void {
    const { scenario, prng } = this;
    for (let k = 0; k < scenario.records; k += 1) {
      const atMs = prng.int(scenario.faultMs);
      const site = this.sites[prng.int(this.sites.length)]!;
      const file = `src/f${prng.int(scenario.files)}.txt`;
      const oversized = prng.chance(scenario.oversizedP);
      const invalid = prng.chance(scenario.invalidP);
      const data = `${invalid ? 'invalid ' : ''}record ${k} of seed ${scenario.seed}\n${oversized ? 'x'.repeat(oversizedRecordBytes) : ''}`;
      const item = syntheticRecord(site.signer, file, data);
      this.clock.after(atMs, () => this.propose(site, item, oversized));
    }
  }

  private propose(site: Site, item: IdentifiedRecord, oversized: boolean): void {
    const node = site.incarnation?.node ?? null;
    if (node === null) {
      // The site is down: its user tries again a little later, as the post-commit hook's outbox would.
      this.clock.after(100, () => this.propose(site, item, oversized));
      return;
    }
    const incarnation = site.incarnation!;
    node.proposeRecords([item]).then(
      () => void this.proposed.set(item.id, { site: site.index, oversized }),
      () => {
        // A failed proposal (the node's log failed): the client tries again on the same node at
        // once (which must fail too: nothing is acknowledged unlogged), or after its restart.
        if (this.scenario.retrySameNode) this.clock.after(100, () => this.propose(site, item, oversized));
        else this.afterRestart(site, incarnation, () => this.propose(site, item, oversized));
      },
    );
  }

  /** Run `then` once `site` runs an incarnation other than `old`. */
  private afterRestart(site: Site, old: Incarnation, then: () => void): void {
    this.clock.after(100, () => {
      if (site.incarnation !== null && site.incarnation !== old && site.incarnation.node !== null) then();
      else this.afterRestart(site, old, then);
    });
  }

  private scheduleFaults(): void {
    const { scenario, prng } = this;
    const at = (): number => prng.int(scenario.faultMs);
    const anySite = (): Site => this.sites[prng.int(this.sites.length)]!;
    for (let i = 0; i < scenario.crashes; i += 1) {
      const site = anySite();
      const torn = prng.chance(0.5);
      this.fault(at(), () => this.crash(site, torn));
    }
    for (let i = 0; i < scenario.diskFaults; i += 1) {
      const site = anySite();
      const fault = prng.chance(0.5) ? 'enospc' : 'fsync-eio';
      this.fault(at(), () => void (site.disk.nextFault = fault));
    }
    for (let i = 0; i < scenario.chainFaults; i += 1) {
      const site = anySite();
      const lock = prng.chance(0.5);
      const count = prng.range(1, 3);
      this.fault(at(), () => {
        if (lock) site.repo.faults.lockHeld += count;
        else site.repo.faults.diskFull += count;
      });
    }
    for (let i = 0; i < scenario.partitions; i += 1) {
      const groups = new Map(this.sites.map((site) => [site.identity.id, prng.int(2)]));
      const start = at();
      this.fault(start, () => void (this.network.faults.partition = groups));
      this.clock.after(Math.min(scenario.faultMs, start + prng.range(50, 800)), () => void (this.network.faults.partition = null));
    }
    for (let i = 0; i < scenario.slowPeers; i += 1) {
      const id = anySite().identity.id;
      const slowMs = prng.range(20, 300);
      this.fault(at(), () => void this.network.faults.slowMs.set(id, slowMs));
    }
    for (let i = 0; i < scenario.deafPeers; i += 1) {
      const id = anySite().identity.id;
      const start = at();
      this.fault(start, () => this.network.setReading(id, false));
      this.clock.after(Math.min(scenario.faultMs, start + prng.range(50, 1_500)), () => this.network.setReading(id, true));
    }
  }

  private fault(atMs: number, inject: () => void): void {
    this.clock.after(atMs, () => {
      if (this.stable) return;
      this.faults += 1;
      inject();
    });
  }

  /** GST: the network heals, faults stop, and every site that is down comes back. */
  private stabilize(): void {
    this.stable = true;
    const faults = this.network.faults;
    faults.dropP = 0;
    faults.duplicateP = 0;
    faults.delayMsMax = Math.min(faults.delayMsMax, 10);
    faults.partition = null;
    faults.slowMs.clear();
    for (const site of this.sites) {
      this.network.setReading(site.identity.id, true);
      site.disk.nextFault = null;
      site.repo.faults.lockHeld = 0;
      site.repo.faults.diskFull = 0;
      if (site.incarnation === null) this.scheduleRestart(site, 0);
    }
  }

  // ---- checks ---------------------------------------------------------------------------------

  /** Every site up, and every record that can travel settled on every site. */
  private live(): boolean {
    for (const site of this.sites) if (this.memoryOf(site) === null) return false;
    for (const id of this.proposed.keys()) {
      for (const site of this.sites) if (!this.memoryOf(site)?.settled.has(id)) return false;
    }
    return true;
  }

  private memoryOf(site: Site): { settled: ReadonlySet<string>; records: ReadonlyMap<string, unknown> } | null {
    const incarnation = site.incarnation;
    if (incarnation === null || incarnation.node === null) return null;
    return (incarnation.node as unknown as { ctx: { memory: { settled: Set<string>; records: Map<string, unknown> } } }).ctx.memory;
  }

  private livenessReport(): string {
    const down = this.sites.filter((site) => this.memoryOf(site) === null).map((site) => site.index);
    const unsettled = [...this.proposed.keys()].filter((id) => this.sites.some((site) => !this.memoryOf(site)?.settled.has(id)));
    const heights = this.sites.map((site) => site.incarnation?.node?.status().agreed.height ?? 'down');
    return `no liveness after GST + ${this.scenario.stableMsMax} ms: sites down [${down.join(', ')}], ${unsettled.length} of ${this.proposed.size} records unsettled, agreed heights [${heights.join(', ')}]`;
  }

  /** Every accepted record ends settled somewhere, or stays in the log of the site it was proposed to. */
  private checkNothingLost(): void {
    for (const [id, proposal] of this.proposed) {
      const settled = this.sites.some((site) => this.memoryOf(site)?.settled.has(id));
      const kept = this.memoryOf(this.sites[proposal.site]!)?.records.has(id) ?? true;
      if (!settled && !kept) this.violations.push(`record ${id.slice(0, 12)} (proposed to site ${proposal.site}) was lost`);
    }
  }

  private async shutdown(): Promise<void> {
    for (const site of this.sites) {
      const node = site.incarnation?.node;
      if (node === null || node === undefined) continue;
      site.incarnation!.ended = true;
      let stopped = false;
      void node.stop().then(() => void (stopped = true));
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Stopping waits for log writes in flight, which finish on the clock.
      for (let i = 0; i < 1_000 && !stopped; i += 1) {
        this.clock.step();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
}

/** Run one seed on `nodes` nodes. */
export function runHostSeed(seed: number, nodes: number): Promise<HostResult> {
  return new HostWorld(hostScenarioFor(seed, nodes)).run();
}

/** Faulty sites a cluster of `nodes` tolerates (for reports). */
export function hostFaultsTolerated(nodes: number): number {
  return faultsTolerated(nodes);
}
