/**
 * The cluster part of `acu demo`: four real sync-node processes on loopback agree on what two
 * developers commit concurrently through the real git hooks — different methods of one class, an
 * import both extend, and one method both change differently, settled by people's votes — while
 * one node is killed with SIGKILL and restarted. Every node must end up holding the same agreed
 * commits, with certificates that verify. The nodes link over TLS 1.3 with the certificates
 * `acu init` makes, pinned by the cluster document, as a real deployment does. Then a fifth site
 * joins the running cluster as docs/deploy.md tells an operator to, and a commit made there is
 * agreed by all five.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureEpochSeconds } from '../../fixtures/builder.js';
import { buildClusterFixture, commitAll, freePort } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { demoStore } from '../../fixtures/demo.js';
import { runAsUser, runGitAsUser } from '../git/as-user.js';
import type { UserCommandResult } from '../git/as-user.js';
import { readAcuConfig, setConfig } from '../git/config.js';
import { addPaths, logWithNotes, pullFastForward, showFileAt, verifyRevision } from '../git/workdir.js';
import { readCluster, writeCluster } from '../store/cluster.js';
import { initTlsIdentity } from '../store/identity.js';
import { callNode } from '../sync/api.js';
import type { NodeEvent, NodeStatus, OpenConflict } from '../sync/node.js';
import type { Io } from './io.js';
import { paint } from './io.js';

const acuBin = fileURLToPath(new URL('../../../bin/acu.js', import.meta.url));

/** What the demo's narrator offers this part. */
export interface DemoNarration {
  section(title: string): void;
  check(name: string, ok: boolean): void;
}

/** The shared project: the store of the first part (demoStore), with a reader both developers will change. */
const store = `${demoStore}\nexport type Entry = { key: string; stats: Stats };\n`;

function parisEdit(text: string): string {
  return text
    .replace("import { readFile } from 'node:fs/promises';", "import { readFile, stat } from 'node:fs/promises';")
    .replace("    return readFile(this.path(key), 'utf8');", "    return (await readFile(this.path(key), 'utf8')).trimEnd();")
    .replace("  /** Where a key lives. */", "  /** The size and dates of one value. */\n  async stat(key: string): Promise<Stats> {\n    return stat(this.path(key));\n  }\n\n  /** Where a key lives. */");
}

/**
 * How long the demo waits for each step (nodes linked, a vote opened, a height agreed). A step
 * takes a few seconds on an idle laptop; type-checking a batch on a loaded 2-core machine can take
 * most of a minute, and a demo that gives up there says nothing about acu.
 */
const stepWaitMs = 150_000;

/**
 * The post-commit hook handed its commit to the node: it says `proposed` when the node took the
 * poke within the hook's budget, `queued` when the node was too busy to answer in time (it then
 * takes the entry from the outbox on its next scan). Which one is a matter of scheduling.
 */
function handedOver(stderr: string): boolean {
  return /acu: (proposed|queued) [0-9a-f]{12} (to|for) the sync node/.test(stderr);
}

function tokyoEdit(text: string): string {
  return text
    .replace("import { readFile } from 'node:fs/promises';", "import { readFile, writeFile } from 'node:fs/promises';")
    .replace("    return readFile(this.path(key), 'utf8');", "    return readFile(this.path(key), { encoding: 'utf8' });")
    .replace("    return this.root + '/' + key;", "    return `${this.root}/${encodeURIComponent(key)}`;")
    .replace("  /** Read one value. */", "  /** Write one value. */\n  async write(key: string, value: string): Promise<void> {\n    await writeFile(this.path(key), value);\n  }\n\n  /** Read one value. */");
}

function parisFollowUp(text: string): string {
  return text.replace("\n  /** Where a key lives. */", "\n  /** Whether a key has a value. */\n  async has(key: string): Promise<boolean> {\n    return stat(this.path(key)).then(() => true, () => false);\n  }\n\n  /** Where a key lives. */");
}

interface RunningNode {
  readonly site: ClusterSite;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** The cluster part of the demo: four nodes, then a fifth that joins. */
export class ClusterDemo {
  private readonly events: { readonly site: string; readonly event: NodeEvent }[] = [];
  private readonly nodes = new Map<string, RunningNode>();
  private fixture!: ClusterFixture;
  /** Sites that joined the running cluster (part 8). */
  private readonly joined: ClusterSite[] = [];
  private readonly startMs = Date.now();

