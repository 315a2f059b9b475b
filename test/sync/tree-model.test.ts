/**
 * One model of a tree for validation and the agreed commit (src/validate/tree-model.ts): for every
 * kind of path change a commit can make, its records, validated and composed onto the commit's own
 * parent, give exactly the commit's tree, in both validation modes; two records of one batch that
 * put a file and a directory at one path reject the later one, the same way in validation and in
 * the agreed commit.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureCommit, FixtureSpec } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { isSafePath } from '../../src/core/acu/decode.js';
import { GitRepo } from '../../src/git/index.js';
import { composeAgreed, validateRecords } from '../../src/sync/batch.js';
import { nodeIdOf } from '../../src/store/identity.js';
import { recordsOfCommit } from '../../src/sync/records.js';
import type { IdentifiedRecord, RecordSigner } from '../../src/sync/records.js';
import { jsBitsetBackend } from '../../src/validate/scoring/js-bitset.js';
import { Validator } from '../../src/validate/validate.js';

/** A verdict, never an abstention (these batches are far inside the type-check budget). */
async function validated(...args: Parameters<typeof validateRecords>): Promise<NonNullable<Awaited<ReturnType<typeof validateRecords>>>> {
  const verdict = await validateRecords(...args);
  assert.ok(verdict !== null, 'the validator gave a verdict');
  return verdict;
}

/** A node of site `site`, to sign the records a test extracts. */
function signerFor(site: string): RecordSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
  const identity = { id: nodeIdOf(raw), publicKey: raw, privateKey };
  return { identity, member: { id: identity.id, publicKey: raw, address: 'ws://127.0.0.1:7701', site, priority: 0 } };
}

process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

const source = (name: string): string => `export function ${name}(x: number): number {\n  return x + 1;\n}\n`;

/** Deterministic bytes that are not text: a NUL in every 7th place. */
function binary(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i += 1) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = i % 7 === 0 ? 0 : state >>> 24;
  }
  return out;
}

const subA = '1111111111111111111111111111111111111111';
const subB = '2222222222222222222222222222222222222222';
/** 17 MiB: above the 16 Mi-character limit on one ACU text field, so size is no special case. */
const largeBytes = 17 * 1024 * 1024;

/** Each case is one commit on `main`, made on top of the previous one, with a fixed date. */
const cases: Array<[string, FixtureCommit['files']]> = [
  ['directory becomes a file', { 'lib/a.ts': null, 'lib/b.txt': null, 'lib/deep/c.ts': null, lib: 'now a file\n' }],
  ['file becomes a directory', { lib: null, 'lib/a.ts': source('a'), 'lib/deep/c.ts': source('c') }],
  ['symlinks are added', { 'link.ts': { symlink: '../outside/not typescript(' }, 'linkdir': { symlink: 'src' } }],
  ['a symlink changes target', { 'link.ts': { symlink: 'src/x.ts' } }],
  ['a symlink becomes a file', { 'link.ts': source('l') }],
  ['a file becomes a symlink', { 'src/x.ts': { symlink: 'nowhere.ts' } }],
  ['the executable bit is set', { 'run.sh': { content: '#!/bin/sh\necho hi\n', mode: '100755' } }],
  ['the executable bit is cleared', { 'run.sh': '#!/bin/sh\necho hi\n' }],
  ['an executable is edited and made executable', { 'run.sh': { content: '#!/bin/sh\necho bye\n', mode: '100755' } }],
  ['a submodule is added', { 'vendor/sub': { gitlink: subA } }],
  ['a submodule moves', { 'vendor/sub': null, 'third/sub': { gitlink: subA } }],
  ['a submodule is bumped', { 'third/sub': { gitlink: subB } }],
  ['a submodule is removed', { 'third/sub': null }],
  ['a case-only rename', { 'a.ts': null, 'A.ts': source('a') }],
  ['a case-only rename with an edit', { 'src/y.ts': null, 'src/Y.ts': source('y').replace('x + 1', 'x + 2') }],
  ['empty files are added', { 'empty.txt': '', 'empty.ts': '' }],
  ['a file is emptied', { 'src/z.ts': '' }],
  ['binary files are added', { 'img.bin': binary(3000, 1), 'img.ts': binary(100, 2) }],
  ['a binary file changes', { 'img.bin': binary(3001, 3) }],
  ['a large binary file is added', { 'big.bin': binary(largeBytes, 4) }],
  ['a large binary file changes', { 'big.bin': binary(largeBytes + 1, 5) }],
];

