/**
 * One conformance suite for the peer-transport port (PeerTransport), run against both
 * implementations: WsTransport on loopback with real Ed25519 keys, and the MemoryNetwork's
 * transport driven by a ManualClock. Members deliver to each other; a sender that is not a member is
 * refused and counted; a message larger than a frame arrives whole, one over the message limit is
 * not sent ('oversized', counted); a send to a peer that is down does not throw; connectedPeers
 * lists the members linked now; stop takes a transport off the cluster.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { frameBytesMax, messageBytesMax } from '../../src/net/frame.js';
import { WsTransport } from '../../src/net/transport.js';
import type { ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { ManualClock } from '../../src/sync/memory-clock.js';
import { MemoryNetwork } from '../../src/sync/memory-network.js';
import type { PeerTransport } from '../../src/sync/ports.js';
import { seededIdentity } from '../sim/host-world.js';
import { freePort, loopbackMembers } from '../support/transport-harness.js';

type Inbox = [string, unknown][];

/** How a suite reaches one implementation: a cluster of `n` members, and a way to wait. */
interface TransportHarness {
  readonly members: readonly ClusterMember[];
  /** Member i's transport (not started), delivering into `inbox`. */
  make(i: number, inbox: Inbox): PeerTransport;
  /** A transport of an outsider (not a member) that tries to reach member `target`. */
  outsider(target: number): Promise<PeerTransport>;
  /** Wait until `condition` holds (real sockets: events; memory: the clock steps). */
  until(condition: () => boolean, what: string): Promise<void>;
}

function identities(n: number, label: string): NodeIdentity[] {
  return [...Array(n).keys()].map((i) => seededIdentity(`${label} ${i}`)).sort((a, b) => (a.id < b.id ? -1 : 1));
}

async function wsHarness(n: number): Promise<TransportHarness> {
  const keys = identities(n, 'ws conformance');
  const members = await loopbackMembers(keys);
  const transport = (identity: NodeIdentity, list: readonly ClusterMember[], inbox: Inbox): WsTransport => {
    const me = list.find((m) => m.id === identity.id)!;
    return new WsTransport({ identity, members: list, listen: { host: '127.0.0.1', port: Number(new URL(me.address).port) }, events: { onMessage: (from, value) => inbox.push([from, value]) } });
  };
  return {
    members,
    make: (i, inbox) => transport(keys[i]!, members, inbox),
    outsider: async (target) => {
      // The dialer of a pair is the smaller id: draw outsider keys until one dials the target.
      let key = seededIdentity('ws outsider 0');
      for (let k = 1; key.id >= members[target]!.id; k += 1) key = seededIdentity(`ws outsider ${k}`);
      const self: ClusterMember = { id: key.id, publicKey: key.publicKey, address: `ws://127.0.0.1:${await freePort()}`, site: 'outsider', priority: 99 };
      return transport(key, [self, members[target]!], []);
    },
    until: (condition, what) =>
      // Polls an event-driven condition; the bound catches a hung test, it is not a timing assertion.
      new Promise((resolve, reject) => {
        let polls = 0;
        const poll = (): void => {
          if (condition()) resolve();
          else if ((polls += 1) > 5_000) reject(new Error(`timed out waiting for ${what}`));
          else setTimeout(poll, 2);
        };
        poll();
      }),
  };
}

