/**
 * Names computed from a file's syntax tree and from a declaration's text parsed alone (the path a
 * light, cached tree takes) must agree, for every declaration and container shell.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { DeclKind } from '../../src/core/acu/model.js';
import { namesOf, namesOfMany } from '../../src/extract/names.js';
import type { NamesRequest } from '../../src/extract/names.js';
import type { Segment, SegmentedFile } from '../../src/extract/segment.js';
import { lighten, segmentFile } from '../../src/extract/segment.js';

const samples: [string, string][] = [
  ['a.ts', [
    "import React, { useState as state, type FC } from 'react';",
    "import * as path from 'node:path';",
    "export { a as b, c } from './m';",
    'export { local as exported, other };',
    '/** doc */',
    '@decorate(config)',
    'export default class Repo<T extends Base> extends Store<T> implements Api, Other {',
    '  static #count = 0; // private',
    '  [key: string]: unknown;',
    '  constructor(private readonly io: Io, public name = defaultName) { super(io); }',
    '  get size(): number { return this.items.length + offset; }',
    '  async open<K>(id: K, { deep, cache = newCache() }: Options = {}): Promise<Result<K>> {',
    '    const found = await lookup(id, deep); label: for (const x of found) { if (x) break label; }',
    '    return wrap(found, cache);',
    '  }',
    '}',
    'export interface Shape extends HasArea { area(): number; readonly name: Name; [k: string]: Value }',
    'export enum Color { Red = base, Green = Red + 1 }',
    'export namespace Geometry.Plane { export const pi = compute(tau); }',
    "declare module 'mod' { export function g(x: Input): Output; }",
    'function overload(x: A): B;',
    'function overload(x: unknown) { return convert(x); }',
    'const { p, q: [r, ...rest] } = source(), z = p + r;',
    "describe('suite', () => { it('works', () => expect(value).toBe(1)); });",
    'type Mapped<T> = { [K in keyof T]: Wrapper<T[K]> };',
    'if (flag) { run(flag); }',
    '',
  ].join('\n')],
  ['v.tsx', 'export const View = ({ name }: Props) => <Box title={name} onClick={() => handle(name)}><Child/></Box>;\n'],
];

function visit(file: SegmentedFile, light: SegmentedFile, segment: Segment, lightSegment: Segment, parent: DeclKind): void {
  const children = segment.layout?.children ?? [];
  const lightChildren = lightSegment.layout?.children ?? [];
  children.forEach((child, i) => {
    const lightChild = lightChildren[i]!;
    const full = namesOf(child, file, { parent, shell: null });
    const fragment = namesOf(lightChild, light, { parent, shell: null });
    assert.deepEqual(fragment, full, `${file.path}#${child.key}`);
    if (child.layout !== null) {
      const shell = { head: file.text.slice(child.start, child.layout.headEnd), tail: file.text.slice(child.layout.tailStart, child.end) };
      assert.deepEqual(namesOf(lightChild, light, { parent, shell }), namesOf(child, file, { parent, shell }), `${file.path}#${child.key} shell`);
      visit(file, light, child, lightChild, child.kind);
    }
  });
}

it('names from a light tree equal names from the syntax tree', () => {
  for (const [path, text] of samples) {
    const file = segmentFile(path, text);
    assert.ok(file.parsed, `${path} parses`);
    const light = lighten(file);
    assert.equal(light.sourceFile, null);
    visit(file, light, file.root, light.root, 'module');
  }
});

it('names a declaration by what it defines and uses, not by locals or property names', () => {
  const file = segmentFile('a.ts', 'function f(a: In): Out { const local = a.field; return helper(local, other.prop); }\n');
  const names = namesOf(file.root.layout!.children[0]!, file, { parent: 'module', shell: null });
  assert.deepEqual(names, { defines: ['f'], uses: ['In', 'Out', 'helper', 'other'] });
});

it('names from one batched parse of a whole light file equal names from the syntax tree', () => {
  let compared = 0;
  for (const [path, text] of samples) {
    const file = segmentFile(path, text);
    const light = lighten(file);
    const full: NamesRequest[] = [];
    const batch: NamesRequest[] = [];
    const collect = (segment: Segment, lightSegment: Segment, parent: DeclKind): void => {
      (segment.layout?.children ?? []).forEach((child, i) => {
        const lightChild = lightSegment.layout!.children[i]!;
        full.push({ segment: child, file, context: { parent, shell: null } });
        batch.push({ segment: lightChild, file: light, context: { parent, shell: null } });
        if (child.layout !== null) {
          const shell = { head: file.text.slice(child.start, child.layout.headEnd), tail: file.text.slice(child.layout.tailStart, child.end) };
          full.push({ segment: child, file, context: { parent, shell } });
          batch.push({ segment: lightChild, file: light, context: { parent, shell } });
          collect(child, lightChild, child.kind);
        }
      });
    };
    collect(file.root, light.root, 'module');
    assert.deepEqual(namesOfMany(batch), namesOfMany(full));
    compared += batch.length;
  }
  assert.ok(compared > 20, 'the samples exercise many declarations');
});
