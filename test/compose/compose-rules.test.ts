// composeFile on the merges issue #15 item 3 names: a removal against a change of types only,
// `import type` against a name added to the same import, JSX children as sequences.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clean, compose, lines } from '../support/compose-cases.js';

describe('composeFile: a removal against a change of types only', () => {
  // One side inlines a helper and removes it; the other side, converting the file to strict
  // TypeScript, annotates the helper's parameters and reformats it.
  const base = lines(
    'export function total(items) {',
    '  return items.reduce((sum, item) => sum + price(item), 0);',
    '}',
    '',
    'function price(item) {',
    '  return item.count * item.unitPrice;',
    '}',
    '',
    'export const currency = "EUR";',
  );
  const ours = lines(
    'export function total(items) {',
    '  return items.reduce((sum, item) => sum + item.count * item.unitPrice, 0);',
    '}',
    '',
    'export const currency = "EUR";',
  );
  const typed = lines(
    'export function total(items) {',
    '  return items.reduce((sum, item) => sum + price(item), 0);',
    '}',
    '',
    '// The price of one line of the order.',
    'function price(item: Item): number {',
    '  return item.count *',
    '    item.unitPrice;',
    '}',
    '',
    'export const currency: string = "EUR";',
  );

  it('takes the removal and says so in the notes', () => {
    const result = clean(base, ours, typed);
    assert.equal(
      result.text,
      lines('export function total(items) {', '  return items.reduce((sum, item) => sum + item.count * item.unitPrice, 0);', '}', '', 'export const currency: string = "EUR";'),
    );
    assert.deepEqual(result.notes, ['function:price: removed by ours; theirs changed only its types or layout, dropped with it']);
    // The same with the sides swapped.
    const swapped = clean(base, typed, ours);
    assert.ok(!swapped.text.includes('function price'), swapped.text);
    assert.deepEqual(swapped.notes, ['function:price: removed by theirs; ours changed only its types or layout, dropped with it']);
  });

  it('still conflicts when the change does something at run time', () => {
    const changed = typed.replace('item.unitPrice;', 'item.unitPrice * (1 - item.discount);');
    const result = compose(base, ours, changed);
    assert.deepEqual(result.conflicts.map((c) => `${c.kind} ${c.path}`), ['remove/modify function:price']);
  });

  it('still conflicts when the element is a type as a whole', () => {
    const b = lines('export interface Options {', '  retries: number;', '}', '', 'export function run(o) {', '  return o;', '}');
    const o = lines('export function run(o) {', '  return o;', '}');
    const t = lines('export interface Options {', '  retries: number;', '  timeoutMs: number;', '}', '', 'export function run(o: Options) {', '  return o;', '}');
    const result = compose(b, o, t);
    assert.deepEqual(result.conflicts.map((c) => `${c.kind} ${c.path}`), ['remove/modify interface:Options']);
  });
});

describe('composeFile: `import type` against a name added to the import', () => {
  // After redux-toolkit d12415f (src/createAsyncThunk.ts): one side makes type-only imports
  // `import type`, the other adds a name to one of them.
  const base = lines("import { Dispatch } from 'redux'", "import { FallbackIfUnknown, IsAny } from './tsHelpers'", '', 'export type Thunk<T> = IsAny<T, Dispatch, FallbackIfUnknown<T, Dispatch>>');
  const typeOnly = lines("import type { Dispatch } from 'redux'", "import type { FallbackIfUnknown, IsAny } from './tsHelpers'", '', 'export type Thunk<T> = IsAny<T, Dispatch, FallbackIfUnknown<T, Dispatch>>');
  const added = (use: string): string =>
    lines("import { Dispatch } from 'redux'", "import { FallbackIfUnknown, IsAny, IsUnknown } from './tsHelpers'", '', 'export type Thunk<T> = IsAny<T, Dispatch, FallbackIfUnknown<T, Dispatch>>', use);

  it('merges into one `import type` when the added name is used only as a type', () => {
    const use = 'export type Meta<M> = IsUnknown<M, void, M>';
    const expected = lines("import type { Dispatch } from 'redux'", "import type { FallbackIfUnknown, IsAny, IsUnknown } from './tsHelpers'", '', 'export type Thunk<T> = IsAny<T, Dispatch, FallbackIfUnknown<T, Dispatch>>', use);
    assert.equal(clean(base, typeOnly, added(use)).text, expected);
    assert.equal(clean(base, added(use), typeOnly).text, expected);
  });

  it('conflicts when the added name is used as a value', () => {
    const result = compose(base, typeOnly, added('export const check = IsUnknown(1)'));
    assert.deepEqual(result.conflicts.map((c) => `${c.kind} ${c.path}`), ["remove/modify import:'./tsHelpers'"]);
  });
});

