// composeFile on the merges that replaying redux-toolkit and typeorm left in conflict: a rename one
// side swept through the file against the other side's edits, a removal against a re-format, a
// default import dropped beside a removal, and neighbouring edits in prose and line lists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLineListPath } from '../../src/compose/file.js';
import { separateEdits } from '../../src/compose/diff3.js';
import { parseVersion } from '../../src/compose/syntax.js';
import { sweepsOf } from '../../src/compose/sweep.js';
import { clean, compose, lines } from '../support/compose-cases.js';

const version = (text: string): NonNullable<ReturnType<typeof parseVersion>> => {
  const parsed = parseVersion('a.ts', text);
  assert.ok(parsed !== null);
  return parsed;
};

describe('sweeps: a name one side replaced everywhere in the file', () => {
  // A class whose connection field becomes dataSource on one side (every use renamed), while the
  // other side edits two methods that use it.
  const base = lines(
    'export class Builder {',
    '  constructor(private connection: Source) {}',
    '  select(table: string): string {',
    '    return this.connection.driver.escape(table);',
    '  }',
    '  insert(table: string): string {',
    '    return "INSERT INTO " + this.connection.driver.escape(table);',
    '  }',
    '}',
  );
  const ours = lines(
    'export class Builder {',
    '  constructor(private dataSource: Source) {}',
    '  select(table: string): string {',
    '    return this.dataSource.driver.escape(table);',
    '  }',
    '  insert(table: string): string {',
    '    return "INSERT INTO " + this.dataSource.driver.escape(table);',
    '  }',
    '}',
  );
  const theirs = lines(
    'export class Builder {',
    '  constructor(private connection: Source) {}',
    '  select(table: string): string {',
    '    return quoted(this.connection, table);',
    '  }',
    '  insert(table: string): string {',
    '    return `INSERT INTO ${quoted(this.connection, table)}`;',
    '  }',
    '}',
  );

  it('finds the sweep: connection -> dataSource, replaced in place three times, none left', () => {
    const sweeps = sweepsOf(version(base), version(ours));
    assert.deepEqual([...sweeps].map(([from, to]) => [from, to.key]), [['i:connection', 'i:dataSource']]);
    assert.equal(sweepsOf(version(base), version(theirs)).size, 0);
  });

  it("carries the rename into the other side's edits, and says so in the notes", () => {
    const result = clean(base, ours, theirs);
    assert.equal(
      result.text,
      lines(
        'export class Builder {',
        '  constructor(private dataSource: Source) {}',
        '  select(table: string): string {',
        '    return quoted(this.dataSource, table);',
        '  }',
        '  insert(table: string): string {',
        '    return `INSERT INTO ${quoted(this.dataSource, table)}`;',
        '  }',
        '}',
      ),
    );
    assert.deepEqual(result.notes, ['ours renamed connection -> dataSource throughout the file: carried into theirs']);
    // The same merge seen from the other side.
    const mirrored = clean(base, theirs, ours);
    assert.equal(mirrored.text, result.text);
    assert.deepEqual(mirrored.notes, ['theirs renamed connection -> dataSource throughout the file: carried into ours']);
  });

  it('is no sweep when the old name is still used somewhere on that side', () => {
    const partial = ours.replace('constructor(private dataSource: Source) {}', 'constructor(private dataSource: Source, connection?: Source) {}');
    assert.equal(sweepsOf(version(base), version(partial)).size, 0);
    assert.ok(compose(base, partial, theirs).conflicts.length > 0);
  });

  it('is no sweep when the name was replaced in one place only', () => {
    const one = base.replace('return this.connection.driver.escape(table);', 'return this.pool.driver.escape(table);');
    assert.equal(sweepsOf(version(base), version(one)).size, 0);
  });

  it('conflicts when both sides renamed the same name to different names', () => {
    const other = base.replaceAll('connection', 'source');
    assert.ok(compose(base, ours, other).conflicts.length > 0);
  });

  it('takes the removal when the only change to the removed declaration was the sweep', () => {
    // One side removes a deprecated interface; the other renamed AnyAction everywhere, in it too.
    const b = lines(
      "import type { AnyAction } from 'redux'",
      'export interface OldApi {',
      '  dispatch(action: AnyAction): void',
      '}',
      'export interface Api {',
      '  dispatch(action: AnyAction): void',
      '}',
    );
    const o = lines("import type { AnyAction } from 'redux'", 'export interface Api {', '  dispatch(action: AnyAction): void', '}');
    const t = b.replaceAll('AnyAction', 'UnknownAction');
    const result = clean(b, o, t);
    assert.equal(result.text, lines("import type { UnknownAction } from 'redux'", 'export interface Api {', '  dispatch(action: UnknownAction): void', '}'));
  });
});

