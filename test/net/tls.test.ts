/**
 * Peer links over TLS on real sockets, each node on its own loopback address (127.0.0.2 to
 * 127.0.0.4): members with pinned self-signed certificates connect and exchange messages; a
 * certificate that is not pinned is refused and counted on the accepting and on the dialing side;
 * a handshake signature made for one TLS session and spliced into another is refused; an
 * operator's PKI works and refuses a certificate of another CA; an address that cannot be
 * listened on is an AcuError with a hint.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { X509Certificate, webcrypto } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { after, before, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { AcuError } from '../../src/core/errors.js';
import { decodeFrame, encodeFrame } from '../../src/net/frame.js';
import { channelBindingOf, handshakeBytes } from '../../src/net/handshake.js';
import { isLoopbackHost, parseListen } from '../../src/net/link.js';
import type { TransportTls } from '../../src/net/link.js';
import { WsTransport } from '../../src/net/transport.js';
import type { ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity, TlsIdentity } from '../../src/store/identity.js';
import { initIdentity, initTlsIdentity, signBytes, spkiPinOf } from '../../src/store/identity.js';
import { freePort, untilWithin } from '../support/transport-harness.js';

interface Site {
  readonly identity: NodeIdentity;
  readonly tls: TlsIdentity;
}

let top = '';
const sites: Site[] = [];
let outsider: Site;
const running: WsTransport[] = [];
const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

const until = untilWithin({ timeoutMs: 20_000, everyMs: 5 });

/** Members on 127.0.0.2.. with wss:// addresses and their pins (overridable per member). */
async function membersOf(count: number, pins: (i: number) => string | undefined = (i) => sites[i]!.tls.pin): Promise<ClusterMember[]> {
  const members: ClusterMember[] = [];
  for (let i = 0; i < count; i += 1) {
    const pin = pins(i);
    const address = `wss://${hosts[i]!}:${await freePort(hosts[i])}`;
    members.push({ id: sites[i]!.identity.id, publicKey: sites[i]!.identity.publicKey, address, ...(pin === undefined ? {} : { tlsPin: pin }), site: `s${i}`, priority: i });
  }
  return members;
}

function transport(members: readonly ClusterMember[], index: number, inbox: [string, unknown][], tls?: TransportTls): WsTransport {
  const site = sites[index]!;
  const url = new URL(members[index]!.address);
  const t = new WsTransport({
    identity: site.identity,
    members,
    listen: { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) },
    tls: tls ?? { key: site.tls.key, cert: site.tls.cert, ca: null },
    events: { onMessage: (from, value) => inbox.push([from, value]) },
  });
  running.push(t);
  return t;
}

/** The member that accepts from every other: the one with the largest id. */
function acceptorIndex(members: readonly ClusterMember[]): number {
  return members.indexOf([...members].sort((a, b) => (a.id < b.id ? 1 : -1))[0]!);
}

/** Open a TLS WebSocket as someone holding `tls`; resolves with the socket, its binding and the challenge. */
function openAs(address: string, tls: { key: string; cert: string }): Promise<{ socket: WebSocket; binding: string; challenge: { acceptor: string; nonce: string } }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(address, { key: tls.key, cert: tls.cert, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    let binding = '';
    socket.on('upgrade', (response: IncomingMessage) => {
      binding = channelBindingOf(response.socket as TLSSocket);
    });
    socket.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      const value = (frame.ok ? frame.value : {}) as { t?: string; acceptor: string; nonce: string };
      if (value.t === 'challenge') resolve({ socket, binding, challenge: value });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => reject(new Error('closed before the challenge')));
  });
}

/** Send a hello on an open socket; resolves with whether the acceptor welcomed it. */
function hello(socket: WebSocket, frame: unknown): Promise<boolean> {
  return new Promise((resolve) => {
    socket.removeAllListeners('close');
    socket.on('message', (data: Buffer) => {
      const decoded = decodeFrame(data);
      if (decoded.ok && (decoded.value as { t?: string }).t === 'welcome') resolve(true);
    });
    socket.on('close', () => resolve(false));
    socket.send(encodeFrame(frame));
  });
}

before(async () => {
  top = await makeTempDir('tls');
  for (let i = 0; i < 4; i += 1) {
    const { identity } = await initIdentity(`${top}/n${i}`);
    const { tls } = await initTlsIdentity(`${top}/n${i}`, identity.id);
    sites.push({ identity, tls });
  }
  outsider = sites.pop()!;
});

after(async () => {
  await Promise.all(running.map((t) => t.stop()));
  await removeTempDir(top);
});