  constructor(private readonly io: Io, private readonly narration: DemoNarration, private readonly top: string) {}

  private say(text: string): void {
    this.io.stdout(`${text}\n`);
  }

  private shell(command: string, output: string): void {
    const c = paint(this.io);
    this.io.stdout(`${c.dim('$')} ${command}\n`);
    const text = output.trimEnd();
    if (text !== '') this.io.stdout(`${text.replace(/^/gm, '    ')}\n`);
  }

  /** Run acu in a site, as a user would, and show it. */
  private async acu(site: ClusterSite, args: readonly string[], show = true): Promise<{ status: number; stdout: string; stderr: string }> {
    const result = await runAsUser(process.execPath, [acuBin, ...args], { cwd: site.dir, env: shellEnv });
    if (show) this.shell(`(${site.name}) acu ${args.join(' ')}`, result.stdout + result.stderr);
    return result;
  }

  /**
   * Turn the fixture's loopback cluster into the product default: each site's TLS certificate
   * (what `acu init` makes), wss:// addresses and every member's pin, committed on main and pulled.
   */
  private async secureCluster(): Promise<void> {
    const { origin, sites } = this.fixture;
    const doc = await readCluster(origin);
    const members = [];
    for (const member of doc.members) {
      const site = sites.find((s) => s.id === member.id)!;
      const { tls } = await initTlsIdentity(join(site.dir, '.git'), site.id);
      members.push({ ...member, address: `wss://127.0.0.1:${site.port}`, tlsPin: tls.pin });
    }
    await writeCluster(origin, { ...doc, members });
    await commitAll(origin, 'acu cluster: wss:// addresses and TLS pins', fixtureEpochSeconds + 7200);
    for (const site of sites) await pullFastForward(site.dir);
  }

  private site(name: string): ClusterSite {
    return [...this.fixture.sites, ...this.joined].find((site) => site.name === name)!;
  }

