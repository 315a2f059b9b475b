// replay-merges and compose on a fixture history with merges: git conflicts that acu resolves as
// the human did, a clean merge both tools get right, and one where the human kept one side.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { classify, sampleMerges, summarize, usesOnlySidesLines } from '../../src/compose/replay.js';
import type { ScenarioOutcome } from '../../src/compose/replay.js';
import { replayRepository } from '../../src/cli/replay-merges.js';
import { runCli } from '../../src/cli/main.js';
import { bufferIo } from '../../src/cli/io.js';
import { gitText, tempDir } from '../git/helpers.js';

const lines = (...items: string[]): string => `${items.join('\n')}\n`;

const base = lines("import { a } from './a';", '', 'export function f() {', '  return a;', '}');
const withB = lines("import { a, b } from './a';", '', 'export function f() {', '  return a;', '}', '', 'export function g() {', '  return b;', '}');
const withC = lines("import { a, c } from './a';", '', 'export function f() {', '  return a;', '}', '', 'export function h() {', '  return c;', '}');
const human = lines("import { a, b, c } from './a';", '', 'export function f() {', '  return a;', '}', '', 'export function g() {', '  return b;', '}', '', 'export function h() {', '  return c;', '}');

function history(): FixtureSpec {
  return {
    commits: [
      { id: 'base', files: { 'src/f.ts': base, 'notes.md': lines('one', 'two', 'three', 'four') } },
      { id: 'topic', parents: ['base'], branch: 'topic', files: { 'src/f.ts': withC, 'notes.md': lines('one', 'two', 'three', 'FOUR') } },
      { id: 'main', parents: ['base'], files: { 'src/f.ts': withB, 'notes.md': lines('ONE', 'two', 'three', 'four') } },
      { id: 'merge', parents: ['main', 'topic'], files: { 'src/f.ts': human, 'notes.md': lines('ONE', 'two', 'three', 'FOUR') } },
      { id: 'topic2', parents: ['merge'], branch: 'topic2', files: { 'src/f.ts': human.replace('return c;', 'return c + 1;') } },
      { id: 'main2', parents: ['merge'], files: { 'src/f.ts': human.replace('return c;', 'return c + 2;') } },
      { id: 'merge2', parents: ['main2', 'topic2'], files: { 'src/f.ts': human.replace('return c;', 'return c + 2;') } },
    ],
  };
}

