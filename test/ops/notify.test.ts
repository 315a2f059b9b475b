/**
 * Webhook notifications (src/ops/notify.ts) against a real local HTTP server: a delivery answered
 * 500 is retried and then sent, a 404 is not retried, Slack's body is `{"text": ...}`, a conflict
 * whose vote waits for this site makes a second notification, a deferred ACU names its author, and
 * a full queue drops its oldest. Retry delays are shortened; nothing is timed.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import type { NotificationOutcome } from '../../src/ops/metrics.js';
import { jsonLogLine, levelOf, textLogLine } from '../../src/ops/log-format.js';
import { Notifier } from '../../src/ops/notify.js';
import type { NotificationBody, NotifierOptions } from '../../src/ops/notify.js';
import type { NodeEvent, NodeStatus, OpenConflict } from '../../src/sync/node-types.js';
import { until } from '../sync/real-nodes.js';

/** Requests by path, and how each path answers in turn (then 200). */
const received = new Map<string, string[]>();
const answers = new Map<string, number[]>();
let base = '';
const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const path = request.url ?? '/';
    received.set(path, [...(received.get(path) ?? []), Buffer.concat(chunks).toString('utf8')]);
    assert.equal(request.method, 'POST');
    assert.equal(request.headers['content-type'], 'application/json');
    response.writeHead(answers.get(path)?.shift() ?? 200).end();
  });
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const agreed: NodeEvent = {
  atMs: Date.UTC(2026, 0, 2, 3, 4, 5, 6), node: 'n00000000000000a1', kind: 'agreed', text: 'height 3: agreed commit abc (0 applied, 1 deferred, 0 rejected)',
  data: {
    height: 3, commit: 'abc', applied: 0, deferred: 1, rejected: 0,
    notApplied: [{ id: 'f'.repeat(64), outcome: 'deferred', reason: 'conflict lost', file: 'src/math.ts', symbol: 'add', site: 'south', author: 'Sam <sam@example.com>', subject: 'Fix add' }],
  },
};

function notifier(path: string, outcomes: NotificationOutcome[], options: Partial<NotifierOptions> = {}): Notifier {
  return new Notifier({
    urls: [`${base}${path}`], format: 'json', status: () => null, onOutcome: (o) => outcomes.push(o),
    limits: { retryDelayMsMin: 5, retryDelayMsMax: 20 }, ...options,
  });
}