describe('sweeps: the import of a renamed name', () => {
  it('counts a name swapped in a sorted import list as one place of the rename', () => {
    // One use of AnyAction, and its import, which moved in the sorted list.
    const b = lines("import type { AnyAction, ThunkDispatch } from 'redux'", 'export interface Old {', '  dispatch: ThunkDispatch<any, any, AnyAction>', '}', 'export const kept = 1');
    const o = lines("import type { ThunkDispatch, UnknownAction } from 'redux'", 'export interface Old {', '  dispatch: ThunkDispatch<any, any, UnknownAction>', '}', 'export const kept = 1');
    const t = lines("import type { AnyAction, ThunkDispatch } from 'redux'", 'export const kept = 1');
    assert.deepEqual([...sweepsOf(version(b), version(o))].map(([from, to]) => [from, to.key]), [['i:AnyAction', 'i:UnknownAction']]);
    // Theirs removed the interface that used it; ours only renamed inside it: the removal stands.
    const result = clean(b, o, t);
    assert.equal(result.text, lines("import type { ThunkDispatch, UnknownAction } from 'redux'", 'export const kept = 1'));
  });
});

describe('removals against changes of layout only, and a dropped default import', () => {
  it('removes an interface the other side only re-formatted (trailing commas)', () => {
    const b = lines('export interface Old {', '  then(', '    resolve: () => void', '  ): void', '}', 'export const kept = 1');
    const o = lines('export const kept = 1');
    const t = lines('export interface Old {', '  then(', '    resolve: () => void,', '  ): void', '}', 'export const kept = 1');
    const result = clean(b, o, t);
    assert.equal(result.text, o);
    assert.match(result.notes?.[0] ?? '', /interface:Old: removed by ours; theirs changed only its types or layout/);
  });

  it('still conflicts when the interface changed in more than layout', () => {
    const b = lines('export interface Old {', '  a: string', '}', 'export const kept = 1');
    const o = lines('export const kept = 1');
    const t = lines('export interface Old {', '  a: string', '  b: number', '}', 'export const kept = 1');
    assert.equal(compose(b, o, t).conflicts[0]?.kind, 'remove/modify');
  });

  it("takes the other side's replacement of a string one side only re-quoted or re-escaped", () => {
    // mobx-state-tree acf3aa3: a formatter turned a template's line break into `\n` and `"` into
    // `\"` (same value), while the other side replaced the expected message with a predicate.
    const b = lines('test(() => {', '  t.throws(() => create(), `no:', 'value "x"`)', "  t.is(kind, 'a')", '})');
    const o = lines('test(() => {', '  t.throws(() => create(), `no:\\nvalue \\"x\\"`)', '  t.is(kind, "a")', '})');
    const t = lines('test(() => {', "  t.throws(() => create(), (err) => err.message.includes('no:'))", "  t.is(kind, 'b')", '})');
    assert.equal(clean(b, o, t).text, t);
  });

  it("keeps the other side's change of a declaration one side only re-formatted with parentheses around an arrow's parameter", () => {
    // redux-toolkit ef49075: prettier 2 wrapped `next =>` in parentheses on one branch; the other
    // inlined the type alias into the annotation.
    const b = lines('test(() => {', '  type Enhancer = StoreEnhancer<{ some: string }>', '', '  const enhancer: Enhancer = next => {', '    return next', '  }', '})');
    const o = lines('test(() => {', '  const enhancer: StoreEnhancer<{ some: string }> = (', '    next', '  ) => {', '    return next', '  }', '})');
    const t = lines('test(() => {', '  type Enhancer = StoreEnhancer<{ some: string }>', '', '  const enhancer: Enhancer = (next) => {', '    return next', '  }', '})');
    assert.equal(clean(b, o, t).text, o);
    // Parentheses a parameter needs are another matter: a default changes the function.
    const d = t.replace('(next) =>', '(next = identity) =>');
    assert.ok(compose(b, o, d).conflicts.length > 0);
  });

  it('still conflicts when the re-quoted string also changed its value, or is a tagged template', () => {
    const b = lines('test(() => {', "  t.throws(() => create(), 'no value')", '})');
    const t = lines('test(() => {', "  t.throws(() => create(), (err) => err.message.includes('no'))", '})');
    assert.ok(compose(b, lines('test(() => {', '  t.throws(() => create(), "no value!")', '})'), t).conflicts.length > 0);
    const tb = lines('test(() => {', '  t.throws(() => create(), String.raw`no', 'value`)', '})');
    const to = lines('test(() => {', '  t.throws(() => create(), String.raw`no\\nvalue`)', '})');
    assert.ok(compose(tb, to, t).conflicts.length > 0, 'a tag sees the raw text: the change is real');
  });

  it('removes an import whose other side only dropped its default name', () => {
    const b = lines("import Generator, { helper } from 'codegen'", 'export const x = helper()');
    const o = lines('export const x = 1');
    const t = lines("import { helper } from 'codegen'", 'export const x = helper()');
    assert.equal(clean(b, o, t).text, o);
  });
});

