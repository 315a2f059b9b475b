/**
 * acu's hooks, run by real `git commit` and `git push` in fixture repositories: post-commit queues
 * durably and never fails; pre-push refuses what the cluster has not certified, certificates that
 * do not hold, and every push while the cluster document cannot be read; install chains an
 * existing hook, honours core.hooksPath, and uninstall puts everything back.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';
import { launcherPath, shellQuote } from '../../src/git/launcher.js';
import { writeCluster } from '../../src/store/cluster.js';
import { nodeIdOf } from '../../src/store/identity.js';
import { readOutbox } from '../../src/store/outbox.js';
import { hookProgramsDirectory } from '../../src/sync/hooks.js';
import { agree, commitOnTop, git as datedGit, makeClone, makeCluster } from '../support/gate-fixture.js';

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
    assert.match(committed.stderr, /acu: queued [0-9a-f]{12} for the sync node; no node is running/);
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

  it('installs the programs of the package\'s hooks/ folder, with the launcher filled in', async () => {
    const dir = await repo('programs');
    assert.equal((await acu(dir, 'hooks', 'install')).code, 0);
    const server = await repo('programs-server');
    assert.equal((await acu(server, 'hooks', 'install', '--server')).code, 0);
    const launcher = `${shellQuote(process.execPath)} ${shellQuote(launcherPath())}`;
    for (const [where, name] of [[dir, 'post-commit'], [dir, 'pre-push'], [server, 'pre-receive']] as const) {
      const program = await readFile(join(hookProgramsDirectory(), name), 'utf8');
      assert.ok(program.includes(`@ACU@ hook ${name} "$@"`), `hooks/${name} runs acu's ${name}`);
      const installed = await readFile(join(where, '.git', 'hooks', name), 'utf8');
      assert.equal(installed, program.replaceAll('@ACU@', launcher), `the installed ${name} is hooks/${name}`);
      assert.ok(((await stat(join(where, '.git', 'hooks', name))).mode & 0o111) !== 0, `${name} is executable`);
    }
    assert.equal(hookProgramsDirectory(), join(dirname(launcherPath()), '..', 'hooks'));
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

describe('pre-push certificate check', () => {
  /** A clone with the cluster document committed (genesis), hooks installed, and an empty bare remote. */
  async function clone(name: string): Promise<{ dir: string; genesis: string; keys: Awaited<ReturnType<typeof makeCluster>> }> {
    await mkdir(join(top, `${name}-keys`));
    const keys = await makeCluster(join(top, `${name}-keys`));
    const dir = join(top, name);
    const genesis = await makeClone(dir, keys.cluster);
    const remote = join(top, `${name}.git`);
    assert.equal(datedGit(top, 'init', '-q', '--bare', '-b', 'main', remote).status, 0);
    datedGit(dir, 'remote', 'add', 'origin', remote);
    assert.equal((await acu(dir, 'hooks', 'install')).code, 0);
    return { dir, genesis, keys };
  }

  it('lets agreed commits through, and checks only what a later push adds', async () => {
    const { dir, genesis, keys } = await clone('agreed');
    const h1 = await agree(dir, keys.cluster, keys.replicas, { genesis }, 2);
    const first = datedGit(dir, 'push', '-q', 'origin', 'refs/acu/main:refs/heads/main');
    assert.equal(first.status, 0, first.stderr);
    await agree(dir, keys.cluster, keys.replicas, h1, 1);
    const second = datedGit(dir, 'push', '-q', 'origin', 'refs/acu/main:refs/heads/main');
    assert.equal(second.status, 0, second.stderr);
  });

  it('refuses a certificate note copied onto a commit with other content, even when refs/acu says it is agreed', async () => {
    const { dir, genesis, keys } = await clone('copied-note');
    const h0 = await agree(dir, keys.cluster, keys.replicas, { genesis }, 1);
    const h1 = await agree(dir, keys.cluster, keys.replicas, h0, 1);
    const forged = await commitOnTop(dir, h0.commit, 'backdoor.ts');
    assert.equal(datedGit(dir, 'notes', '--ref=acu', 'copy', h1.commit, forged).status, 0);
    // refs/acu/main is local state a fetch from the wrong remote could have set.
    datedGit(dir, 'update-ref', 'refs/acu/main', forged);
    const pushed = datedGit(dir, 'push', '-q', 'origin', `${forged}:refs/heads/main`);
    assert.notEqual(pushed.status, 0);
    assert.match(pushed.stderr, new RegExp(`error: refusing to push main: 1 of 2 commits pushed do not carry a valid acu certificate; first: ${forged.slice(0, 12)} \\(height 1\\): its tree, parent or message is not what the certificate certifies`));
    assert.match(pushed.stderr, /hint: run 'acu verify [0-9a-f]{12}' to see every problem/);
    assert.equal(datedGit(dir, 'ls-remote', 'origin', 'refs/heads/main').stdout.trim(), '', 'nothing reached the remote');
  });

  it('blocks every push while the cluster document cannot be read', async () => {
    const { dir, genesis, keys } = await clone('unreadable');
    await agree(dir, keys.cluster, keys.replicas, { genesis }, 1);
    const document = join(dir, '.acu', 'cluster.json');
    await writeFile(document, '{ "version": 1, "branch": ');
    const corrupt = datedGit(dir, 'push', '-q', 'origin', 'refs/acu/main:refs/heads/main');
    assert.notEqual(corrupt.status, 0);
    assert.match(corrupt.stderr, /error: refusing to push: the acu cluster document cannot be read \(\.acu\/cluster\.json is not valid JSON\), so acu cannot tell which branch it protects/);
    assert.match(corrupt.stderr, /hint: restore it \('git checkout HEAD -- \.acu\/cluster\.json'\) and push again/);
    await rm(document);
    const missing = datedGit(dir, 'push', '-q', 'origin', 'refs/acu/main:refs/heads/main');
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /error: refusing to push: the acu cluster document cannot be read \(\.acu\/cluster\.json is missing from the work tree\)/);
    datedGit(dir, 'checkout', '-q', 'HEAD', '--', '.acu/cluster.json');
    const restored = datedGit(dir, 'push', '-q', 'origin', 'refs/acu/main:refs/heads/main');
    assert.equal(restored.status, 0, restored.stderr);
  });
});
