// git notes through src/git/notes.ts: the note git shows afterwards, and a notes commit whose id
// depends only on what was written, who wrote it and the date given, never on the clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildFixtureRepo, fixtureEpochSeconds } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { GitRepo } from '../../src/git/index.js';
import { addNote, readNoteText } from '../../src/git/notes.js';
import { gitText, tempDir } from './helpers.js';

const identity = { name: 'acu', email: 'acu@cluster', date: `${fixtureEpochSeconds + 600} +0000` };

void describe('git notes', () => {
  const repos: GitRepo[] = [];
  const spec: FixtureSpec = { commits: [{ id: 'a', files: { 'a.txt': 'a\n' } }, { id: 'b', files: { 'b.txt': 'b\n' } }] };
  let dir = '';
  let oids: Record<string, string> = {};
  let repo: GitRepo;
  before(async () => {
    dir = await tempDir('notes');
    ({ oids } = await buildFixtureRepo(dir, spec));
    repo = await GitRepo.open(dir);
    repos.push(repo);
  });
  after(async () => {
    for (const opened of repos) await opened.close();
  });

  void test('addNote attaches the text, replaces an earlier note, and commits as the given identity and date', async () => {
    await addNote(repo, { ref: 'refs/notes/acu', commit: oids.a!, text: 'first\n', identity });
    await addNote(repo, { ref: 'refs/notes/acu', commit: oids.a!, text: '{"height": 0}\n', identity });
    assert.equal(gitText(dir, ['notes', '--ref=acu', 'show', oids.a!]), '{"height": 0}');
    assert.equal(gitText(dir, ['log', '-1', '--format=%an <%ae> %ad|%cn <%ce> %cd', '--date=raw', 'refs/notes/acu']), `acu <acu@cluster> ${identity.date}|acu <acu@cluster> ${identity.date}`);
    // Another repository with the same history and the same writes holds the same notes commit.
    const other = await tempDir('notes-other');
    await buildFixtureRepo(other, spec);
    const otherRepo = await GitRepo.open(other);
    repos.push(otherRepo);
    await addNote(otherRepo, { ref: 'refs/notes/acu', commit: oids.a!, text: 'first\n', identity });
    await addNote(otherRepo, { ref: 'refs/notes/acu', commit: oids.a!, text: '{"height": 0}\n', identity });
    assert.equal(gitText(other, ['rev-parse', 'refs/notes/acu']), gitText(dir, ['rev-parse', 'refs/notes/acu']));
  });

  void test('readNoteText: the note as written; null without a note, a notes ref or the commit', async () => {
    await addNote(repo, { ref: 'refs/notes/acu-records', commit: oids.b!, text: '{"v":1}\n', identity });
    assert.equal(await readNoteText(repo, { ref: 'refs/notes/acu-records', commit: oids.b! }), '{"v":1}\n');
    assert.equal(await readNoteText(repo, { ref: 'refs/notes/acu-records', commit: oids.a! }), null);
    assert.equal(await readNoteText(repo, { ref: 'refs/notes/none', commit: oids.b! }), null);
    assert.equal(await readNoteText(repo, { ref: 'refs/notes/acu', commit: '0'.repeat(40) }), null);
  });
});