describe('imports both sides re-pointed at one module, one side in a larger declaration', () => {
  // redux-toolkit c501ef4 and 9c0d553: both branches moved deep imports to the package's entry
  // point; one kept a declaration per old module, the other gathered the names into one.
  const b = lines("import type { BaseQueryFn } from '../baseQueryTypes'", "import type { Api, Module } from '../apiTypes'", 'export type M = Module<Api<BaseQueryFn>>');
  const gathered = lines("import type { BaseQueryFn, Api, Module } from '@reduxjs/toolkit/query'", 'export type M = Module<Api<BaseQueryFn>>');
  const separate = lines("import type { BaseQueryFn } from '@reduxjs/toolkit/query'", "import type { Api, Module } from '@reduxjs/toolkit/query'", 'export type M = Module<Api<BaseQueryFn>>');

  it('keeps the larger declaration once, whichever side wrote it', () => {
    assert.equal(clean(b, separate, gathered).text, gathered);
    assert.equal(clean(b, gathered, separate).text, gathered);
  });

  it('keeps a declaration whose names base already imported from that module, or that binds one as a value the other imports as a type', () => {
    // Ours moved `Api` into a declaration of its own, out of one base had: that is no duplicate.
    const base = lines("import { Api, Module } from 'm'", 'export const x = [Api, Module]');
    const moved = lines("import { Module } from 'm'", "import { Api } from 'm'", 'export const x = [Api, Module]');
    const grown = lines("import { Api, Module, Extra } from 'm'", 'export const x = [Api, Module, Extra]');
    assert.ok(compose(base, moved, grown).text.includes("import { Api } from 'm'"));
    const value = lines("import { Api } from '@reduxjs/toolkit/query'", "import type { BaseQueryFn } from '@reduxjs/toolkit/query'", 'export type M = Module<Api<BaseQueryFn>>');
    assert.ok(compose(b, value, gathered).text.includes("import { Api } from '@reduxjs/toolkit/query'"), 'a value import is not absorbed by a type-only one');
  });
});

