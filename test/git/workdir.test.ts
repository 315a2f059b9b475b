// Work-tree commands through src/git/workdir.ts, each held to what the git CLI (the reference)
// shows afterwards in a fixture repository and a clone of it.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFixtureRepo, fixtureEpochSeconds } from '../../fixtures/builder.js';
import { AcuError } from '../../src/core/errors.js';
import { addPaths, commitPaths, logWithNotes, pullFastForward, showFileAt, tryAddPaths, verifyRevision, workTreeTop } from '../../src/git/workdir.js';
import { git, gitText, tempDir } from './helpers.js';

// Commits made through commitPaths get fixed dates too, so their ids do not depend on the clock.
const fixedDates = { GIT_AUTHOR_DATE: `${fixtureEpochSeconds + 3600} +0000`, GIT_COMMITTER_DATE: `${fixtureEpochSeconds + 3600} +0000` };

void describe('work-tree commands', () => {
  let dir = '';
  let oids: Record<string, string> = {};
  before(async () => {
    dir = await tempDir('workdir');
    ({ oids } = await buildFixtureRepo(dir, { commits: [{ id: 'a', files: { 'README.md': '# one\n', 'src/x.ts': 'export const x = 1;\n' } }, { id: 'b', files: { 'README.md': '# two\n' } }] }));
    Object.assign(process.env, fixedDates);
  });
  after(() => {
    for (const name of Object.keys(fixedDates)) delete process.env[name];
  });

  void test('workTreeTop: the top from a subdirectory; null in a bare repository and outside any', async () => {
    await mkdir(join(dir, 'src', 'deep'), { recursive: true });
    assert.equal(await workTreeTop(join(dir, 'src', 'deep')), gitText(dir, ['rev-parse', '--show-toplevel']));
    const bare = await tempDir('workdir-bare');
    await buildFixtureRepo(bare, { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }] }, { bare: true });
    assert.equal(await workTreeTop(bare), null);
    assert.equal(await workTreeTop(await tempDir('workdir-none')), null);
  });

  void test('verifyRevision and showFileAt read what rev-parse and show give', async () => {
    assert.equal(await verifyRevision(dir, 'main'), oids.b);
    assert.equal(await verifyRevision(dir, 'refs/acu/main'), null);
    assert.equal(await showFileAt(dir, 'main~1', 'README.md'), '# one\n');
    await assert.rejects(showFileAt(dir, 'main', 'absent.txt'), (error: unknown) => error instanceof AcuError && error.code === 'ERR_GIT_FAILED');
    await assert.rejects(verifyRevision(await tempDir('workdir-none'), 'main'), (error: unknown) => error instanceof AcuError && error.code === 'ERR_GIT_FAILED');
  });

  void test('addPaths stages; tryAddPaths reports a refusal; commitPaths commits those paths alone', async () => {
    await writeFile(join(dir, 'one.txt'), 'one\n');
    await writeFile(join(dir, 'two.txt'), 'two\n');
    await addPaths(dir, ['one.txt']);
    assert.equal(gitText(dir, ['diff', '--cached', '--name-only']), 'one.txt');
    await assert.rejects(addPaths(dir, ['absent.txt']), (error: unknown) => error instanceof AcuError && error.code === 'ERR_GIT_FAILED');
    const refused = await tryAddPaths(dir, ['absent.txt']);
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /absent\.txt/);
    assert.equal((await tryAddPaths(dir, ['two.txt'])).exitCode, 0);

    const committed = await commitPaths(dir, { message: 'Add two', paths: ['two.txt'] });
    assert.equal(committed.exitCode, 0);
    assert.equal(gitText(dir, ['log', '-1', '--format=%s %ad', '--date=raw']), `Add two ${fixedDates.GIT_AUTHOR_DATE}`);
    assert.equal(gitText(dir, ['show', '--format=', '--name-only', 'HEAD']), 'two.txt');
    assert.equal(gitText(dir, ['diff', '--cached', '--name-only']), 'one.txt');
    const nothing = await commitPaths(dir, { message: 'Nothing', paths: ['absent.txt'] });
    assert.notEqual(nothing.exitCode, 0);
  });

  void test('logWithNotes: short id and subject, each followed by its note', async () => {
    git(dir, ['notes', '--ref=acu', 'add', '-m', '{"height": 0}', oids.b!]);
    const short = (oid: string): string => gitText(dir, ['rev-parse', '--short', oid]);
    assert.equal(await logWithNotes(dir, { rev: oids.b!, notes: 'acu', count: 1 }), `${short(oids.b!)} b\n{"height": 0}\n\n`);
    assert.equal(await logWithNotes(dir, { rev: oids.b!, notes: 'acu', count: 2 }), `${short(oids.b!)} b\n{"height": 0}\n\n${short(oids.a!)} a\n\n`);
  });

  void test('pullFastForward brings a clone up to its upstream, and refuses to merge', async () => {
    const top = await tempDir('workdir-pull');
    const origin = join(top, 'origin');
    await buildFixtureRepo(origin, { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }] });
    const clone = join(top, 'clone');
    git(top, ['clone', '-q', origin, clone]);
    git(origin, ['commit', '-q', '--allow-empty', '-m', 'later']);
    await pullFastForward(clone);
    assert.equal(gitText(clone, ['rev-parse', 'HEAD']), gitText(origin, ['rev-parse', 'HEAD']));
    git(origin, ['commit', '-q', '--allow-empty', '-m', 'upstream']);
    git(clone, ['-c', 'user.name=C', '-c', 'user.email=c@example.com', 'commit', '-q', '--allow-empty', '-m', 'diverged']);
    await assert.rejects(pullFastForward(clone), (error: unknown) => error instanceof AcuError && error.code === 'ERR_GIT_FAILED');
  });
});