it('parses listen addresses and knows loopback hosts', () => {
  assert.deepEqual(parseListen('0.0.0.0:7401'), { host: '0.0.0.0', port: 7401 });
  assert.deepEqual(parseListen('[::1]:7401'), { host: '::1', port: 7401 });
  assert.deepEqual(parseListen('tokyo.example:80'), { host: 'tokyo.example', port: 80 });
  for (const bad of ['7401', 'host', '::1:7401', '[nothost]:1', 'a:70000', 'a:', '']) assert.equal(parseListen(bad), null, bad);
  assert.ok(isLoopbackHost('127.0.0.5') && isLoopbackHost('localhost') && isLoopbackHost('[::1]'));
  assert.ok(!isLoopbackHost('10.0.0.1') && !isLoopbackHost('tokyo') && !isLoopbackHost('::2'));
});

it('pins: the certificate acu init makes is the one its pin names', () => {
  const site = sites[0]!;
  assert.equal(spkiPinOf(new X509Certificate(site.tls.cert)), site.tls.pin);
  assert.notEqual(site.tls.pin, sites[1]!.tls.pin);
});

it('members on three addresses connect over TLS 1.3 and exchange messages', async () => {
  const members = await membersOf(3);
  const inboxes: [string, unknown][][] = [[], [], []];
  const nodes = [0, 1, 2].map((i) => transport(members, i, inboxes[i]!));
  await Promise.all(nodes.map((n) => n.start()));
  await until(() => nodes.every((n) => n.connectedPeers().length === 2), 'a full mesh over TLS');
  nodes[0]!.broadcast({ over: 'tls' });
  await until(() => inboxes[1]!.length === 1 && inboxes[2]!.length === 1, 'delivery');
  assert.deepEqual(inboxes[2], [[members[0]!.id, { over: 'tls' }]]);
  assert.deepEqual(nodes[0]!.links, { scheme: 'wss', verify: 'pinned', insecure: false, listen: members[0]!.address.slice('wss://'.length) });
  for (const n of nodes) assert.equal(n.counters.authRefusedCertificate, 0);
  await Promise.all(nodes.map((n) => n.stop()));
});

it('links over IPv6 (wss://[::1]:port) the same way', async (t) => {
  const probe = await freePort('::1').catch(() => null);
  if (probe === null) return t.skip('this machine has no IPv6 loopback');
  const members = await membersOf(2);
  const v6 = await Promise.all(members.map(async (m) => ({ ...m, address: `wss://[::1]:${await freePort('::1')}` })));
  const nodes = [0, 1].map((i) => transport(v6, i, []));
  await Promise.all(nodes.map((n) => n.start()));
  await until(() => nodes.every((n) => n.connectedPeers().length === 1), 'an IPv6 link');
  assert.match(nodes[0]!.links.listen, /^\[::1\]:\d+$/);
  await Promise.all(nodes.map((n) => n.stop()));
});

it('refuses and counts a peer presenting a certificate the cluster does not pin, on both sides', async () => {
  const members = await membersOf(3);
  const nodes = [0, 1, 2].map((i) => transport(members, i, []));
  await Promise.all(nodes.map((n) => n.start()));
  await until(() => nodes.every((n) => n.connectedPeers().length === 2), 'a full mesh');
  const a = acceptorIndex(members);
  const acceptor = nodes[a]!;
  const before = acceptor.counters.authRefusedCertificate;
  // An outsider's certificate is refused before the WebSocket upgrade.
  await assert.rejects(openAs(members[a]!.address, outsider.tls));
  await until(() => acceptor.counters.authRefusedCertificate === before + 1, 'the unpinned certificate counted');
  // A member's key with another member's (pinned) certificate: refused once it names itself.
  const d = (a + 1) % 3;
  const other = (a + 2) % 3;
  const opened = await openAs(members[a]!.address, sites[other]!.tls);
  const sig = signBytes(sites[d]!.identity, handshakeBytes('client', members[d]!.id, members[a]!.id, opened.challenge.nonce, 'aa', opened.binding));
  const dialerIsSmaller = members[d]!.id < members[a]!.id;
  assert.ok(dialerIsSmaller, 'the acceptor has the largest id');
  assert.equal(await hello(opened.socket, { t: 'hello', dialer: members[d]!.id, nonce: 'aa', sig }), false);
  assert.equal(acceptor.counters.authRefusedCertificate, before + 2);
  assert.equal(acceptor.connectedPeers().length, 2, 'the members stay connected');
  await Promise.all(nodes.map((n) => n.stop()));
});

it('a dialer refuses and counts an acceptor whose certificate is not the pinned one', async () => {
  // The document pins the outsider's certificate for member 1: member 1's real one is refused.
  const members = await membersOf(2, (i) => (i === 1 ? outsider.tls.pin : sites[i]!.tls.pin));
  const nodes = [0, 1].map((i) => transport(members, i, []));
  await Promise.all(nodes.map((n) => n.start()));
  // Member 0 refuses member 1's certificate either way: as the dialer when the TLS session is up,
  // before any WebSocket frame, or as the acceptor before the upgrade.
  await until(() => nodes[0]!.counters.authRefusedCertificate >= 2, 'refusals counted');
  assert.equal(nodes[0]!.connectedPeers().length, 0);
  assert.equal(nodes[1]!.connectedPeers().length, 0);
  await Promise.all(nodes.map((n) => n.stop()));
});

