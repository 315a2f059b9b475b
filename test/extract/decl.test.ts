import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { segmentFile } from '../../src/extract/segment.js';
import { assertPartition, roundTrip, summary } from '../support/roundtrip.js';

describe('segmentation', () => {
  it('partitions a file exactly, with a licence header as the module head', () => {
    const text = '/* licence */\n\n// doc\nimport a from "a";\nexport const x = 1; // same line\n\n\nfunction f() {}\n';
    assertPartition('a.ts', text);
    const seg = segmentFile('a.ts', text);
    assert.equal(text.slice(0, seg.root.layout!.headEnd), '/* licence */\n\n');
    const keys = seg.root.layout!.children.map((c) => c.key);
    assert.deepEqual(keys, ["import:'a'", 'variable:x', 'function:f']);
    assert.equal(text.slice(seg.root.layout!.children[1]!.start, seg.root.layout!.children[1]!.end), 'export const x = 1; // same line\n');
  });

  it('names every declaration kind', () => {
    const text = [
      "import type { T } from './t';",
      "import fs = require('fs');",
      "export * from './all';",
      'export { a, b };',
      'export default 42;',
      'function f(a: string): void;',
      'function f(a: unknown) {}',
      'class C { static x = 1; x = 2; #p = 3; constructor() {} get g() { return 1; } set g(v) {} [k: string]: unknown; static { init(); } m() {} }',
      'interface I { a: string; m(): void; (x: number): string; new (): I; [k: string]: unknown }',
      'type U = string | number;',
      'enum E { A, B = 2 }',
      'namespace N.M { export const z = 1; }',
      "declare module 'mod' { export function g(): void; }",
      'declare global { interface Window { acu: unknown } }',
      'let [p, { q }] = pair;',
      "describe('suite', () => {});",
      'if (x) { y(); }',
      '',
    ].join('\n');
    assertPartition('a.ts', text);
    const seg = segmentFile('a.ts', text);
    const keys: string[] = [];
    const walk = (children: typeof seg.root.layout, prefix: string): void => {
      for (const child of children?.children ?? []) {
        keys.push(prefix + child.key);
        walk(child.layout, `${prefix + child.key}/`);
      }
    };
    walk(seg.root.layout, '');
    for (const expected of [
      "import:type './t'",
      'import:fs=',
      "export:'./all'",
      'export:{}',
      'export:default',
      'function:f',
      'class:C/property:static x',
      'class:C/property:x',
      'class:C/property:#p',
      'class:C/constructor',
      'class:C/get:g',
      'class:C/set:g',
      'class:C/index:string',
      'class:C/static-block',
      'class:C/method:m',
      'interface:I/property:a',
      'interface:I/method:m',
      'interface:I/call',
      'interface:I/new',
      'interface:I/index:string',
      'type:U',
      'enum:E/member:A',
      'enum:E/member:B',
      'namespace:N.M/variable:z',
      "namespace:'mod'/function:g",
      'namespace:global/interface:Window/property:acu',
      'variable:p,q',
      "statement:describe('suite')",
    ]) {
      assert.ok(keys.includes(expected), `missing ${expected} in ${keys.join(' | ')}`);
    }
    assert.equal(keys.filter((k) => k === 'function:f').length, 1, 'overloads are one declaration');
    assert.ok(keys.some((k) => k.startsWith('statement:IfStatement@')));
  });

  it('numbers duplicate names in order', () => {
    const seg = segmentFile('a.ts', 'interface A { x: 1 }\ninterface A { y: 2 }\n');
    assert.deepEqual(seg.root.layout!.children.map((c) => c.key), ['interface:A', 'interface:A#2']);
  });

  it('marks a file with syntax errors as unparsed', () => {
    assert.equal(segmentFile('a.ts', 'const x = ;\n').parsed, false);
  });
});

