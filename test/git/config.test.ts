// git configuration through src/git/config.ts: what each write leaves in the config file, as
// `git config` itself reads it back, and what each read gives for the settings acu uses.
import assert from 'node:assert/strict';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { globalAttributesFile, readAcuConfig, removeMergeDriverConfig, setConfig, setMergeDriverConfig } from '../../src/git/config.js';
import { gitText, tempDir } from './helpers.js';

/** The repository's own config, as `git config --local --list` prints it, for the keys under `prefix`. */
function localConfig(dir: string, prefix: string): string[] {
  return gitText(dir, ['config', '--local', '--list']).split('\n').filter((line) => line.startsWith(prefix));
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

void describe('git config', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('config');
    await buildFixtureRepo(dir, { commits: [{ id: 'a', files: { 'README.md': '# config\n' } }] });
  });

  void test('setMergeDriverConfig writes the section; writing again replaces it; remove takes it out, twice without error', async () => {
    const driver = { driver: 'acu', description: 'acu: a merge driver', command: "'node' 'acu.js' merge-driver %O %A %B %P" };
    await setMergeDriverConfig(dir, driver, { scope: 'local' });
    await setMergeDriverConfig(dir, { ...driver, command: 'true %A' }, { scope: 'local' });
    assert.deepEqual(localConfig(dir, 'merge.'), ['merge.acu.name=acu: a merge driver', 'merge.acu.driver=true %A']);
    await removeMergeDriverConfig(dir, 'acu', { scope: 'local' });
    assert.deepEqual(localConfig(dir, 'merge.'), []);
    // The section is gone: git exits 128, which means there is nothing to remove.
    await removeMergeDriverConfig(dir, 'acu', { scope: 'local' });
    assert.deepEqual(localConfig(dir, 'merge.'), []);
  });

  void test('readAcuConfig: the acu.* settings in order, values whole, keys as git prints them', async () => {
    const empty = await tempDir('config-empty');
    await buildFixtureRepo(empty, { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }] });
    assert.deepEqual(await readAcuConfig(empty), []);

    await setConfig(dir, 'acu.policy', 'vote');
    await setConfig(dir, 'acu.sitePriority', 'paris tokyo lima');
    await setConfig(dir, 'other.key', 'not acu');
    // A key with no value (`[acu] flag` without `=`) prints without a space: left out.
    await appendFile(join(dir, '.git', 'config'), '[acu]\n\tflag\n');
    assert.deepEqual(await readAcuConfig(dir), [
      { key: 'acu.policy', value: 'vote' },
      { key: 'acu.sitepriority', value: 'paris tokyo lima' },
    ]);
  });

  void test('globalAttributesFile: null when core.attributesFile is not set, else the path with ~ expanded', async () => {
    const saved = { global: process.env.GIT_CONFIG_GLOBAL, home: process.env.HOME };
    try {
      assert.equal(await globalAttributesFile(dir), null);
      const home = await tempDir('config-home');
      const global = join(home, 'gitconfig');
      await writeFile(global, '[core]\n\tattributesFile = ~/attributes\n');
      process.env.GIT_CONFIG_GLOBAL = global;
      process.env.HOME = home;
      assert.equal(await globalAttributesFile(dir), join(home, 'attributes'));
    } finally {
      restoreEnv('GIT_CONFIG_GLOBAL', saved.global);
      restoreEnv('HOME', saved.home);
    }
  });
});
