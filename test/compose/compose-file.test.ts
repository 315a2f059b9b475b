// composeFile on small cases: what commutes, what merges inside a declaration, what conflicts,
// and the invariants (determinism, parse check, markers on their own lines).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeFile, composeSides } from '../../src/compose/file.js';
import { mergeLines } from '../../src/compose/diff3.js';
import { parsesCleanly } from '../../src/compose/syntax.js';
import { compose, lines } from '../support/compose-cases.js';
import { baseSeed, rng } from '../support/random.js';

function clean(base: string, ours: string, theirs: string, path = 'a.ts'): string {
  const result = compose(base, ours, theirs, path);
  assert.deepEqual(result.conflicts, [], `expected a clean merge, got:\n${result.text}`);
  assert.ok(parsesCleanly(path, result.text), 'a clean result parses');
  return result.text;
}

describe('composeFile: declarations commute', () => {
  it('keeps both sides\' new methods of one class, ours first', () => {
    const base = lines('class A {', '  m() {', '    return 1;', '  }', '}');
    const ours = lines('class A {', '  m() {', '    return 1;', '  }', '  n() {}', '}');
    const theirs = lines('class A {', '  m() {', '    return 1;', '  }', '  o() {}', '}');
    assert.equal(clean(base, ours, theirs), lines('class A {', '  m() {', '    return 1;', '  }', '  n() {}', '  o() {}', '}'));
  });

  it('merges edits of two neighbouring declarations that git reports as one conflict', () => {
    const base = lines('const a = 1;', 'const b = 2;');
    const text = clean(base, lines('const a = 10;', 'const b = 2;'), lines('const a = 1;', 'const b = 20;'));
    assert.equal(text, lines('const a = 10;', 'const b = 20;'));
    assert.equal(mergeLines(base, lines('const a = 10;', 'const b = 2;'), lines('const a = 1;', 'const b = 20;')).conflicts, 1);
  });

  it('keeps both sides\' new functions added at the end of a file', () => {
    const base = lines('export function f() {}');
    const text = clean(base, lines('export function f() {}', '', 'export function g() {}'), lines('export function f() {}', '', 'export function h() {}'));
    assert.equal(text, lines('export function f() {}', '', 'export function g() {}', '', 'export function h() {}'));
  });

  it('takes one copy of the same change made on both sides', () => {
    const base = lines('function f() {', '  return 1;', '}', 'function g() {}');
    const ours = lines('function f() {', '  return 2;', '}', 'function g() {}', 'function k() {}');
    const theirs = lines('function f() {', '  return 2;', '}', 'function g() {', '  return 3;', '}');
    assert.equal(clean(base, ours, theirs), lines('function f() {', '  return 2;', '}', 'function g() {', '  return 3;', '}', 'function k() {}'));
  });
});

