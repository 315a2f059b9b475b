/**
 * The TLS identity and its pins, from `acu init` to the cluster document: init makes a TLS key
 * (0600) and certificate once and prints the pin; `acu cluster create` pins this node's own
 * certificate for a wss:// address; `add` takes another node's pin (and refuses a wss:// member
 * without one, or a malformed one); the document refuses bad pins and mixed schemes; a TLS key
 * other users can read is refused with a hint.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { AcuError } from '../../src/core/errors.js';
import { clusterIssues, readCluster } from '../../src/store/cluster.js';
import { loadTlsIdentity, nodeIdOf, spkiPinOf } from '../../src/store/identity.js';
import { cliRepo, otherKey } from '../support/cli-repo.js';

const repo = cliRepo('pins');
const { cli } = repo;

it('acu init makes the TLS key (0600) and certificate once, and prints the pin of its public key', async () => {
  const first = await cli('init', '--json');
  assert.equal(first.code, 0, first.err);
  const made = JSON.parse(first.out) as { id: string; tlsPin: string; tlsCreated: boolean; tlsKey: string; tlsCert: string };
  assert.equal(made.tlsCreated, true);
  assert.match(made.tlsPin, /^[0-9a-f]{64}$/);
  assert.equal((await stat(made.tlsKey)).mode & 0o777, 0o600);
  const cert = new X509Certificate(await readFile(made.tlsCert, 'utf8'));
  assert.equal(spkiPinOf(cert), made.tlsPin);
  assert.match(cert.subject, new RegExp(`CN=acu node ${made.id}`));
  const again = JSON.parse((await cli('init', '--json')).out) as { tlsPin: string; tlsCreated: boolean };
  assert.deepEqual([again.tlsPin, again.tlsCreated], [made.tlsPin, false]);
  const human = await cli('init');
  assert.match(human.out, new RegExp(`^its TLS certificate, pin ${made.tlsPin}$`, 'm'));
  assert.match(human.err, new RegExp(`--tls-pin ${made.tlsPin} --proof <proof>'`));
});

it('a TLS key other users can read is refused, with the chmod to fix it', async () => {
  const key = join(repo.dir, '.git', 'acu', 'tls.key');
  await chmod(key, 0o644);
  await assert.rejects(loadTlsIdentity(join(repo.dir, '.git')), (error: unknown) => error instanceof AcuError && error.code === 'ERR_CONFIG' && /chmod 600/.test(error.hint ?? ''));
  await chmod(key, 0o600);
});

it('acu cluster create pins this node; add takes a pin for a wss:// member and refuses one without', async () => {
  const own = (await loadTlsIdentity(join(repo.dir, '.git'))).pin;
  const created = await cli('cluster', 'create', '--address', '127.0.0.2:7401', '--site', 'paris');
  assert.equal(created.code, 0, created.err);
  let doc = await readCluster(repo.dir);
  assert.deepEqual(doc.members.map((m) => [m.address, m.tlsPin]), [['wss://127.0.0.2:7401', own]]);

  const key = otherKey();
  const unpinned = await cli('cluster', 'add', key, 'wss://127.0.0.3:7401');
  assert.equal(unpinned.code, 129);
  assert.match(unpinned.err, /^error: cluster: add needs --tls-pin <pin> for a wss:\/\/ member/m);
  const malformed = await cli('cluster', 'add', key, 'wss://127.0.0.3:7401', '--tls-pin', 'xyz');
  assert.equal(malformed.code, 129);
  const pin = 'ab'.repeat(32);
  const added = await cli('cluster', 'add', key, '[::1]:7401', '--tls-pin', pin, '--site', 'tokyo');
  assert.equal(added.code, 0, added.err);
  doc = await readCluster(repo.dir);
  assert.deepEqual(doc.members.find((m) => m.id === nodeIdOf(key))?.tlsPin, pin);
  assert.equal(doc.members.find((m) => m.id === nodeIdOf(key))?.address, 'wss://[::1]:7401');
  const mixed = await cli('cluster', 'add', otherKey(), 'ws://127.0.0.4:7401');
  assert.equal(mixed.code, 128);
  assert.match(mixed.err, /every address uses one scheme/);
  assert.match((await cli('cluster', 'show')).out, new RegExp(`tls pin ${pin.slice(0, 16)}`));
});

it('the cluster document refuses malformed pins and mixed schemes', () => {
  const key = otherKey();
  const member = { id: nodeIdOf(key), publicKey: key, address: 'wss://a:1', site: 's', priority: 0 };
  assert.deepEqual(clusterIssues({ version: 1, branch: 'main', members: [{ ...member, tlsPin: 'ab'.repeat(32) }] }), []);
  assert.match(clusterIssues({ version: 1, branch: 'main', members: [{ ...member, tlsPin: 'AB'.repeat(32) }] }).join(), /tlsPin: 64 lowercase hex digits/);
  const second = otherKey();
  const members = [member, { ...member, id: nodeIdOf(second), publicKey: second, address: 'ws://b:1' }].sort((a, b) => (a.id < b.id ? -1 : 1));
  assert.match(clusterIssues({ version: 1, branch: 'main', members }).join(), /every address uses one scheme/);
});