describe('line lists: neighbouring edits of prose, YAML and ignore files', () => {
  it('knows which files are line lists', () => {
    for (const path of ['README.md', 'docs/a.mdx', '.github/workflows/ci.yml', 'x/.gitignore', '.gitattributes', 'notes.txt']) assert.ok(isLineListPath(path), path);
    for (const path of ['yarn.lock', 'pnpm-lock.yaml', 'a.ts', 'package.json', 'a.snap', 'Makefile']) assert.ok(!isLineListPath(path), path);
  });

  it('applies both edits of neighbouring lines in base order; git conflicts on them', () => {
    const b = lines('# Title', '', 'First line.', 'Second line.', '', 'End.');
    const o = lines('# Title', '', 'First line, edited.', 'Second line.', '', 'End.');
    const t = lines('# Title', '', 'First line.', 'Second line, edited too.', '', 'End.');
    assert.equal(clean(b, o, t, 'README.md').text, lines('# Title', '', 'First line, edited.', 'Second line, edited too.', '', 'End.'));
    // A source file keeps git's rule at the line level.
    assert.ok(compose(b, o, t, 'notes.unknown').conflicts.length > 0);
  });

  it('still conflicts on one line changed on both sides, and on two insertions at one point', () => {
    const b = lines('a', 'b', 'c');
    assert.ok(compose(b, lines('a', 'B1', 'c'), lines('a', 'B2', 'c'), 'x.yml').conflicts.length > 0);
    assert.equal(separateEdits(['a\n', 'c\n'], ['a\n', 'x\n', 'c\n'], ['a\n', 'y\n', 'c\n']), null);
  });

  it('does not split edits inside a fenced code block of Markdown', () => {
    const b = lines('Text.', '```ts', 'const a = 1', 'const b = 2', '```');
    const o = lines('Text.', '```ts', 'const a = 10', 'const b = 2', '```');
    const t = lines('Text.', '```ts', 'const a = 1', 'const b = 20', '```');
    assert.ok(compose(b, o, t, 'doc.md').conflicts.length > 0);
  });
});

