// The pure parsers, on inputs too odd to be worth a fixture.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoStrictDate, parseCommit, parseDiffTreeBatch, parseIdent, parseTreeObject, subjectOf } from '../../src/git/parse.js';
import { formatOffset } from '../../src/git/iso.js';
import { emptyTreeOidFor, gitBlobOid, isHexOid } from '../../src/git/objects.js';

void test('subjectOf folds the first paragraph the way %s does', () => {
  assert.equal(subjectOf('one\n'), 'one');
  assert.equal(subjectOf('one\ntwo  \n\nbody\n'), 'one two');
  assert.equal(subjectOf('\n \n\t\nafter blanks\r\n'), 'after blanks');
  assert.equal(subjectOf(''), '');
  assert.equal(subjectOf('no newline'), 'no newline');
});

void test('isoStrictDate matches %aI across offsets and day boundaries', () => {
  assert.equal(isoStrictDate(0, 0), '1970-01-01T00:00:00+00:00');
  assert.equal(isoStrictDate(1_700_000_000, 330), '2023-11-15T03:43:20+05:30');
  assert.equal(isoStrictDate(1_700_000_000, -480), '2023-11-14T14:13:20-08:00');
  assert.equal(isoStrictDate(86_399, -1), '1970-01-01T23:58:59-00:01');
});

void test('parseIdent splits names, emails and dates like git', () => {
  assert.deepEqual(parseIdent('A U Thor <a@x> 1 +0130', 'author'), { name: 'A U Thor', email: 'a@x', timestamp: 1, offsetMinutes: 90 });
  assert.deepEqual(parseIdent('<a@x> 5 -0000', 'author'), { name: '', email: 'a@x', timestamp: 5, offsetMinutes: -0 });
  assert.throws(() => parseIdent('no email 1 +0000', 'author of commit x'), /author of commit x/);
});

void test('parseCommit skips multi-line headers and takes the first of each', () => {
  const raw = [
    'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904',
    'parent 1111111111111111111111111111111111111111',
    'parent 2222222222222222222222222222222222222222',
    'author A <a@x> 10 +0000',
    'committer C <c@x> 20 +0100',
    'gpgsig -----BEGIN PGP SIGNATURE-----',
    ' tree ffffffffffffffffffffffffffffffffffffffff',
    ' -----END PGP SIGNATURE-----',
    '',
    'Subject',
    '',
  ].join('\n');
  const info = parseCommit('c'.repeat(40), Buffer.from(raw));
  assert.equal(info.tree, '4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  assert.equal(info.parents.length, 2);
  assert.equal(info.committerDate, '1970-01-01T01:00:20+01:00');
  assert.equal(info.subject, 'Subject');
  assert.throws(() => parseCommit('d'.repeat(40), Buffer.from('author A <a@x> 1 +0000\n\nx')), (e: unknown) => (e as { code?: string }).code === 'ERR_CORRUPT_OBJECT');
});

void test('parseDiffTreeBatch splits by header lines and reads renames', () => {
  const t = 'a'.repeat(40);
  const b = 'b'.repeat(40);
  const z = '0'.repeat(40);
  const out = Buffer.from(`${t} ${t}\n${t} ${b}\n:100644 100644 ${b} ${b} R087\0old name\0new\nname\0:000000 120000 ${z} ${t} A\0link\0${b} ${t}\n`);
  const [first, second, third] = parseDiffTreeBatch(out, 3);
  assert.deepEqual(first, []);
  assert.deepEqual(second?.map((c) => [c.status, c.oldPath, c.newPath, c.similarity]), [['R', 'old name', 'new\nname', 87], ['A', null, 'link', null]]);
  assert.equal(second?.[1]?.oldOid, null);
  assert.deepEqual(third, []);
  assert.throws(() => parseDiffTreeBatch(out, 2));
});

void test('parseTreeObject reads binary entries; formatOffset follows isomorphic-git', () => {
  const oid = Buffer.from('ab'.repeat(20), 'hex');
  const raw = Buffer.concat([Buffer.from('100644 a b\0'), oid, Buffer.from('40000 dir\0'), oid]);
  assert.deepEqual(parseTreeObject('t', raw, 20), [
    { mode: '100644', name: 'a b', oid: 'ab'.repeat(20) },
    { mode: '40000', name: 'dir', oid: 'ab'.repeat(20) },
  ]);
  assert.throws(() => parseTreeObject('t', raw.subarray(0, raw.length - 1), 20), /truncated/);
  assert.deepEqual([formatOffset(-120), formatOffset(300), formatOffset(0), formatOffset(-0), formatOffset(-330)], ['+0200', '-0500', '+0000', '-0000', '+0530']);
});

void test('object ids in-process', () => {
  assert.equal(gitBlobOid(new Uint8Array(0)), 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  assert.equal(emptyTreeOidFor('sha1'), '4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  assert.equal(emptyTreeOidFor('sha256'), '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321');
  assert.ok(isHexOid('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'));
  assert.ok(!isHexOid('E69DE29BB2D1D6434B8B29AE775AD8C2E48C5391'));
  assert.ok(!isHexOid('e69de29bb2d1d6434b8b29ae775ad8c2e48c539\n'));
});
