/**
 * Chaos: four real sync-node processes (test/sync/chaos-node.ts, one SyncNode each, driven over
 * IPC) agree on a steady load of synthetic ACUs — each adds a new text file, so every one applies —
 * while a seeded schedule SIGKILLs one node at a time (f = 1) and restarts it after a short delay.
 * Some kills land on the node a proposal just returned from, the moment it returns (the records are
 * in its fsynced log, maybe not yet sent on), some right after a proposal was sent to a node (it may
 * or may not have logged it), the rest on a random node. Then the load stops, all four nodes run
 * until they settle, they are stopped with SIGTERM, and the test checks:
 *
 * - no ACU is lost: every record whose proposal returned is applied in exactly one agreed commit;
 *   records of proposals cut off by a kill land at most once; nothing lands that nobody proposed;
 * - every site holds the same agreed commit at every height, and so the same tip;
 * - nobody signed two values: across the certificates of every node's notes, no replica's FINAL
 *   for one height and round names two values; `acu verify` exits 0 on every site;
 * - the agreed tree holds every applied file with its content; no node reported an error.
 *
 * The seed is printed; replay a schedule with ACU_SEED=<seed> (process timing still varies). Waits
 * poll event-driven conditions with generous safety bounds (a node that never comes up, a proposal
 * that never returns, a cluster that never settles fail with the timeline); nothing asserts on wall
 * time. A failed run keeps its cluster directory for inspection and prints where.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { it } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { FileAcu } from '../../src/core/acu/model.js';
import { runGit } from '../../src/git/exec.js';
import { GitRepo, gitBlobOid } from '../../src/git/index.js';
import { readAgreedChain } from '../../src/sync/agreed.js';
import type { AgreedEntry } from '../../src/sync/agreed.js';
import { callNode } from '../../src/sync/api.js';
import type { NodeEvent, NodeStatus } from '../../src/sync/node.js';
import { readCluster } from '../../src/store/cluster.js';
import { loadIdentity } from '../../src/store/identity.js';
import { signRecord } from '../../src/sync/records.js';
import type { AcuRecord, RecordSigner } from '../../src/sync/records.js';
import { baseSeed, rng } from '../support/random.js';
import type { Rng } from '../support/random.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const acuBin = join(root, 'bin', 'acu.js');
const childEntry = fileURLToPath(new URL('./chaos-node.js', import.meta.url));

/** The schedule's knobs. */
const tickMs = 20;
/** Kills the chaos schedule makes at least (the load goes on until it has). */
const killsMin = 3;
const proposalCalls = 120; // 1-3 ACUs each: about 240 ACUs in all
const loadGapMs = [100, 500] as const;
const upDwellMs = [1_000, 3_000] as const;
const downDelayMs = [100, 2_000] as const;
/** Kills that land on the next node a proposal returns from, right as it returns (in its log, maybe not sent on). */
const killOnReturnPercent = 35;
/** Kills that land on the next node a proposal is sent to, right after sending (it may or may not have it). */
const killOnSendPercent = 25;
/** Safety bounds for hung runs (not timing assertions). */
const startBoundMs = 30_000;
const settleBoundMs = 60_000;
const proposalBoundMs = 30_000;

type ChildMessage =
  | { readonly t: 'event'; readonly event: NodeEvent }
  | { readonly t: 'ready' }
  | { readonly t: 'proposed'; readonly seq: number; readonly ids: readonly string[]; readonly fresh: number }
  | { readonly t: 'failed'; readonly seq: number; readonly message: string };

/** When a kill may land: right after a proposal was sent to the node, or right as it returned. */
type ProposalStage = 'sent' | 'returned';

interface Proposal {
  readonly seq: number;
  readonly site: string;
  readonly records: readonly { readonly id: string; readonly record: AcuRecord }[];
  readonly resolve: (outcome: 'returned' | 'lost') => void;
}

