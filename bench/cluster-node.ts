/**
 * One sync node of `npm run bench:cluster` (bench/cluster.ts), as a child process:
 *
 *   node dist/bench/cluster-node.js '<json NodeSpec>'
 *
 * It starts a real {@link SyncNode} in a site clone, and talks to its parent over IPC only:
 *
 * - parent -> child: `gen` (build synthetic ACU records ahead of time, off the clock), `propose`
 *   (hand the next records to the node, as a commit's extraction would), `stop`;
 * - child -> parent: `ready`, `generated`, each `decided` and `agreed` event with its height, its
 *   ACU count and the time since the last `propose` (measured here, with this process's clock, so
 *   the IPC hops are not in the figure), `error`, `stopped`.
 */
import { createHash } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { fixtureEpochSeconds } from '../fixtures/builder.js';
import type { FileAcu } from '../src/core/acu/model.js';
import { GitRepo } from '../src/git/index.js';
import { readCluster } from '../src/store/cluster.js';
import { loadIdentity } from '../src/store/identity.js';
import { SyncNode } from '../src/sync/node.js';
import type { NodeEvent } from '../src/sync/node.js';
import { signRecord } from '../src/sync/records.js';
import type { AcuOrigin, IdentifiedRecord, RecordSigner } from '../src/sync/records.js';

/** What the parent passes on the command line. */
export interface NodeSpec {
  readonly cwd: string;
  readonly site: string;
  readonly tickMs: number;
  readonly batchMs: number;
  readonly batchAcusMax: number;
  readonly pendingAcusMax: number;
  readonly roundTimeoutTicks: number;
  /** Where to append every node event, one JSON line each with a high-resolution time (or null). */
  readonly trace: string | null;
}

/** Parent -> child. */
export type ToNode =
  | { readonly t: 'gen'; readonly prefix: string; readonly count: number; readonly perCommit: number; readonly fanout: number }
  | { readonly t: 'propose'; readonly count: number }
  | { readonly t: 'usage' }
  | { readonly t: 'profile'; readonly start: boolean; readonly path: string }
  | { readonly t: 'stop' };

/** A height decided or written on this node: its ACUs, its agreed commit, the time since the last `propose`. */
export interface Progress {
  readonly height: number;
  readonly acus: number;
  readonly commit: string | null;
  readonly sinceProposeMs: number;
  readonly atMs: number;
}

/** Child -> parent. */
export type FromNode =
  | { readonly t: 'ready' }
  | { readonly t: 'generated'; readonly count: number }
  | { readonly t: 'proposed'; readonly count: number }
  | ({ readonly t: 'decided' } & Progress)
  | ({ readonly t: 'agreed' } & Progress)
  | { readonly t: 'usage'; readonly cpuMs: number; readonly gitCpuMs: number }
  | { readonly t: 'profiled' }
  | { readonly t: 'error'; readonly text: string }
  | { readonly t: 'stopped' };

function send(message: FromNode): void {
  process.send?.(message);
}

/** Hex SHA-1 of a text: stands in for commit ids and blob ids of synthetic records. */
function sha1Hex(text: string | Uint8Array): string {
  return createHash('sha1').update(text).digest('hex');
}

/**
 * `count` whole-file additions of small text files under `<prefix>/<site>/`, `fanout` files per
 * directory, `perCommit` ACUs per (made-up) origin commit. The cheapest ACU there is: one blob, no
 * parsing, no three-way merge.
 */
function synthetic(signer: RecordSigner, prefix: string, count: number, perCommit: number, fanout: number): IdentifiedRecord[] {
  const site = signer.member.site;
  const out: IdentifiedRecord[] = [];
  let origin: Omit<AcuOrigin, 'node' | 'site'> | null = null;
  for (let k = 0; k < count; k += 1) {
    if (k % perCommit === 0 || origin === null) {
      const commit = sha1Hex(`${prefix}/${site}/commit/${k / perCommit}`);
      origin = {
        commit, parent: sha1Hex(`${commit}^`), authorName: 'Bench Mark', authorEmail: 'bench@example.com',
        authorTime: fixtureEpochSeconds + 7_200, subject: `synthetic ${prefix} ${k / perCommit}`,
      };
    }
    const data = `synthetic ACU ${k} of ${site} (${prefix})\n`;
    const acu: FileAcu = {
      v: 1, level: 'file', file: `${prefix}/${site}/${Math.floor(k / fanout).toString(16)}/${k}.txt`, fromFile: null, op: 'add',
      content: 'text', modeBefore: null, modeAfter: '100644', beforeOid: null,
      afterOid: sha1Hex(Buffer.concat([Buffer.from(`blob ${Buffer.byteLength(data)}\0`), Buffer.from(data)])),
      data, hunks: null, reason: null,
    };
    out.push(signRecord(signer, acu, origin));
  }
  return out;
}

