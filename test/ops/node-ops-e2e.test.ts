/**
 * Issue #16, end to end with real processes: two `acu node start` processes on loopback, one with
 * `--log-format json --http 127.0.0.1:0 --notify-url <json>`, the other with `--http` and a Slack
 * webhook. `/metrics` is scraped over HTTP during the run and parsed by the strict text parser
 * (test/support/prom-text.ts); a commit through the real post-commit hook moves the heights; the
 * webhooks reach a local HTTP server, the first delivery answered 500 and retried; the JSON log
 * lines parse. A busy or malformed `--http` address fails the start with error/hint, exit 128.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { acu, acuBin, git, killAll, nodeStatus, until } from '../sync/real-nodes.js';
import { parsePromText } from '../support/prom-text.js';
import type { PromFamily } from '../support/prom-text.js';

interface Started {
  readonly child: ChildProcess;
  readonly lines: string[];
  stderr: string;
  readonly exited: Promise<number | null>;
}

let top = '';
let cluster: ClusterFixture;
const running: Started[] = [];
/** Webhook requests by path, and the statuses answered, in order. */
const hooks = new Map<string, { body: string; status: number }[]>();
const hookServer = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const path = request.url ?? '/';
    const seen = hooks.get(path) ?? [];
    // The first delivery to each receiver fails: the node must retry it.
    const status = seen.length === 0 ? 500 : 200;
    hooks.set(path, [...seen, { body: Buffer.concat(chunks).toString('utf8'), status }]);
    response.writeHead(status).end();
  });
});
let hookBase = '';
let hookPort = 0;

function start(site: ClusterSite, extra: readonly string[]): Started {
  const child = spawn(process.execPath, [acuBin, 'node', 'start', '--validation', 'parse', '--tick-ms', '20', ...extra], { cwd: site.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const started: Started = { child, lines: [], stderr: '', exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    started.lines.push(...lines.filter((line) => line !== ''));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    started.stderr += chunk;
  });
  running.push(started);
  return started;
}

/** The metrics URL a node printed on stderr once its listener was bound. */
async function metricsUrl(node: Started): Promise<string> {
  let url = '';
  await until('the node serves metrics', () => {
    url = /^serving metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(node.stderr)?.[1] ?? '';
    return url !== '' || node.child.exitCode !== null;
  });
  assert.notEqual(url, '', `the node printed where it serves metrics: ${node.stderr}`);
  return url;
}

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePromText(await response.text());
}

