/**
 * WsTransport.setMembers over real sockets on loopback: a membership change takes effect without a
 * restart. An added member is linked; a removed one's link ends, sends to it are dropped, and its
 * attempts to come back are refused and counted; a rotated key (this node's identity changes) is
 * linked afresh under the new id.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { initIdentity } from '../../src/store/identity.js';
import { WsTransport } from '../../src/net/transport.js';
import { freePort, untilWithin } from '../support/transport-harness.js';

let top = '';
const identities: NodeIdentity[] = [];
let members: ClusterMember[] = [];
const running: WsTransport[] = [];
const inboxes: [string, unknown][][] = [[], [], [], []];

const until = untilWithin({ timeoutMs: 20_000, everyMs: 5 });

function sorted(list: readonly ClusterMember[]): ClusterMember[] {
  return [...list].sort((a, b) => (a.id < b.id ? -1 : 1));
}

function node(index: number, list: readonly ClusterMember[]): WsTransport {
  const transport = new WsTransport({
    identity: identities[index]!,
    members: list,
    listen: { host: '127.0.0.1', port: Number(new URL(members[index]!.address).port) },
    events: { onMessage: (from, value) => inboxes[index]!.push([from, value]) },
    limits: { reconnectBaseMs: 20, reconnectMaxMs: 200 },
  });
  running.push(transport);
  return transport;
}

before(async () => {
  top = await makeTempDir('transport-members');
  for (let i = 0; i < 4; i += 1) identities.push((await initIdentity(`${top}/n${i}`)).identity);
  // Three nodes; identity 3 is node 0's next key (same address: the same node after a rotation).
  const ports = [await freePort(), await freePort(), await freePort()];
  members = identities.map((id, i) => ({ id: id.id, publicKey: id.publicKey, address: `ws://127.0.0.1:${ports[i % 3]!}`, site: `s${i % 3}`, priority: i }));
});

after(async () => {
  await Promise.all(running.map((t) => t.stop()));
  await removeTempDir(top);
});

it('links an added member, drops a removed one, and relinks a rotated key, without a restart', async () => {
  const [m0, m1, m2, m0next] = members as [ClusterMember, ClusterMember, ClusterMember, ClusterMember];
  const a = node(0, sorted([m0, m1]));
  const b = node(1, sorted([m0, m1]));
  await Promise.all([a.start(), b.start()]);
  await until(() => a.connectedPeers().length === 1 && b.connectedPeers().length === 1, 'a and b linked');

  // Added: c joins with the new membership; a and b take it up.
  const three = sorted([m0, m1, m2]);
  const c = node(2, three);
  await c.start();
  a.setMembers(identities[0]!, three);
  b.setMembers(identities[1]!, three);
  await until(() => [a, b, c].every((t) => t.connectedPeers().length === 2), 'all three linked');
  a.broadcast({ hello: 'c' });
  await until(() => inboxes[2]!.some(([from]) => from === m0.id), 'c hears a');

  // Removed: b leaves; a and c drop it, and b's attempts to come back are refused.
  const refusedBefore = a.counters.authRefusedUnknownPeer + c.counters.authRefusedUnknownPeer;
  const twoLeft = sorted([m0, m2]);
  a.setMembers(identities[0]!, twoLeft);
  c.setMembers(identities[2]!, twoLeft);
  assert.ok(!a.connectedPeers().includes(m1.id), 'the link to a removed member ends at once');
  assert.equal(a.send(m1.id, { to: 'b' }), 'dropped', 'a send to a non-member is dropped, not an error');
  await until(() => !a.connectedPeers().includes(m1.id) && !c.connectedPeers().includes(m1.id) && b.connectedPeers().length === 0, 'b unlinked');
  // b still thinks it is a member and dials whoever it dials; the one it dials refuses it.
  const dialsB = m1.id < m0.id || m1.id < m2.id;
  if (dialsB) await until(() => a.counters.authRefusedUnknownPeer + c.counters.authRefusedUnknownPeer > refusedBefore, "b's redial refused");
  await until(() => a.connectedPeers().includes(m2.id), 'a and c still linked');

  // Rotated: node 0 takes its next key (same address); c takes up the entry with it.
  const rotated = sorted([m0next, m2]);
  a.setMembers(identities[3]!, rotated);
  c.setMembers(identities[2]!, rotated);
  await until(() => a.connectedPeers().includes(m2.id) && c.connectedPeers().includes(m0next.id), 'a relinked under its new key');
  assert.ok(!c.connectedPeers().includes(m0.id), 'the old key is no peer');
  a.send(m2.id, { rotated: true });
  await until(() => inboxes[2]!.some(([from, value]) => from === m0next.id && (value as { rotated?: boolean }).rotated === true), 'c hears a under its new id');
});
