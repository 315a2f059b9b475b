/**
 * The WebSocket transport over real sockets on loopback: messages flow between authenticated
 * members; unknown keys, forged signatures, replayed handshakes, garbage and oversized frames are
 * refused and counted; queues are bounded; a restarted peer is reconnected.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { WebSocket } from 'ws';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { initIdentity, signBytes } from '../../src/store/identity.js';
import { decodeFrame, encodeFrame, frameBytesMax } from '../../src/net/frame.js';
import { handshakeBytes } from '../../src/net/handshake.js';
import { WsTransport } from '../../src/net/transport.js';
import { loopbackMembers, untilWithin } from '../support/transport-harness.js';

let top = '';
const identities: NodeIdentity[] = [];
let members: ClusterMember[] = [];
const running: WsTransport[] = [];

const until = untilWithin({ timeoutMs: 10_000, everyMs: 2 });

function node(index: number, inbox: [string, unknown][], limits = {}): WsTransport {
  const member = members[index]!;
  const port = Number(new URL(member.address).port);
  const transport = new WsTransport({
    identity: identities[index]!,
    members,
    listen: { host: '127.0.0.1', port },
    events: { onMessage: (from, value) => inbox.push([from, value]) },
    limits,
  });
  running.push(transport);
  return transport;
}

before(async () => {
  top = await makeTempDir('transport');
  for (let i = 0; i < 3; i += 1) identities.push((await initIdentity(`${top}/n${i}`)).identity);
  members = await loopbackMembers(identities);
});

after(async () => {
  await Promise.all(running.map((t) => t.stop()));
  await removeTempDir(top);
});

/** Dial a node as an outsider and run a scripted handshake; resolves with the close code. */
function rogue(address: string, hello: (challenge: { acceptor: string; nonce: string }) => unknown): Promise<void> {
  return new Promise((resolve) => {
    const socket = new WebSocket(address);
    socket.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      if (frame.ok && (frame.value as { t?: string }).t === 'challenge') socket.send(encodeFrame(hello(frame.value as { acceptor: string; nonce: string })));
    });
    socket.on('close', () => resolve());
    socket.on('error', () => undefined);
  });
}

it('delivers messages between authenticated members, both ways', async () => {
  const inboxes: [string, unknown][][] = [[], [], []];
  const nodes = [0, 1, 2].map((i) => node(i, inboxes[i]!));
  await Promise.all(nodes.map((n) => n.start()));
  await until(() => nodes.every((n) => n.connectedPeers().length === 2), 'a full mesh');
  nodes[0]!.broadcast({ hello: 'from 0' });
  nodes[2]!.send(members[1]!.id, { hello: 'from 2' });
  await until(() => inboxes[1]!.length === 2 && inboxes[2]!.length === 1, 'delivery');
  assert.deepEqual(inboxes[2], [[members[0]!.id, { hello: 'from 0' }]]);
  assert.deepEqual(new Set(inboxes[1]!.map(([from]) => from)), new Set([members[0]!.id, members[2]!.id]));
});

it('refuses unknown keys, forged signatures and replayed handshakes, and counts them', async () => {
  // The node with the largest id accepts connections from every other member.
  const acceptor = [...members].sort((a, b) => (a.id < b.id ? 1 : -1))[0]!;
  const acceptorNode = running[members.indexOf(acceptor)]!;
  const outsider = (await initIdentity(`${top}/outsider`)).identity;
  const dialer = [...members].sort((a, b) => (a.id < b.id ? -1 : 1))[0]!;
  const dialerIdentity = identities[members.indexOf(dialer)]!;
  const before = { ...acceptorNode.counters };

  await rogue(acceptor.address, (c) => ({ t: 'hello', dialer: outsider.id, nonce: 'aa', sig: signBytes(outsider, handshakeBytes('client', outsider.id, c.acceptor, c.nonce, 'aa', '')) }));
  await rogue(acceptor.address, (c) => ({ t: 'hello', dialer: dialer.id, nonce: 'bb', sig: signBytes(outsider, handshakeBytes('client', dialer.id, c.acceptor, c.nonce, 'bb', '')) }));
  // A hello recorded from an earlier connection signs an earlier challenge: replaying it fails.
  const recorded = signBytes(dialerIdentity, handshakeBytes('client', dialer.id, acceptor.id, 'an-old-challenge', 'cc', ''));
  await rogue(acceptor.address, () => ({ t: 'hello', dialer: dialer.id, nonce: 'cc', sig: recorded }));
  await rogue(acceptor.address, () => ({ t: 'garbage' }));

  assert.equal(acceptorNode.counters.authRefusedUnknownPeer, before.authRefusedUnknownPeer + 1);
  assert.equal(acceptorNode.counters.authRefusedBadSignature, before.authRefusedBadSignature + 2);
  assert.equal(acceptorNode.counters.authRefusedProtocol, before.authRefusedProtocol + 1);
  assert.equal(acceptorNode.connectedPeers().length, 2, 'the members stay connected');
});

it('refuses garbage and oversized frames from a member without crashing', async () => {
  const a = running[0]!;
  const b = running[1]!;
  const beforeRefused = b.counters.framesRefused;
  // Reach into a live authenticated connection the way a faulty peer would write to it.
  const sockets = (a as unknown as { state: { peers: Map<string, { socket: WebSocket | null }> } }).state.peers;
  const toB = sockets.get(members[1]!.id)!.socket!;
  toB.send(Buffer.from([0x92, 0x01]));
  toB.send(Buffer.from('not msgpack at all'));
  await until(() => b.counters.framesRefused >= beforeRefused + 2, 'garbage refused');
  toB.send(Buffer.alloc(frameBytesMax + 1));
  await until(() => b.counters.framesRefused >= beforeRefused + 3, 'oversized refused');
  await until(() => a.connectedPeers().includes(members[1]!.id) && b.connectedPeers().includes(members[0]!.id), 'the link is re-established');
});

it('bounds the queue of an absent peer, and reconnects a peer that restarts', async () => {
  const index = 1;
  const others = running.filter((_, i) => i !== index);
  await running[index]!.stop();
  const sender = others[0]!;
  const small = 5;
  (sender as unknown as { state: { limits: { queueFramesMax: number } } }).state.limits.queueFramesMax = small;
  const droppedBefore = sender.counters.framesDropped;
  await until(() => !sender.connectedPeers().includes(members[index]!.id), 'the peer to be seen down');
  for (let i = 0; i < small + 3; i += 1) sender.send(members[index]!.id, { seq: i });
  assert.equal(sender.counters.framesDropped, droppedBefore + 3);
  const inbox: [string, unknown][] = [];
  const restarted = node(index, inbox);
  await restarted.start();
  const senderId = identities[running.indexOf(sender)]!.id;
  await until(() => inbox.filter(([from]) => from === senderId).length === small, 'the queued frames after reconnecting');
  assert.deepEqual(inbox.filter(([from]) => from === senderId).map(([, v]) => (v as { seq: number }).seq), [3, 4, 5, 6, 7]);
});
