import assert from 'node:assert/strict';
import { chmod, stat } from 'node:fs/promises';
import { after, before, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { AcuError } from '../../src/core/errors.js';
import { initIdentity, keyPath, loadIdentity, nodeIdOf, signBytes, verifyBytes } from '../../src/store/identity.js';

let dir = '';
before(async () => {
  dir = await makeTempDir('identity');
});
after(async () => {
  await removeTempDir(dir);
});

it('creates a key once, mode 0600, and loads the same identity after', async () => {
  const first = await initIdentity(dir);
  assert.equal(first.created, true);
  assert.equal((await stat(keyPath(dir))).mode & 0o777, 0o600);
  const again = await initIdentity(dir);
  assert.equal(again.created, false);
  assert.equal(again.identity.id, first.identity.id);
  assert.equal((await loadIdentity(dir)).publicKey, first.identity.publicKey);
  assert.match(first.identity.id, /^n[0-9a-f]{16}$/);
  assert.equal(nodeIdOf(first.identity.publicKey), first.identity.id);
});

it('signs, and verifies only the right bytes, key and signature', async () => {
  const { identity } = await initIdentity(dir);
  const bytes = new TextEncoder().encode('vote for height 7');
  const sig = signBytes(identity, bytes);
  assert.ok(verifyBytes(identity.publicKey, bytes, sig));
  assert.ok(!verifyBytes(identity.publicKey, new TextEncoder().encode('vote for height 8'), sig));
  const flipped = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
  assert.ok(!verifyBytes(identity.publicKey, bytes, flipped));
  // A peer's garbage is a `false`, never an exception.
  assert.ok(!verifyBytes('zz', bytes, sig));
  assert.ok(!verifyBytes(identity.publicKey, bytes, 'not hex'));
  assert.ok(!verifyBytes('00'.repeat(32), bytes, sig));
});

it('refuses a key other users can read, and says how to fix it', async () => {
  await chmod(keyPath(dir), 0o644);
  await assert.rejects(loadIdentity(dir), (error: unknown) => error instanceof AcuError && error.code === 'ERR_CONFIG' && /chmod 600/.test(error.hint ?? ''));
  await chmod(keyPath(dir), 0o600);
});

it('reports a missing key with a hint to create one', async () => {
  const empty = await makeTempDir('identity-empty');
  try {
    await assert.rejects(loadIdentity(empty), (error: unknown) => error instanceof AcuError && error.code === 'ERR_NO_IDENTITY' && /acu init/.test(error.hint ?? ''));
  } finally {
    await removeTempDir(empty);
  }
});
