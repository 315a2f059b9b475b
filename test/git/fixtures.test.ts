// The fixture builder: stable commit ids on every machine, no reliance on global git config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFixtureRepo, fixtureAuthor } from '../../fixtures/builder.js';
import { git, gitText, linearSpec, richSpec, tempDir } from './helpers.js';

// Pinned ids: if one changes, fixture commits are no longer reproducible across machines.
const richHead = '87cb1f3ecc9f5b2a746bfa9953bf7246ed748ccd';
const richRoot = '555ea437c35616857342d7b17ed8342b0a979620';
const linear5Head = '762f2f29abe74a6919185e7d14071594c1fede0e';

void test('fixture commit ids are fixed constants, loose or packed', async () => {
  for (const storage of ['loose', 'packed'] as const) {
    const { dir, oids } = await buildFixtureRepo(await tempDir(`fixed-${storage}`), richSpec, { storage });
    assert.equal(oids['dir-to-file'], richHead);
    assert.equal(oids.root, richRoot);
    assert.equal(gitText(dir, ['rev-parse', 'HEAD']), richHead);
    assert.equal(gitText(dir, ['rev-parse', 'v1']), oids.rename);
    assert.equal(gitText(dir, ['rev-parse', 'feature']), oids.feature2);
  }
  const { oids } = await buildFixtureRepo(await tempDir('linear'), linearSpec(5));
  assert.equal(oids.c4, linear5Head);
});

void test('the builder needs no global identity and leaves a checked-out work tree', async () => {
  const home = await tempDir('home');
  const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
  process.env.HOME = home;
  process.env.XDG_CONFIG_HOME = home;
  try {
    const { dir } = await buildFixtureRepo(await tempDir('noconfig'), richSpec);
    assert.equal(gitText(dir, ['log', '-1', '--format=%an <%ae>']), `${fixtureAuthor.name} <${fixtureAuthor.email}>`);
    assert.equal(gitText(dir, ['config', 'commit.gpgsign']), 'false');
    assert.equal(gitText(dir, ['status', '--porcelain']), '');
    assert.equal(git(dir, ['cat-file', '-p', 'HEAD:with space']).toString(), 'now a file\n');
  } finally {
    process.env.HOME = saved.HOME;
    process.env.XDG_CONFIG_HOME = saved.XDG_CONFIG_HOME;
    if (saved.XDG_CONFIG_HOME === undefined) delete process.env.XDG_CONFIG_HOME;
  }
});

void test('merges take the first parent tree plus the listed changes; a branch root can be made', async () => {
  const { dir, oids } = await buildFixtureRepo(await tempDir('shapes'), {
    commits: [
      { id: 'a', files: { 'x.txt': 'x\n' } },
      { id: 'orphan', branch: 'other', files: { 'o.txt': 'o\n' } },
      { id: 'b', files: { 'y.txt': 'y\n' }, date: '2030-05-06T07:08:09-03:00' },
      { id: 'm', parents: ['b', 'orphan'], files: { 'o.txt': 'o\n' } },
    ],
  });
  assert.equal(gitText(dir, ['rev-list', '--parents', '-1', oids.orphan ?? '']), oids.orphan);
  assert.equal(gitText(dir, ['rev-parse', `${oids.m ?? ''}^2`]), oids.orphan);
  assert.equal(gitText(dir, ['ls-tree', '--name-only', '-r', oids.m ?? '']), 'o.txt\nx.txt\ny.txt');
  assert.equal(gitText(dir, ['log', '-1', '--format=%aI %cI', oids.b ?? '']), '2030-05-06T07:08:09-03:00 2030-05-06T07:08:09-03:00');
});