describe('composeFile: JSX children and attributes as sequences', () => {
  const base = lines('export function Page() {', '  return (', '    <Layout>', '      <Header />', '      <Footer />', '    </Layout>', '  );', '}');

  it("keeps both sides' new children at one point, ours first", () => {
    const ours = base.replace('      <Header />\n', '      <Header />\n      <Nav items={items} />\n');
    const theirs = base.replace('      <Header />\n', '      <Header />\n      <Banner text="sale" />\n');
    const expected = base.replace('      <Header />\n', '      <Header />\n      <Nav items={items} />\n      <Banner text="sale" />\n');
    assert.equal(clean(base, ours, theirs, 'page.tsx').text, expected);
    // In a fragment too.
    const fragment = (text: string): string => text.replace('<Layout>', '<>').replace('</Layout>', '</>');
    assert.equal(clean(fragment(base), fragment(ours), fragment(theirs), 'page.tsx').text, fragment(expected));
  });

  it("merges children and attributes both sides added at different points", () => {
    const ours = base.replace('<Header />', '<Header title="Shop" />').replace('      <Footer />\n', '      <Footer />\n      <Legal />\n');
    const theirs = base.replace('      <Header />\n', '      <Header />\n      <Main />\n').replace('<Header />', '<Header onClick={go} />');
    const expected = lines('export function Page() {', '  return (', '    <Layout>', '      <Header title="Shop" onClick={go} />', '      <Main />', '      <Footer />', '      <Legal />', '    </Layout>', '  );', '}');
    assert.equal(clean(base, ours, theirs, 'page.tsx').text, expected);
  });

  it('still conflicts when both sides change one child differently', () => {
    const ours = base.replace('<Footer />', '<Footer year={2024} />');
    const theirs = base.replace('<Footer />', '<Footer year={2025} />');
    assert.equal(compose(base, ours, theirs, 'page.tsx').conflicts.length, 1);
  });
});

describe('composeFile: code one side moved into a new wrapper', () => {
  const base = lines('export function load(path) {', '  const text = read(path);', '  const rows = parse(text);', '  return rows;', '}');
  const wrapped = lines('export function load(path) {', '  return withRetry(() => {', '    const text = read(path);', '    const rows = parse(text);', '    return rows;', '  });', '}');
  const edited = base.replace('parse(text)', 'parse(text, { strict: true })');

  it('applies the other side\'s edit inside a callback the code moved into', () => {
    const expected = wrapped.replace('parse(text)', 'parse(text, { strict: true })');
    const result = clean(base, wrapped, edited);
    assert.equal(result.text, expected);
    assert.deepEqual(result.notes, ['function:load/variable:rows: moved by ours into a new element; the edit of theirs applied there']);
    assert.equal(clean(base, edited, wrapped).text, expected);
  });

  it('applies it inside a namespace a class moved into, re-indented', () => {
    const b = lines('class Cache {', '  get(key) {', '    return this.map.get(key);', '  }', '}', '', 'export const x = 1;');
    const o = lines('export namespace store {', '  class Cache {', '    get(key) {', '      return this.map.get(key);', '    }', '  }', '}', '', 'export const x = 1;');
    const t = b.replace('this.map.get(key);', 'this.map.get(key) ?? null;');
    assert.equal(clean(b, o, t).text, o.replace('this.map.get(key);', 'this.map.get(key) ?? null;'));
  });

  it('conflicts when the moved text is not the base text', () => {
    const changedOnMove = wrapped.replace('const text = read(path);', 'const text = read(path, "utf8");').replace('const rows = parse(text);', 'const rows = parse(text.trim());');
    assert.notDeepEqual(compose(base, changedOnMove, edited).conflicts, []);
  });

  it('conflicts when the code moved into one branch of a new `if`', () => {
    const b = lines('test("counts", () => {', '  render();', '  expect(count).toBe(6);', '});');
    const o = b.replace('toBe(6)', 'toBe(5)');
    const t = lines('test("counts", () => {', '  render();', '  if (IS_REACT_18) {', '    expect(count).toBe(4);', '  } else {', '    expect(count).toBe(6);', '  }', '});');
    assert.notDeepEqual(compose(b, o, t).conflicts, []);
  });
});

describe('composeFile: one union or intersection member replaced on both sides', () => {
  it('conflicts where both sides replaced the same operand differently (a real merge: two new types of `next`)', () => {
    const base = lines('export type Handler = (', '  api: Api & { next: Dispatch<AnyAction> },', ') => void');
    const ours = lines('export type Handler = (', '  api: Api & { next: (action: unknown) => unknown },', ') => void');
    const theirs = lines('type MwNext = Parameters<ReturnType<Middleware>>[0]', '', 'export type Handler = (', '  api: Api & { next: MwNext },', ') => void');
    const result = compose(base, ours, theirs);
    assert.equal(result.conflicts.length, 1, `expected a conflict, got:\n${result.text}`);
    assert.ok(!/unknown \} & \{ next: MwNext/.test(result.text), result.text);
  });

  it('conflicts on a union member replaced differently, and keeps both members both sides added', () => {
    const base = lines('type U = A | B | C');
    assert.equal(compose(base, lines('type U = A | X | C'), lines('const g = 1', 'type U = A | Y | C')).conflicts.length, 1);
    // The same replacement on both sides, or a replacement against an addition elsewhere, merges.
    assert.match(clean(base, lines('type U = A | X | C'), lines('const g = 1', 'type U = A | X | C')).text, /type U = A \| X \| C/);
    assert.match(clean(base, lines('type U = A | X | C'), lines('const g = 1', 'type U = A | B | C | D')).text, /type U = A \| X \| C \| D/);
    // Insertions at one point with nothing replaced are two new members, as before.
    assert.match(clean(base, lines('type U = A | B | X | C'), lines('const g = 1', 'type U = A | B | Y | C')).text, /type U = A \| B \| X \| Y \| C/);
  });
});
