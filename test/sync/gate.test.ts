/**
 * The server's gate, run by real `git push` into a real bare repository with `acu hooks install
 * --server`: git runs pre-receive with the pushed objects in quarantine, so these pushes also show
 * that acu reads the new commits and the pushed notes commit from there.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';
import { agree, commitOnTop, git, makeClone, makeCluster } from '../support/gate-fixture.js';
import type { ChainTip } from '../support/gate-fixture.js';

let top = '';
let cluster: ClusterDoc;
let replicas: NodeIdentity[] = [];

async function acu(cwd: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo(cwd);
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

const notes = ['refs/notes/acu', 'refs/notes/acu-records'];

before(async () => {
  top = await makeTempDir('gate');
  ({ cluster, replicas } = await makeCluster(top));
});
after(async () => {
  await removeTempDir(top);
});

/** A clone with genesis pushed to a fresh bare repository that has the gate installed. */
async function setUp(name: string): Promise<{ dir: string; server: string; genesis: string }> {
  const dir = join(top, name);
  const server = join(top, `${name}.git`);
  assert.equal(git(top, 'init', '-q', '--bare', '-b', 'main', server).status, 0);
  const installed = await acu(server, 'hooks', 'install', '--server');
  assert.equal(installed.code, 0, installed.err);
  assert.match(installed.out, /pre-receive +installed/);
  const genesis = await makeClone(dir, cluster);
  git(dir, 'remote', 'add', 'origin', server);
  const first = git(dir, 'push', 'origin', 'main');
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /remote: acu: refs\/heads\/main created at [0-9a-f]{12}: the agreed chain will start from it/);
  return { dir, server, genesis };
}

function pushAgreed(dir: string, ...extra: string[]): ReturnType<typeof git> {
  return git(dir, 'push', 'origin', 'refs/acu/main:refs/heads/main', ...notes, ...extra);
}

