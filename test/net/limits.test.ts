/**
 * The transport's resource bounds over real sockets on loopback: a 5 MB message crosses as
 * fragments and arrives intact; garbage fragments are refused and counted; a socket that has not
 * authenticated cannot send more than a handshake frame; a peer that stops reading keeps the
 * sender's buffered bytes under its bound; a silent half-open peer is found by its missing pongs.
 * Each test runs its own small cluster, with limits made small instead of waiting long.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { initIdentity, signBytes } from '../../src/store/identity.js';
import { decodeFrame, encodeFrame, frameBytesMax, messageBytesMax } from '../../src/net/frame.js';
import { fragmentsOf } from '../../src/net/fragment.js';
import { handshakeBytes } from '../../src/net/handshake.js';
import type { TransportLimits } from '../../src/net/transport-types.js';
import { WsTransport } from '../../src/net/transport.js';
import { baseSeed, rng } from '../support/random.js';
import { loopbackMembers, untilWithin } from '../support/transport-harness.js';

let top = '';
let made = 0;
const running: WsTransport[] = [];
const sockets: WebSocket[] = [];
const servers: WebSocketServer[] = [];

before(async () => {
  top = await makeTempDir('transport-limits');
});

after(async () => {
  for (const socket of sockets) socket.terminate();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await Promise.all(running.map((t) => t.stop()));
  await removeTempDir(top);
});

const until = untilWithin({ timeoutMs: 20_000, everyMs: 2 });

/** Two members, sorted by id: the first dials, the second accepts. */
interface Pair {
  readonly ids: [NodeIdentity, NodeIdentity];
  readonly members: ClusterMember[];
}

async function pair(): Promise<Pair> {
  const ids: NodeIdentity[] = [];
  for (let i = 0; i < 2; i += 1) ids.push((await initIdentity(`${top}/c${made}-${i}`)).identity);
  made += 1;
  ids.sort((a, b) => (a.id < b.id ? -1 : 1));
  const members = await loopbackMembers(ids);
  return { ids: ids as [NodeIdentity, NodeIdentity], members };
}

function transport(p: Pair, index: 0 | 1, inbox: unknown[], limits: Partial<TransportLimits> = {}): WsTransport {
  const t = new WsTransport({
    identity: p.ids[index],
    members: p.members,
    listen: { host: '127.0.0.1', port: Number(new URL(p.members[index]!.address).port) },
    events: { onMessage: (_from, value) => inbox.push(value) },
    limits,
  });
  running.push(t);
  return t;
}

/** A client that authenticates to the acceptor as the dialing member, then does what a test says. */
async function impostorDialer(p: Pair, options: { autoPong?: boolean } = {}): Promise<WebSocket> {
  const socket = new WebSocket(p.members[1]!.address, { autoPong: options.autoPong ?? true });
  sockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      const msg = (frame.ok ? frame.value : {}) as { t?: string; nonce?: string };
      if (msg.t === 'challenge') {
        const sig = signBytes(p.ids[0], handshakeBytes('client', p.ids[0].id, p.ids[1].id, msg.nonce!, 'dd', ''));
        socket.send(encodeFrame({ t: 'hello', dialer: p.ids[0].id, nonce: 'dd', sig }));
      } else if (msg.t === 'welcome') resolve();
    });
    socket.on('close', () => reject(new Error('the impostor was refused')));
  });
  return socket;
}

function payload(bytes: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 1) out[i] = r.int(256);
  return out;
}

it('carries a 5 MB message between two transports, as fragments, intact', async () => {
  const seed = baseSeed(5);
  const p = await pair();
  const inbox: unknown[] = [];
  const [a, b] = [transport(p, 0, []), transport(p, 1, inbox)];
  await Promise.all([a.start(), b.start()]);
  await until(() => a.connectedPeers().length === 1 && b.connectedPeers().length === 1, 'the link');
  const blob = payload(5 * 1000 * 1000, seed);
  const outBefore = a.counters.framesOut;
  assert.equal(a.send(p.ids[1].id, { t: 'records', blob, note: 'x'.repeat(1000) }), 'queued');
  await until(() => inbox.length === 1, 'the large message');
  const got = inbox[0] as { blob: Uint8Array; note: string };
  assert.ok(Buffer.from(got.blob).equals(Buffer.from(blob)), `intact (replay: ACU_SEED=${seed})`);
  assert.equal(got.note, 'x'.repeat(1000));
  assert.equal(a.counters.framesOut - outBefore, 2, 'two fragments, each within frameBytesMax');
  assert.equal(b.counters.messagesIn, 1);
  assert.equal(a.connectedPeers().length, 1, 'the link stayed up');
  assert.equal(a.send(p.ids[1].id, { blob: new Uint8Array(messageBytesMax + 1) }), 'oversized');
  assert.equal(a.counters.messagesOversized, 1);
});

