/** `acu score` and the policy configuration, end to end on a fixture repository. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { signatureChangeSpec } from '../../fixtures/semantic.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';
import { runGit } from '../../src/git/exec.js';
import { configuredPolicy } from '../../src/validate/policy-config.js';

let dir = '';
let oids: Record<string, string> = {};

describe('acu score', () => {
  before(async () => {
    dir = await makeTempDir('score-cli');
    ({ oids } = await buildFixtureRepo(dir, signatureChangeSpec));
  });
  after(async () => {
    await removeTempDir(dir);
  });

  it('prints every ACU with its risk, the interfering pairs and the backend', async () => {
    const io = bufferIo(dir);
    const code = await runCli(['score', `${oids.base!}..a`], io);
    assert.equal(code, 0, io.err());
    assert.match(io.out(), /^backend: js-bitset \(javascript\); auto: 3 ACUs/);
    assert.match(io.out(), /src\/math\.ts#function:scale/);
    assert.match(io.out(), / {2}src\/app\.ts#function:run <-> src\/math\.ts#function:scale: 0, 1, \d+\n/);
    assert.match(io.out(), /fast path: yes\n3 ACUs scored\n$/);
  });

  it('gives the same JSON scores on every CPU backend', async () => {
    const outputs: string[] = [];
    for (const backend of ['cpu-reference', 'js-bitset', 'wasm-popcount']) {
      const io = bufferIo(dir);
      assert.equal(await runCli(['score', 'a', 'b', `^${oids.base!}`, '--json', '--backend', backend], io), 0, io.err());
      const parsed = JSON.parse(io.out()) as { backend: { name: string }; acus: unknown[]; pairs: unknown[]; fastPath: boolean };
      assert.equal(parsed.backend.name, backend);
      assert.equal(parsed.fastPath, false, 'the two commits interfere');
      outputs.push(JSON.stringify([parsed.acus, parsed.pairs]));
    }
    assert.equal(new Set(outputs).size, 1);
  });

  it('refuses an unknown backend with a usage error', async () => {
    const io = bufferIo(dir);
    assert.equal(await runCli(['score', '--backend', 'abacus'], io), 129);
    assert.match(io.err(), /error: unknown scoring backend 'abacus'\nhint: choose one of auto, cpu-reference/);
  });

  it('reads the conflict policy from git config, and the cluster document first', async () => {
    assert.deepEqual(await configuredPolicy(dir), { kind: 'score' });
    await runGit(['config', 'acu.policy', 'site-priority'], { cwd: dir, gitDir: null });
    await runGit(['config', 'acu.sitePriority', 'tokyo,paris'], { cwd: dir, gitDir: null });
    assert.deepEqual(await configuredPolicy(dir), { kind: 'site-priority', sites: ['tokyo', 'paris'] });
    assert.deepEqual(await configuredPolicy(dir, { policy: { policy: 'vote', voteTimeoutTicks: 30 } }), { kind: 'vote', timeoutTicks: 30, fallback: 'defer' });
    await runGit(['config', '--unset', 'acu.sitePriority'], { cwd: dir, gitDir: null });
    const members = [{ site: 'tokyo', priority: 2 }, { site: 'paris', priority: 1 }, { site: 'lima', priority: 2 }, { site: 'paris', priority: 5 }];
    assert.deepEqual(await configuredPolicy(dir, { members }), { kind: 'site-priority', sites: ['paris', 'lima', 'tokyo'] });
    await runGit(['config', 'acu.policy', 'dice'], { cwd: dir, gitDir: null });
    await assert.rejects(configuredPolicy(dir), /acu.policy: unknown policy 'dice'/);
  });
});

describe('acu score --backend gpujs without gpu.js', () => {
  it('fails with a coded error and a hint, or runs when gpu.js loads', async () => {
    const scratch = await makeTempDir('score-gpujs');
    try {
      await buildFixtureRepo(scratch, signatureChangeSpec);
      const io = bufferIo(scratch, {});
      const code = await runCli(['score', '--backend', 'gpujs:cpu'], io);
      if (code === 0) assert.match(io.out(), /^backend: gpujs \(cpu\); forced \(gpu\.js mode cpu\)/);
      else assert.match(io.err(), /^error: the gpujs scoring backend is unavailable: .*\nhint: install gpu\.js/);
    } finally {
      await removeTempDir(scratch);
    }
  });
});
