// The merge driver inside real git: merge, rebase and cherry-pick on fixture repositories, with
// the driver installed by `acu merge-driver install` pointing at this checkout's bin/acu.js.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { installDriver, uninstallDriver } from '../../src/compose/install.js';
import { launcherPath } from '../../src/git/launcher.js';
import { runCli } from '../../src/cli/main.js';
import { bufferIo } from '../../src/cli/io.js';
import { git, gitText, tempDir } from '../git/helpers.js';

const lines = (...items: string[]): string => `${items.join('\n')}\n`;

const base = lines("import { a } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '}');
const ours = lines("import { a, b } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '', '  close() {', '    return b;', '  }', '}');
const theirs = lines("import { a, c } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '', '  read() {', '    return c;', '  }', '}');
const merged = lines("import { a, b, c } from './a';", '', 'export class Repo {', '  open() {', '    return a;', '  }', '', '  close() {', '    return b;', '  }', '', '  read() {', '    return c;', '  }', '}');

function spec(oursText: string, theirsText: string): FixtureSpec {
  return {
    commits: [
      { id: 'base', files: { 'src/repo.ts': base, 'README.md': 'readme\n' } },
      { id: 'topic', parents: ['base'], branch: 'topic', files: { 'src/repo.ts': theirsText } },
      { id: 'main', parents: ['base'], files: { 'src/repo.ts': oursText } },
    ],
  };
}

async function fixture(name: string, oursText = ours, theirsText = theirs): Promise<string> {
  const dir = await tempDir(`driver-${name}`);
  await buildFixtureRepo(dir, spec(oursText, theirsText));
  await installDriver({ cwd: dir, global: false });
  return dir;
}

function gitStatus(cwd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_EDITOR: 'true', LC_ALL: 'C' } });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe('merge driver in real git', () => {
  it('install writes the config and attributes; the driver runs this checkout', async () => {
    const dir = await fixture('install');
    const driver = gitText(dir, ['config', '--get', 'merge.acu.driver']);
    assert.ok(driver.includes(launcherPath()), driver);
    assert.ok(driver.includes('merge-driver %O %A %B %P'), driver);
    const attributes = await readFile(join(dir, '.gitattributes'), 'utf8');
    assert.ok(attributes.includes('*.ts merge=acu'), attributes);
    assert.equal(gitText(dir, ['check-attr', 'merge', '--', 'src/repo.ts']), 'src/repo.ts: merge: acu');
    assert.equal(gitText(dir, ['check-attr', 'merge', '--', 'docs/CHANGELOG.md']), 'docs/CHANGELOG.md: merge: acu');
    for (const path of ['README.md', 'package.json', '.github/workflows/ci.yml', '.gitignore']) assert.equal(gitText(dir, ['check-attr', 'merge', '--', path]), `${path}: merge: acu`);
    assert.equal(gitText(dir, ['check-attr', 'merge', '--', 'Makefile']), 'Makefile: merge: unspecified');
    await installDriver({ cwd: dir, global: false });
    assert.equal((await readFile(join(dir, '.gitattributes'), 'utf8')).split('*.ts merge=acu').length, 2, 'install is idempotent');
    await uninstallDriver({ cwd: dir, global: false });
    assert.equal(await readFile(join(dir, '.gitattributes'), 'utf8'), '');
    assert.equal(gitStatus(dir, ['config', '--get', 'merge.acu.driver']).status, 1);
  });

  it('install --global writes the global config and attributes file; uninstall reverses it', async () => {
    const home = await tempDir('driver-global');
    const saved = { config: process.env.GIT_CONFIG_GLOBAL, xdg: process.env.XDG_CONFIG_HOME };
    process.env.GIT_CONFIG_GLOBAL = join(home, 'gitconfig');
    process.env.XDG_CONFIG_HOME = home;
    try {
      const { attributes } = await installDriver({ cwd: home, global: true });
      assert.equal(attributes, join(home, 'git', 'attributes'));
      assert.ok((await readFile(attributes, 'utf8')).includes('*.tsx merge=acu'));
      assert.ok((await readFile(join(home, 'gitconfig'), 'utf8')).includes('merge-driver %O %A %B %P'));
      await uninstallDriver({ cwd: home, global: true });
      assert.equal(await readFile(attributes, 'utf8'), '');
      assert.ok(!(await readFile(join(home, 'gitconfig'), 'utf8')).includes('merge-driver'));
    } finally {
      process.env.GIT_CONFIG_GLOBAL = saved.config;
      if (saved.xdg === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved.xdg;
    }
  });

  it('git merge: both sides add a method and an import name, no conflict', async () => {
    const dir = await fixture('merge');
    const result = gitStatus(dir, ['merge', '--no-edit', 'topic']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(await readFile(join(dir, 'src/repo.ts'), 'utf8'), merged);
    assert.equal(gitText(dir, ['rev-list', '--count', '--merges', 'HEAD']), '1');
  });

  it('git rebase: replays topic onto main through the driver', async () => {
    const dir = await fixture('rebase');
    git(dir, ['checkout', '-q', 'topic']);
    const result = gitStatus(dir, ['rebase', 'main']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(await readFile(join(dir, 'src/repo.ts'), 'utf8'), merged);
  });

  it('git cherry-pick: picks topic onto main through the driver', async () => {
    const dir = await fixture('pick');
    const result = gitStatus(dir, ['cherry-pick', 'topic']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(await readFile(join(dir, 'src/repo.ts'), 'utf8'), merged);
  });

  it('git merge: both branches add changelog entries at the top, both kept', async () => {
    const dir = await tempDir('driver-changelog');
    const log = (...entries: string[]): string => lines('# Changelog', '', ...entries, '## 1.0.0', '', '- first release');
    await buildFixtureRepo(dir, {
      commits: [
        { id: 'base', files: { 'CHANGELOG.md': log() } },
        { id: 'topic', parents: ['base'], branch: 'topic', files: { 'CHANGELOG.md': log('- fix reading packed refs', '') } },
        { id: 'main', parents: ['base'], files: { 'CHANGELOG.md': log('- add acu log --json', '') } },
      ],
    });
    await installDriver({ cwd: dir, global: false });
    const result = gitStatus(dir, ['merge', '--no-edit', 'topic']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(await readFile(join(dir, 'CHANGELOG.md'), 'utf8'), log('- add acu log --json', '- fix reading packed refs', ''));
  });

  it('a real conflict: exit 1, markers around the conflicting statement only', async () => {
    const mine = base.replace('return a;', 'return a + 1;').replace("{ a }", '{ a, b }');
    const yours = base.replace('return a;', 'return a + 2;').replace("{ a }", '{ a, c }');
    const dir = await fixture('conflict', mine, yours);
    const result = gitStatus(dir, ['merge', '--no-edit', 'topic']);
    assert.equal(result.status, 1, result.stdout + result.stderr);
    const text = await readFile(join(dir, 'src/repo.ts'), 'utf8');
    assert.equal(text, lines("import { a, b, c } from './a';", '', 'export class Repo {', '  open() {', '<<<<<<< ours', '    return a + 1;', '=======', '    return a + 2;', '>>>>>>> theirs', '  }', '}'));
  });

  it('the command itself: usage errors exit 129, clean merges 0', async () => {
    const dir = await tempDir('driver-cli');
    const io = bufferIo(dir);
    assert.equal(await runCli(['merge-driver', 'only-one'], io), 129);
    assert.ok(io.err().includes('error: merge-driver'), io.err());
  });
});