it('refuses a handshake signature spliced in from another TLS session, and accepts the same hello bound to its own', async () => {
  const members = await membersOf(3);
  const a = acceptorIndex(members);
  const acceptor = transport(members, a, []);
  await acceptor.start();
  const d = (a + 1) % 3;
  const dialer = sites[d]!;
  // Session one: where the honest member signed (say, with a relay that opened session two).
  const one = await openAs(members[a]!.address, dialer.tls);
  const two = await openAs(members[a]!.address, dialer.tls);
  assert.notEqual(one.binding, two.binding, 'two TLS sessions export different keying material');
  const before = acceptor.counters.authRefusedBadSignature;
  const spliced = signBytes(dialer.identity, handshakeBytes('client', dialer.identity.id, members[a]!.id, two.challenge.nonce, 'bb', one.binding));
  assert.equal(await hello(two.socket, { t: 'hello', dialer: dialer.identity.id, nonce: 'bb', sig: spliced }), false, 'the spliced hello is refused');
  assert.equal(acceptor.counters.authRefusedBadSignature, before + 1);
  one.socket.terminate();
  const three = await openAs(members[a]!.address, dialer.tls);
  const bound = signBytes(dialer.identity, handshakeBytes('client', dialer.identity.id, members[a]!.id, three.challenge.nonce, 'cc', three.binding));
  assert.equal(await hello(three.socket, { t: 'hello', dialer: dialer.identity.id, nonce: 'cc', sig: bound }), true, 'bound to its own session, it is welcomed');
  three.socket.terminate();
  await acceptor.stop();
});

/** A CA and certificates it signs for hosts, made with @peculiar/x509. */
async function operatorPki(hostsToSign: readonly string[]): Promise<{ ca: string; leaves: { key: string; cert: string }[] }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const caKeys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=acu test CA', notBefore, notAfter, keys: caKeys, signingAlgorithm: algorithm,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leaves = [];
  for (const [i, host] of hostsToSign.entries()) {
    const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: `1${i}`, subject: `CN=${host}`, issuer: ca.subject, notBefore, notAfter, publicKey: keys.publicKey, signingKey: caKeys.privateKey, signingAlgorithm: algorithm,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: host }]), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth])],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
    leaves.push({ key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`, cert: cert.toString('pem') });
  }
  return { ca: ca.toString('pem'), leaves };
}

it("an operator's PKI: members connect by chain and host name; a certificate from another CA is refused and counted", async () => {
  const members = await membersOf(3, () => undefined);
  const pki = await operatorPki(hosts);
  const nodes = [0, 1, 2].map((i) => transport(members, i, [], { key: pki.leaves[i]!.key, cert: pki.leaves[i]!.cert, ca: pki.ca }));
  await Promise.all(nodes.map((n) => n.start()));
  await until(() => nodes.every((n) => n.connectedPeers().length === 2), 'a full mesh under the CA');
  assert.equal(nodes[0]!.links.verify, 'ca');
  const a = acceptorIndex(members);
  const before = nodes[a]!.counters.authRefusedCertificate;
  const stranger = await operatorPki(hosts);
  await assert.rejects(openAs(members[a]!.address, stranger.leaves[0]!));
  await until(() => nodes[a]!.counters.authRefusedCertificate > before, 'the foreign certificate counted');
  assert.equal(nodes[a]!.connectedPeers().length, 2);
  await Promise.all(nodes.map((n) => n.stop()));
});

it('an address that cannot be listened on is an AcuError with a hint: busy, or not this machine', async () => {
  const members = await membersOf(1);
  const first = transport(members, 0, []);
  await first.start();
  const busy = transport(members, 0, []);
  await assert.rejects(busy.start(), (error: unknown) => error instanceof AcuError && error.code === 'ERR_NODE' && /the port is in use/.test(error.message) && error.hint !== undefined);
  await busy.stop();
  await first.stop();
  const elsewhere = new WsTransport({
    identity: sites[0]!.identity, members, listen: { host: '192.0.2.1', port: 7401 }, tls: { key: sites[0]!.tls.key, cert: sites[0]!.tls.cert, ca: null }, events: { onMessage: () => undefined },
  });
  await assert.rejects(elsewhere.start(), (error: unknown) => error instanceof AcuError && error.code === 'ERR_CONFIG' && /no interface of this machine has that address/.test(error.message));
  await elsewhere.stop();
});
