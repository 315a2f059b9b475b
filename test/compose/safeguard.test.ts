// The safeguard of clean merges (a clean result never has a diagnostic that no input had), the
// three classes of broken merges it was built for, and insertions kept in sorted order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeFile } from '../../src/compose/file.js';
import type { ComposeFileResult } from '../../src/compose/file.js';
import { findingsOf, newFindings } from '../../src/compose/check.js';
import { parseVersion, parsesCleanly } from '../../src/compose/syntax.js';

function compose(base: string, ours: string, theirs: string, path = 'src/store.ts'): ComposeFileResult {
  return composeFile({ path, base, ours, theirs });
}

function clean(base: string, ours: string, theirs: string, path = 'src/store.ts'): string {
  const result = compose(base, ours, theirs, path);
  assert.deepEqual(result.conflicts, [], `expected a clean merge, got:\n${result.text}`);
  assert.ok(parsesCleanly(path, result.text), 'a clean result parses');
  return result.text;
}

/** The diagnostics of `text` that none of the inputs has, as `code name`. */
function introduced(path: string, text: string, ...inputs: string[]): string[] {
  const version = parseVersion(path, text);
  assert.ok(version !== null, 'the result parses');
  const checks = inputs.map((input) => () => {
    const v = parseVersion(path, input);
    assert.ok(v !== null, 'an input parses');
    return findingsOf(v);
  });
  return newFindings(findingsOf(version), checks).map((f) => `${f.code} ${f.name}`);
}

/** A clean result is sound, or the merge reports the diagnostic conflict. */
function soundOrGuarded(base: string, ours: string, theirs: string, path = 'src/store.ts'): ComposeFileResult {
  const result = compose(base, ours, theirs, path);
  if (result.conflicts.length === 0) assert.deepEqual(introduced(path, result.text, base, ours, theirs), [], `a clean result with a new diagnostic:\n${result.text}`);
  return result;
}

const lines = (...items: string[]): string => `${items.join('\n')}\n`;

describe('safeguard: the check itself', () => {
  it('finds a duplicate declaration and an unresolved name that no input had, and nothing in the inputs', () => {
    const input = lines('import { readFile } from "node:fs/promises";', 'export function load(path: string) {', '  return readFile(path, "utf8");', '}');
    const broken = lines('import { readFile } from "node:fs/promises";', 'export function load(path: string) {', '  return readFile(path, "utf8");', '}', 'export function load(path: string) {', '  return parse(path);', '}');
    assert.deepEqual(introduced('a.ts', input, input), []);
    assert.deepEqual(introduced('a.ts', broken, input).sort(), ['2304 parse', '2393 load', '2393 load']);
  });

  it('finds two base classes, a key twice, a shorthand with no value, and a call with too few arguments', () => {
    const input = lines('class B {}', 'class C {}', 'class A extends B {}', 'function f(a: number, b?: number) {', '  return a;', '}', 'export const o = { a: 1, n: f(1) };');
    const broken = lines('class B {}', 'class C {}', 'class A extends B, C {}', 'function f(a: number, b?: number) {', '  return a;', '}', 'export const o = { a: 1, a: 2, n: f(), missing };');
    assert.deepEqual(introduced('a.ts', broken, input), ['1174 C', '1117 a', '2554 f', '18004 missing']);
  });

  it('reads names in scope the way the compiler does: parameters, type parameters, enums, namespaces, arguments', () => {
    const text = lines(
      'namespace N { export const k = 1; }',
      'enum E { A = 1, B = A + 1 }',
      'type Box<T> = { [K in keyof T]: T[K] extends infer U ? U : never };',
      'export function g<T>(x: T, { y = N.k }: { y?: number } = {}): Box<T> | number {',
      '  label: for (const z of [x]) { if (z) break label; }',
      '  return arguments.length + y + E.B + (undefined ?? 0);',
      '}',
      'export { g as h };',
    );
    assert.deepEqual(introduced('a.ts', text, 'export {};\n'), []);
  });

  it('does not count unresolved globals and imports that an input had too', () => {
    const base = lines("describe('store', () => {", "  it('loads', () => {", '    expect(load()).toBe(1);', '  });', '});');
    const ours = lines("describe('store', () => {", "  it('loads', () => {", '    expect(load()).toBe(1);', '    console.log(process.env.X);', '  });', '});');
    const merged = lines("describe('store', () => {", "  it('loads', () => {", '    expect(load()).toBe(1);', '    console.log(process.env.X);', '  });', "  it('saves', () => {", '    expect(load()).toBe(2);', '  });', '});');
    assert.deepEqual(introduced('a.test.ts', merged, ours, base), []);
  });
});