it('refuses malformed, oversized and duplicate fragments from a member, counts them, and keeps the link', async () => {
  const p = await pair();
  const inbox: unknown[] = [];
  const [a, b] = [transport(p, 0, []), transport(p, 1, inbox)];
  await Promise.all([a.start(), b.start()]);
  await until(() => a.connectedPeers().length === 1 && b.connectedPeers().length === 1, 'the link');
  // Reach into the live authenticated connection the way a faulty member would write to it.
  const toB = (a as unknown as { state: { peers: Map<string, { socket: WebSocket }> } }).state.peers.get(p.ids[1].id)!.socket;
  const [first] = fragmentsOf(9, encodeFrame({ big: new Uint8Array(frameBytesMax + 10) }));
  const tooLarge = Uint8Array.from(first!);
  new DataView(tooLarge.buffer).setUint32(13, messageBytesMax + 1);
  toB.send(Uint8Array.from([0xc1, 0, 0]));
  toB.send(tooLarge);
  toB.send(first!);
  toB.send(first!);
  await until(() => b.counters.fragmentsRefused === 3, 'the refusals');
  a.send(p.ids[1].id, { after: 'garbage' });
  await until(() => inbox.length === 1, 'a message after the garbage');
  assert.deepEqual(inbox, [{ after: 'garbage' }]);
  assert.equal(b.connectedPeers().length, 1);
});

it('refuses a frame larger than a handshake frame before authentication', async () => {
  const p = await pair();
  const b = transport(p, 1, []);
  await b.start();
  const socket = new WebSocket(p.members[1]!.address);
  sockets.push(socket);
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  await new Promise((resolve) => socket.once('message', resolve));
  socket.send(encodeFrame({ t: 'hello', pad: 'x'.repeat(64 * 1024) }));
  assert.equal(await closed, 1009, 'closed as too big');
  assert.equal(b.counters.framesRefused, 1);
  assert.equal(b.connectedPeers().length, 0);
});

it('keeps the bytes buffered for a peer that stops reading under the bound, and counts what it drops', async () => {
  const p = await pair();
  const limits = { queueBytesMax: 1024 * 1024, socketBufferBytesMax: 256 * 1024, pingIntervalMs: 60_000 };
  const b = transport(p, 1, [], limits);
  await b.start();
  const impostor = await impostorDialer(p);
  await until(() => b.connectedPeers().length === 1, 'the impostor authenticated');
  // The peer's node stops reading: its kernel buffers fill, then the sender's.
  (impostor as unknown as { _socket: { pause(): void } })._socket.pause();
  const message = { t: 'records', body: new Uint8Array(64 * 1024) };
  const frameBytes = encodeFrame(message).length;
  const bound = limits.queueBytesMax + limits.socketBufferBytesMax + frameBytes + 16;
  let most = 0;
  for (let i = 0; i < 400; i += 1) {
    b.send(p.ids[0].id, message);
    most = Math.max(most, b.sendBufferBytes(p.ids[0].id));
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(most <= bound, `buffered ${most} bytes, bound ${bound}`);
  assert.ok(b.counters.framesDropped > 0, 'frames were dropped');
  assert.equal(b.counters.framesDropped, b.counters.messagesDropped, 'single-frame messages');
  assert.equal(b.connectedPeers().length, 1, 'the link itself stays until pings say otherwise');
});

it('terminates a silent half-open link on a ping timeout, on the accepting side', async () => {
  const p = await pair();
  const b = transport(p, 1, [], { pingIntervalMs: 10, pingTimeoutMs: 30 });
  await b.start();
  const silent = await impostorDialer(p, { autoPong: false });
  const closed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
  await closed;
  assert.equal(b.counters.pingTimeouts, 1);
  await until(() => b.connectedPeers().length === 0, 'the link seen down');
});

it('terminates a silent half-open link on a ping timeout, and redials, on the dialing side', async () => {
  const p = await pair();
  // A fake acceptor that completes the handshake as the accepting member, then never answers a ping.
  const server = new WebSocketServer({ port: Number(new URL(p.members[1]!.address).port), host: '127.0.0.1', autoPong: false });
  servers.push(server);
  let connections = 0;
  server.on('connection', (socket) => {
    connections += 1;
    socket.send(encodeFrame({ t: 'challenge', acceptor: p.ids[1].id, nonce: 'ee' }));
    socket.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      const msg = (frame.ok ? frame.value : {}) as { t?: string; nonce?: string };
      if (msg.t !== 'hello') return;
      socket.send(encodeFrame({ t: 'welcome', sig: signBytes(p.ids[1], handshakeBytes('server', p.ids[0].id, p.ids[1].id, 'ee', msg.nonce!, '')) }));
    });
  });
  const a = transport(p, 0, [], { pingIntervalMs: 10, pingTimeoutMs: 30, reconnectBaseMs: 1, reconnectMaxMs: 5 });
  await a.start();
  await until(() => a.counters.pingTimeouts >= 1 && connections >= 2, 'a ping timeout and a redial');
  assert.ok(a.counters.reconnects >= 1);
});