describe('replay-merges', () => {
  it('classifies acu and git against the human merges', async () => {
    const dir = await tempDir('replay');
    await buildFixtureRepo(dir, history());
    const { summary, outcomes } = await replayRepository(dir, { limit: undefined, seed: 1 });
    assert.equal(summary.merges, 2);
    const byFile = new Map(outcomes.map((o) => [`${o.merge.slice(0, 7)} ${o.path}`, o]));
    assert.equal(outcomes.length, 3, JSON.stringify(outcomes));
    const ts = outcomes.find((o) => o.path === 'src/f.ts' && !o.oneSide)!;
    assert.equal(ts.git.verdict, 'conflict');
    assert.equal(ts.acu.verdict, 'exact');
    const notes = outcomes.find((o) => o.path === 'notes.md')!;
    assert.equal(notes.git.verdict, 'exact');
    assert.equal(notes.acu.verdict, 'exact');
    const kept = outcomes.find((o) => o.oneSide);
    assert.ok(kept !== undefined, `the second merge kept ours: ${[...byFile.keys()].join(', ')}`);
    assert.equal(summary.groups['git-conflict'].acu.exact, 1);
    assert.equal(summary.groups['one-side'].scenarios, 1);
  });

  it('prints the table and a JSON document', async () => {
    const dir = await tempDir('replay-cli');
    await buildFixtureRepo(dir, history());
    const io = bufferIo(dir);
    assert.equal(await runCli(['replay-merges', dir], io), 0, io.err());
    assert.ok(io.out().includes('replayed 2 merges, 3 file scenarios'), io.out());
    assert.ok(io.out().includes('git conflicts (human merged both sides): 1 scenarios'), io.out());
    const json = bufferIo(dir);
    assert.equal(await runCli(['replay-merges', '--json', '--limit', '1', '--seed', '7'], json), 0, json.err());
    const parsed = JSON.parse(json.out()) as { summary: { merges: number }; seed: number };
    assert.equal(parsed.summary.merges, 1);
    assert.equal(parsed.seed, 7);
  });

  it('counts the clean merges the safeguard turned into conflicts apart', async () => {
    // main removes fetchUser; topic adds code that calls it, far from main's edit: git merges
    // cleanly, into a file where fetchUser no longer resolves.
    const user = lines('export function fetchUser(id: string) {', '  return { id };', '}', '', 'export function greet(id: string) {', '  return `hi ${fetchUser(id).id}`;', '}', '', 'export const version = 1;');
    const removed = user.replace(/export function fetchUser[\s\S]*?\n\}\n\n/, '').replace('fetchUser(id).id', 'id');
    const added = lines(user.trimEnd(), '', 'export function mail(id: string) {', '  return fetchUser(id).id;', '}');
    const dir = await tempDir('replay-guarded');
    await buildFixtureRepo(dir, {
      commits: [
        { id: 'base', files: { 'src/user.ts': user } },
        { id: 'topic', parents: ['base'], branch: 'topic', files: { 'src/user.ts': added } },
        { id: 'main', parents: ['base'], files: { 'src/user.ts': removed } },
        { id: 'merge', parents: ['main', 'topic'], files: { 'src/user.ts': lines(removed.trimEnd(), '', 'export function mail(id: string) {', '  return id;', '}') } },
      ],
    });
    const { summary, outcomes } = await replayRepository(dir, { limit: undefined, seed: 1 });
    assert.equal(outcomes.length, 1, JSON.stringify(outcomes));
    assert.equal(outcomes[0]!.git.verdict, 'differ');
    assert.equal(outcomes[0]!.acu.verdict, 'conflict');
    assert.equal(summary.groups['git-clean'].guarded, 1);
    assert.equal(summary.groups['git-clean'].broken, 0);
    const io = bufferIo(dir);
    assert.equal(await runCli(['replay-merges', dir], io), 0, io.err());
    assert.ok(io.out().includes('acu guarded 1 '), io.out());
  });

  it("classifies human merges that use only the sides' lines", () => {
    const sides = { base: lines('a', 'b'), ours: lines('a', 'b1'), theirs: lines('a  ', 'b2') };
    // Lines of any input, in any order; trailing whitespace and blank lines do not count.
    assert.equal(usesOnlySidesLines({ ...sides, human: lines('b2', '', 'a', 'b1   ') }), true);
    // A line none of the inputs has (a hand-made third version).
    assert.equal(usesOnlySidesLines({ ...sides, human: lines('a', 'b3') }), false);
    // Indentation counts: a re-indented line is a new line.
    assert.equal(usesOnlySidesLines({ ...sides, human: lines('  a') }), false);
    assert.equal(usesOnlySidesLines({ ...sides, human: null }), false);
  });

  it("reports the =human share of clean results restricted to sides'-lines scenarios", async () => {
    const outcome = (sidesLines: boolean, acu: 'exact' | 'differ' | 'conflict'): ScenarioOutcome => ({
      merge: 'm',
      path: 'f.ts',
      oneSide: false,
      sidesLines,
      acu: { verdict: acu, ms: 1 },
      git: { verdict: 'conflict', ms: 1 },
    });
    const summary = summarize(1, [outcome(true, 'exact'), outcome(true, 'differ'), outcome(true, 'conflict'), outcome(false, 'differ')]);
    assert.deepEqual(summary.groups['git-conflict'].sidesLines, { scenarios: 3, acuClean: 2, acuEqual: 1, gitClean: 0, gitEqual: 0 });
    assert.equal(summary.groups['git-clean'].sidesLines.scenarios, 0);
    // On the fixture: notes.md (git merges it cleanly) takes each side's lines; the human's
    // src/f.ts joins both sides' imports into one line that no input has, so it does not count.
    const dir = await tempDir('replay-sides');
    await buildFixtureRepo(dir, history());
    const { outcomes } = await replayRepository(dir, { limit: undefined, seed: 1 });
    const sidesOf = outcomes.map((o) => `${o.path} ${o.oneSide} ${o.sidesLines}`).sort();
    assert.deepEqual(sidesOf, ['notes.md false true', 'src/f.ts false false', 'src/f.ts true true']);
    const io = bufferIo(dir);
    assert.equal(await runCli(['replay-merges', dir], io), 0, io.err());
    assert.ok(io.out().includes("human uses only the sides' lines: 0 scenarios; acu clean 0 (-), =human 0 (- of clean)"), io.out());
    assert.ok(io.out().includes("human uses only the sides' lines: 1 scenarios; acu clean 1 (100.0%), =human 1 (100.0% of clean); git clean 1, =human 1 (100.0% of clean)"), io.out());
    const json = bufferIo(dir);
    assert.equal(await runCli(['replay-merges', dir, '--json'], json), 0, json.err());
    const parsed = JSON.parse(json.out()) as { summary: { groups: Record<string, { sidesLines: { acuEqual: number } }> }; outcomes: Array<{ sidesLines: boolean }> };
    assert.equal(parsed.summary.groups['git-clean']!.sidesLines.acuEqual, 1);
    assert.equal(parsed.outcomes.filter((o) => o.sidesLines).length, 2);
  });

  it('samples deterministically', () => {
    const merges = Array.from({ length: 20 }, (_, i) => ({ oid: String(i), ours: 'a', theirs: 'b' }));
    assert.deepEqual(sampleMerges(merges, 5, 3), sampleMerges(merges, 5, 3));
    assert.equal(sampleMerges(merges, 5, 3).length, 5);
    assert.notDeepEqual(sampleMerges(merges, 5, 3), sampleMerges(merges, 5, 4));
  });

  it('classify: exact, format, reorder, differ', () => {
    assert.equal(classify('a.ts', 'a();\n\nb();\n', 'a();\nb();\n'), 'exact');
    assert.equal(classify('a.ts', 'f(1,\n  2);\n', 'f(1, 2);\n'), 'format');
    assert.equal(classify('a.ts', "import { b, a } from 'x';\n", "import { a, b } from 'x';\n"), 'reorder');
    assert.equal(classify('a.ts', 'f(1);\n', 'f(2);\n'), 'differ');
    // Template literals: code after `${...}` is code, whose layout is not compared.
    const template = (indent: string): string => `const s = \`a \${b} c\`;\nconst t = x\n${indent}? y\n${indent}: z;\n`;
    assert.equal(classify('a.ts', template('    '), template('  ')), 'format');
    assert.equal(classify('a.ts', 'const s = `a ${b}  c`;\n', 'const s = `a ${b} c`;\n'), 'differ');
  });
});