function value(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  return family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

before(async () => {
  top = await makeTempDir('node-ops');
  cluster = await buildClusterFixture(top, {
    sites: ['north', 'south'],
    files: { 'src/math.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n', 'README.md': '# math\n' },
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
  hookPort = (hookServer.address() as AddressInfo).port;
  hookBase = `http://127.0.0.1:${hookPort}`;
});

after(async () => {
  await killAll(running);
  await new Promise<void>((resolve) => hookServer.close(() => resolve()));
  await removeTempDir(top);
});

it('refuses a busy or malformed --http address before starting: error, hint, exit 128', () => {
  const busy = acu(cluster.sites[0]!, ['node', 'start', '--validation', 'parse', '--http', `127.0.0.1:${hookPort}`]);
  assert.equal(busy.status, 128, busy.stderr);
  assert.match(busy.stderr, new RegExp(`^error: cannot serve --http 127\\.0\\.0\\.1:${hookPort}: the port is in use$`, 'm'));
  assert.match(busy.stderr, /^hint: stop what listens there/m);
  const malformed = acu(cluster.sites[0]!, ['node', 'start', '--http', 'localhost']);
  assert.equal(malformed.status, 128);
  assert.match(malformed.stderr, /^error: --http 'localhost' is not an address to listen on$/m);
  assert.match(malformed.stderr, /^hint: write <port>/m);
});

it('serves Prometheus metrics that move with the cluster, logs JSON lines, and posts webhooks (retried after a 500; Slack format)', async () => {
  const [north, south] = cluster.sites as [ClusterSite, ClusterSite];
  const n = start(north, ['--log-format', 'json', '--http', '127.0.0.1:0', '--notify-url', `${hookBase}/north`]);
  const s = start(south, ['--http', '0', '--notify-url', `${hookBase}/south`, '--notify-format', 'slack']);
  const [northUrl] = await Promise.all([metricsUrl(n), metricsUrl(s)]);
  await until('both nodes are connected', async () => {
    const statuses = await Promise.all([nodeStatus(north), nodeStatus(south)]);
    return statuses.every((st) => st !== null && st.peers.every((p) => p.connected));
  });

  const before = await scrape(northUrl);
  const types: Record<string, string> = {
    acu_node_info: 'gauge', acu_consensus_height: 'gauge', acu_consensus_round: 'gauge', acu_agreed_height: 'gauge', acu_pending_acus: 'gauge',
    acu_open_conflicts: 'gauge', acu_peer_up: 'gauge', acu_peer_rtt_seconds: 'gauge', acu_peer_send_queue_frames: 'gauge', acu_peer_send_queue_bytes: 'gauge',
    acu_rounds_total: 'counter', acu_view_changes_total: 'counter', acu_decisions_total: 'counter', acu_peer_faults_total: 'counter',
    acu_refused_total: 'counter', acu_notifications_total: 'counter', acu_events_total: 'counter',
    acu_decision_seconds: 'histogram', acu_decision_phase_seconds: 'histogram', acu_log_fsync_seconds: 'histogram', acu_agreed_write_seconds: 'histogram',
    process_cpu_seconds_total: 'counter', process_resident_memory_bytes: 'gauge',
  };
  for (const [name, type] of Object.entries(types)) assert.equal(before.get(name)?.type, type, `${name} is a ${type}`);
  for (const name of before.keys()) assert.match(name, /^(acu|process|nodejs)_[a-z0-9_]+$/, 'one prefix, snake case');
  const southLabels = { peer: cluster.sites[1]!.id, site: 'south' };
  assert.equal(value(before, 'acu_peer_up', southLabels), 1);
  assert.equal(value(before, 'acu_node_info', { site: 'north', branch: 'main', validation: 'parse' }), 1);
  assert.equal(value(before, 'acu_agreed_height'), -1, 'nothing agreed yet');
  const heightBefore = value(before, 'acu_consensus_height')!;
  // The first ping goes out as the link comes up: its round trip is soon known.
  await until('a round trip is measured', async () => value(await scrape(northUrl), 'acu_peer_rtt_seconds', southLabels) !== undefined);

  assert.equal(acu(north, ['hooks', 'install']).status, 0);
  await writeFile(join(north.dir, 'src/math.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function sub(a: number, b: number): number {\n  return a - b;\n}\n');
  const commit = git(north, ['commit', '-q', '-am', 'Add sub']);
  assert.equal(commit.status, 0, commit.stderr);
  await until('both nodes wrote height 0', async () => (await Promise.all([nodeStatus(north), nodeStatus(south)])).every((st) => st !== null && st.agreed.height >= 0));

  const afterCommit = await scrape(northUrl);
  assert.equal(value(afterCommit, 'acu_agreed_height'), 0);
  assert.ok(value(afterCommit, 'acu_consensus_height')! > heightBefore, 'the consensus height moved');
  assert.ok(value(afterCommit, 'acu_decisions_total')! >= 1);
  assert.ok(value(afterCommit, 'acu_decision_seconds_count')! >= 1, 'a decision latency observed');
  assert.ok(value(afterCommit, 'acu_decision_phase_seconds_count', { phase: 'final' })! >= 1, 'time in the final phase observed');
  assert.ok(value(afterCommit, 'acu_log_fsync_seconds_count')! >= 1);
  assert.ok(value(afterCommit, 'acu_agreed_write_seconds_count')! >= 1);
  assert.ok(value(afterCommit, 'acu_events_total', { event: 'agreed' })! >= 1);
  assert.ok(value(afterCommit, 'acu_rounds_total')! >= 2);

  // Webhooks: each receiver's first delivery was answered 500 and retried with the same body.
  await until('each receiver got its agreed commit after a retry', () => ['/north', '/south'].every((path) => (hooks.get(path) ?? []).some((r) => r.status === 200 && r.body.includes('agreed'))));
  for (const path of ['/north', '/south']) {
    const [first, ...later] = hooks.get(path)!;
    assert.equal(first!.status, 500);
    assert.ok(later.some((r) => r.status === 200 && r.body === first!.body), `${path}: the refused body is sent again, and taken`);
  }
  const northAgreed = hooks.get('/north')!.map((r) => JSON.parse(r.body) as Record<string, unknown>).find((b) => b.kind === 'agreed')!;
  assert.equal(northAgreed.site, 'north');
  assert.equal(northAgreed.event, 'agreed');
  assert.equal((northAgreed.data as Record<string, unknown>).height, 0);
  for (const r of hooks.get('/south')!) assert.deepEqual(Object.keys(JSON.parse(r.body) as object), ['text'], 'a Slack body is {"text": ...}');
  assert.ok(hooks.get('/south')!.some((r) => /^\*acu south\* agreed: height 0: agreed commit [0-9a-f]{12}/.test((JSON.parse(r.body) as { text: string }).text)));
  await until('the retry is counted', async () => value(await scrape(northUrl), 'acu_notifications_total', { outcome: 'retried' }) === 1);

  assert.equal(await stopAll([n, s]), true);
  // --log-format json: every line one object, the timeline's names.
  const lines = n.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const line of lines) {
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['info', 'warn', 'error'].includes(String(line.level)));
    assert.equal(line.site, 'north');
    assert.equal(line.node, north.id);
    assert.equal(typeof line.message, 'string');
  }
  const events = lines.map((line) => line.event);
  for (const event of ['started', 'peer-up', 'decided', 'agreed', 'stopping']) assert.ok(events.includes(event), `a '${event}' line`);
  const agreedLine = lines.find((line) => line.event === 'agreed')!;
  assert.equal((agreedLine.data as Record<string, unknown>).height, 0);
  // The default stays the human text.
  assert.ok(s.lines.length > 0);
  for (const line of s.lines) assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} [a-z-]+ +\S/);
});

async function stopAll(nodes: readonly Started[]): Promise<boolean> {
  for (const node of nodes) node.child.kill('SIGTERM');
  const codes = await Promise.all(nodes.map((node) => node.exited));
  return codes.every((code) => code === 0);
}
