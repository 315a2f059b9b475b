/**
 * The node's metrics (src/ops/metrics.ts) fed by hand: a replica's steps at given clock times
 * become the decision latency by phase, cumulative status counts become counters that grow by
 * their increase, per-peer gauges follow the links; the exposition passes the strict text parser
 * (test/support/prom-text.ts), which itself refuses malformed input.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PeerLinkStats } from '../../src/net/transport-types.js';
import { NodeMetrics } from '../../src/ops/metrics.js';
import type { NodeStatus, ObservedNode } from '../../src/sync/node-types.js';
import { parsePromText } from '../support/prom-text.js';
import type { PromFamily } from '../support/prom-text.js';

const counters: NodeStatus['counters'] = {
  framesIn: 0, framesOut: 0, framesRefused: 0, framesDropped: 0, messagesIn: 0, messagesOut: 0, messagesDropped: 0, messagesOversized: 0,
  fragmentsRefused: 0, reassemblyEvictions: 0, pingTimeouts: 0, authRefusedUnknownPeer: 0, authRefusedBadSignature: 0, authRefusedProtocol: 0,
  authRefusedCertificate: 0, authTimeouts: 0, reconnects: 0, ignoredMessages: 0, duplicateMessages: 0, evidence: 0, decisions: 0, fsyncs: 0,
  recordsRefused: 0, transfers: 0, transfersRefused: 0, membershipRefused: 0, parkedDropped: 0,
};

function statusOf(overrides: Partial<NodeStatus>): NodeStatus {
  return {
    id: 'n0000000000000001', site: 'north', replica: 0, member: true, membershipHeight: 0, cluster: { n: 4, f: 1, quorum: 3, branch: 'main' },
    height: 0, round: 0, phase: 'idle', leader: 'n0000000000000001', peers: [], pendingAcus: 0, conflicts: [], agreed: { height: -1, commit: null },
    writeFailure: null, catchUp: null, validation: 'parse', links: null, counters, scoring: null, concurrentEdits: [], ...overrides,
  };
}

function sample(family: PromFamily | undefined, name: string, labels: Record<string, string> = {}): number | undefined {
  assert.ok(family !== undefined, `a family for ${name}`);
  return family.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

it('times each phase of a decided height from the replica steps, and counts view changes', async () => {
  const metrics = new NodeMetrics({ processMetrics: false });
  let status = statusOf({});
  const node: ObservedNode = { status: () => status, linkStats: () => [] };
  metrics.attached(node);
  metrics.stepped({ height: 0, round: 0, phase: 'idle' }, 1_000);
  metrics.stepped({ height: 0, round: 0, phase: 'proposal' }, 1_100);
  metrics.stepped({ height: 0, round: 0, phase: 'validation' }, 1_150);
  metrics.stepped({ height: 0, round: 0, phase: 'round-change' }, 1_170);
  metrics.stepped({ height: 0, round: 1, phase: 'proposal' }, 1_200);
  metrics.stepped({ height: 0, round: 1, phase: 'prepare' }, 1_260);
  metrics.stepped({ height: 0, round: 1, phase: 'final' }, 1_280);
  metrics.stepped({ height: 1, round: 0, phase: 'idle' }, 1_290);
  status = statusOf({ height: 1, agreed: { height: 0, commit: 'c'.repeat(40) }, counters: { ...counters, decisions: 1, framesRefused: 2 } });
  const families = parsePromText(await metrics.text());
  const decision = families.get('acu_decision_seconds');
  assert.equal(decision?.type, 'histogram');
  assert.equal(sample(decision, 'acu_decision_seconds_count'), 1);
  assert.ok(Math.abs(sample(decision, 'acu_decision_seconds_sum')! - 0.19) < 1e-9, 'from leaving idle (1100) to the next height (1290)');
  const phases = families.get('acu_decision_phase_seconds');
  const spent = (phase: string): number | undefined => sample(phases, 'acu_decision_phase_seconds_sum', { phase });
  assert.ok(Math.abs(spent('proposal')! - 0.11) < 1e-9, 'both rounds: 50 + 60 ms');
  assert.ok(Math.abs(spent('validation')! - 0.02) < 1e-9);
  assert.ok(Math.abs(spent('round-change')! - 0.03) < 1e-9);
  assert.ok(Math.abs(spent('prepare')! - 0.02) < 1e-9);
  assert.ok(Math.abs(spent('final')! - 0.01) < 1e-9);
  assert.equal(spent('conflict-vote'), undefined, 'no conflict vote at this height');
  assert.equal(sample(families.get('acu_view_changes_total'), 'acu_view_changes_total'), 1);
  assert.equal(sample(families.get('acu_rounds_total'), 'acu_rounds_total'), 3, 'round 0 and 1 of height 0, round 0 of height 1');
  assert.equal(sample(families.get('acu_agreed_height'), 'acu_agreed_height'), 0);
  assert.equal(sample(families.get('acu_consensus_height'), 'acu_consensus_height'), 1);
  assert.equal(sample(families.get('acu_refused_total'), 'acu_refused_total', { kind: 'frame' }), 2);
  assert.equal(sample(families.get('acu_refused_total'), 'acu_refused_total', { kind: 'fragment' }), 0, 'a kind not seen yet is 0, not absent');
  assert.equal(families.get('process_cpu_seconds_total'), undefined, 'no process metrics when asked not to');
});

it('turns cumulative status counts into counters by their growth, and follows the peers of each scrape', async () => {
  const metrics = new NodeMetrics({ processMetrics: false });
  const peer = { id: 'n00000000000000a2', site: 'south', connected: true, lastHeardMsAgo: 250 };
  let status = statusOf({ peers: [peer], counters: { ...counters, evidence: 1, authRefusedBadSignature: 3 } });
  let links: PeerLinkStats[] = [{ peer: peer.id, connected: true, rttSeconds: 0.004, queuedFrames: 2, queuedBytes: 100, socketBufferedBytes: 28 }];
  metrics.attached({ status: () => status, linkStats: () => links });
  let families = parsePromText(await metrics.text());
  const faults = (f: Map<string, PromFamily>, kind: string): number | undefined => sample(f.get('acu_peer_faults_total'), 'acu_peer_faults_total', { kind });
  assert.equal(faults(families, 'evidence'), 1);
  assert.equal(faults(families, 'auth_bad_signature'), 3);
  const labels = { peer: peer.id, site: 'south' };
  assert.equal(sample(families.get('acu_peer_up'), 'acu_peer_up', labels), 1);
  assert.equal(sample(families.get('acu_peer_rtt_seconds'), 'acu_peer_rtt_seconds', labels), 0.004);
  assert.equal(sample(families.get('acu_peer_send_queue_frames'), 'acu_peer_send_queue_frames', labels), 2);
  assert.equal(sample(families.get('acu_peer_send_queue_bytes'), 'acu_peer_send_queue_bytes', labels), 128);
  assert.equal(sample(families.get('acu_peer_last_heard_seconds'), 'acu_peer_last_heard_seconds', labels), 0.25);

  status = statusOf({ peers: [{ ...peer, connected: false, lastHeardMsAgo: null }], counters: { ...counters, evidence: 4, authRefusedBadSignature: 3 } });
  links = [{ ...links[0]!, connected: false, rttSeconds: null, queuedFrames: 0, queuedBytes: 0, socketBufferedBytes: 0 }];
  families = parsePromText(await metrics.text());
  assert.equal(faults(families, 'evidence'), 4, 'grew by 3');
  assert.equal(faults(families, 'auth_bad_signature'), 3, 'did not grow');
  assert.equal(sample(families.get('acu_peer_up'), 'acu_peer_up', labels), 0);
  assert.equal(sample(families.get('acu_peer_rtt_seconds'), 'acu_peer_rtt_seconds', labels), undefined, 'no round trip on a link that is down');
});

it('counts events and notifications by their names, and records durable write times', async () => {
  const metrics = new NodeMetrics({ processMetrics: false });
  metrics.onEvent({ atMs: 0, node: 'n1', kind: 'agreed', text: '' });
  metrics.onEvent({ atMs: 0, node: 'n1', kind: 'agreed', text: '' });
  metrics.notification('retried');
  metrics.notification('sent');
  metrics.logSynced(0.002);
  metrics.agreedWritten(0.03);
  const families = parsePromText(await metrics.text());
  assert.equal(sample(families.get('acu_events_total'), 'acu_events_total', { event: 'agreed' }), 2);
  assert.equal(sample(families.get('acu_notifications_total'), 'acu_notifications_total', { outcome: 'retried' }), 1);
  assert.equal(sample(families.get('acu_notifications_total'), 'acu_notifications_total', { outcome: 'sent' }), 1);
  assert.equal(sample(families.get('acu_log_fsync_seconds'), 'acu_log_fsync_seconds_bucket', { le: '0.0025' }), 1);
  assert.equal(sample(families.get('acu_agreed_write_seconds'), 'acu_agreed_write_seconds_count'), 1);
});

it('the text parser refuses what Prometheus would', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{k="v \\"q\\" \\\\ \\n"} 3\n';
  assert.equal(parsePromText(ok).get('a_total')?.samples[0]?.labels.k, 'v "q" \\ \n');
  assert.throws(() => parsePromText('a 1\n'), /no family declared/);
  assert.throws(() => parsePromText('# HELP a A.\n# TYPE a gauge\na 1\na 2\n'), /appears twice/);
  assert.throws(() => parsePromText('# HELP a A.\n# TYPE a gauge\na{k="\\t"} 1\n'), /unknown escape/);
  assert.throws(() => parsePromText('# HELP a A.\n# TYPE a gauge\na{1k="x"} 1\n'), /malformed label/);
  assert.throws(() => parsePromText('# HELP a A.\n# TYPE a gauge\na one\n'), /not a value/);
  assert.throws(() => parsePromText('# HELP a A.\n# TYPE a counter\na -1\n'), /below zero/);
  assert.throws(() => parsePromText('# HELP a A.\n# TYPE a gauge\na 1'), /without a newline/);
  const histogram = (b1: number, inf: number, count: number): string =>
    `# HELP h H.\n# TYPE h histogram\nh_bucket{le="0.1"} ${b1}\nh_bucket{le="+Inf"} ${inf}\nh_sum 1\nh_count ${count}\n`;
  assert.doesNotThrow(() => parsePromText(histogram(1, 2, 2)));
  assert.throws(() => parsePromText(histogram(3, 2, 2)), /not cumulative/);
  assert.throws(() => parsePromText(histogram(1, 2, 3)), /_count differs/);
});

it('the Grafana dashboard that ships in docs/grafana queries only metrics the node exports', async () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const dashboard = JSON.parse(readFileSync(join(root, 'docs', 'grafana', 'acu-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const exported = parsePromText(await new NodeMetrics().text());
  const queried = new Set(dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => [...target.expr.matchAll(/\b((?:acu|process)_[a-z0-9_]+)/g)].map((m) => m[1]!))));
  assert.ok(queried.size >= 15, 'the dashboard covers the metrics');
  for (const name of queried) assert.ok(exported.has(name.replace(/_bucket$/, '')), `${name} is exported`);
});
