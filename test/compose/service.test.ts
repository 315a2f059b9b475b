// The warm merge service behind `acu merge-driver`: started on demand by the first driver git runs,
// byte-identical to merging in process, stopping when idle, recovering when killed, refusing a
// service of another build, and never needed: without a usable runtime directory the driver
// merges in its own process. Real git, real processes, real unix sockets; each test has its own
// runtime directory (XDG_RUNTIME_DIR), so no test meets a service another test or the user started.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { installDriver } from '../../src/compose/install.js';
import { startService } from '../../src/compose/service.js';
import { mergeViaService } from '../../src/compose/service-client.js';
import { mergeForDriver } from '../../src/compose/service-merge.js';
import type { DriverMergeInput } from '../../src/compose/service-merge.js';
import { FrameReader, buildId, encodeFrame, runtimeDirectory, servicePidPath, serviceSocketPath } from '../../src/compose/service-protocol.js';
import type { ServiceEnv } from '../../src/compose/service-protocol.js';
import { baseSeed, rng } from '../support/random.js';
import { tempDir } from '../git/helpers.js';

const lines = (...items: string[]): string => `${items.join('\n')}\n`;
const base = lines("import { a } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '}');
const ours = lines("import { a, b } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '', '  close() {', '    return b;', '  }', '}');
const theirs = lines("import { a, c } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '', '  read() {', '    return c;', '  }', '}');
const merged = lines("import { a, b, c } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '', '  close() {', '    return b;', '  }', '', '  read() {', '    return c;', '  }', '}');

/** Service processes the tests started (read from pid files), stopped when the file ends. */
const started = new Set<number>();
after(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited already.
    }
  }
});

/** A private runtime directory and a long idle timeout (tests stop services themselves). */
async function serviceEnv(name: string, idleMs = 60_000): Promise<Record<string, string>> {
  const dir = await tempDir(`service-${name}`);
  await chmod(dir, 0o700);
  return { XDG_RUNTIME_DIR: dir, ACU_MERGE_SERVICE_IDLE_MS: String(idleMs) };
}

function socketFor(env: ServiceEnv): string {
  const dir = runtimeDirectory(env);
  assert.ok(dir !== null, 'a private runtime directory');
  const path = serviceSocketPath(dir, buildId());
  assert.ok(path !== null, 'a socket path that fits');
  return path;
}

function servicePid(env: ServiceEnv): number | null {
  const path = servicePidPath(socketFor(env));
  if (!existsSync(path)) return null;
  const pid = Number(readFileSync(path, 'utf8').trim());
  started.add(pid);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait for a real process to end (bounded): the service's idle timer is a real timer in another process. */
async function waitForExit(pid: number): Promise<void> {
  const deadlineMs = Date.now() + 30_000;
  while (alive(pid)) {
    assert.ok(Date.now() < deadlineMs, `service ${pid} still runs after 30 s`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

async function repoWithDriver(name: string): Promise<string> {
  const dir = await tempDir(`service-repo-${name}`);
  await buildFixtureRepo(dir, {
    commits: [
      { id: 'base', files: { 'src/repo.ts': base } },
      { id: 'topic', parents: ['base'], branch: 'topic', files: { 'src/repo.ts': theirs } },
      { id: 'main', parents: ['base'], files: { 'src/repo.ts': ours } },
    ],
  });
  await installDriver({ cwd: dir, global: false });
  spawnSync('git', ['tag', 'start', 'main'], { cwd: dir });
  return dir;
}

/** `git merge topic` from main's first commit (reset first, so a test can merge again). */
async function gitMerge(dir: string, env: ServiceEnv): Promise<void> {
  // Not spawnSync: a service running inside this test process must go on answering meanwhile.
  const run = (args: string[]): Promise<{ status: number | null; output: string }> =>
    new Promise((done) => {
      const child = spawn('git', args, { cwd: dir, env: { ...process.env, ...env, GIT_EDITOR: 'true', LC_ALL: 'C' } });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.on('close', (status) => done({ status, output }));
    });
  assert.equal((await run(['reset', '-q', '--hard', 'start'])).status, 0);
  const result = await run(['merge', '--no-edit', 'topic']);
  assert.equal(result.status, 0, result.output);
  assert.ok(result.output.includes('Auto-merging src/repo.ts'), result.output);
  assert.equal(await readFile(join(dir, 'src/repo.ts'), 'utf8'), merged);
}

/** The inputs of the identity check: hand-picked cases, then seeded random edits of a real source file. */
async function corpus(): Promise<DriverMergeInput[]> {
  const text = (value: string): Uint8Array => Buffer.from(value, 'utf8');
  const cases: DriverMergeInput[] = [
    { path: 'src/repo.ts', base: text(base), ours: text(ours), theirs: text(theirs), markerSize: 7 },
    { path: 'src/repo.ts', base: text(base), ours: text(base.replace('return a;', 'return a + 1;')), theirs: text(base.replace('return a;', 'return a + 2;')), markerSize: 11 },
    { path: 'CHANGELOG.md', base: text(lines('# Log', '', '- one')), ours: text(lines('# Log', '', '- two', '- one')), theirs: text(lines('# Log', '', '- three', '- one')), markerSize: 7 },
    { path: 'package.json', base: text('{\n  "a": 1\n}\n'), ours: text('{\n  "a": 1,\n  "b": 2\n}\n'), theirs: text('{\n  "a": 1,\n  "c": 3\n}\n'), markerSize: 7 },
    { path: 'src/crlf.ts', base: text('const a = 1;\r\nconst b = 2;\r\n'), ours: text('const a = 10;\r\nconst b = 2;\r\n'), theirs: text('const a = 1;\r\nconst b = 20;\r\n'), markerSize: 7 },
    { path: 'src/unicode.ts', base: text("export const s = 'é';\n"), ours: text("export const s = 'é✓';\n"), theirs: text("export const s = 'é';\nexport const t = '日本';\n"), markerSize: 7 },
    { path: 'src/broken.ts', base: text('function f( {\n'), ours: text('function f( {\n  1\n'), theirs: text('function g( {\n'), markerSize: 7 },
    { path: 'bin.ts', base: Uint8Array.from([0, 1, 2]), ours: Uint8Array.from([0, 1, 3]), theirs: Uint8Array.from([0, 1, 4]), markerSize: 7 },
  ];
  const seed = baseSeed(0x5e41ce);
  const random = rng(seed);
  const source = (await readFile(new URL('../../../src/compose/diff3.ts', import.meta.url), 'utf8')).split('\n');
  const edit = (side: string): string => {
    const out = [...source];
    for (let i = 0; i < 1 + random.int(4); i += 1) {
      const at = random.int(out.length);
      if (random.chance(0.3)) out.splice(at, 1);
      else if (random.chance(0.5)) out.splice(at, 0, `// ${side} ${i}`);
      else out[at] = `${out[at] ?? ''} // ${side}`;
    }
    return out.join('\n');
  };
  for (let i = 0; i < 12; i += 1) cases.push({ path: 'src/compose/diff3.ts', base: text(source.join('\n')), ours: text(edit('ours')), theirs: text(edit('theirs')), markerSize: 7 });
  console.log(`service identity corpus: seed ${seed} (replay with ACU_SEED=${seed})`);
  return cases;
}

describe('the merge service', () => {
  it('starts on demand from the first driver git runs, and serves the next one warm', async () => {
    const env = await serviceEnv('demand');
    const dir = await repoWithDriver('demand');
    assert.equal(servicePid(env), null, 'no service before the first merge');
    await gitMerge(dir, env);
    const pid = servicePid(env);
    assert.ok(pid !== null && alive(pid), 'the first driver started a service');
    assert.ok(existsSync(socketFor(env)));
    await gitMerge(dir, env);
    assert.equal(servicePid(env), pid, 'the second driver used the same service');
    process.kill(pid, 'SIGTERM');
    await waitForExit(pid);
    assert.ok(!existsSync(socketFor(env)), 'a stopped service removes its socket');
  });

  it('gives byte-identical results to merging in process, on the corpus', async () => {
    const env = await serviceEnv('identity');
    try {
      for (const input of await corpus()) {
        const served = await mergeViaService(input, env);
        assert.ok(served.result !== null, `served: ${'reason' in served ? served.reason : ''}`);
        assert.ok(served.route === 'warm' || served.route === 'started', served.route);
        const local = mergeForDriver(input);
        assert.deepEqual({ ...served.result, ...('text' in served.result ? { text: Buffer.from(served.result.text) } : {}) }, { ...local, ...('text' in local ? { text: Buffer.from(local.text) } : {}) }, input.path);
      }
    } finally {
      const pid = servicePid(env);
      if (pid !== null) process.kill(pid, 'SIGTERM');
    }
  });

  it('stops when idle, removing its socket and pid file', async () => {
    const env = await serviceEnv('idle');
    const socketPath = socketFor(env);
    let stopped!: () => void;
    const stoppedNow = new Promise<void>((done) => {
      stopped = done;
    });
    const service = await startService({ socketPath, build: buildId(), idleMs: 50, onStop: stopped });
    assert.ok(service !== null);
    const served = await mergeViaService({ path: 'a.ts', base: Buffer.from(base), ours: Buffer.from(ours), theirs: Buffer.from(theirs), markerSize: 7 }, env);
    assert.equal(served.route, 'warm');
    assert.equal(service.merges(), 1);
    await stoppedNow; // The idle timer, armed again after the merge, ends it.
    assert.ok(!existsSync(socketPath));
    assert.ok(!existsSync(servicePidPath(socketPath)));
  });

  it('stops when idle, as started by git (the idle timeout comes from the environment)', async () => {
    const env = await serviceEnv('idle-git', 200);
    const dir = await repoWithDriver('idle-git');
    await gitMerge(dir, env);
    const pid = servicePid(env);
    assert.ok(pid !== null);
    await waitForExit(pid);
    assert.ok(!existsSync(socketFor(env)));
  });

  it('recovers when killed between two merges: the next driver removes the dead socket and starts another', async () => {
    const env = await serviceEnv('killed');
    const dir = await repoWithDriver('killed');
    await gitMerge(dir, env);
    const first = servicePid(env);
    assert.ok(first !== null);
    process.kill(first, 'SIGKILL');
    await waitForExit(first);
    assert.ok(existsSync(socketFor(env)), 'a killed service leaves its socket behind');
    await gitMerge(dir, env);
    const second = servicePid(env);
    assert.ok(second !== null && second !== first && alive(second), `a new service serves (first ${first}, second ${String(second)})`);
    process.kill(second, 'SIGTERM');
    await waitForExit(second);
  });

  it('refuses a service of another build id at its socket, and merges in process', async () => {
    const env = await serviceEnv('build');
    const dir = await repoWithDriver('build');
    const other = await startService({ socketPath: socketFor(env), build: 'another-build', idleMs: 60_000 });
    assert.ok(other !== null);
    try {
      await gitMerge(dir, env);
      assert.equal(other.merges(), 0, 'the other build merged nothing');
      const direct = await mergeViaService({ path: 'a.ts', base: Buffer.from(base), ours: Buffer.from(ours), theirs: Buffer.from(theirs), markerSize: 7 }, env);
      assert.equal(direct.result, null);
      assert.match('reason' in direct ? direct.reason : '', /another build|refused/);
    } finally {
      await other.stop();
    }
  });

  it('takes no answer from a service that names another build, even one that merged', async () => {
    const env = await serviceEnv('lying');
    const socketPath = socketFor(env);
    // A service of another build that does not check ours (an older acu, say) and answers anyway.
    const server = createServer((socket) => {
      socket.once('data', () => socket.end(encodeFrame({ type: 'merged', v: 1, build: 'old-build', conflicts: [], bug: null, size: 5 }, [Buffer.from('wrong')])));
    });
    await new Promise<void>((done) => server.listen(socketPath, done));
    try {
      const served = await mergeViaService({ path: 'a.ts', base: Buffer.from(base), ours: Buffer.from(ours), theirs: Buffer.from(theirs), markerSize: 7 }, env);
      assert.equal(served.result, null);
      assert.match('reason' in served ? served.reason : '', /another build \(old-build\)/);
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  });

  it('without a usable runtime directory the driver merges in its own process', async () => {
    const dir = await repoWithDriver('no-runtime');
    const file = join(await tempDir('service-file'), 'not-a-directory');
    await writeFile(file, '');
    // A runtime directory under a regular file cannot be created (this holds for root too).
    await gitMerge(dir, { XDG_RUNTIME_DIR: join(file, 'run') });
    // A directory other users may enter is not private: no socket is made in it.
    const open = join(await tempDir('service-open'), 'run');
    await mkdir(join(open, 'acu'), { recursive: true });
    await chmod(join(open, 'acu'), 0o755);
    await gitMerge(dir, { XDG_RUNTIME_DIR: open });
    assert.equal(runtimeDirectory({ XDG_RUNTIME_DIR: open }), null);
    assert.equal(runtimeDirectory({ XDG_RUNTIME_DIR: join(file, 'run') }), null);
  });

  it('ACU_MERGE_SERVICE=0 merges in process and starts nothing', async () => {
    const env = { ...(await serviceEnv('off')), ACU_MERGE_SERVICE: '0' };
    const dir = await repoWithDriver('off');
    await gitMerge(dir, env);
    assert.equal(servicePid(env), null);
  });
});

describe('service frames', () => {
  it('a frame read in pieces of any size is the frame that was written', () => {
    const payload = [Buffer.from('base\n'), Buffer.from('ours ✓\n'), Buffer.from([0, 1, 2])];
    const frame = encodeFrame({ type: 'merge', sizes: payload.map((p) => p.length) }, payload);
    for (const step of [1, 3, 7, frame.length]) {
      const reader = new FrameReader();
      let got: ReturnType<FrameReader['push']> = null;
      for (let at = 0; at < frame.length; at += step) {
        assert.equal(got, null, 'nothing before the last byte');
        got = reader.push(frame.subarray(at, at + step));
      }
      assert.ok(got !== null && typeof got !== 'string', `step ${step}`);
      assert.deepEqual(got.header, { type: 'merge', sizes: [5, 9, 3] });
      assert.deepEqual(got.payload, Buffer.concat(payload));
    }
  });

  it('bytes that cannot be a frame are an issue, not an exception', () => {
    const length = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n, 0);
      return b;
    };
    assert.equal(new FrameReader().push(length(1 << 30)), 'header too large');
    assert.equal(new FrameReader().push(Buffer.concat([length(3), Buffer.from('{x}')])), 'header is not JSON');
    assert.equal(new FrameReader().push(Buffer.concat([length(2), Buffer.from('[]')])), 'header is not an object');
    assert.equal(new FrameReader().push(encodeFrame({ size: -1 })), 'bad payload size');
    assert.equal(new FrameReader().push(Buffer.concat([encodeFrame({ size: 1 }, [Buffer.from('ab')])])), 'bytes after the frame');
  });
});