describe('compose command', () => {
  it('composes two commits, prints the summary and writes the ref', async () => {
    const dir = await tempDir('compose');
    const { oids } = await buildFixtureRepo(dir, history());
    const io = bufferIo(dir);
    const code = await runCli(['compose', oids.base!, oids.main!, oids.topic!, '--write-ref', 'refs/heads/composed'], io);
    assert.equal(code, 0, io.out() + io.err());
    assert.ok(io.out().includes('conflicts: 0'), io.out());
    assert.ok(/ACUs: ours \d+, theirs \d+; commuted \d+, deduplicated 0/.test(io.out()), io.out());
    assert.equal(`${gitText(dir, ['show', 'composed:src/f.ts'])}\n`, human);
    assert.equal(gitText(dir, ['rev-parse', 'composed^1']), oids.main);
    // Same inputs, same commit.
    const again = bufferIo(dir);
    await runCli(['compose', oids.base!, oids.main!, oids.topic!, '--write-ref', 'refs/heads/composed2'], again);
    assert.equal(gitText(dir, ['rev-parse', 'composed2']), gitText(dir, ['rev-parse', 'composed']));
  });

  it('reports conflicts by symbol path and exits 1', async () => {
    const dir = await tempDir('compose-conflict');
    const { oids } = await buildFixtureRepo(dir, history());
    const io = bufferIo(dir);
    const code = await runCli(['compose', oids.merge!, oids.main2!, oids.topic2!, '--json'], io);
    assert.equal(code, 1, io.out() + io.err());
    const parsed = JSON.parse(io.out()) as { conflicts: Array<{ file: string; symbol: string; kind: string }> };
    assert.deepEqual(parsed.conflicts.map((c) => [c.file, c.kind]), [['src/f.ts', 'modify/modify']]);
    assert.ok(parsed.conflicts[0]!.symbol.startsWith('function:h'), parsed.conflicts[0]!.symbol);
  });
});