describe('composeFile: imports merge by specifier', () => {
  it('unites names both sides add to one import', () => {
    const text = clean(lines("import { a } from 'x';", "import y from 'y';"), lines("import { a, b } from 'x';", "import y from 'y';"), lines("import { a, c } from 'x';", "import y from 'y';"));
    assert.equal(text, lines("import { a, b, c } from 'x';", "import y from 'y';"));
  });

  it('honours a removal on one side and an addition on the other, without duplicates', () => {
    const base = lines("import { a, b, c } from 'x';");
    const text = clean(base, lines("import { a, c, d } from 'x';"), lines("import { a, b, c, d, e } from 'x';"));
    assert.equal(text, lines("import { a, c, d, e } from 'x';"));
  });

  it('keeps both sides\' new imports at the same place', () => {
    const base = lines("import a from 'a';", '', 'a();');
    const text = clean(base, lines("import a from 'a';", "import b from 'b';", '', 'a();'), lines("import a from 'a';", "import c from 'c';", '', 'a();'));
    assert.equal(text, lines("import a from 'a';", "import b from 'b';", "import c from 'c';", '', 'a();'));
  });
  it('gives one import the names of both when both sides first import from one module', () => {
    const base = lines("import a from 'a';", '', 'a();');
    const ours = lines("import a from 'a';", "import { run, stop } from './reaction';", '', 'a();');
    const theirs = lines("import a from 'a';", "import { report, stop } from './reaction';", '', 'a();');
    assert.equal(clean(base, ours, theirs), lines("import a from 'a';", "import { report, run, stop } from './reaction';", '', 'a();'));
  });

  it('removes an import one side removed and the other side only made smaller', () => {
    const base = lines("import { a, b } from './x';", "import y from 'y';", '', 'y();');
    const text = clean(base, lines("import y from 'y';", '', 'y();'), lines("import { a } from './x';", "import y from 'y';", '', 'y();'));
    assert.equal(text, lines("import y from 'y';", '', 'y();'));
    // One that gained a name on the other side is still a conflict.
    const result = compose(base, lines("import y from 'y';", '', 'y();'), lines("import { a, b, c } from './x';", "import y from 'y';", '', 'y();'));
    assert.deepEqual(result.conflicts.map((c) => c.kind), ['remove/modify']);
  });

  it('keeps two added imports of one module apart when they differ in more than their names', () => {
    const base = lines("import a from 'a';");
    const result = compose(base, lines("import a from 'a';", "import x, { T } from './t';"), lines("import a from 'a';", "import { v } from './t';"));
    assert.deepEqual(result.conflicts.map((c) => c.kind), ['add/add']);
    // A type-only import is another declaration: both stand.
    const text = clean(base, lines("import a from 'a';", "import type { T } from './t';"), lines("import a from 'a';", "import { v } from './t';"));
    assert.equal(text, lines("import a from 'a';", "import type { T } from './t';", "import { v } from './t';"));
  });
});