describe('changes of every line: line endings and re-formatting', () => {
  const base = lines('export function area(w: number, h: number): number {', '  return w * h;', '}', '', 'export const unit = "m";');
  const theirs = lines('export function area(w: number, h: number): number {', '  return product(w, h);', '}', '', 'export const unit = "m";');

  it("keeps one side's conversion of every line ending to CRLF and the other side's edit", () => {
    const ours = base.replaceAll('\n', '\r\n').replace('"m"', '"cm"');
    const result = clean(base, ours, theirs);
    assert.equal(result.text, theirs.replace('"m"', '"cm"').replaceAll('\n', '\r\n'));
    assert.ok(result.notes?.includes('ours converted every line ending to CRLF: kept'), String(result.notes));
    // And back: theirs converts a CRLF file to LF.
    const crlf = base.replaceAll('\n', '\r\n');
    const back = clean(crlf, theirs.replaceAll('\n', '\r\n'), base);
    assert.equal(back.text, theirs);
  });

  it("takes the other side's version of an element one side only re-formatted", () => {
    const ours = base.replace('export function area(w: number, h: number): number {\n  return w * h;\n}', 'export function area(\n  w: number,\n  h: number,\n): number {\n    return w*h\n}');
    const result = clean(base, ours, theirs);
    // The parameters keep ours' new layout (theirs left them alone); the statement both changed
    // is theirs' edit, ours only re-indented it, closed up its spaces and dropped its semicolon.
    assert.equal(result.text, lines('export function area(', '  w: number,', '  h: number,', '): number {', '  return product(w, h);', '}', '', 'export const unit = "m";'));
    assert.ok(result.notes?.some((note) => /function:area\/ReturnStatement#1: ours changed only its layout, theirs changed it: kept as theirs has it/.test(note)), String(result.notes));
  });

  it('still conflicts when the re-formatting side also changed a comment', () => {
    const ours = base.replace('export function area(w: number, h: number): number {\n  return w * h;\n}', 'export function area(\n  w: number,\n  h: number,\n): number {\n    // width times height\n    return w*h\n}');
    assert.ok(compose(base, ours, theirs).conflicts.length > 0);
  });
});

describe('changelogs are line lists too', () => {
  it("keeps both sides' entries at the top and both edits of neighbouring lines further down", () => {
    const base = lines('# Changes', '', '## 1.0.0', '- first', '- second');
    const ours = lines('# Changes', '', '- a', '', '## 1.0.0', '- first, fixed', '- second');
    const theirs = lines('# Changes', '', '- b', '', '## 1.0.0', '- first', '- second, fixed');
    const result = clean(base, ours, theirs, 'CHANGELOG.md');
    assert.equal(result.text, lines('# Changes', '', '- a', '- b', '', '## 1.0.0', '- first, fixed', '- second, fixed'));
  });
});

describe("a declaration's header and its body are two changes", () => {
  const base = lines(
    'function total(items: number[]) {',
    '  let sum = 0;',
    '  for (const item of items) sum += item;',
    '  return sum;',
    '}',
  );

  it('merges `export` and a return type added on one side with the other side\'s edit of the body', () => {
    const ours = lines('export function total(items: number[]): number {', '  let sum = 0;', '  for (const item of items) sum += item;', '  return sum;', '}');
    // The edit of the body's first line touches the header's line: git's line merge conflicts.
    const theirs = lines('function total(items: number[]) {', '  let sum = -0;', '  for (const item of items) sum += Math.max(0, item);', '  return sum;', '}');
    assert.equal(clean(base, ours, theirs).text, lines('export function total(items: number[]): number {', '  let sum = -0;', '  for (const item of items) sum += Math.max(0, item);', '  return sum;', '}'));
  });

  it('merges a return type one side made another kind of type with the other side\'s edit of the body (mobx 6bb7674)', () => {
    // `number` to `number | undefined`: the return type's slot holds another kind of node, and
    // the two declarations still line up slot by slot; the header side also edited the body.
    const ours = lines('function total(items: number[]): number | undefined {', '  let sum = 0;', '  for (const item of items) sum += item;', '  return sum as any;', '}');
    const b = base.replace('(items: number[]) {', '(items: number[]): number {');
    const theirs = lines('function total(items: number[]): number {', '  let sum = -0;', '  for (const item of items) sum += item;', '  return sum;', '}');
    assert.equal(clean(b, ours, theirs).text, lines('function total(items: number[]): number | undefined {', '  let sum = -0;', '  for (const item of items) sum += item;', '  return sum as any;', '}'));
  });

  it('merges an expression one side made another kind of expression with the other side\'s edit beside it', () => {
    const b = lines('let config = load(path, { strict: true });');
    const ours = lines('let config = await load(path, { strict: true });');
    const theirs = lines('const config = load(path, { strict: true });');
    assert.equal(clean(b, ours, theirs).text, lines('const config = await load(path, { strict: true });'));
    // Both sides changed the expression, one of them to another kind and its inside as well: a conflict.
    const edited = lines('let config = await load(path, { strict: false });');
    assert.ok(compose(b, edited, lines('let config = load(path, { strict: true, cache });')).conflicts.length > 0);
  });

  it('conflicts when the side that changed the header also changed the body', () => {
    const ours = lines('export function total(items: number[]) {', '  let sum = 0;', '  for (const item of items) sum += item;', '  return Math.round(sum);', '}');
    const theirs = lines('function total(items: number[]) {', '  let sum = -0;', '  for (const item of items) sum += Math.max(0, item);', '  return sum;', '}');
    assert.ok(compose(base, ours, theirs).conflicts.length > 0);
  });

  it('conflicts when one side wraps statements in a new `try`/`finally` and the other edits them', () => {
    const b = lines('function run(f: () => number) {', '  const before = now();', '  try {', '    return f();', '  } catch (e) {', '    report(e);', '    return 0;', '  }', '}');
    const o = lines('function run(f: () => number) {', '  const before = now();', '  try {', '    return f();', '  } catch (e) {', '    report(e);', '    throw e;', '  } finally {', '    log(now() - before);', '  }', '}');
    const t = lines('function run(f: () => number) {', '  const before = now();', '  try {', '    return f();', '  } catch (e) {', '    report(e, before);', '    return -1;', '  }', '}');
    assert.ok(compose(b, o, t).conflicts.length > 0);
  });
});

describe('a type replaced on one side, its type arguments edited on the other', () => {
  it('conflicts: the arguments were written for the type they were given to', () => {
    const b = lines('export interface State<T> {', '  entities: Dictionary<T>', '  ids: string[]', '}');
    const o = lines('export interface State<T> {', '  entities: Record<string, T>', '  ids: string[]', '}');
    const t = lines('export interface State<T> {', '  entities: Dictionary<T, Id>', '  ids: Id[]', '}');
    const result = compose(b, o, t);
    assert.ok(result.conflicts.length > 0, result.text);
    assert.doesNotMatch(result.text, /Record<string, T, Id>/);
  });

  it('conflicts when one side calls another function and the other adds or drops an argument (mobx e421854)', () => {
    const b = lines('function install(target: object, key: string) {', '  define(target, owner, key, { get })', '}');
    const o = lines('function install(target: object, key: string) {', '  adopt(target).add(owner, key, { get })', '}');
    const t = lines('function install(target: object, key: string) {', '  define(target, key, { get })', '}');
    const result = compose(b, o, t);
    assert.ok(result.conflicts.length > 0, result.text);
    assert.doesNotMatch(result.text, /add\(\s*key/);
    // The replacing side made the other side's change of the arguments too: nothing of the other
    // side is carried into the new call, and the merge is clean.
    const fb = lines('const post = await posts.find(query, {', '  join: { alias: "post" },', '})');
    const fo = lines('const post = await posts.find({', '  join: { alias: "post" },', '})');
    const ft = lines('const post = await posts.findOne({', '  join: { alias: "post" },', '})');
    assert.equal(clean(fb, fo, ft).text, ft);
    // An argument edited in place is the caller's value, and goes to the new function (redux-toolkit bd482f8).
    const sb = lines('const select = createDraftSafeSelector(', '  selectState as Selector<V, EntityState<T>>,', '  selectEntities,', ')');
    const so = sb.replace('createDraftSafeSelector', 'createSelector');
    const st = sb.replace('EntityState<T>', 'EntityState<T, Id>');
    assert.equal(clean(sb, so, st).text, so.replace('EntityState<T>', 'EntityState<T, Id>'));
    // The same function reached another way keeps its name: the edits merge.
    const reached = lines('function install(target: object, key: string) {', '  this.define(target, owner, key, { get })', '}');
    assert.equal(clean(b, reached, t).text, lines('function install(target: object, key: string) {', '  this.define(target, key, { get })', '}'));
  });

  it('merges a type renamed throughout the file with the other side\'s new argument (a sweep)', () => {
    const b = lines('export interface State<T> {', '  entities: Dictionary<T>', '  byId: Dictionary<T>', '}');
    const o = b.replaceAll('Dictionary', 'Lookup');
    const t = lines('export interface State<T> {', '  entities: Dictionary<T, Id>', '  byId: Dictionary<T>', '}');
    assert.equal(clean(b, o, t).text, lines('export interface State<T> {', '  entities: Lookup<T, Id>', '  byId: Lookup<T>', '}'));
  });
});