/** The site clone's node, as the signer of the records it proposes. */
async function signerOf(cwd: string): Promise<RecordSigner> {
  const repo = await GitRepo.open(cwd);
  try {
    const identity = await loadIdentity(repo.commonDir);
    const member = (await readCluster(repo.workTree ?? cwd)).members.find((m) => m.id === identity.id);
    if (member === undefined) throw new Error(`${cwd}: this node is not a member of the cluster`);
    return { identity, member };
  } finally {
    await repo.close();
  }
}

/**
 * CPU milliseconds this process has used, and its finished child processes (git) have: from
 * /proc/self/stat on Linux (user + system, then children's user + system), else process.cpuUsage.
 */
async function cpuUsage(): Promise<{ cpuMs: number; gitCpuMs: number }> {
  try {
    const stat = await readFile('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // Fields 14-17 of proc(5), counted from 1 with the pid and the name; here from 0 after the name.
    const tickMs = 10;
    return { cpuMs: (fields[11]! + fields[12]!) * tickMs, gitCpuMs: (fields[13]! + fields[14]!) * tickMs };
  } catch {
    const usage = process.cpuUsage();
    return { cpuMs: (usage.user + usage.system) / 1000, gitCpuMs: 0 };
  }
}

/** A CPU profile of this process between two `profile` messages (the inspector's sampling profiler). */
class Profiler {
  private readonly session = new Session();

  constructor() {
    this.session.connect();
  }

  private post(method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.session.post(method, params, (error, result) => (error === null ? resolve(result) : reject(error)));
    });
  }

  async start(): Promise<void> {
    await this.post('Profiler.enable');
    await this.post('Profiler.setSamplingInterval', { interval: 500 });
    await this.post('Profiler.start');
  }

  async stop(path: string): Promise<void> {
    const { profile } = (await this.post('Profiler.stop')) as { profile: unknown };
    await writeFile(path, JSON.stringify(profile));
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as NodeSpec;
  let proposeAt = performance.now();
  const trace: string[] = [];
  const onEvent = (event: NodeEvent): void => {
    if (spec.trace !== null) trace.push(JSON.stringify({ ms: Number(performance.now().toFixed(3)), kind: event.kind, text: event.text }));
    if (event.kind === 'decided' || event.kind === 'agreed') {
      const data = event.data ?? {};
      const acus = event.kind === 'decided' ? Number(data.acuIds) : Number(data.applied) + Number(data.deferred) + Number(data.rejected);
      const commit = typeof data.commit === 'string' ? data.commit : null;
      send({ t: event.kind, height: Number(data.height), acus, commit, sinceProposeMs: performance.now() - proposeAt, atMs: performance.timeOrigin + performance.now() });
    } else if (event.kind === 'error') {
      send({ t: 'error', text: `${spec.site}: ${event.text}` });
    }
  };
  const node = await SyncNode.start({
    cwd: spec.cwd, validation: 'parse', tickMs: spec.tickMs, batchMs: spec.batchMs, onEvent,
    replica: { batchAcusMax: spec.batchAcusMax, pendingAcusMax: spec.pendingAcusMax, roundTimeoutTicks: spec.roundTimeoutTicks },
  });
  const signer = await signerOf(spec.cwd);
  let profiler: Profiler | null = null;
  const queue: IdentifiedRecord[] = [];
  let next = 0;
  process.on('message', (message: ToNode) => {
    switch (message.t) {
      case 'gen':
        for (const item of synthetic(signer, message.prefix, message.count, message.perCommit, message.fanout)) queue.push(item);
        send({ t: 'generated', count: message.count });
        break;
      case 'propose': {
        const items = queue.slice(next, next + message.count);
        next += items.length;
        proposeAt = performance.now();
        node.proposeRecords(items).then(
          (count) => send({ t: 'proposed', count }),
          (error: unknown) => send({ t: 'error', text: `${spec.site}: ${String(error)}` }),
        );
        break;
      }
      case 'usage':
        void cpuUsage().then((usage) => send({ t: 'usage', ...usage }));
        break;
      case 'profile':
        profiler ??= new Profiler();
        void (message.start ? profiler.start() : profiler.stop(message.path)).then(() => send({ t: 'profiled' }));
        break;
      case 'stop':
        void node.stop().then(async () => {
          if (spec.trace !== null) await appendFile(spec.trace, `${trace.join('\n')}\n`);
          send({ t: 'stopped' });
          // Exit for sure (a --cpu-prof profile is written on exit), once the message has left.
          setTimeout(() => process.exit(0), 50);
        });
        break;
    }
  });
  send({ t: 'ready' });
}

await main();