describe('composeFile: inside declarations', () => {
  it('unites object literal properties', () => {
    const base = lines('const x = {', '  a: 1,', '  b: 2,', '};');
    const text = clean(base, lines('const x = {', '  a: 1,', '  b: 2,', '  c: 3,', '};'), lines('const x = {', '  a: 1,', '  b: 2,', '  d: 4,', '};'));
    assert.equal(text, lines('const x = {', '  a: 1,', '  b: 2,', '  c: 3,', '  d: 4,', '};'));
  });

  it('unites JSX attributes of one element', () => {
    const base = lines('const V = () => (', '  <div a="1">', '    <span />', '  </div>', ');');
    const ours = lines('const V = () => (', '  <div a="1" b="2">', '    <span />', '  </div>', ');');
    const theirs = lines('const V = () => (', '  <div a="1" c="3">', '    <span />', '  </div>', ');');
    assert.equal(clean(base, ours, theirs, 'v.tsx'), lines('const V = () => (', '  <div a="1" b="2" c="3">', '    <span />', '  </div>', ');'));
  });

  it('merges two edits of different statements of one function body on adjacent lines', () => {
    const base = lines('function f() {', '  a();', '  b();', '}');
    const text = clean(base, lines('function f() {', '  a(1);', '  b();', '}'), lines('function f() {', '  a();', '  b(2);', '}'));
    assert.equal(text, lines('function f() {', '  a(1);', '  b(2);', '}'));
  });

  it('keeps both sides\' new interface members and switch cases', () => {
    const base = lines('interface I {', '  a: string;', '}', 'function f(k: string) {', '  switch (k) {', "    case 'a':", '      return 1;', '  }', '}');
    const ours = lines('interface I {', '  a: string;', '  b: number;', '}', 'function f(k: string) {', '  switch (k) {', "    case 'a':", '      return 1;', "    case 'b':", '      return 2;', '  }', '}');
    const theirs = lines('interface I {', '  a: string;', '  c: boolean;', '}', 'function f(k: string) {', '  switch (k) {', "    case 'a':", '      return 1;', "    case 'c':", '      return 3;', '  }', '}');
    const text = clean(base, ours, theirs);
    assert.ok(text.includes('  b: number;\n  c: boolean;\n'), text);
    assert.ok(text.includes("    case 'b':\n      return 2;\n    case 'c':\n      return 3;\n"), text);
  });

  it('unites dependencies of package.json and keeps them sorted', () => {
    const base = lines('{', '  "dependencies": {', '    "a": "1",', '    "m": "1"', '  }', '}');
    const ours = lines('{', '  "dependencies": {', '    "a": "1",', '    "b": "2",', '    "m": "1"', '  }', '}');
    const theirs = lines('{', '  "dependencies": {', '    "a": "1",', '    "m": "1",', '    "z": "3"', '  }', '}');
    assert.equal(clean(base, ours, theirs, 'package.json'), lines('{', '  "dependencies": {', '    "a": "1",', '    "b": "2",', '    "m": "1",', '    "z": "3"', '  }', '}'));
  });
  it('keeps both sides\' additions at one point of an array or an argument list, ours first', () => {
    const base = lines('const options = [', "  { name: 'a' },", '];', 'configure(', '  a,', ');');
    const ours = lines('const options = [', "  { name: 'a' },", "  { name: 'b' },", '];', 'configure(', '  a,', '  b,', ');');
    const theirs = lines('const options = [', "  { name: 'a' },", "  { name: 'c' },", '];', 'configure(', '  a,', '  c,', ');');
    assert.equal(clean(base, ours, theirs), lines('const options = [', "  { name: 'a' },", "  { name: 'b' },", "  { name: 'c' },", '];', 'configure(', '  a,', '  b,', '  c,', ');'));
  });

  it('keeps both sides\' new parameters, ours first', () => {
    const base = lines('function f(a: number) {}');
    const text = clean(base, lines('function f(a: number, b = 1) {}'), lines('function f(a: number, c = 2) {}'));
    assert.equal(text, lines('function f(a: number, b = 1, c = 2) {}'));
  });

  it('merges a comment added above a declaration with an edit of the declaration\'s first line', () => {
    const base = lines('/* header */', 'export * from "./a";', 'export * from "./b";', 'export * from "./c";');
    const ours = lines('/* header */', 'export * from "./b";', 'export * from "./c";');
    const theirs = lines('/* header */', 'export * from "./a";', 'export { die } from "./b";', 'export * from "./c";');
    assert.equal(clean(base, ours, theirs), lines('/* header */', 'export { die } from "./b";', 'export * from "./c";'));
  });

  it('merges one side\'s removal of a comment above a member with the other side\'s edit of its first line (mobx 239d938)', () => {
    // The comment lies inside the member's name, and the other side added type parameters: the
    // member's parts no longer line up, yet only one side changed its syntax.
    const base = lines('interface Api {', '  get(): number;', '', '  // batching', '  batch(action: Lambda);', '}');
    const ours = lines('interface Api {', '  get(): number;', '  batch(action: Lambda);', '}');
    const theirs = lines('interface Api {', '  get(): number;', '', '  // batching', '  batch<T>(action: () => T): T;', '}');
    assert.equal(clean(base, ours, theirs), lines('interface Api {', '  get(): number;', '  batch<T>(action: () => T): T;', '}'));
  });

  it('merges a blank line removed above a declaration with the same edit of it made on both sides (mobx 759ac16)', () => {
    const base = lines('const a = 1;', '', '', 'export function run(f: () => void);');
    const ours = lines('const a = 1;', '', 'export function run(f: () => void): Lambda;');
    const theirs = lines('const a = 1;', '', '', 'export function run(f: () => void): Lambda;');
    assert.equal(clean(base, ours, theirs), ours);
    // Both sides changed the declaration differently: still a conflict.
    assert.ok(compose(base, ours, lines('const a = 1;', '', '', 'export function run(f: () => void): void;')).conflicts.length > 0);
  });

  it('merges an edit of an expression into the wrapper the other side put around it (vscode-languageserver-node 5ec58b7)', () => {
    const base = lines('function start() {', "  client.register(Created.type, { scheme: 'file' });", '  client.register(Deleted.type, {});', '}');
    const ours = lines('function start() {', "  client.register(Created.type, { scheme: 'file-test' });", '  client.register(Deleted.type, {});', '}');
    const theirs = lines('function start() {', "  void client.register(Created.type, { scheme: 'file' });", '  client.register(Deleted.type, {});', '}');
    const merged = lines('function start() {', "  void client.register(Created.type, { scheme: 'file-test' });", '  client.register(Deleted.type, {});', '}');
    assert.equal(clean(base, ours, theirs), merged);
    assert.equal(clean(base, theirs, ours), merged);
    // Deeper wrappers: `await` inside a call the other side did not have.
    const awaited = lines('function start() {', "  track(await client.register(Created.type, { scheme: 'file' }));", '  client.register(Deleted.type, {});', '}');
    assert.equal(clean(base, ours, awaited), lines('function start() {', "  track(await client.register(Created.type, { scheme: 'file-test' }));", '  client.register(Deleted.type, {});', '}'));
  });

  it('conflicts when the wrapper holds another copy like the wrapped node (apollo-client 0e2d94a)', () => {
    const base = lines("it('counts', () => {", '  render();', '  expect(count).toBe(6);', '});');
    const ours = lines("it('counts', () => {", '  render();', '  expect(count).toBe(5);', '});');
    const theirs = lines("it('counts', () => {", '  render();', '  if (IS_REACT_18) {', '    expect(count).toBe(4);', '  } else {', '    expect(count).toBe(6);', '  }', '});');
    assert.ok(compose(base, ours, theirs).conflicts.length > 0);
  });

  it('conflicts when one side extended an expression the other edited (`a + b` made `a + b + 0` and `b + a`)', () => {
    const base = lines('export function add(a: number, b: number) {', '  return a + b;', '}');
    assert.ok(compose(base, base.replace('a + b;', 'a + b + 0;'), base.replace('a + b;', 'b + a;')).conflicts.length > 0);
    // A guard put before it wraps it: the edit goes inside.
    const guarded = clean(base, base.replace('a + b;', 'Number.isFinite(a) && a + b;'), base.replace('a + b;', 'a + 2 * b;'));
    assert.equal(guarded, base.replace('a + b;', 'Number.isFinite(a) && a + 2 * b;'));
  });

  it('conflicts when both sides rewrote one call (acu demo: `(await readFile(p, e)).trimEnd()` against `readFile(p, { encoding })`)', () => {
    const base = lines('async function read(key: string) {', "  return readFile(path(key), 'utf8');", '}');
    const ours = base.replace("readFile(path(key), 'utf8')", "(await readFile(path(key), 'utf8')).trimEnd()");
    const theirs = base.replace("'utf8')", "{ encoding: 'utf8' })");
    const result = compose(base, ours, theirs);
    assert.ok(result.conflicts.length > 0, result.text);
    assert.doesNotMatch(result.text, /trimEnd\( *\{/);
    // Both wrapped it, each its own way: no wrapper goes inside the other.
    const caught = base.replace("readFile(path(key), 'utf8')", "readFile(path(key), 'utf8').catch(() => '')");
    assert.ok(compose(base, ours, caught).conflicts.length > 0);
  });

  it('conflicts when the wrapping side also edited what it wrapped', () => {
    const base = lines('function start() {', "  client.register(Created.type, { scheme: 'file' });", '  client.register(Deleted.type, {});', '}');
    const ours = lines('function start() {', "  client.register(Created.type, { scheme: 'file-test' });", '  client.register(Deleted.type, {});', '}');
    const theirs = lines('function start() {', "  void client.register(Created.type, { scheme: 'files' });", '  client.register(Deleted.type, {});', '}');
    assert.ok(compose(base, ours, theirs).conflicts.length > 0);
  });

  it('keeps both sides\' statements inserted at one point of a block when neither can see the other, ours first', () => {
    // vscode-languageserver-node 9a9220b: two capabilities set at one place of a method.
    const base = lines('function capabilities(edit: Edit) {', '  edit.documentChanges = true;', '  return edit;', '}');
    const ours = lines('function capabilities(edit: Edit) {', '  edit.documentChanges = true;', '  edit.metadataSupport = true;', '  return edit;', '}');
    const theirs = lines('function capabilities(edit: Edit) {', '  edit.documentChanges = true;', '  edit.snippetEditSupport = true;', '  return edit;', '}');
    assert.equal(clean(base, ours, theirs), lines('function capabilities(edit: Edit) {', '  edit.documentChanges = true;', '  edit.metadataSupport = true;', '  edit.snippetEditSupport = true;', '  return edit;', '}'));
    // redux-toolkit 2a4ad73: two helpers declared at one place, one of them calling out.
    const hb = lines('function create() {', '  const map = new Map();', '  return { map };', '}');
    const ho = lines('function create() {', '  const map = new Map();', '  const current = (api: Api) => compose(...map.values());', '  return { map };', '}');
    const ht = lines('function create() {', '  const map = new Map();', '  const isWith = isAllOf(isAction, withMiddleware);', '  return { map };', '}');
    assert.equal(clean(hb, ho, ht), lines('function create() {', '  const map = new Map();', '  const current = (api: Api) => compose(...map.values());', '  const isWith = isAllOf(isAction, withMiddleware);', '  return { map };', '}'));
  });

  it('conflicts on statements inserted at one point of a block when one run could see the other', () => {
    const base = lines('function run(state: State) {', '  const a = 1;', '  return state;', '}');
    const at = (...inserted: string[]): string => lines('function run(state: State) {', '  const a = 1;', ...inserted.map((s) => `  ${s}`), '  return state;', '}');
    const conflicts = (ours: string, theirs: string): boolean => compose(base, at(ours), at(theirs)).conflicts.some((c) => c.kind === 'insert/insert');
    assert.ok(conflicts('const b = 2;', 'const c = b + 1;'), 'theirs reads the name ours declares');
    assert.ok(conflicts('state.x = 1;', 'const copy = { ...state };'), 'theirs reads the object ours writes a property of');
    assert.ok(conflicts('state.x = 1;', 'save(a);'), 'the call may read the property');
    assert.ok(conflicts('log(a);', 'save(a);'), 'two calls: their order may matter');
    assert.ok(conflicts('state.x = 1;', 'if (a) state.y = 2;'), 'not a declaration, an assignment or an expression');
    assert.ok(conflicts('state.x = 1;', 'state.x = 2;'), 'one property written twice');
  });

  it('follows a declaration renamed on one side into the other side\'s edit', () => {
    const declaration = (name: string, args: string[]): string[] => [`  const ${name} = new WebpackConfig(`, ...args.map((arg) => `    options.${arg},`), `  ).${name};`];
    const body = (name: string, args: string[]): string => lines('function run() {', ...declaration(name, args), `  use(${name});`, '}');
    const args = ['project', 'target', 'environment', 'outputPath', 'baseHref'];
    const text = clean(body('config', args), body('configs', args), body('config', [...args, 'sourcemap']));
    assert.equal(text, body('configs', [...args, 'sourcemap']));
  });
});

describe('composeFile: conflicts', () => {
  it('reports one statement changed differently on both sides, with markers around it', () => {
    const base = lines('function f() {', '  return 1;', '}');
    const result = compose(base, lines('function f() {', '  return 2;', '}'), lines('function f() {', '  return 3;', '}'));
    assert.equal(result.conflicts.length, 1);
    assert.equal(result.conflicts[0]!.kind, 'modify/modify');
    assert.ok(result.conflicts[0]!.path.startsWith('function:f'), result.conflicts[0]!.path);
    assert.equal(result.text, lines('function f() {', '<<<<<<< ours', '  return 2;', '=======', '  return 3;', '>>>>>>> theirs', '}'));
  });

  it('reports remove against modify', () => {
    const base = lines('function f() {', '  return 1;', '}', 'function g() {}');
    const result = compose(base, lines('function g() {}'), lines('function f() {', '  return 3;', '}', 'function g() {}'));
    assert.deepEqual(result.conflicts.map((c) => [c.kind, c.path]), [['remove/modify', 'function:f']]);
    assert.ok(result.text.startsWith('<<<<<<< ours\n=======\nfunction f() {\n  return 3;\n}\n>>>>>>> theirs\n'), result.text);
  });

  it('treats two different insertions at one point of a statement list as a conflict', () => {
    const base = lines('function f() {', '  a();', '}');
    const result = compose(base, lines('function f() {', '  a();', '  b();', '}'), lines('function f() {', '  a();', '  c();', '}'));
    assert.deepEqual(result.conflicts.map((c) => c.kind), ['insert/insert']);
    assert.ok(result.text.includes('<<<<<<< ours\n  b();\n=======\n  c();\n>>>>>>> theirs\n'), result.text);
  });

  it('keeps the separators between the elements of a conflicting insertion', () => {
    const base = lines('function f() {', '  g({', '    a: 1,', '  });', '}');
    const ours = lines('function f() {', '  g({', '    a: 1,', '  });', '  h(1);', '  h(2);', '}');
    const theirs = lines('function f() {', '  g({', '    a: 1,', '  });', '  k();', '}');
    const result = compose(base, ours, theirs);
    assert.deepEqual(result.conflicts.map((c) => c.kind), ['insert/insert']);
    assert.ok(result.text.includes('<<<<<<< ours\n  h(1);\n  h(2);\n=======\n  k();\n>>>>>>> theirs\n'), result.text);
  });

  it('does not register one test twice when both sides add it at different places', () => {
    const test = (body: string): string[] => ["test('603 keeps reactions', () => {", `  ${body}`, '});'];
    const base = lines("test('a', () => {});", '', "test('b', () => {});");
    const ours = lines("test('a', () => {});", '', ...test('check(1);'), '', "test('b', () => {});");
    const theirs = lines("test('a', () => {});", '', "test('b', () => {});", '', ...test('check(2);'));
    const result = compose(base, ours, theirs, 'a.test.js');
    assert.equal(mergeLines(base, ours, theirs).conflicts, 0, 'git merges it cleanly, into a duplicate');
    assert.deepEqual(result.conflicts.map((c) => [c.kind, c.path]), [['add/add', 'call:test(603 keeps reactions)']]);
  });

  it('keeps the larger of two insertions when one contains the other', () => {
    const base = lines('function f() {', '  a();', '}');
    const text = clean(base, lines('function f() {', '  a();', '  b();', '}'), lines('function f() {', '  a();', '  b();', '  c();', '}'));
    assert.equal(text, lines('function f() {', '  a();', '  b();', '  c();', '}'));
  });

  it('honours the marker size', () => {
    const result = composeFile({ path: 'notes.txt', base: 'a\n', ours: 'b\n', theirs: 'c\n', markers: { size: 10, ours: 'ours', theirs: 'theirs' } });
    assert.equal(result.text, '<<<<<<<<<< ours\nb\n==========\nc\n>>>>>>>>>> theirs\n');
  });

  it('never calls a result that does not parse clean', () => {
    // Both sides parse; the line merge is clean but joins two halves into invalid syntax.
    const base = lines('function f() {', '  return 1;', '}');
    const ours = lines('function f() {', '  return 1;', '}', '}');
    const theirs = lines('{', 'function f() {', '  return 1;', '}');
    const result = compose(base, ours, theirs);
    if (result.conflicts.length === 0) assert.ok(parsesCleanly('a.ts', result.text), result.text);
  });
});

describe('composeFile: text files and invariants', () => {
  it('merges other text files by lines as git merge-file does', () => {
    const base = lines('a', 'b', 'c', 'd', 'e');
    const result = compose(base, lines('A', 'b', 'c', 'd', 'e'), lines('a', 'b', 'c', 'd', 'E'), 'notes.md');
    assert.deepEqual(result.conflicts, []);
    assert.equal(result.text, lines('A', 'b', 'c', 'd', 'E'));
    const conflict = compose(base, lines('x', 'b', 'c', 'd', 'e'), lines('y', 'b', 'c', 'd', 'e'), 'notes.md');
    assert.equal(conflict.text, lines('<<<<<<< ours', 'x', '=======', 'y', '>>>>>>> theirs', 'b', 'c', 'd', 'e'));
  });

  it('keeps both branches\' entries added at one point of a changelog, and only there', () => {
    const base = lines('# Changes', '', '## 1.0.0', '- first');
    const ours = lines('# Changes', '', '- a', '', '## 1.0.0', '- first');
    const theirs = lines('# Changes', '', '- b', '', '## 1.0.0', '- first');
    const merged = compose(base, ours, theirs, 'docs/CHANGELOG.md');
    assert.deepEqual(merged.conflicts, []);
    // The blank line both entries end with is common to both sides: it stays once, after them.
    assert.equal(merged.text, lines('# Changes', '', '- a', '- b', '', '## 1.0.0', '- first'));
    assert.equal(compose(base, ours, theirs, 'README.md').conflicts.length, 1, 'other text files conflict as in git');
    // An entry changed on both sides is still a conflict.
    const changed = compose(base, base.replace('- first', '- first!'), base.replace('- first', '- 1st'), 'CHANGELOG.md');
    assert.equal(changed.conflicts.length, 1);
  });

  it('never brings back a line one side removed by reading the other side\'s edit as a move', () => {
    // Theirs moved the blank line from before `x();` to after it; ours removed `x();`. One
    // alignment reads theirs as `x();` moving up, which would merge cleanly with `x();` kept.
    const base = lines('function f() {', '  a();', '', '  x();', '  b();', '}');
    const ours = lines('function f() {', '  a();', '', '  b();', '}');
    const theirs = lines('function f() {', '  a();', '  x();', '', '  b();', '}');
    assert.equal(mergeLines(base, ours, theirs).conflicts, 1);
    const result = compose(base, ours, theirs);
    if (result.conflicts.length === 0) assert.ok(!result.text.includes('x();'), result.text);
  });

  it('slides an insertion that ends with the brace it shares with the base down, as git does, off the other side\'s edit', () => {
    // Ours added a comment and a second `if` block after the first; read from the top, the block's
    // lines open with the first block's `}` and so touch theirs' edit of the line above it. git
    // merges it cleanly.
    const base = lines('  extract(action) {', '    if (a) {', '      return p[r]', '    }', '  },');
    const ours = lines('  extract(action) {', '    // a', '    if (a) {', '      return p[r]', '    }', '', '    if (b) {', '      return p', '    }', '  },');
    const theirs = lines('  extract(action) {', '    if (a) {', '      return p?.[r]', '    }', '  },');
    const merged = compose(base, ours, theirs, 'docs/persistence.mdx');
    assert.deepEqual(merged.conflicts, [], merged.text);
    assert.equal(merged.text, lines('  extract(action) {', '    // a', '    if (a) {', '      return p?.[r]', '    }', '', '    if (b) {', '      return p', '    }', '  },'));
    // The same insertion against an edit of the brace itself still conflicts.
    const braced = lines('  extract(action) {', '    if (a) {', '      return p[r]', '    } // a', '  },');
    assert.equal(compose(base, ours, braced, 'docs/persistence.mdx').conflicts.length, 1);
  });

  it('keeps untouched bytes: CRLF, no final newline, tabs', () => {
    const base = 'class A {\r\n\tm() {}\r\n}\r\nconst x = 1;';
    const text = clean(base, 'class A {\r\n\tm() {}\r\n\tn() {}\r\n}\r\nconst x = 1;', 'class A {\r\n\tm() {}\r\n\to() {}\r\n}\r\nconst x = 1;');
    assert.equal(text, 'class A {\r\n\tm() {}\r\n\tn() {}\r\n\to() {}\r\n}\r\nconst x = 1;');
  });

  it('gives the same bytes for the same inputs, on random edits (seed printed on failure)', () => {
    const seed = baseSeed(20261121);
    const random = rng(seed);
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const fn = (name: string, body: string): string => `export function ${name}() {\n  return ${body};\n}\n`;
    for (let round = 0; round < 50; round += 1) {
      const base = names.map((n) => fn(n, '0')).join('\n');
      const edit = (): string => names.filter(() => !random.chance(0.1)).map((n) => fn(n, random.chance(0.3) ? String(random.int(9)) : '0')).join('\n');
      const [ours, theirs] = [edit(), edit()];
      const first = compose(base, ours, theirs);
      const second = compose(base, ours, theirs);
      assert.equal(first.text, second.text, `seed ${seed} round ${round}`);
      if (first.conflicts.length === 0) assert.ok(parsesCleanly('a.ts', first.text), `seed ${seed} round ${round}: clean result parses`);
    }
  });
});

describe('composeSides: more than two sides', () => {
  it('folds three sides adding to one class and one import, in side order', () => {
    const base = lines("import { a } from './a';", 'class A {', '  m() {}', '}');
    const side = (name: string): string => lines(`import { a, ${name} } from './a';`, 'class A {', '  m() {}', `  ${name}() {}`, '}');
    const result = composeSides({ path: 'a.ts', base, sides: [side('b'), side('c'), side('d')] });
    assert.deepEqual(result.conflicts, []);
    assert.equal(result.sidesMerged, 3);
    assert.equal(result.text, lines("import { a, b, c, d } from './a';", 'class A {', '  m() {}', '  b() {}', '  c() {}', '  d() {}', '}'));
  });

  it('stops at the first conflict', () => {
    const base = lines('const x = 1;');
    const result = composeSides({ path: 'a.ts', base, sides: [lines('const x = 2;'), lines('const x = 3;'), lines('const x = 4;')] });
    assert.equal(result.sidesMerged, 2);
    assert.equal(result.conflicts.length, 1);
  });
});

describe('composeFile: edits of different declarations commute (seeded, seed printed on failure)', () => {
  const shapes = {
    functions: { item: (name: string, body: string): string => `export function ${name}() {\n  return ${body};\n}\n`, wrap: (items: string[]): string => items.join('\n') },
    methods: { item: (name: string, body: string): string => `  ${name}() {\n    return ${body};\n  }\n`, wrap: (items: string[]): string => `export class A {\n${items.join('\n')}}\n` },
    properties: { item: (name: string, body: string): string => `  ${name}: ${body},\n`, wrap: (items: string[]): string => `export const o = {\n${items.join('')}};\n` },
    // Statements of a body are an ordered list: no additions (two at one point would conflict).
    statements: { item: (name: string, body: string): string => `  ${name}(${body});\n`, wrap: (items: string[]): string => `export function f() {\n${items.join('')}}\n`, noAdditions: true },
    specifiers: { item: (name: string, body: string): string => (body === '0' ? name : `${name}`), wrap: (items: string[]): string => `import { ${items.join(', ')} } from './x';\n`, noModify: true },
  };

  for (const [shapeName, shape] of Object.entries(shapes)) {
    it(`applies both sides' modifications, removals and additions of disjoint ${shapeName}`, () => {
      const seed = baseSeed(4242);
      const random = rng(seed);
      for (let round = 0; round < 100; round += 1) {
        const names = Array.from({ length: 2 + random.int(8) }, (_, i) => `f${i}`);
        const owner = new Map(names.map((n) => [n, random.chance(0.5) ? 'ours' : 'theirs']));
        const choices = 'noModify' in shape ? [0, 2] : [0, 1, 2];
        const edit = new Map(names.map((n) => [n, random.pick(choices)])); // 0 keep, 1 modify, 2 remove
        const version = (side: string): string[] => names.flatMap((n) => {
          if (owner.get(n) !== side || edit.get(n) === 0) return [shape.item(n, '0')];
          return edit.get(n) === 1 ? [shape.item(n, `'${side}'`)] : [];
        });
        const added = (side: string): string[] => ('noAdditions' in shape ? [] : Array.from({ length: random.int(3) }, (_, i) => shape.item(`${side}${i}`, '1')));
        const [oursAdded, theirsAdded] = [added('ours'), added('theirs')];
        const base = shape.wrap(names.map((n) => shape.item(n, '0')));
        const ours = shape.wrap([...version('ours'), ...oursAdded]);
        const theirs = shape.wrap([...version('theirs'), ...theirsAdded]);
        const kept = names.flatMap((n) => (edit.get(n) === 2 ? [] : [shape.item(n, edit.get(n) === 1 ? `'${owner.get(n)!}'` : '0')]));
        // Blank lines are layout; a file whose every function is removed may keep one line break.
        // Ours' additions come first when the structured merge places them; where git's line merge
        // is clean it is kept, and git may put theirs first (an insertion aligned before the end).
        // Inside one line, a side that emptied the braces (`{  }`) changed their spacing too.
        const spacing = (text: string): string => ('noModify' in shape ? text.replace(/\s+/g, ' ').replace(/\{ \}/g, '{}') : text);
        const normal = (text: string): string => spacing(text.replace(/\n+/g, '\n').replace(/^\n|\n$/g, ''));
        const expected = [[...kept, ...oursAdded, ...theirsAdded], [...kept, ...theirsAdded, ...oursAdded]].map((parts) => normal(shape.wrap(parts)));
        const result = compose(base, ours, theirs);
        assert.deepEqual(result.conflicts, [], `seed ${seed} round ${round}`);
        const actual = normal(result.text);
        assert.ok(expected.includes(actual), `seed ${seed} round ${round}:\n${actual}\nexpected:\n${expected[0]!}\ninputs: ${JSON.stringify({ base, ours, theirs })}`);
        if (result.method === 'structured') assert.equal(actual, expected[0], `seed ${seed} round ${round}: ours first`);
      }
    });
  }
});
