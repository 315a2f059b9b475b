/**
 * Real sync nodes for end-to-end tests: `acu node start --json` processes on loopback, their
 * events parsed from stdout, their state read through the local API. Waits poll that state; the
 * bound in {@link until} only keeps a hung cluster from hanging the test run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureEpochSeconds } from '../../fixtures/builder.js';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { callNode } from '../../src/sync/api.js';
import type { NodeEvent, NodeStatus } from '../../src/sync/node.js';

/** The CLI's entry point. */
export const acuBin = join(fileURLToPath(new URL('../../..', import.meta.url)), 'bin', 'acu.js');

/** A node process. */
export interface RunningNode {
  readonly child: ChildProcess;
  readonly events: NodeEvent[];
  readonly exited: Promise<number | null>;
}

/** Run the acu CLI in a site's clone. */
export function acu(site: ClusterSite, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [acuBin, ...args], { cwd: site.dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

/** Run git in a site's clone, with a fixed author, committer and date (`at` seconds after the fixture epoch). */
export function git(site: ClusterSite, args: readonly string[], at = 7200): { status: number; stdout: string; stderr: string } {
  const date = `@${fixtureEpochSeconds + at} +0000`;
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  const result = spawnSync('git', args, { cwd: site.dir, encoding: 'utf8', env });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Start `acu node start --json` in a site (parse validation, 20 ms ticks, and `extra` arguments;
 * `env` added to this process's). `launcher` runs it through another command first (`ip netns exec
 * <name>` to start it inside a network namespace).
 */
export function startNode(site: ClusterSite, extra: readonly string[] = [], env: Readonly<Record<string, string>> = {}, launcher: readonly string[] = []): RunningNode {
  const args = [acuBin, 'node', 'start', '--json', '--validation', 'parse', '--tick-ms', '20', ...extra];
  const [command, ...prefix] = [...launcher, process.execPath];
  const child = spawn(command, [...prefix, ...args], { cwd: site.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const events = collectNodeEvents(child.stdout);
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => process.stderr.write(`[${site.name}] ${chunk}`));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, events, exited };
}

/** The events a node prints with `--json`, one JSON object a line, collected as they come. */
export function collectNodeEvents(stdout: Readable): NodeEvent[] {
  const events: NodeEvent[] = [];
  let buffered = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line) as NodeEvent);
  });
  return events;
}

/** The node's status over its local API, or null when none answers. */
export async function nodeStatus(site: ClusterSite): Promise<NodeStatus | null> {
  const answer = await callNode(join(site.dir, '.git', 'acu', 'node.sock'), { type: 'status' }, 2_000);
  return answer?.ok === true ? (answer.result as NodeStatus) : null;
}

/** Poll `test` until it holds; `nodesSaid`, where given, tells a timeout what the nodes printed. */
export async function until(what: string, test: () => Promise<boolean> | boolean, nodesSaid?: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await test())) {
    if (Date.now() > deadline) assert.fail(nodesSaid === undefined ? `timed out waiting until ${what}` : `timed out waiting until ${what}; the nodes said:\n${nodesSaid()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stop a node with SIGTERM and wait for it; its exit code. */
export async function stopNode(node: RunningNode): Promise<number | null> {
  if (node.child.exitCode !== null) return node.child.exitCode;
  node.child.kill('SIGTERM');
  return await node.exited;
}

/** A node process as {@link killAll} needs it: tests that start nodes their own way pass theirs. */
export interface KillableNode {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
}

/**
 * SIGKILL every node process still running and wait until each has exited: an `after` hook's
 * cleanup, so that a test that failed midway leaves no node behind, and none still writes in a
 * temp directory the hook removes next.
 */
export async function killAll(nodes: Iterable<KillableNode>): Promise<void> {
  const all = [...nodes]; // once: a Map's values() can be walked only once
  for (const node of all) if (node.child.exitCode === null) node.child.kill('SIGKILL');
  await Promise.all(all.map((node) => node.exited));
}

/**
 * A test file's scratch space for real nodes: `top`, a temp directory made before its tests, then
 * `setUp` run in it. After the tests, the nodes still running in `nodes` (an array or a Map, read
 * then) are SIGKILLed and waited for ({@link killAll}), then the directory is removed. Call at the
 * top level of a test file: it registers the file's before and after hooks. The file's own set-up
 * goes in `setUp`, not in a before hook of its own: Node 20 starts a top-level before hook as soon
 * as it is registered, without waiting for the one before it, so that hook would run before `top`
 * is made.
 */
export function nodeScratch(prefix: string, nodes: { values(): Iterable<KillableNode> }, setUp: (top: string) => Promise<void> = async () => {}): { readonly top: string } {
  let top = '';
  before(async () => {
    top = await makeTempDir(prefix);
    await setUp(top);
  });
  after(async () => {
    await killAll(nodes.values());
    await removeTempDir(top);
  });
  return {
    get top(): string {
      return top; // set by the before hook, so read when a test runs
    },
  };
}

let soloRuns = 0;

/**
 * A fresh one-site cluster (`solo`, with `src/math.ts` holding `add`) in a folder of its own under
 * `top`: a test that breaks its site's repository or log starts from a clean one each time.
 */
export async function soloSite(top: string): Promise<ClusterSite> {
  soloRuns += 1;
  const fixture = await buildClusterFixture(join(top, `run${soloRuns}`), { sites: ['solo'], files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n' } });
  return fixture.sites[0]!;
}

/**
 * Poke a site's node as the hook does. Under load the hook's own poke can miss its 150 ms budget
 * ("queued ... (it is busy)"); the node then takes the entry only at the next poke (the periodic
 * scan takes the outbox only when it queued a commit itself), so tests poke again.
 */
export async function pokeNode(site: ClusterSite): Promise<void> {
  await callNode(join(site.dir, '.git', 'acu', 'node.sock'), { type: 'poke' }, 5_000);
}

/**
 * Commit number `n` through the post-commit hook at `site` (installed there): a new file of its
 * own, `src/<site>-<n>.ts`, so it composes with everything else, dated `7200 + n` seconds after the
 * fixture epoch; then a poke.
 */
export async function hookedCommit(site: ClusterSite, n: number): Promise<void> {
  const file = `src/${site.name}-${n}.ts`;
  await writeFile(join(site.dir, file), `export const v${n} = ${n};\n`);
  assert.equal(git(site, ['add', '--', file]).status, 0);
  const made = git(site, ['commit', '-q', '-m', `Add v${n} at ${site.name}`], 7200 + n);
  assert.equal(made.status, 0, made.stderr);
  assert.match(made.stderr, /acu: (proposed|queued) [0-9a-f]{12}/, 'the post-commit hook took the commit');
  await pokeNode(site);
}
