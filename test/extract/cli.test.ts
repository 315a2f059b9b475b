/**
 * `acu extract` end to end: a real fixture repository, the real CLI (in-process through runCli and
 * as a real process through bin/acu.js), every extraction case, the round-trip check, errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { extractionFixture } from '../../fixtures/extraction.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { runCli } from '../../src/cli/main.js';
import { bufferIo } from '../../src/cli/io.js';
import { decodeAcu } from '../../src/core/acu/decode.js';
import { fastAcuId } from '../../src/extract/commit.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(root, 'bin', 'acu.js');

interface JsonAcu {
  id: string;
  level: 'decl' | 'file';
  file: string;
  symbol?: string;
  op: string;
  content?: string;
  reason?: string | null;
  fromFile?: string | null;
  modeBefore?: string | null;
  modeAfter?: string | null;
  hunks?: unknown[] | null;
}
interface JsonCommit {
  commit: string;
  merge: boolean;
  acus: JsonAcu[];
}

let dir = '';
let oids: Record<string, string> = {};

async function cli(args: string[], cwd = dir): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo(cwd);
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

async function extractJson(label: string): Promise<JsonCommit> {
  const { code, out } = await cli(['extract', '--json', oids[label]!]);
  assert.equal(code, 0);
  const doc = JSON.parse(out) as { commits: JsonCommit[] };
  assert.equal(doc.commits.length, 1);
  return doc.commits[0]!;
}

function ops(commit: JsonCommit): string[] {
  return commit.acus.map((a) => (a.level === 'decl' ? `${a.op} ${a.file}#${a.symbol ?? ''}` : `${a.op} file ${a.file}`)).sort();
}

before(async () => {
  dir = await makeTempDir('extract-cli');
  ({ oids } = await buildFixtureRepo(join(dir, 'repo'), extractionFixture));
  dir = join(dir, 'repo');
});

after(async () => {
  await removeTempDir(join(dir, '..'));
});

describe('acu extract', () => {
  it('round-trips every commit of the fixture history', async () => {
    const { code, out } = await cli(['extract', '--check', '--all']);
    assert.equal(out.trim().split('\n').at(-1), `checked ${extractionFixture.commits.length} commits, ${/checked \d+ commits, (\d+) ACUs/.exec(out)?.[1] ?? '?'} ACUs, 0 round-trip failures`);
    assert.equal(code, 0);
  });

  it('produces only ACUs that the strict decoder accepts', async () => {
    const { out } = await cli(['extract', '--json', '--all']);
    const doc = JSON.parse(out) as { commits: { acus: (Record<string, unknown> & { id: string })[] }[] };
    let count = 0;
    for (const commit of doc.commits) {
      for (const { id, ...acu } of commit.acus) {
        const decoded = decodeAcu(acu);
        assert.ok(decoded.ok, `${id}: ${JSON.stringify(decoded.ok ? null : decoded.issues)}`);
        assert.equal(fastAcuId(decoded.acu), id, 'the id is the hash of exactly what was decoded');
        count += 1;
      }
    }
    assert.ok(count > 40);
  });

  it('gives the same output with and without worker threads', async () => {
    const one = await cli(['extract', '--json', '--all', '--jobs', '1']);
    const two = await cli(['extract', '--json', '--all', '--jobs', '2']);
    assert.equal(one.code, 0);
    assert.equal(two.out, one.out);
    // Workers get the range diffed up front, for the routing plan: renames must come out the same.
    const moves = (JSON.parse(two.out) as { commits: JsonCommit[] }).commits.flatMap((c) => c.acus).filter((a) => a.level === 'file' && a.op === 'move');
    assert.ok(moves.length > 0, 'the fixture has a rename');
  });

  it('splits member edits and an extended import into declaration ACUs', async () => {
    assert.deepEqual(ops(await extractJson('members')), [
      "add src/repo.ts#class:Repo/method:stat",
      "modify src/repo.ts#class:Repo/method:read",
      "modify src/repo.ts#import:'node:fs/promises'",
    ]);
    // The blank line before the moved alias stays at the end of the file: the module's tail changes.
    assert.deepEqual(ops(await extractJson('move')), ['modify src/repo.ts#', 'move src/repo.ts#type:Id']);
  });

  it('covers every declaration kind', async () => {
    assert.deepEqual(ops(await extractJson('kinds-edit')), [
      "add src/kinds.ts#import:'node:path'#2",
      "add src/kinds.ts#interface:Shape#2",
      "add src/kinds.ts#interface:Shape/method:perimeter",
      // The last member gains its separator when another follows it.
      "modify src/kinds.ts#interface:Shape/property:name",
      "add src/kinds.ts#namespace:'mod'/function:h",
      "add src/kinds.ts#namespace:Geometry/variable:tau",
      "add src/kinds.ts#enum:Color/member:Blue",
      "modify src/kinds.ts#enum:Color/member:Green",
      "modify src/kinds.ts#function:default",
      "modify src/kinds.ts#namespace:Geometry/variable:pi",
      "modify src/kinds.ts#statement:describe('suite')",
      "modify src/kinds.ts#variable:ñandú,ünï",
    ].sort());
    assert.deepEqual(ops(await extractJson('view')), ['modify src/view.tsx#class:View', 'modify src/view.tsx#class:View/method:render']);
    assert.deepEqual(ops(await extractJson('crlf')), ['add src/crlf.ts#variable:c', 'modify src/bom.ts#', 'modify src/bom.ts#variable:bom']);
    assert.deepEqual(ops(await extractJson('big-edit')), ['modify src/big.ts#function:f1234']);
    assert.deepEqual(ops(await extractJson('removals')), [
      'remove file src/bom.ts',
      "remove src/kinds.ts#import:'node:path'#2",
      'remove src/kinds.ts#interface:Shape',
      'remove src/kinds.ts#interface:Shape#2',
      "remove src/kinds.ts#namespace:'mod'",
      'remove src/kinds.ts#namespace:Geometry',
      'remove src/kinds.ts#function:default',
      "remove src/kinds.ts#statement:describe('suite')",
      'remove src/kinds.ts#variable:ñandú,ünï',
    ].sort());
  });

  it('changes whole files where declarations do not apply', async () => {
    const commit = await extractJson('whole-files');
    const byFile = new Map(commit.acus.map((a) => [a.file, a]));
    assert.equal(byFile.get('README.md')?.content, 'text');
    assert.equal(byFile.get('README.md')?.hunks?.length, 1);
    assert.equal(byFile.get('assets/logo.bin')?.content, 'binary');
    assert.equal(byFile.get('scripts/run.sh')?.modeAfter, '100755');
    assert.equal(byFile.get('scripts/run.sh')?.modeBefore, '100644');
    assert.equal(byFile.get('link')?.content, 'symlink');
    assert.equal(byFile.get('vendor/lib')?.content, 'gitlink');
    assert.equal(byFile.get('src/broken.ts')?.reason, 'added');

    const next = await extractJson('whole-files-2');
    const moved = next.acus.find((a) => a.level === 'file' && a.op === 'move');
    assert.equal(moved?.fromFile, 'src/view.tsx');
    assert.equal(moved?.file, 'src/views/view.tsx');
    assert.ok(ops(next).includes('modify src/views/view.tsx#variable:Small'), 'a renamed source file still splits into declarations');
    assert.equal(next.acus.find((a) => a.file === 'src/broken.ts')?.reason, 'unparsed');
    assert.ok(ops(next).includes('remove file src/crlf.ts'));
    assert.ok(ops(next).includes('modify file link'));
    assert.ok(ops(next).includes('modify file vendor/lib'));
  });

  it('handles root, merge and empty commits', async () => {
    const rootCommit = await extractJson('root');
    assert.ok(rootCommit.acus.every((a) => a.op === 'add' && a.level === 'file'));
    assert.equal(rootCommit.acus.length, 7);
    const merge = await extractJson('merge');
    assert.equal(merge.merge, true);
    assert.deepEqual(ops(merge), ['add file src/side.ts']);
    assert.deepEqual((await extractJson('empty')).acus, []);
  });

  it('gives a merge commit that repeats its branch the ACUs of extracting it alone', async () => {
    // Over all refs the merge repeats the side branch's change: its ACUs come from the change memo.
    for (const jobs of ['1', '2']) {
      const { code, out } = await cli(['extract', '--json', '--all', '--jobs', jobs]);
      assert.equal(code, 0);
      const inRange = (JSON.parse(out) as { commits: JsonCommit[] }).commits.find((c) => c.commit === oids.merge);
      assert.deepEqual(inRange, await extractJson('merge'), `--jobs ${jobs}`);
    }
  });

  it('prints ACUs grouped by file and symbol', async () => {
    const { code, out } = await cli(['extract', oids.members!]);
    assert.equal(code, 0);
    assert.match(out, new RegExp(`^commit ${oids.members}`));
    assert.match(out, /\n {2}src\/repo\.ts\n {4}~ modify import:'node:fs\/promises'\n/);
    assert.match(out, /\+ add {4}class:Repo\/method:stat {2}\(after class:Repo\/get:size\)/);
  });

  it('names what went wrong and what to do, with git exit codes', async () => {
    const outside = await makeTempDir('not-a-repo');
    try {
      const notRepo = await cli(['extract'], outside);
      assert.equal(notRepo.code, 128);
      assert.match(notRepo.err, /^error: .*not in a git repository/m);
      assert.match(notRepo.err, /^hint: /m);
    } finally {
      await removeTempDir(outside);
    }
    const unknown = await cli(['extract', 'no-such-branch']);
    assert.equal(unknown.code, 128);
    assert.match(unknown.err, /^error: .*no-such-branch/m);
    const usage = await cli(['extract', '--frobnicate']);
    assert.equal(usage.code, 129);
    assert.match(usage.err, /^error: extract: /m);
    const jobs = await cli(['extract', '--jobs', '0']);
    assert.equal(jobs.code, 129);
  });

  it('runs as a real process, and as `git acu` when its bin is on PATH', async () => {
    // HEAD~3..HEAD crosses the merge, so it holds the side branch's commit too: 4 commits.
    const direct = spawnSync(process.execPath, [bin, 'extract', '--check', 'HEAD~3..HEAD'], { cwd: dir, encoding: 'utf8' });
    assert.equal(direct.status, 0, direct.stderr);
    assert.match(direct.stdout, /^checked 4 commits, \d+ ACUs, 0 round-trip failures$/m);
    const binDir = join(dir, '..', 'bin');
    await mkdir(binDir, { recursive: true });
    await symlink(join(root, 'bin', 'git-acu.js'), join(binDir, 'git-acu'));
    const viaGit = spawnSync('git', ['acu', '--version'], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` } });
    assert.equal(viaGit.status, 0, viaGit.stderr);
    assert.match(viaGit.stdout, /^acu \d+\.\d+\.\d+/);
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    assert.match(help.stdout, /^ {2}extract /m);
  });
});