function memoryHarness(n: number): Promise<TransportHarness> {
  const keys = identities(n, 'memory conformance');
  const members = keys.map((key, i) => ({ id: key.id, publicKey: key.publicKey, address: `ws://memory-${i}:1`, site: `s${i}`, priority: i }));
  const clock = new ManualClock();
  const network = new MemoryNetwork(clock, members.map((m) => m.id), { seed: 7 });
  network.faults.delayMsMax = 5;
  return Promise.resolve({
    members,
    make: (i, inbox) => network.transport(members[i]!.id)({ onMessage: (from, value) => inbox.push([from, value]) }),
    outsider: () => Promise.resolve(network.transport(seededIdentity('memory outsider').id)({ onMessage: () => undefined })),
    until: async (condition, what) => {
      for (let steps = 0; !condition(); steps += 1) {
        if (steps > 10_000 || !clock.step()) throw new Error(`never happened: ${what}`);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
  });
}

const implementations = [
  { name: 'WsTransport (loopback)', make: wsHarness },
  { name: 'MemoryNetwork transport', make: memoryHarness },
];

for (const impl of implementations) {
  void describe(`transport conformance: ${impl.name}`, () => {
    const running: PeerTransport[] = [];
    const inboxes: Inbox[] = [[], [], []];
    let harness: TransportHarness;
    const start = async (transport: PeerTransport): Promise<PeerTransport> => {
      running.push(transport);
      await transport.start();
      return transport;
    };
    after(async () => {
      for (const transport of running) await transport.stop();
    });

    void it('delivers between members, both ways, and lists connected peers', async () => {
      harness = await impl.make(3);
      const nodes = await Promise.all([0, 1, 2].map((i) => start(harness.make(i, inboxes[i]!))));
      await harness.until(() => nodes.every((t) => t.connectedPeers().length === 2), 'a full mesh');
      const ids = harness.members.map((m) => m.id);
      assert.deepEqual(nodes[0]!.connectedPeers(), [ids[1], ids[2]].sort());
      nodes[0]!.broadcast({ hello: 'from 0' });
      assert.equal(nodes[2]!.send(ids[1]!, { hello: 'from 2' }), 'queued');
      await harness.until(() => inboxes[1]!.length === 2 && inboxes[2]!.length === 1, 'delivery');
      assert.deepEqual(inboxes[2], [[ids[0], { hello: 'from 0' }]]);
      assert.deepEqual(new Set(inboxes[1]!.map(([from]) => from)), new Set([ids[0], ids[2]]));
      assert.ok(nodes[0]!.counters.framesOut >= 2);
    });

    void it('a message larger than a frame arrives whole; one over the message limit is refused', async () => {
      const [a, b] = running as [PeerTransport, PeerTransport];
      const bId = harness.members[1]!.id;
      const big = 'x'.repeat(frameBytesMax + 1024);
      const before = inboxes[1]!.length;
      assert.equal(a.send(bId, { t: 'big', big }), 'queued');
      await harness.until(() => inboxes[1]!.length > before, 'the large message');
      const [from, value] = inboxes[1]![before]!;
      assert.equal(from, harness.members[0]!.id);
      assert.equal((value as { big?: string }).big, big, 'delivered whole');
      assert.ok(b.counters.framesIn - b.counters.messagesIn >= 1, 'it came as several frames');
      const oversizedBefore = a.counters.messagesOversized;
      assert.equal(a.send(bId, { t: 'huge', huge: 'y'.repeat(messageBytesMax) }), 'oversized');
      assert.equal(a.counters.messagesOversized, oversizedBefore + 1);
    });

    void it('refuses a sender that is not a member, and counts it', async () => {
      const target = 2;
      const node = running[target]!;
      const before = node.counters.authRefusedUnknownPeer;
      const outsider = await start(await harness.outsider(target));
      outsider.send(harness.members[target]!.id, { t: 'c', m: 'from an outsider' });
      await harness.until(() => node.counters.authRefusedUnknownPeer > before, 'the refusal');
      assert.equal(inboxes[target]!.some(([, value]) => (value as { m?: unknown }).m === 'from an outsider'), false);
      assert.equal(node.connectedPeers().length, 2, 'the members stay connected');
    });

    void it('stop takes a member off; a send to it does not throw', async () => {
      const [a, , c] = running as [PeerTransport, PeerTransport, PeerTransport];
      const cId = harness.members[2]!.id;
      await c.stop();
      await harness.until(() => !a.connectedPeers().includes(cId), 'the link to go down');
      assert.doesNotThrow(() => a.send(cId, { to: 'a stopped peer' }));
      assert.doesNotThrow(() => a.broadcast({ to: 'everyone' }));
      assert.deepEqual(a.connectedPeers(), [harness.members[1]!.id]);
    });
  });
}