it('retries a delivery answered 500 and then sends it; a deferred ACU is its own notification, with its author', async () => {
  const outcomes: NotificationOutcome[] = [];
  answers.set('/retry', [500]);
  const n = notifier('/retry', outcomes);
  n.onEvent(agreed, 'north');
  await until('both notifications are sent', () => outcomes.filter((o) => o === 'sent').length === 2);
  await n.close();
  assert.deepEqual(outcomes.filter((o) => o === 'retried'), ['retried'], 'one retry, after the 500');
  const bodies = received.get('/retry')!.map((b) => JSON.parse(b) as NotificationBody);
  assert.equal(bodies.length, 3);
  assert.deepEqual(bodies.map((b) => b.kind).sort(), ['agreed', 'agreed', 'deferred']);
  assert.equal(received.get('/retry')!.filter((b) => (JSON.parse(b) as NotificationBody).kind === 'agreed').length, 2, 'the same body twice: once refused, once taken');
  const deferred = bodies.find((b) => b.kind === 'deferred')!;
  assert.equal(deferred.site, 'north');
  assert.equal(deferred.node, 'n00000000000000a1');
  assert.equal(deferred.time, '2026-01-02T03:04:05.006Z');
  assert.equal(deferred.data.author, 'Sam <sam@example.com>');
  assert.match(deferred.text, /^deferred at height 3: src\/math\.ts#add by Sam <sam@example\.com> \(south\): conflict lost$/);
  const first = bodies.find((b) => b.kind === 'agreed')!;
  assert.equal(first.data.notApplied, undefined, 'the list goes in notifications of its own');
});

it('does not retry an answer that will not change (404), and stops after the last attempt', async () => {
  const outcomes: NotificationOutcome[] = [];
  answers.set('/gone', [404]);
  answers.set('/down', [503, 503, 503]);
  const gone = notifier('/gone', outcomes);
  gone.onEvent({ ...agreed, data: { height: 1 } }, 'north');
  await until('the 404 is final', () => outcomes.includes('failed'));
  assert.deepEqual(outcomes, ['failed']);
  await gone.close();
  const down: NotificationOutcome[] = [];
  const n = notifier('/down', down, { limits: { retryDelayMsMin: 1, retryDelayMsMax: 2, attemptsMax: 3 } });
  n.onEvent({ ...agreed, data: { height: 1 } }, 'north');
  await until('three attempts, then given up', () => down.includes('failed'));
  await n.close();
  assert.deepEqual(down, ['retried', 'retried', 'failed']);
  assert.equal(received.get('/down')!.length, 3);
});

it("sends Slack's body, and a second notification when a conflict's vote waits for this site", async () => {
  const outcomes: NotificationOutcome[] = [];
  const conflict: OpenConflict = { id: '4.0', a: 'src/math.ts#add', b: 'src/math.ts#add', aSite: 'north', bSite: 'south', file: 'src/math.ts', message: 'both change add', vote: null };
  const status = { conflicts: [conflict] } as unknown as NodeStatus;
  const n = notifier('/slack', outcomes, { format: 'slack', status: () => status });
  n.onEvent({ atMs: 0, node: 'n1', kind: 'conflict', text: 'conflict 4.0: src/math.ts#add vs src/math.ts#add (both change add)', data: { conflict: '4.0' } }, 'north');
  n.onEvent({ atMs: 0, node: 'n1', kind: 'voted', text: 'not a notification' }, 'north');
  await until('both are sent', () => outcomes.length === 2);
  await n.close();
  const bodies = received.get('/slack')!.map((b) => JSON.parse(b) as Record<string, unknown>);
  for (const body of bodies) assert.deepEqual(Object.keys(body), ['text']);
  const texts = bodies.map((b) => String(b.text)).sort();
  assert.match(texts[0]!, /^\*acu north\* conflict: conflict 4\.0: src\/math\.ts#add vs src\/math\.ts#add \(both change add\)$/);
  assert.match(texts[1]!, /^\*acu north\* vote-waiting: conflict 4\.0 waits for a vote of north: acu vote 4\.0 keep-a\|keep-b\|keep-both\|defer \(src\/math\.ts#add of north vs src\/math\.ts#add of south\)$/);
});

it('drops the oldest waiting notification when its queue is full, and counts it', async () => {
  const outcomes: NotificationOutcome[] = [];
  const n = notifier('/full', outcomes, { limits: { queueMax: 1, inFlightMax: 1 } });
  for (let i = 0; i < 3; i += 1) n.onEvent({ ...agreed, data: { height: i } }, 'north');
  await until('what was kept is sent', () => outcomes.filter((o) => o === 'sent').length === 2);
  await n.close();
  assert.deepEqual(outcomes.filter((o) => o === 'dropped'), ['dropped']);
  const heights = received.get('/full')!.map((b) => (JSON.parse(b) as NotificationBody).data.height);
  assert.deepEqual(heights, [0, 2], 'the first went at once, the second was dropped for the third');
});

it('writes one JSON object per event for --log-format json, with the timeline names and a level', () => {
  const line = JSON.parse(jsonLogLine(agreed, 'north')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(line), ['time', 'level', 'event', 'node', 'site', 'message', 'data']);
  assert.equal(line.time, '2026-01-02T03:04:05.006Z');
  assert.equal(line.level, 'info');
  assert.equal(line.event, 'agreed');
  assert.equal((line.data as Record<string, unknown>).height, 3);
  assert.equal(levelOf('peer-down'), 'warn');
  assert.equal(levelOf('error'), 'error');
  const bare = JSON.parse(jsonLogLine({ atMs: 0, node: 'n1', kind: 'started', text: 'up' }, 'north')) as Record<string, unknown>;
  assert.equal('data' in bare, false);
  assert.equal(textLogLine(agreed), '03:04:05.006 agreed    height 3: agreed commit abc (0 applied, 1 deferred, 0 rejected)');
});