/** One site's node process, restarted in place after each kill. */
class ChaosNode {
  child: ChildProcess | null = null;
  started = false;
  exited: Promise<void> = Promise.resolve();
  readonly events: NodeEvent[] = [];
  stderr = '';
  starts = 0;
  kills = 0;
  readonly pending = new Map<number, Proposal>();
  /** Called as a proposal is sent to the node and as it returns (the chaos schedule kills on these). */
  onProposal: ((stage: ProposalStage) => void) | null = null;
  private startedWaiters: (() => void)[] = [];
  /** Set while the test itself is ending the process (a kill or a stop). */
  private ending = false;
  /** Why the process exited when nobody asked it to (a node that stops itself after an error). */
  diedOnItsOwn: string | null = null;

  constructor(readonly site: ClusterSite) {}

  get socket(): string {
    return join(this.site.dir, '.git', 'acu', 'node.sock');
  }

  get live(): boolean {
    return this.child !== null && this.started;
  }

  start(): void {
    assert.equal(this.child, null, `${this.site.name} is not running`);
    this.starts += 1;
    this.started = false;
    const child = spawn(process.execPath, [childEntry, this.site.dir, String(tickMs)], {
      cwd: this.site.dir, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, NO_COLOR: '1' },
    });
    this.child = child;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8_000);
    });
    child.on('message', (message: ChildMessage) => this.onMessage(message));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (!this.ending || (signal !== 'SIGKILL' && code !== 0)) {
          const lastError = [...this.events].reverse().find((e) => e.kind === 'error')?.text.split('\n')[0] ?? this.stderr.trim().split('\n').at(-1) ?? '';
          this.diedOnItsOwn ??= `${this.site.name} exited on its own (${String(code ?? signal)}) after: ${lastError}`;
          this.events.push({ atMs: Date.now(), node: this.site.id, kind: 'error', text: `the process exited on its own (${String(code ?? signal)})` });
        }
        this.ending = false;
        this.child = null;
        this.started = false;
        // Proposals it never answered: nobody knows whether they reached the log.
        for (const proposal of this.pending.values()) proposal.resolve('lost');
        this.pending.clear();
        for (const wake of this.startedWaiters.splice(0)) wake();
        resolve();
      });
    });
  }

  private onMessage(message: ChildMessage): void {
    if (message.t === 'event') {
      this.events.push(message.event);
      return;
    }
    if (message.t === 'ready') {
      this.started = true;
      for (const wake of this.startedWaiters.splice(0)) wake();
      return;
    }
    const proposal = this.pending.get(message.seq);
    if (proposal === undefined) return;
    this.pending.delete(message.seq);
    if (message.t === 'failed') {
      this.events.push({ atMs: Date.now(), node: this.site.id, kind: 'error', text: `proposal ${message.seq} failed: ${message.message}` });
      proposal.resolve('lost');
      return;
    }
    if (message.ids.join() !== proposal.records.map((item) => item.id).join()) {
      this.events.push({ atMs: Date.now(), node: this.site.id, kind: 'error', text: `proposal ${message.seq}: the node computed other record ids` });
      proposal.resolve('lost');
      return;
    }
    this.onProposal?.('returned');
    proposal.resolve('returned');
  }

  /** Resolves once `SyncNode.start` has returned in the child, or its process exits. */
  whenStarted(): Promise<void> {
    if (this.started || this.child === null) return Promise.resolve();
    return new Promise((resolve) => this.startedWaiters.push(resolve));
  }

  propose(proposal: Proposal): void {
    this.pending.set(proposal.seq, proposal);
    this.child!.send({ t: 'propose', seq: proposal.seq, records: proposal.records.map((r) => r.record) }, (error) => {
      if (error !== null && this.pending.delete(proposal.seq)) proposal.resolve('lost');
    });
    this.onProposal?.('sent');
  }

  /** SIGKILL the process (again, when it is already ending) and wait until it has exited. */
  async kill(): Promise<void> {
    if (this.child === null) return;
    this.ending = true;
    this.started = false;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Stop cleanly; true when the process exited 0. */
  async stop(): Promise<boolean> {
    const child = this.child;
    if (child === null) return true;
    let code: number | null = null;
    child.once('exit', (c) => {
      code = c;
    });
    this.ending = true;
    child.kill('SIGTERM');
    await this.exited;
    return code === 0;
  }
}