const spec: FixtureSpec = {
  commits: [
    {
      id: 'base',
      date: '2024-06-01T10:00:00+00:00',
      files: {
        'lib/a.ts': source('a'), 'lib/b.txt': 'b\n', 'lib/deep/c.ts': source('c'),
        'src/x.ts': source('x'), 'src/y.ts': source('y'), 'src/z.ts': source('z'), 'a.ts': source('a'),
        'run.sh': '#!/bin/sh\necho hi\n',
      },
    },
    ...cases.map(([id, files], i): FixtureCommit => ({ id, files, date: `2024-06-02T10:${String(i).padStart(2, '0')}:00+00:00` })),
    // Two sites branch off the base: one adds a file `p`, the other a file below `p/`.
    { id: 'file p', branch: 'site-file', parents: ['base'], date: '2024-06-03T10:00:00+00:00', files: { p: 'a file\n' } },
    { id: 'dir p', branch: 'site-dir', parents: ['base'], date: '2024-06-03T11:00:00+00:00', files: { 'p/q.ts': source('q') } },
    // A third site edits a file in the directory the first case turns into a file.
    { id: 'symlinked gitmodules', branch: 'site-link', parents: ['base'], date: '2024-06-03T13:00:00+00:00', files: { '.gitmodules': { symlink: 'elsewhere' } } },
    { id: 'edit lib', branch: 'site-edit', parents: ['base'], date: '2024-06-03T12:00:00+00:00', files: { 'lib/a.ts': source('a').replace('x + 1', 'x + 3') } },
  ],
};

let top = '';
let repo: GitRepo;
let oids: Record<string, string> = {};
let validator: Validator;

before(async () => {
  top = await makeTempDir('tree-model');
  const dir = join(top, 'repo');
  oids = (await buildFixtureRepo(dir, spec)).oids;
  repo = await GitRepo.open(dir);
  validator = new Validator(jsBitsetBackend());
});
after(async () => {
  validator.dispose();
  await repo.close();
  await removeTempDir(top);
});

async function parentOf(commit: string): Promise<string> {
  const parent = (await repo.commitInfo(commit)).parents[0];
  assert.ok(parent !== undefined);
  return parent;
}

describe('a commit composed onto its own parent gives its own tree', () => {
  for (const [id] of cases) {
    it(id, async () => {
      const commit = oids[id]!;
      const parent = await parentOf(commit);
      const records = await recordsOfCommit(repo, commit, signerFor('site'));
      assert.ok(records.length > 0, 'the commit has records');
      for (const mode of ['parse', 'typecheck'] as const) {
        const verdict = await validated(repo, parent, records, { mode, validator });
        assert.deepEqual(verdict.invalid, [], `${mode}: no record is invalid`);
        assert.deepEqual(verdict.conflicts, [], `${mode}: no conflicts`);
      }
      const agreed = await composeAgreed(repo, parent, records);
      assert.deepEqual(agreed.rejected, []);
      assert.deepEqual(agreed.applied, records.map((r) => r.id));
      assert.equal(agreed.tree, await repo.resolveTree(commit));
    });
  }
});