describe('declaration ACUs', () => {
  it('splits edits to different members of one class', () => {
    const before = 'class A {\n  a() { return 1; }\n  b() { return 2; }\n}\n';
    const after = 'class A {\n  a() { return 10; }\n  b() { return 20; }\n  c() {}\n}\n';
    const acus = roundTrip('a.ts', before, after);
    assert.deepEqual(summary(acus), ['add class:A/method:c', 'modify class:A/method:a', 'modify class:A/method:b']);
    const added = acus.find((a) => a.op === 'add')!;
    assert.equal(added.anchor, 'class:A/method:b');
    assert.equal(added.after, '  c() {}\n');
  });

  it('changes a class header as a shell, leaving members alone', () => {
    const acus = roundTrip('a.ts', 'class A {\n  m() {}\n}\n', '@dec()\nexport class A extends B {\n  m() {}\n}\n');
    assert.deepEqual(summary(acus), ['modify class:A']);
    assert.equal(acus[0]!.before, 'class A {\n');
    assert.equal(acus[0]!.after, '@dec()\nexport class A extends B {\n');
    assert.equal(acus[0]!.beforeTail, '}\n');
    assert.deepEqual(acus[0]!.uses, ['B', 'dec']);
  });

  it('keeps comments with their declaration when it moves', () => {
    const before = 'const a = 1;\n/** f does f */\nfunction f() {}\n// g\nfunction g() {}\n';
    const after = 'const a = 1;\n// g\nfunction g() {}\n/** f does f */\nfunction f() {}\n';
    const acus = roundTrip('a.ts', before, after);
    assert.equal(acus.length, 1);
    assert.equal(acus[0]!.op, 'move');
    assert.equal(acus[0]!.symbol, 'function:g');
    assert.equal(acus[0]!.anchor, 'variable:a');
    assert.equal(acus[0]!.after, '// g\nfunction g() {}\n');
  });

  it('flags formatting-only changes', () => {
    const acus = roundTrip('a.ts', 'function f(a,b){return a+b}\n', 'function f(a, b) {\n  return a + b;\n}\n');
    assert.deepEqual(acus[0]!.flags, []);
    const only = roundTrip('a.ts', 'function f(a,b){return a+b}\n', 'function f(a, b) { return a + b }\n');
    assert.deepEqual(only[0]!.flags, ['format-only']);
  });

  it('records defined and used names', () => {
    const acus = roundTrip('a.ts', '', "import { a as b, c } from './m';\nexport function run(x: Opts): Result { return helper(x, b.y, c); }\n");
    const imp = acus.find((a) => a.kind === 'import')!;
    assert.deepEqual(imp.defines, ['b', 'c']);
    const fn = acus.find((a) => a.kind === 'function')!;
    assert.deepEqual(fn.defines, ['run']);
    assert.deepEqual(fn.uses, ['Opts', 'Result', 'b', 'c', 'helper']);
  });

  it('keeps byte-exactness for CRLF, BOM, unicode and JSX', () => {
    roundTrip('a.ts', '\uFEFFimport a from "a";\r\nconst x = 1;\r\n', '\uFEFFimport a from "a";\r\nconst y = 2;\r\nconst x = 1;\r\n');
    roundTrip('a.ts', 'const ñandú = "🦤";\nclass Ünïcode { ä() {} }\n', 'const ñandú = "🦤🦤";\nclass Ünïcode { ö() {} ä() {} }\n');
    roundTrip(
      'v.tsx',
      'export const View = () => <div className="a">{x}</div>;\nfunction B() { return <B/>; }\n',
      'export const View = () => <div className="b">{x}</div>;\nfunction B() { return <B a={1}/>; }\n',
    );
    roundTrip('s.ts', '#!/usr/bin/env node\nmain();\n', '#!/usr/bin/env node\nimport x from "x";\nmain();\n');
  });

  it('handles decorators, overloads, export default and comments between members', () => {
    const before = [
      '@Component({ selector: "a" })',
      'export default class Widget {',
      '  // leading comment',
      '  @Input() name = "";',
      '',
      '  /* between */',
      '  render(x: string): string;',
      '  render(x: number): string;',
      '  render(x: unknown) { return String(x); }',
      '}',
      '',
    ].join('\n');
    const after = before.replace('render(x: unknown) { return String(x); }', 'render(x: unknown) { return `${x}`; }').replace('name = ""', 'name = "w"');
    const acus = roundTrip('w.ts', before, after);
    assert.deepEqual(summary(acus), ['modify class:Widget/method:render', 'modify class:Widget/property:name']);
    const anonymous = roundTrip('d.ts', 'export default class {\n  a = 1;\n}\n', 'export default class {\n  a = 2;\n}\n');
    assert.deepEqual(summary(anonymous), ['modify class:default/property:a']);
  });

  it('handles enum commas, a missing final newline and an emptied file', () => {
    roundTrip('e.ts', 'enum E { A, B }', 'enum E { A, B, C }');
    roundTrip('e.ts', 'enum E {\n  A,\n  B\n}\n', 'enum E {\n  B,\n  A,\n  C\n}\n');
    roundTrip('e.ts', 'const a = 1;\nconst b = 2;\n', '');
    roundTrip('e.ts', '', '// only a comment\n');
  });

  it('handles a very large file', () => {
    const make = (n: number, edit: number): string =>
      Array.from({ length: n }, (_, i) => `export function f${i}(x: number): number {\n  return x + ${i === edit ? -1 : i};\n}\n`).join('');
    const acus = roundTrip('big.ts', make(5000, -1), make(5000, 4321));
    assert.deepEqual(summary(acus), ['modify function:f4321']);
  });
});