describe('pre-receive gate', () => {
  it('takes certified commits pushed with their notes, refuses uncertified ones, and lets other branches through', async () => {
    const { dir, server, genesis } = await setUp('certified');
    const h1 = await agree(dir, cluster, replicas, { genesis }, 2);
    const pushed = pushAgreed(dir);
    assert.equal(pushed.status, 0, pushed.stderr);
    assert.equal(git(server, 'rev-parse', 'main').stdout.trim(), h1.commit);
    // A second push: the server now holds notes, and the push moves them forward with the branch.
    const h3 = await agree(dir, cluster, replicas, h1, 2);
    const again = pushAgreed(dir);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(git(server, 'rev-parse', 'main').stdout.trim(), h3.commit);

    git(dir, 'reset', '-q', '--hard', h3.commit);
    assert.equal(git(dir, 'commit', '--allow-empty', '-q', '-m', 'not agreed').status, 0);
    const plain = git(dir, 'push', 'origin', 'HEAD:refs/heads/main');
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /remote: error: refs\/heads\/main: 1 of 1 new commit not certified by the acu cluster; first: [0-9a-f]{12}: no certificate note \(refs\/notes\/acu\)/);
    assert.match(plain.stderr, /remote: hint: push what the sync nodes agreed, with its notes: git push <remote> refs\/acu\/main:refs\/heads\/main/);
    assert.match(plain.stderr, /pre-receive hook declined/);
    assert.equal(git(server, 'rev-parse', 'main').stdout.trim(), h3.commit, 'nothing moved');

    const feature = git(dir, 'push', 'origin', 'HEAD:refs/heads/feature');
    assert.equal(feature.status, 0, feature.stderr);
  });

  it('refuses a forced rewrite and a deletion of the protected branch', async () => {
    const { dir, server, genesis } = await setUp('rewrite');
    const h1 = await agree(dir, cluster, replicas, { genesis }, 2);
    assert.equal(pushAgreed(dir).status, 0);
    const rewrite = git(dir, 'push', '--force', 'origin', `${genesis}:refs/heads/main`);
    assert.notEqual(rewrite.status, 0);
    assert.match(rewrite.stderr, /remote: error: refs\/heads\/main is protected by the acu cluster and may only move forward to agreed commits; this push rewrites it/);
    const deletion = git(dir, 'push', 'origin', ':refs/heads/main');
    assert.notEqual(deletion.status, 0);
    assert.match(deletion.stderr, /remote: error: refs\/heads\/main is protected by the acu cluster; it may not be deleted/);
    assert.equal(git(server, 'rev-parse', 'main').stdout.trim(), h1.commit);
  });

  it('refuses to rewrite the certificate notes', async () => {
    const { dir, server, genesis } = await setUp('notes');
    await agree(dir, cluster, replicas, { genesis }, 2);
    assert.equal(pushAgreed(dir).status, 0);
    const before = git(server, 'rev-parse', 'refs/notes/acu').stdout.trim();
    // Drop the newest notes commit and write another note in its place: a history the server's does not extend.
    git(dir, 'update-ref', 'refs/notes/acu', 'refs/notes/acu~1');
    assert.equal(git(dir, 'notes', '--ref=acu', 'add', '-f', '-m', '{"forged":true}', genesis).status, 0);
    const forced = git(dir, 'push', '--force', 'origin', 'refs/notes/acu');
    assert.notEqual(forced.status, 0);
    assert.match(forced.stderr, /remote: error: refs\/notes\/acu may only move forward \(the cluster's notes are never rewritten\)/);
    const deleted = git(dir, 'push', 'origin', ':refs/notes/acu');
    assert.notEqual(deleted.status, 0);
    assert.match(deleted.stderr, /remote: error: refs\/notes\/acu holds the cluster's certificates; it may not be deleted/);
    assert.equal(git(server, 'rev-parse', 'refs/notes/acu').stdout.trim(), before);
    git(dir, 'update-ref', 'refs/notes/acu-records', 'refs/notes/acu-records~1');
    const records = git(dir, 'push', '--force', 'origin', 'refs/notes/acu-records');
    assert.notEqual(records.status, 0);
    assert.match(records.stderr, /remote: error: refs\/notes\/acu-records may only move forward/);
  });

  it('refuses a certificate note copied onto a commit with another tree, pushed with the branch', async () => {
    const { dir, server, genesis } = await setUp('copied');
    const h0: ChainTip = await agree(dir, cluster, replicas, { genesis }, 1);
    assert.equal(pushAgreed(dir).status, 0);
    const h1 = await agree(dir, cluster, replicas, h0, 1);
    // Same parent as the certified height 1, another tree; the certified note copied onto it.
    const forged = await commitOnTop(dir, h0.commit, 'backdoor.ts');
    assert.equal(git(dir, 'notes', '--ref=acu', 'copy', h1.commit, forged).status, 0);
    const pushed = git(dir, 'push', 'origin', `${forged}:refs/heads/main`, 'refs/notes/acu');
    assert.notEqual(pushed.status, 0);
    assert.match(pushed.stderr, new RegExp(`remote: error: refs/heads/main: 1 of 1 new commit not certified by the acu cluster; first: ${forged.slice(0, 12)} \\(height 1\\): its tree, parent or message is not what the certificate certifies \\(the certificate is for commit ${h1.commit.slice(0, 12)}\\)`));
    assert.equal(git(server, 'rev-parse', 'main').stdout.trim(), h0.commit);
    const honest = pushAgreed(dir);
    assert.equal(honest.status, 0, honest.stderr);
  });

  it('runs a pre-receive hook that was there first, and status and uninstall know the gate', async () => {
    const server = join(top, 'chained.git');
    assert.equal(git(top, 'init', '-q', '--bare', '-b', 'main', server).status, 0);
    const hook = join(server, 'hooks', 'pre-receive');
    const original = '#!/bin/sh\ncat > "$GIT_DIR/earlier-hook.stdin"\n';
    await writeFile(hook, original);
    await chmod(hook, 0o755);
    assert.match((await acu(server, 'hooks', 'install', '--server')).out, /pre-receive +installed, chaining an earlier hook/);
    const status = await acu(server, 'hooks', 'status');
    assert.match(status.out, /pre-receive +installed, chaining an earlier hook/);
    assert.match(status.out, /post-commit +absent/);
    const dir = join(top, 'chained');
    await makeClone(dir, cluster);
    git(dir, 'remote', 'add', 'origin', server);
    assert.equal(git(dir, 'push', 'origin', 'main').status, 0);
    assert.match(await readFile(join(server, 'earlier-hook.stdin'), 'utf8'), / refs\/heads\/main\n/);
    await acu(server, 'hooks', 'uninstall');
    assert.equal(await readFile(hook, 'utf8'), original);
  });
});