describe('safeguard: a class has one extends slot', () => {
  const base = lines(
    "import { Store } from './store';",
    "import type { User } from './user';",
    '',
    'export class UserStore extends Store<User> {',
    '  find(id: string): User | undefined {',
    '    return this.items.get(id);',
    '  }',
    '}',
  );

  it('merges both sides\' edits of the base class\'s type arguments into one base class', () => {
    const ours = base.replace('extends Store<User> {', 'extends Store<User, string> {');
    const theirs = base.replace("import type { User } from './user';", "import type { Account, User } from './user';").replace('extends Store<User> {', 'extends Store<Account> {');
    const result = soundOrGuarded(base, ours, theirs);
    assert.equal(result.text.match(/extends/g)?.length, 1, result.text);
    assert.doesNotMatch(result.text, /Store<[^>]*>\s*,\s*Store/, 'not two base classes');
    if (result.conflicts.length === 0) assert.match(result.text, /extends Store<Account, string> \{/);
  });

  it('carries a rename of the base class made throughout the file into the other side\'s type arguments', () => {
    // Ours renamed Store to Repository everywhere (a sweep, sweep.ts); theirs edited the type arguments.
    const ours = base.replace("import { Store } from './store';", "import { Repository } from './store';").replace('extends Store<User> {', 'extends Repository<User> {');
    const theirs = base.replace('extends Store<User> {', 'extends Store<User, string> {');
    const result = soundOrGuarded(base, ours, theirs);
    assert.deepEqual(result.conflicts, [], result.text);
    assert.match(result.text, /^import \{ Repository \} from '\.\/store';$/m);
    assert.match(result.text, /extends Repository<User, string> \{/);
    assert.equal(result.text.match(/extends/g)?.length, 1, result.text);
  });

  it('reports a conflict when one side replaced the base class, still using the old one elsewhere, and the other edited its type arguments', () => {
    const ours = base.replace("import { Store } from './store';", "import { Repository, Store } from './store';").replace('extends Store<User> {', 'extends Repository<User> {');
    const theirs = base.replace('extends Store<User> {', 'extends Store<User, string> {');
    const result = soundOrGuarded(base, ours, theirs);
    assert.notDeepEqual(result.conflicts, [], `expected a conflict, got:\n${result.text}`);
    assert.doesNotMatch(result.text, /extends Repository<User>, Store/);
  });
});

describe('safeguard: a rename to a name the other side introduced', () => {
  it('reports a conflict instead of two declarations of one name with the old name still used', () => {
    const base = lines(
      "import { readFileSync } from 'node:fs';",
      '',
      'export function parse(text: string): Config {',
      "  const entries = text.split('\\n').filter((line) => line.trim() !== '');",
      "  return { entries: entries.map((line) => line.split('=')) };",
      '}',
      '',
      'export function load(path: string): Config {',
      "  return parse(readFileSync(path, 'utf8'));",
      '}',
    );
    const ours = base.replace('export function parse(', 'export function parseConfig(').replace('return parse(readFileSync', 'return parseConfig(readFileSync');
    const theirs = lines(
      base.trimEnd(),
      '',
      'export function parseConfig(json: string): Config {',
      '  return JSON.parse(json) as Config;',
      '}',
      '',
      'export function reload(path: string): Config {',
      "  return parse(readFileSync(path, 'utf8'));",
      '}',
    );
    const result = soundOrGuarded(base, ours, theirs);
    assert.notDeepEqual(result.conflicts, [], `expected a conflict, got:\n${result.text}`);
    assert.ok(result.conflicts.some((c) => c.kind === 'diagnostic' || c.kind === 'add/add'), JSON.stringify(result.conflicts.map((c) => c.kind)));
  });
});

describe('safeguard: new code uses a name the other side renamed or removed', () => {
  const base = lines(
    "import { db } from './db';",
    '',
    'export async function fetchUser(id: string): Promise<User> {',
    "  const row = await db.query('select * from users where id = $1', [id]);",
    '  return { id: row.id, name: row.name, email: row.email };',
    '}',
    '',
    'export async function greet(id: string): Promise<string> {',
    '  const user = await fetchUser(id);',
    '  return `hello ${user.name}`;',
    '}',
  );

  it('carries the rename into the other side\'s new code', () => {
    const ours = base.replace('function fetchUser(', 'function loadUser(').replace('await fetchUser(id)', 'await loadUser(id)');
    const theirs = lines(base.trimEnd(), '', 'export async function mail(id: string): Promise<string> {', '  const user = await fetchUser(id);', '  return user.email;', '}');
    const text = clean(base, ours, theirs);
    assert.doesNotMatch(text, /fetchUser/);
    assert.match(text, /export async function mail\(id: string\): Promise<string> \{\n {2}const user = await loadUser\(id\);/);
    assert.deepEqual(introduced('src/store.ts', text, base, ours, theirs), []);
  });

  it('carries the rename of a local variable into the other side\'s new statement', () => {
    const fbase = lines('export function total(items: Item[]): number {', '  const prices = items.map((item) => item.price * item.count);', '  let sum = 0;', '  for (const price of prices) sum += price;', '  return sum;', '}');
    const ours = fbase.replaceAll('prices', 'amounts').replace('of amounts) sum += price;', 'of amounts) sum += price;');
    const theirs = fbase.replace('  return sum;', '  if (prices.length === 0) return NaN;\n  return sum;');
    const text = clean(fbase, ours, theirs);
    assert.match(text, /if \(amounts\.length === 0\) return NaN;/);
    assert.doesNotMatch(text, /prices/);
  });

  it('does not read a changed import as a rename (a real merge: one side replaced several imported names by one)', () => {
    const ibase = lines("import { ExtractC, ExtractS, load } from './internal';", '', 'export function one(): ExtractC<Model> {', '  return load();', '}');
    const ours = lines("import { ExtractC, ExtractS, load } from './internal';", '', 'export function one(): ExtractC<Model> {', '  return load();', '}', '', 'export function two(): ExtractS<Model> {', '  return load();', '}');
    const theirs = lines("import { typecheckInternal, load } from './internal';", '', 'export function one() {', '  return typecheckInternal(load());', '}');
    const result = soundOrGuarded(ibase, ours, theirs);
    assert.doesNotMatch(result.text, /typecheckInternal<Model>/);
    assert.deepEqual(result.conflicts.map((c) => c.kind), ['diagnostic']);
  });

  it('reports a conflict when the other side removed the name', () => {
    const ours = base.replace(/export async function fetchUser[\s\S]*?\n\}\n\n/, '').replace('const user = await fetchUser(id);', "const user = { name: id };");
    const theirs = lines(base.trimEnd(), '', 'export async function mail(id: string): Promise<string> {', '  const user = await fetchUser(id);', '  return user.email;', '}');
    const result = soundOrGuarded(base, ours, theirs);
    assert.deepEqual(
      result.conflicts.map((c) => c.kind),
      ['diagnostic'],
      result.text,
    );
    assert.match(result.conflicts[0]!.detail ?? '', /TS2304 'fetchUser'/);
  });

  it('reports a conflict when the other side removed the import of a name that is also a test runner global (mobx 79f33ee: `fail`)', () => {
    // `fail` is jasmine's global too; here the file imports its own, and the merge dropped it.
    const b = lines("import { fail, invariant } from './utils';", 'export function get(key: string) {', '  invariant(key !== "");', '  return fail(`no ${key}`);', '}');
    const o = lines("import { fail, invariant } from './utils';", 'export function get(key: string) {', '  invariant(key !== "");', '  if (!key) fail(`empty`);', '  return fail(`no ${key}`);', '}');
    const t = lines("import { invariant } from './utils';", 'export function get(key: string) {', '  invariant(key !== "");', '  return console.warn(`no ${key}`);', '}');
    const result = soundOrGuarded(b, o, t);
    assert.deepEqual(result.conflicts.map((c) => c.kind), ['diagnostic'], result.text);
    assert.match(result.conflicts[0]!.detail ?? '', /TS2304 'fail'/);
    // In a test file that never imports it, `fail` is the runner's global and resolves.
    const spec = lines("it('fails', () => {", '  fail(`never`);', '});');
    assert.deepEqual(introduced('a.test.ts', spec, lines("it('fails', () => {", '});')), []);
  });
});

describe('safeguard: one import rewritten two ways', () => {
  it('reports a conflict instead of binding the name twice (a real merge: `import x = require()` made a named import and a default import)', () => {
    const body = ['', 'export function merged(a: object, b: object): object {', '  return assign({}, a, b);', '}'];
    const base = lines("import assign = require('lodash/assign');", "import isEqual = require('lodash/isEqual');", ...body);
    const ours = lines("import { assign } from './util/assign';", "import isEqual = require('lodash/isEqual');", ...body);
    const theirs = lines("import assign from 'lodash/assign';", "import isEqual from 'lodash/isEqual';", ...body);
    const result = soundOrGuarded(base, ours, theirs);
    assert.equal(result.conflicts.length, 1, `expected a conflict, got:\n${result.text}`);
  });
});

describe('sorted insertions: both sides\' insertions at one point keep the order around them', () => {
  it('sorted imports, by module specifier', () => {
    const base = lines("import { a } from './a';", "import { d } from './d';", '', 'export function sum(): number {', '  return a + d;', '}');
    const ours = lines("import { a } from './a';", "import { c } from './c';", "import { d } from './d';", '', 'export function sum(): number {', '  return a + c + d;', '}');
    const theirs = lines("import { a } from './a';", "import { b } from './b';", "import { d } from './d';", '', 'export function sum(): number {', '  return a + d;', '}', 'export const y = b;');
    assert.equal(
      clean(base, ours, theirs),
      lines("import { a } from './a';", "import { b } from './b';", "import { c } from './c';", "import { d } from './d';", '', 'export function sum(): number {', '  return a + c + d;', '}', 'export const y = b;'),
    );
  });

  it('sorted named import specifiers', () => {
    const base = lines("import { alpha, omega } from './letters';", 'use(alpha, omega);');
    // Ours also appends a name out of order: the list is no longer sorted as a whole, but it still
    // is around the point where both sides inserted.
    const ours = lines("import { alpha, gamma, omega, aleph } from './letters';", 'use(alpha, gamma, omega, aleph);');
    const theirs = lines("import { alpha, beta, omega } from './letters';", 'use(alpha, omega);', 'use(beta);');
    assert.equal(clean(base, ours, theirs), lines("import { alpha, beta, gamma, omega, aleph } from './letters';", 'use(alpha, gamma, omega, aleph);', 'use(beta);'));
  });

  it('sorted object keys', () => {
    const base = lines('export const limits = {', '  ...defaults,', '  a: 1,', '  z: 26,', '};');
    const ours = lines('export const limits = {', '  ...defaults,', '  a: 1,', '  m: 13,', '  z: 26,', '};');
    const theirs = lines('export const limits = {', '  ...defaults,', '  a: 1,', '  c: 3,', '  z: 26,', '};');
    assert.equal(clean(base, ours, theirs), lines('export const limits = {', '  ...defaults,', '  a: 1,', '  c: 3,', '  m: 13,', '  z: 26,', '};'));
  });

  it('sorted union members', () => {
    const base = lines("export type Level = 'debug' | 'warn';");
    const ours = lines("export type Level = 'debug' | 'trace' | 'warn' | 'all';");
    const theirs = lines("export type Level = 'debug' | 'info' | 'warn';");
    assert.equal(clean(base, ours, theirs), lines("export type Level = 'debug' | 'info' | 'trace' | 'warn' | 'all';"));
  });

  it('sorted switch cases, when no inserted case falls through', () => {
    const body = (...cases: string[]): string =>
      lines('export function code(kind: string): number {', '  switch (kind) {', ...cases.map((c) => `    case '${c}':\n      return ${c.length};`), '    default:', '      return 0;', '  }', '}');
    assert.equal(clean(body('add', 'remove'), body('add', 'move', 'remove', 'all'), body('add', 'copy', 'remove')), body('add', 'copy', 'move', 'remove', 'all'));
  });

  it('keeps ours first where the elements around the point are not sorted', () => {
    const base = lines('export const limits = {', '  z: 26,', '  a: 1,', '};');
    const ours = lines('export const limits = {', '  z: 26,', '  m: 13,', '  a: 1,', '};');
    const theirs = lines('export const limits = {', '  z: 26,', '  c: 3,', '  a: 1,', '};');
    assert.equal(clean(base, ours, theirs), lines('export const limits = {', '  z: 26,', '  m: 13,', '  c: 3,', '  a: 1,', '};'));
  });
});