  private startNode(site: ClusterSite): void {
    const child = spawn(process.execPath, [acuBin, 'node', 'start', '--json', '--tick-ms', '50', '--batch-ms', '1500'], {
      cwd: site.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' },
    });
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        try {
          this.events.push({ site: site.name, event: JSON.parse(line) as NodeEvent });
        } catch {
          // Not an event line: ignore.
        }
      }
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
      if (code !== 0 && code !== null && stderr !== '') this.say(`(${site.name} node exited ${code}: ${stderr.trim()})`);
      resolve(code);
    }));
    this.nodes.set(site.name, { site, child, exited });
  }

  private async status(site: ClusterSite): Promise<NodeStatus | null> {
    const answer = await callNode(join(site.dir, '.git', 'acu', 'node.sock'), { type: 'status' }, 2_000);
    return answer?.ok === true ? (answer.result as NodeStatus) : null;
  }

  /** Poll until every listed site satisfies `test`; false after `timeoutMs`. */
  private async until(names: readonly string[], test: (status: NodeStatus) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const statuses = await Promise.all(names.map((name) => this.status(this.site(name))));
      if (statuses.every((status) => status !== null && test(status))) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  private agreedRef(site: ClusterSite): Promise<string | null> {
    return verifyRevision(site.dir, 'refs/acu/main');
  }

  async run(): Promise<void> {
    const c = paint(this.io);
    const names = ['paris', 'tokyo', 'lima', 'oslo'];
    this.narration.section('4. Four sites agree on one branch: a real cluster on loopback');
    this.fixture = await buildClusterFixture(this.top, { sites: names, files: { 'src/store.ts': store, 'README.md': '# store\n' }, config: { 'acu.policy': 'vote', 'acu.voteTimeoutTicks': '200', 'acu.voteFallback': 'score' } });
    await this.secureCluster();
    const paris = this.site('paris');
    const tokyo = this.site('tokyo');
    const lima = this.site('lima');
    this.say(`Four clones of one repository, one per site, each with its node key and TLS certificate (acu init), and the cluster document on main:`);
    await this.acu(paris, ['cluster', 'show']);
    try {
      for (const site of this.fixture.sites) this.startNode(site);
      this.say(`Started 4 node processes: ${this.fixture.sites.map((s) => `${s.name} (port ${s.port})`).join(', ')}`);
      const connected = await this.until(names, (s) => s.peers.every((p) => p.connected), stepWaitMs);
      this.narration.check('all 4 nodes connect and authenticate each other over TLS 1.3, by the pins in the cluster document', connected && (await this.until(names, (s) => s.links?.verify === 'pinned', 1_000)));
      if (!connected) return;

      this.narration.section('5. Two developers commit at the same time; the hooks hand the commits to their nodes');
      await this.acu(paris, ['hooks', 'install']);
      await this.acu(tokyo, ['hooks', 'install']);
      const storePath = 'src/store.ts';
      await writeFile(join(paris.dir, storePath), parisEdit(store));
      await writeFile(join(tokyo.dir, storePath), tokyoEdit(store));
      this.say('paris adds Store.stat, extends the import with stat, and trims what read() returns;');
      this.say('tokyo adds Store.write, extends the import with writeFile, encodes keys in path(), and changes read() too.');
      const [parisCommit, tokyoCommit] = await Promise.all([
        gitAsUser(['commit', '-q', '-am', 'Add Store.stat; trim values'], paris.dir),
        gitAsUser(['commit', '-q', '-am', 'Add Store.write; encode keys'], tokyo.dir),
      ]);
      this.shell("(paris) git commit -am 'Add Store.stat; trim values'", parisCommit.stdout + parisCommit.stderr);
      this.shell("(tokyo) git commit -am 'Add Store.write; encode keys'", tokyoCommit.stdout + tokyoCommit.stderr);
      this.narration.check('both commits succeed, and their hooks hand them to the local nodes', parisCommit.status === 0 && tokyoCommit.status === 0 && handedOver(parisCommit.stderr) && handedOver(tokyoCommit.stderr));

      this.narration.section('6. Validation finds one true conflict: both changed read(); people vote');
      // Kept from the status that showed it open: between two rounds no conflict is open for an
      // instant, and a second read may fall there (its id and sides stay the same across rounds).
      let conflict: OpenConflict | undefined;
      const open = await this.until(['paris'], (s) => {
        conflict = s.conflicts[0];
        return conflict !== undefined;
      }, stepWaitMs);
      this.narration.check('the nodes compose the batch and open a vote on the read() conflict', open && conflict !== undefined && /read/.test(`${conflict.a} ${conflict.b}`));
      if (conflict === undefined) return;
      await this.acu(paris, ['status']);
      this.say(c.bold('A node crashes in the middle of the vote: SIGKILL lima.'));
      const limaNode = this.nodes.get('lima')!;
      limaNode.child.kill('SIGKILL');
      await limaNode.exited;
      const choice = conflict.aSite === 'tokyo' ? 'keep-a' : 'keep-b';
      this.say(`The team prefers tokyo's read(): people at paris, tokyo and oslo vote ${choice} on conflict ${conflict.id}.`);
      for (const name of ['paris', 'tokyo', 'oslo']) await this.acu(this.site(name), ['vote', conflict.id, choice]);
      const decided = await this.until(['paris', 'tokyo', 'oslo'], (s) => s.agreed.height >= 0, stepWaitMs);
      this.narration.check('paris, tokyo and oslo agree on height 0 without lima (3 of 4 signatures)', decided);
      this.say('Restart lima: it recovers from its write-ahead log and catches up from its peers.');
      this.startNode(lima);
      const caughtUp = await this.until(['lima'], (s) => s.agreed.height >= 0, stepWaitMs);
      const first = await Promise.all(this.fixture.sites.map((site) => this.agreedRef(site)));
      this.narration.check(`lima catches up; all 4 nodes hold the same agreed commit ${first[0]?.slice(0, 12) ?? ''}`, caughtUp && first[0] !== null && first.every((id) => id === first[0]));

      const agreedText = await showFileAt(paris.dir, 'refs/acu/main', storePath);
      this.shell('(paris) git show refs/acu/main:src/store.ts', agreedText);
      this.narration.check('the agreed file has both new methods, the import names stat and writeFile, and path() encodes keys',
        /async stat\(/.test(agreedText) && /async write\(/.test(agreedText) && /import \{[^}]*stat[^}]*\}/.test(agreedText) && /writeFile/.test(agreedText.split('\n')[0] ?? '') && agreedText.includes('encodeURIComponent(key)'));
      this.narration.check("read() is tokyo's version, as voted", agreedText.includes("{ encoding: 'utf8' }") && !agreedText.includes('trimEnd()'));

      this.narration.section('7. Work goes on: paris builds on its commit; all four nodes, lima included, agree again');
      await writeFile(join(paris.dir, storePath), parisFollowUp(await readFile(join(paris.dir, storePath), 'utf8')));
      const follow = await gitAsUser(['commit', '-q', '-am', 'Add Store.has'], paris.dir);
      this.shell("(paris) git commit -am 'Add Store.has'", follow.stdout + follow.stderr);
      const again = await this.until(names, (s) => s.agreed.height >= 1, stepWaitMs);
      const second = await Promise.all(this.fixture.sites.map((site) => this.agreedRef(site)));
      this.narration.check(`height 1 is agreed; all 4 nodes hold the same commit ${second[0]?.slice(0, 12) ?? ''}`, again && second[0] !== null && second.every((id) => id === second[0]));
      const log = await logWithNotes(lima.dir, { rev: 'refs/acu/main', notes: 'acu', count: 2 });
      this.shell('(lima) git log --notes=acu --format="%h %s%n%N" refs/acu/main -2   # subjects, heights, signers', certificateExcerpt(log));
      const verifies = await Promise.all(this.fixture.sites.map((site) => this.acu(site, ['verify'], site.name === 'oslo')));
      this.narration.check('acu verify: every certificate on every node checks against the cluster document', verifies.every((r) => r.status === 0));
      await this.join('sydney');
    } finally {
      await this.stopAll();
      this.printTimeline();
    }
  }

  /**
   * Part 8: a fifth site joins the running cluster the way docs/deploy.md tells an operator to
   * (a fresh clone, `acu init`, its proof, `acu cluster add --proof` committed at a member site
   * through the hooks, the agreed history published with its notes, then its node), and a commit
   * made there is agreed by all five.
   */
  private async join(name: string): Promise<void> {
    const others = this.fixture.sites.map((s) => s.name);
    this.narration.section(`8. A fifth site, ${name}, joins while the cluster runs`);
    const site = await this.cloneSite(name);
    const credentials = await this.credentials(site);
    this.narration.check(`${name}, a fresh clone, has its node key, TLS certificate and proof of possession (acu init, acu cluster proof)`, credentials !== null);
    if (credentials === null) return;

    const paris = this.site('paris');
    this.say(`${name}'s operator sends the public key, pin, address and proof to paris, whose operator adds it; the change is an ordinary commit:`);
    const { publicKey, pin, address, proof } = credentials;
    const added = await this.acu(paris, ['cluster', 'add', publicKey, address, '--site', name, '--priority', String(others.length), '--tls-pin', pin, '--proof', proof, '--commit']);
    this.narration.check('paris commits the change to .acu/cluster.json, and its post-commit hook hands it to its node', added.status === 0 && handedOver(added.stderr));
    const switched = await this.until(others, (s) => s.cluster.n === others.length + 1 && s.membershipHeight > 0, stepWaitMs);
    const statuses = await Promise.all(others.map((other) => this.status(this.site(other))));
    const from = statuses[0]?.membershipHeight ?? -1;
    this.narration.check(`the cluster agrees the change: all ${others.length} nodes count 5 members from height ${from}`, switched && statuses.every((s) => s !== null && s.membershipHeight === from));
    if (!switched) return;

    this.say(`paris publishes the agreed history, with its notes, to the shared repository (docs/deploy.md, step 6); work goes on at tokyo meanwhile; then ${name} pulls it.`);
    const push = await gitAsUser(['push', '-q', 'origin', 'refs/acu/main:refs/heads/main', 'refs/notes/acu', 'refs/notes/acu-records'], paris.dir);
    this.shell('(paris) git push origin refs/acu/main:refs/heads/main refs/notes/acu refs/notes/acu-records', push.stdout + push.stderr);
    const published = (await this.status(paris))?.agreed.height ?? -1;
    const behind = await this.goOnWithout(name);
    const pull = await gitAsUser(['pull', '-q', '--ff-only'], site.dir);
    this.shell(`(${name}) git pull --ff-only`, pull.stdout + pull.stderr);
    const notes = await gitAsUser(['fetch', '-q', 'origin', 'refs/notes/acu:refs/notes/acu', 'refs/notes/acu-records:refs/notes/acu-records'], site.dir);
    this.shell(`(${name}) git fetch origin refs/notes/acu:refs/notes/acu refs/notes/acu-records:refs/notes/acu-records`, notes.stdout + notes.stderr);
    await this.acu(site, ['hooks', 'install']);
    this.startNode(site);
    this.say(`Started ${name}'s node (port ${site.port}) in its clone.`);
    const linked = await this.until([...others, name], (s) => s.peers.length === others.length && s.peers.every((p) => p.connected), stepWaitMs);
    const first = this.events.find((e) => e.site === name && e.event.kind === 'started');
    this.narration.check(`${name}'s node starts after the agreed chain it cloned (height ${published}, every certificate checked) and links to all 4 members over pinned TLS`,
      linked && first !== undefined && (await this.until([name], (s) => s.links?.verify === 'pinned' && s.agreed.height >= published, 1_000)));
    if (!linked) return;
    await this.acu(site, ['status']);
    await this.catchUp(name, behind);
    await this.commitAtNewSite(site);
  }

  /** Clone the shared repository for a new site, with the same git settings as the others. */
  private async cloneSite(name: string): Promise<ClusterSite> {
    const dir = join(this.top, name);
    const clone = await gitAsUser(['clone', '-q', this.fixture.origin, dir], this.top);
    this.shell(`git clone ${this.fixture.origin} ${name}`, clone.stdout + clone.stderr);
    const settings = (await readAcuConfig(this.site('paris').dir)).map(({ key, value }) => [key, value] as [string, string]);
    for (const [key, value] of [['user.name', name], ['user.email', `${name}@example.com`], ['commit.gpgsign', 'false'], ...settings] as const) {
      await setConfig(dir, key, value);
    }
    const site: ClusterSite = { name, dir, id: '', port: await freePort() };
    this.joined.push(site);
    return site;
  }

  /** `acu init` and `acu cluster proof` at the new site, as its operator runs them; null if either failed. */
  private async credentials(site: ClusterSite): Promise<{ publicKey: string; pin: string; address: string; proof: string } | null> {
    const init = await this.acu(site, ['init']);
    const publicKey = /^public key (\S+)$/m.exec(init.stdout)?.[1];
    const pin = /TLS certificate, pin (\S+)$/m.exec(init.stdout)?.[1];
    const address = `wss://127.0.0.1:${site.port}`;
    const proof = await this.acu(site, ['cluster', 'proof', '--address', address]);
    const signature = proof.stdout.trim();
    if (init.status !== 0 || proof.status !== 0 || publicKey === undefined || pin === undefined || !/^[0-9a-f]{128}$/.test(signature)) return null;
    return { publicKey, pin, address, proof: signature };
  }

  /** tokyo commits while the new site is not up yet: the others agree on it, the new site must catch up. The height agreed. */
  private async goOnWithout(name: string): Promise<number> {
    const tokyo = this.site('tokyo');
    const others = this.fixture.sites.map((s) => s.name);
    const before = (await this.status(tokyo))?.agreed.height ?? -1;
    await writeFile(join(tokyo.dir, 'src/keys.ts'), "/** The keys a store holds, in order. */\nexport function sortedKeys(keys: readonly string[]): string[] {\n  return [...keys].sort();\n}\n");
    await addPaths(tokyo.dir, ['src/keys.ts']);
    const commit = await gitAsUser(['commit', '-q', '-m', 'Add sortedKeys'], tokyo.dir);
    this.shell("(tokyo) git add src/keys.ts && git commit -m 'Add sortedKeys'", commit.stdout + commit.stderr);
    const agreed = await this.until(others, (s) => s.agreed.height > before, stepWaitMs);
    const height = (await this.status(tokyo))?.agreed.height ?? -1;
    this.narration.check(`meanwhile the 4 running members agree on tokyo's commit at height ${height} (a quorum is 4 of 5) without ${name}`, commit.status === 0 && agreed);
    return height;
  }

  /** The new site reaches the height the others agreed without it, with the same commit. */
  private async catchUp(name: string, height: number): Promise<void> {
    const caughtUp = await this.until([name], (s) => s.agreed.height >= height, stepWaitMs);
    const all = [...this.fixture.sites, ...this.joined];
    const refs = await Promise.all(all.map((site) => this.agreedRef(site)));
    const transfer = this.events.some((e) => e.site === name && e.event.kind === 'catch-up' && e.event.data?.phase === 'done');
    const how = transfer ? 'by state transfer: the agreed commits and their notes, every certificate checked' : 'fetching the decision from its peers';
    this.narration.check(`${name} catches up to height ${height} ${how}; all 5 nodes hold the same agreed commit ${refs[0]?.slice(0, 12) ?? ''}`, caughtUp && refs[0] !== null && refs.every((id) => id === refs[0]));
  }

  /** A commit made at the new site, through its hook, agreed by all five and written by every node. */
  private async commitAtNewSite(site: ClusterSite): Promise<void> {
    const all = [...this.fixture.sites, ...this.joined];
    const before = (await this.status(site))?.agreed.height ?? -1;
    await writeFile(join(site.dir, 'src/size.ts'), "/** How many bytes a value takes, in UTF-8. */\nexport function sizeOf(value: string): number {\n  return Buffer.byteLength(value, 'utf8');\n}\n");
    await addPaths(site.dir, ['src/size.ts']);
    const commit = await gitAsUser(['commit', '-q', '-m', 'Add sizeOf'], site.dir);
    this.shell(`(${site.name}) git add src/size.ts && git commit -m 'Add sizeOf'`, commit.stdout + commit.stderr);
    this.narration.check(`the commit at ${site.name} succeeds, and its hook hands it to ${site.name}'s node`, commit.status === 0 && handedOver(commit.stderr));
    const agreed = await this.until(all.map((s) => s.name), (s) => s.agreed.height > before && s.pendingAcus === 0, stepWaitMs);
    const refs = await Promise.all(all.map((s) => this.agreedRef(s)));
    const height = (await this.status(site))?.agreed.height ?? -1;
    this.narration.check(`height ${height}, with ${site.name}'s commit, is agreed by the 5 members; all 5 nodes hold the same commit ${refs[0]?.slice(0, 12) ?? ''}`, agreed && refs[0] !== null && refs.every((id) => id === refs[0]));
    const log = await logWithNotes(site.dir, { rev: 'refs/acu/main', notes: 'acu', count: 1 });
    this.shell(`(${site.name}) git log --notes=acu --format="%h %s%n%N" refs/acu/main -1   # subject, height, signers`, certificateExcerpt(log));
    const verified = await this.acu(site, ['verify']);
    this.narration.check(`acu verify at ${site.name}: every certificate from height 0 checks, each against the membership in force at its parent`, verified.status === 0);
  }

  private async stopAll(): Promise<void> {
    for (const node of this.nodes.values()) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGTERM');
    await Promise.all([...this.nodes.values()].map((node) => node.exited));
  }

  private printTimeline(): void {
    const c = paint(this.io);
    this.narration.section('Timeline (every node, in order)');
    const interesting = new Set<NodeEvent['kind']>(['started', 'recovered', 'queued', 'proposed', 'validated', 'conflict', 'voted', 'agreed', 'membership', 'catch-up', 'evidence', 'error']);
    const rows = this.events.filter((e) => interesting.has(e.event.kind)).sort((a, b) => a.event.atMs - b.event.atMs);
    for (const { site, event } of rows) {
      const at = ((event.atMs - this.startMs) / 1000).toFixed(2).padStart(6);
      this.io.stdout(`  ${c.dim(`${at}s`)} ${site.padEnd(6)} ${event.kind.padEnd(9)} ${event.text}\n`);
    }
  }
}

/** What the demo's developers have set in their shells: no colours, no prompts for credentials. */
const shellEnv = { NO_COLOR: '1', GIT_TERMINAL_PROMPT: '0' } as const;

/** Run git in `cwd` as a developer at a shell would, hooks and all. */
function gitAsUser(args: readonly string[], cwd: string): Promise<UserCommandResult> {
  return runGitAsUser(args, { cwd, env: shellEnv });
}

/**
 * The lines of `git log --format='%h %s%n%N'` over certificate notes that a reader of the demo
 * wants: each commit's subject, its height, and the members that signed it (the note is JSON
 * with one-space indents: `"signers": [` opens the list and its ids follow, one a line).
 */
function certificateExcerpt(log: string): string {
  const out: string[] = [];
  let inSigners = false;
  for (const line of log.split('\n')) {
    if (inSigners) {
      out.push(line);
      if (/^ \]/.test(line)) inSigners = false;
    } else if (/^[0-9a-f]{7,} /.test(line) || /^ "height":/.test(line)) {
      out.push(line);
    } else if (/^ "signers": \[/.test(line)) {
      out.push(line);
      inSigners = !line.includes(']');
    }
  }
  return out.join('\n');
}