describe('a file and a directory at one path in one batch', () => {
  async function batch(...labels: string[]): Promise<{ records: IdentifiedRecord[]; byLabel: Map<string, IdentifiedRecord[]> }> {
    const byLabel = new Map<string, IdentifiedRecord[]>();
    for (const label of labels) byLabel.set(label, await recordsOfCommit(repo, oids[label]!, signerFor(label)));
    return { records: labels.flatMap((label) => byLabel.get(label)!), byLabel };
  }

  for (const order of [['file p', 'dir p'], ['dir p', 'file p']]) {
    it(`rejects the later one (${order.join(', then ')}), in validation and in the agreed commit`, async () => {
      const { records, byLabel } = await batch(...order);
      const later = byLabel.get(order[1]!)!.map((r) => r.id);
      const earlier = order[0]!;
      for (const mode of ['parse', 'typecheck'] as const) {
        const verdict = await validated(repo, oids.base!, records, { mode, validator });
        assert.deepEqual(verdict.invalid.map((r) => r.id), later, mode);
        assert.match(verdict.invalid[0]!.reason, /apply-failed: .*'p'/);
      }
      // Composed without the invalid record, and with it (composition rejects it the same way).
      const kept = records.filter((r) => !later.includes(r.id));
      const clean = await composeAgreed(repo, oids.base!, kept);
      assert.deepEqual(clean.rejected, []);
      assert.equal(clean.tree, await repo.resolveTree(oids[earlier]!));
      const all = await composeAgreed(repo, oids.base!, records);
      assert.deepEqual(all.rejected.map((r) => r.id), later);
      assert.equal(all.tree, clean.tree);
    });
  }

  it('a directory turned into a file conflicts with an edit inside it', async () => {
    const dirToFile = oids['directory becomes a file']!;
    const turn = await recordsOfCommit(repo, dirToFile, signerFor('turn'));
    const { records: edit } = await batch('edit lib');
    const verdict = await validated(repo, oids.base!, [...turn, ...edit], { mode: 'parse', validator: null });
    assert.deepEqual(verdict.invalid, []);
    assert.equal(verdict.conflicts.length > 0, true);
    const agreed = await composeAgreed(repo, oids.base!, [...turn, ...edit]);
    assert.deepEqual(agreed.rejected.map((r) => r.id), edit.map((r) => r.id));
    assert.equal(agreed.tree, await repo.resolveTree(dirToFile));
  });
});

it('a symlinked .gitmodules is rejected at validation and left out of the agreed commit', async () => {
  const records = await recordsOfCommit(repo, oids['symlinked gitmodules']!, signerFor('link'));
  for (const mode of ['parse', 'typecheck'] as const) {
    const verdict = await validated(repo, oids.base!, records, { mode, validator });
    assert.deepEqual(verdict.invalid.map((r) => r.id), records.map((r) => r.id), mode);
    assert.match(verdict.invalid[0]!.reason, /may not be a symlink/);
  }
  const agreed = await composeAgreed(repo, oids.base!, records);
  assert.deepEqual(agreed.rejected.map((r) => r.id), records.map((r) => r.id));
  assert.equal(agreed.tree, await repo.resolveTree(oids.base!));
});

describe('isSafePath', () => {
  it('refuses every path git refuses or that aliases .git on some file system', () => {
    const unsafe = [
      '', '/a', 'a/', 'a//b', '.', 'a/./b', '..', 'a/../b', 'a\0b', 'a\\b', '.git', '.GIT', 'a/.Git/config', '.git.', '.git..',
      '.git ', '.git . .', 'GIT~1', 'git~1/config', '.git::$INDEX_ALLOCATION', '.g\u200cit', '.gi\ufefft/hooks',
    ];
    for (const path of unsafe) assert.equal(isSafePath(path), false, JSON.stringify(path));
    const safe = ['a', 'a/b.ts', '.github/x.yml', '.gitignore', '.gitmodules', 'git', 'x.git', '.gitx', 'git~2', 'a b/c d', '...', 'a.'];
    for (const path of safe) assert.equal(isSafePath(path), true, JSON.stringify(path));
  });
});
