/**
 * acu's hooks, run by real `git commit` and `git push` in fixture repositories: post-commit queues
 * durably and never fails; pre-push refuses what the cluster has not certified; install chains an
 * existing hook, honours core.hooksPath, and uninstall puts everything back.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';
import { writeCluster } from '../../src/store/cluster.js';
import { nodeIdOf } from '../../src/store/identity.js';
import { readOutbox } from '../../src/store/outbox.js';

let top = '';

function git(cwd: string, ...args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

async function acu(cwd: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const io = bufferIo(cwd);
  const code = await runCli(args, io);
  return { code, out: io.out() };
}

async function repo(name: string): Promise<string> {
  const dir = join(top, name);
  await buildFixtureRepo(dir, { commits: [{ id: 'root', files: { 'a.ts': 'export const a = 1;\n' } }] });
  return dir;
}

before(async () => {
  top = await makeTempDir('hooks');
});
after(async () => {
  await removeTempDir(top);
});

describe('post-commit', () => {
  it('queues every commit durably and never fails the commit, with no node running', async () => {
    const dir = await repo('queue');
    assert.equal((await acu(dir, 'hooks', 'install')).code, 0);
    const status = await acu(dir, 'hooks', 'status');
    assert.match(status.out, /post-commit +installed/);
    assert.match(status.out, /pre-push +installed/);
    const committed = git(dir, 'commit', '--allow-empty', '-q', '-m', 'first');
    assert.equal(committed.status, 0, committed.stderr);
    assert.match(committed.stderr, /acu: queued [0-9a-f]{12} for the sync node \(1 in the outbox\); no node is running/);
    git(dir, 'commit', '--allow-empty', '-q', '-m', 'second');
    const head = git(dir, 'rev-parse', 'HEAD').stdout.trim();
    const { records } = await readOutbox(join(dir, '.git'));
    assert.equal(records.length, 2);
    assert.equal(records[1]!.commit, head);
    assert.equal(records[1]!.branch, 'main');
  });

  it('keeps the commit when the disk is slower than the hook\'s budget (the hook exits only once the record is durable)', async () => {
    const dir = await repo('slow-disk');
    assert.equal((await acu(dir, 'hooks', 'install')).code, 0);
    // Loaded into the hook's process through NODE_OPTIONS: every fsync takes 400 ms, past the
    // 150 ms budget, as on a busy disk.
    const slow = join(top, 'slow-fsync.mjs');
    await writeFile(slow, [
      "import { open } from 'node:fs/promises';",
      "const probe = await open(process.execPath, 'r'); const proto = Object.getPrototypeOf(probe); await probe.close();",
      'for (const name of ["sync", "datasync"]) { const real = proto[name]; proto[name] = async function () { await new Promise((d) => setTimeout(d, 400)); return real.call(this); }; }',
      '',
    ].join('\n'));
    const result = spawnSync('git', ['commit', '--allow-empty', '-q', '-m', 'slow'], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0', NODE_OPTIONS: `--import=${pathToFileURL(slow).href}` },
    });
    assert.equal(result.status, 0, result.stderr);
    const head = git(dir, 'rev-parse', 'HEAD').stdout.trim();
    const { records } = await readOutbox(join(dir, '.git'));
    assert.deepEqual(records.map((r) => r.commit), [head], `the hook said: ${result.stderr}`);
    assert.match(result.stderr, /acu: queued [0-9a-f]{12} for the sync node/);
  });

  it('chains a hook that was there before, and uninstall puts it back', async () => {
    const dir = await repo('chain');
    const hook = join(dir, '.git', 'hooks', 'post-commit');
    await mkdir(join(dir, '.git', 'hooks'), { recursive: true });
    const original = '#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/earlier-hook.log"\n';
    await writeFile(hook, original);
    await chmod(hook, 0o755);
    const installed = await acu(dir, 'hooks', 'install');
    assert.match(installed.out, /post-commit +installed, chaining an earlier hook/);
    assert.equal((await acu(dir, 'hooks', 'install')).code, 0, 'install is idempotent');
    const committed = git(dir, 'commit', '--allow-empty', '-q', '-m', 'x');
    assert.equal(committed.status, 0);
    assert.equal(await readFile(join(dir, '.git', 'earlier-hook.log'), 'utf8'), 'ran\n');
    assert.equal((await readOutbox(join(dir, '.git'))).records.length, 1);
    await acu(dir, 'hooks', 'uninstall');
    assert.equal(await readFile(hook, 'utf8'), original);
    assert.match((await acu(dir, 'hooks', 'status')).out, /post-commit +another tool's hook/);
  });

  it('honours core.hooksPath', async () => {
    const dir = await repo('hookspath');
    git(dir, 'config', 'core.hooksPath', 'shared-hooks');
    const installed = await acu(dir, 'hooks', 'install');
    assert.match(installed.out, /hooks directory: .*shared-hooks/);
    assert.ok((await stat(join(dir, 'shared-hooks', 'post-commit'))).mode & 0o100);
    git(dir, 'commit', '--allow-empty', '-q', '-m', 'x');
    assert.equal((await readOutbox(join(dir, '.git'))).records.length, 1);
  });
});

describe('pre-push', () => {
  it('refuses to push the protected branch beyond what is certified, and only that', async () => {
    const dir = await repo('push');
    const remote = join(top, 'remote.git');
    assert.equal(git(top, 'init', '-q', '--bare', remote).status, 0);
    git(dir, 'remote', 'add', 'origin', remote);
    const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    const publicKey = der.subarray(der.length - 32).toString('hex');
    await writeCluster(dir, { version: 1, branch: 'main', members: [{ id: nodeIdOf(publicKey), publicKey, address: 'ws://127.0.0.1:1', site: 's', priority: 0 }] });
    await acu(dir, 'hooks', 'install');
    git(dir, 'commit', '--allow-empty', '-q', '-m', 'one');
    git(dir, 'commit', '--allow-empty', '-q', '-m', 'two');

    const nothing = git(dir, 'push', '-q', 'origin', 'main');
    assert.notEqual(nothing.status, 0);
    assert.match(nothing.stderr, /error: refusing to push main: the acu cluster has certified nothing yet/);

    git(dir, 'update-ref', 'refs/acu/main', 'HEAD~1');
    const partly = git(dir, 'push', '-q', 'origin', 'main');
    assert.notEqual(partly.status, 0);
    assert.match(partly.stderr, /error: refusing to push main: 1 commit is not certified by the acu cluster/);
    assert.match(partly.stderr, /hint: push what the cluster agreed on/);

    const certified = git(dir, 'push', '-q', 'origin', 'refs/acu/main:refs/heads/main');
    assert.equal(certified.status, 0, certified.stderr);
    assert.equal(git(dir, 'push', '-q', 'origin', 'HEAD:refs/heads/feature').status, 0, 'other branches are not checked');
    git(dir, 'update-ref', 'refs/acu/main', 'HEAD');
    assert.equal(git(dir, 'push', '-q', 'origin', 'main').status, 0);
  });
});