/** Throws when a node process ended without being told to: the run cannot settle after that. */
function assertAllAlive(nodes: readonly ChaosNode[]): void {
  const died = nodes.map((node) => node.diedOnItsOwn).filter((why) => why !== null);
  if (died.length > 0) assert.fail(`a node process ended on its own: ${died.join('; ')}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function between(r: Rng, [low, high]: readonly [number, number]): number {
  return low + r.int(high - low + 1);
}

/** Poll `check` until it returns true; the bound is a safety net for a hung run, not a timing assertion. */
async function until(what: string, check: () => Promise<boolean> | boolean, boundMs: number, everyMs = 100): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > boundMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function statusOf(node: ChaosNode): Promise<NodeStatus | null> {
  if (!node.live) return null;
  const answer = await callNode(node.socket, { type: 'status' }, 2_000);
  return answer?.ok === true ? (answer.result as NodeStatus) : null;
}

/** A synthetic ACU: add `file` as a new text file, signed by the node it is proposed to. */
function addFileRecord(file: string, text: string, commit: string, parent: string, signer: RecordSigner, time: number): { id: string; record: AcuRecord } {
  const acu: FileAcu = {
    v: 1, level: 'file', file, fromFile: null, op: 'add', content: 'text', modeBefore: null, modeAfter: '100644',
    beforeOid: null, afterOid: gitBlobOid(new TextEncoder().encode(text)), data: text, hunks: null, reason: null,
  };
  const site = signer.member.site;
  return signRecord(signer, acu, { commit, parent, authorName: `chaos ${site}`, authorEmail: `${site}@chaos.example`, authorTime: time, subject: `chaos load ${file}` });
}

/** A site's node as a record signer: its key (in the clone's git directory) and its member entry. */
async function signerOf(site: ClusterSite): Promise<RecordSigner> {
  const identity = await loadIdentity(join(site.dir, '.git'));
  const member = (await readCluster(site.dir)).members.find((m) => m.id === identity.id);
  assert.ok(member !== undefined, `${site.name} is a member of its cluster`);
  return { identity, member };
}

function spawnText(command: string, args: readonly string[], cwd: string): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.once('error', (error) => resolve({ status: 127, output: `${output}${error.message}` }));
    child.once('close', (code) => resolve({ status: code ?? 128, output }));
  });
}

async function agreedChainOf(dir: string): Promise<AgreedEntry[]> {
  const tip = (await runGit(['rev-parse', '--verify', 'refs/acu/main^{commit}'], { cwd: dir, gitDir: null })).stdout.toString('utf8').trim();
  const repo = await GitRepo.open(dir);
  try {
    return (await readAgreedChain(repo, tip)).reverse();
  } finally {
    await repo.close();
  }
}

/** What went on, for a failure's diagnostics: per node, its last events and its stderr. */
function timeline(nodes: readonly ChaosNode[], startMs: number): string {
  const lines: string[] = [];
  for (const node of nodes) {
    lines.push(`--- ${node.site.name}: ${node.starts} starts, ${node.kills} kills`);
    const interesting = node.events.filter((e) => e.kind !== 'peer-up' && e.kind !== 'peer-down' && e.kind !== 'validated');
    for (const e of interesting.slice(-40)) {
      const text = e.kind === 'error' ? e.text.split('\n').slice(0, 8).join('\n' + ' '.repeat(20)) : e.text;
      lines.push(`  ${((e.atMs - startMs) / 1000).toFixed(2).padStart(7)}s ${e.kind.padEnd(9)} ${text}`);
    }
    if (node.stderr.trim() !== '') lines.push(`  stderr: ${node.stderr.trim().split('\n').slice(-10).join('\n          ')}`);
  }
  return lines.join('\n');
}

it('chaos: four node processes agree on every ACU while one at a time is SIGKILLed and restarted', { timeout: 240_000 }, async (t: TestContext) => {
  const seed = baseSeed(0x5eed_c4a0);
  // Two streams, so that the load's draws do not shift the kill schedule and back.
  const r = rng(seed);
  const chaosRng = rng((seed ^ 0x9e37_79b9) >>> 0);
  const startMs = Date.now();
  const say = (text: string): void => t.diagnostic(`[${((Date.now() - startMs) / 1000).toFixed(1)}s] ${text}`);
  say(`chaos seed ${seed} (replay the schedule with ACU_SEED=${seed})`);
  // No machine's git configuration may leak into the sites (the fixture sets what they need).
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  process.env.GIT_CONFIG_GLOBAL = '/dev/null';

  const top = await makeTempDir('chaos');
  const nodes: ChaosNode[] = [];
  let failed = true;
  try {
    const fixture = await buildClusterFixture(top, { sites: ['s0', 's1', 's2', 's3'], files: { 'README.md': '# chaos\n' } });
    for (const site of fixture.sites) nodes.push(new ChaosNode(site));
    const signers = new Map(await Promise.all(fixture.sites.map(async (site) => [site.name, await signerOf(site)] as const)));
    for (const node of nodes) node.start();
    await until('all four nodes to start', async () => {
      await Promise.race([Promise.all(nodes.map((node) => node.whenStarted())), sleep(1_000)]);
      assertAllAlive(nodes);
      return nodes.every((node) => node.live);
    }, startBoundMs);
    await until('a full mesh', async () => {
      const statuses = await Promise.all(nodes.map(statusOf));
      return statuses.every((s) => s !== null && s.peers.every((p) => p.connected));
    }, startBoundMs);
    say('four nodes up and connected');

    // ---- load and chaos, concurrently -----------------------------------------------------------
    const returned = new Map<string, { id: string; record: AcuRecord }>(); // proposals that returned
    const unknown = new Map<string, { id: string; record: AcuRecord }>(); // proposals that did not
    const outcomes: Promise<void>[] = [];
    let loadDone = false;
    const killedOn: Record<ProposalStage, number> = { sent: 0, returned: 0 };
    let loadSent = false;
    let fileSeq = 0;

    const load = async (): Promise<void> => {
      // At least `proposalCalls` proposals, and on until the schedule has killed `killsMin` nodes: on
      // a slow machine restarts take longer, and the load must not end before the chaos it is for.
      const killsSoFar = (): number => nodes.reduce((sum, node) => sum + node.kills, 0);
      for (let seq = 0; seq < proposalCalls || (killsSoFar() < killsMin && seq < proposalCalls * 4); seq += 1) {
        await sleep(between(r, loadGapMs));
        const live = nodes.filter((node) => node.live);
        if (live.length === 0) continue;
        const node = r.pick(live);
        const commit = createHash('sha1').update(`chaos ${seed} ${seq}`).digest('hex');
        const count = 1 + r.int(3);
        const records = Array.from({ length: count }, () => {
          fileSeq += 1;
          const file = `chaos/${String(fileSeq).padStart(4, '0')}.txt`;
          return addFileRecord(file, `chaos file ${fileSeq} of seed ${seed}\nproposed to ${node.site.name}\n`, commit, fixture.genesis, signers.get(node.site.name)!, 1_700_000_000 + seq);
        });
        outcomes.push(new Promise<'returned' | 'lost'>((resolve) => node.propose({ seq, site: node.site.name, records, resolve })).then((outcome) => {
          for (const item of records) (outcome === 'returned' ? returned : unknown).set(item.id, item);
        }));
      }
      loadSent = true;
      // A proposal to a node that stays up must return; one that does not is a hung node.
      let settled = 0;
      for (const outcome of outcomes) void outcome.then(() => { settled += 1; });
      await until('every proposal to a live node to return', () => settled === outcomes.length, proposalBoundMs).catch((error: unknown) => {
        const hung = nodes.flatMap((node) => [...node.pending.values()].map((p) => `proposal ${p.seq} to ${node.site.name}`));
        throw new Error(`${error instanceof Error ? error.message : String(error)}: ${hung.join(', ')}`);
      });
      loadDone = true;
    };

    /** Arm every node to be killed the moment a proposal reaches `stage` there; resolves with the one killed. */
    const killOnNextProposal = (stage: ProposalStage): Promise<ChaosNode> => new Promise((resolve) => {
      let armed = true;
      const disarm = (): void => {
        armed = false;
        for (const node of nodes) node.onProposal = null;
      };
      for (const node of nodes) {
        node.onProposal = (at): void => {
          if (!armed || at !== stage) return;
          disarm();
          void node.kill();
          killedOn[stage] += 1;
          resolve(node);
        };
      }
      // When the load has sent its last proposal first, a plain kill instead.
      void until('the load to end', () => loadSent || !armed, 600_000, 50).then(() => {
        if (!armed) return;
        disarm();
        resolve(chaosRng.pick(nodes));
      });
    });

    const chaos = async (): Promise<void> => {
      while (!loadDone) {
        await sleep(between(chaosRng, upDwellMs));
        if (loadDone) break;
        assertAllAlive(nodes);
        const roll = chaosRng.int(100);
        const stage: ProposalStage | null = roll < killOnReturnPercent ? 'returned' : roll < killOnReturnPercent + killOnSendPercent ? 'sent' : null;
        const victim = stage === null ? chaosRng.pick(nodes) : await killOnNextProposal(stage);
        victim.kills += 1;
        await victim.kill();
        const downMs = between(chaosRng, downDelayMs);
        say(`killed ${victim.site.name}; restarting it in ${downMs} ms`);
        await sleep(downMs);
        victim.start();
        await until(`${victim.site.name} to restart`, async () => {
          await Promise.race([victim.whenStarted(), sleep(1_000)]);
          return victim.live || victim.child === null;
        }, startBoundMs).catch((error: unknown) => {
          const startedEvent = victim.events.filter((e) => e.kind === 'started').length === victim.starts;
          throw new Error(`${error instanceof Error ? error.message : String(error)}: SyncNode.start() has not returned${startedEvent ? ' (though the node reported \'started\')' : ''}`);
        });
        assert.ok(victim.live, `${victim.site.name} restarts: ${victim.stderr}`);
      }
    };

    await Promise.all([load(), chaos()]);
    assertAllAlive(nodes);
    const killsTotal = nodes.reduce((sum, node) => sum + node.kills, 0);
    say(`load done: ${returned.size} ACUs proposed and returned, ${unknown.size} in proposals cut off by a kill; ${killsTotal} kills (${killedOn.sent} right after a proposal was sent, ${killedOn.returned} right as one returned)`);
    assert.ok(nodes.every((node) => node.live), 'all four nodes are up after the chaos');
    assert.ok(killsTotal >= killsMin, `the schedule killed nodes (${killsTotal} kills)`);

    // ---- settle: every node has every record it knows settled, at the same agreed commit ----------
    let last: (NodeStatus | null)[] = [];
    await until('the cluster to settle', async () => {
      assertAllAlive(nodes);
      last = await Promise.all(nodes.map(statusOf));
      const first = last[0];
      return first !== null && first !== undefined && first.agreed.commit !== null &&
        last.every((s) => s !== null && s.pendingAcus === 0 && s.agreed.commit === first.agreed.commit);
    }, settleBoundMs, 250).catch((error: unknown) => {
      const summary = last.map((s, i) => `${nodes[i]!.site.name}: ${s === null ? 'no answer' : `height ${s.height} round ${s.round} ${s.phase}, agreed ${s.agreed.height}, ${s.pendingAcus} pending`}`);
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${summary.join('\n')}`);
    });
    say(`settled at agreed height ${last[0]!.agreed.height}`);
    const stopped = await Promise.all(nodes.map((node) => node.stop()));
    assert.deepEqual(stopped, [true, true, true, true], 'every node stops cleanly on SIGTERM');

    // ---- the same chain everywhere ----------------------------------------------------------------
    const chains = await Promise.all(fixture.sites.map((site) => agreedChainOf(site.dir)));
    const [chain0] = chains;
    assert.ok(chain0 !== undefined && chain0.length > 0);
    for (const [s, chain] of chains.entries()) {
      const name = fixture.sites[s]!.name;
      assert.deepEqual(chain.map((e) => e.commit), chain0.map((e) => e.commit), `${name} holds the same agreed commit at every height`);
      chain.forEach((entry, h) => {
        assert.equal(entry.noteProblem, null, `${name} height ${h}: ${entry.noteProblem ?? ''}`);
        assert.equal(entry.note!.height, h, `${name}: heights count up from 0`);
      });
    }

    // ---- no ACU lost, none twice --------------------------------------------------------------------
    for (const [s, chain] of chains.entries()) {
      const name = fixture.sites[s]!.name;
      const seen = new Map<string, number>();
      for (const { note } of chain) {
        assert.deepEqual(note!.deferred, [], `${name} height ${note!.height}: nothing deferred`);
        assert.deepEqual(note!.rejected, [], `${name} height ${note!.height}: nothing rejected`);
        for (const id of note!.applied) {
          assert.equal(seen.get(id), undefined, `${name}: record ${id.slice(0, 12)} is applied at heights ${seen.get(id) ?? ''} and ${note!.height}`);
          seen.set(id, note!.height);
        }
        for (const id of note!.cert.value.batch.acuIds) assert.ok(note!.applied.includes(id), `${name} height ${note!.height}: ${id.slice(0, 12)} is in the batch but not applied`);
      }
      const lost = [...returned.keys()].filter((id) => !seen.has(id));
      assert.deepEqual(lost.map((id) => returned.get(id)!.record.acu.file), [], `${name}: every proposal that returned lands`);
      const phantom = [...seen.keys()].filter((id) => !returned.has(id) && !unknown.has(id));
      assert.deepEqual(phantom, [], `${name}: nothing lands that nobody proposed`);
    }

    // ---- nobody signed two values for one height and round -----------------------------------------
    const signed = new Map<string, Set<string>>(); // `height/round/replica` -> value ids
    let finals = 0;
    for (const chain of chains) {
      for (const { note } of chain) {
        for (const final of note!.cert.finals) {
          assert.equal(final.height, note!.height, 'a FINAL is of its note\'s height');
          const key = `${final.height}/${final.round}/${final.from}`;
          const values = signed.get(key) ?? new Set<string>();
          values.add(final.body.valueId);
          signed.set(key, values);
          finals += 1;
        }
      }
    }
    const doubles = [...signed].filter(([, values]) => values.size > 1).map(([key]) => key);
    assert.deepEqual(doubles, [], 'no replica signed two FINALs for one height and round');
    const verified = await Promise.all(fixture.sites.map((site) => spawnText(process.execPath, [acuBin, 'verify'], site.dir)));
    verified.forEach((result, s) => assert.equal(result.status, 0, `acu verify on ${fixture.sites[s]!.name}:\n${result.output}`));

    // ---- the agreed tree holds every applied file --------------------------------------------------
    const listing = (await runGit(['ls-tree', '-r', 'refs/acu/main'], { cwd: fixture.sites[0]!.dir, gitDir: null })).stdout.toString('utf8');
    const tree = new Map(listing.split('\n').filter((line) => line !== '').map((line) => {
      const [meta, path] = line.split('\t') as [string, string];
      return [path, meta.split(' ')[2]!];
    }));
    const appliedIds = new Set(chain0.flatMap((e) => e.note!.applied));
    for (const id of appliedIds) {
      const item = returned.get(id) ?? unknown.get(id)!;
      const acu = item.record.acu as FileAcu;
      assert.equal(tree.get(acu.file), acu.afterOid, `the agreed tree holds ${acu.file} with its content`);
    }
    assert.equal(tree.get('README.md') !== undefined, true, 'the genesis files are still there');

    const errors = nodes.flatMap((node) => node.events.filter((e) => e.kind === 'error').map((e) => `${node.site.name}: ${e.text}`));
    assert.deepEqual(errors, [], 'no node reported an error');
    say(`ok: ${chain0.length} agreed heights, ${appliedIds.size} ACUs applied (${returned.size} returned + ${appliedIds.size - returned.size} of ${unknown.size} cut off), ${finals} FINAL signatures checked, ${signed.size} (height, round, replica) slots`);
    failed = false;
  } finally {
    await Promise.all(nodes.map((node) => node.kill()));
    if (failed) {
      t.diagnostic(timeline(nodes, startMs));
      t.diagnostic(`kept the cluster for inspection: ${top}`);
    } else {
      await removeTempDir(top);
    }
  }
});
