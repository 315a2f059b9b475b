/**
 * Regression tests for defects found by an adversarial review of extraction, each with the
 * smallest input that showed it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalString } from '../../src/core/acu/canonical.js';
import { decodeAcu } from '../../src/core/acu/decode.js';
import type { DeclAcu } from '../../src/core/acu/model.js';
import { applyAcus, blobOid } from '../../src/extract/apply.js';
import { ParseCache } from '../../src/extract/cache.js';
import { extractChanges } from '../../src/extract/commit.js';
import type { FileChange } from '../../src/extract/commit.js';
import { diffDeclarations } from '../../src/extract/diff.js';
import { namesOf } from '../../src/extract/names.js';
import { lighten, segmentFile } from '../../src/extract/segment.js';
import { roundTrip, summary } from '../support/roundtrip.js';

describe('symbol paths of names holding separators or quotes', () => {
  it('round-trip computed names with a slash, a quote, a template, and index keys', () => {
    const acus = roundTrip('a.ts', 'class C {\n  [a / b]() { return 1; }\n}\n', 'class C {\n  [a / b]() { return 2; }\n}\n');
    assert.deepEqual(summary(acus), ["modify class:C/method:'[a / b]'"]);
    roundTrip('a.ts', "class C {\n  [/a'/.source]() { return 1; }\n  m() {}\n}\n", "class C {\n  [/a'/.source]() { return 2; }\n  m() { x(); }\n}\n");
    roundTrip('a.ts', 'class C {\n  [`${`/`}`]() { return 1; }\n}\n', 'class C {\n  [`${`/`}`]() { return 2; }\n}\n');
    roundTrip('a.ts', 'interface I {\n  [K / 2]: number;\n}\n', 'interface I {\n  [K / 2]: string;\n}\n');
    roundTrip('a.ts', 'class C {\n}\n', 'class C {\n  [a / b] = 1;\n}\n');
    roundTrip('a.ts', 'interface I { [k: `a/${string}`]: 1 }\n', 'interface I { [k: `a/${string}`]: 2 }\n');
  });
});

describe('one blob read as .ts and as .tsx', () => {
  it('a rename from .ts to .tsx with an edit applies with a fresh cache, as another node would', async () => {
    const before = 'const a = <any>x;\nexport const b = 1;\n';
    const after = 'const a = x as any;\nexport const b = 1;\n';
    const oldOid = blobOid(new TextEncoder().encode(before));
    const newOid = blobOid(new TextEncoder().encode(after));
    const change: FileChange = { status: 'R', oldPath: 'src/a.ts', newPath: 'src/a.tsx', oldMode: '100644', newMode: '100644', oldOid, newOid };
    const blobs = new Map([[oldOid, new TextEncoder().encode(before)], [newOid, new TextEncoder().encode(after)]]);
    const acus = extractChanges([change], blobs, new ParseCache());
    const parent = { entry: (path: string) => Promise.resolve(path === 'src/a.ts' ? { mode: '100644', oid: oldOid } : null), read: (oid: string) => Promise.resolve(blobs.get(oid)!) };
    const edits = await applyAcus(parent, acus, new ParseCache());
    assert.equal(edits.get('src/a.ts'), null);
    assert.equal(edits.get('src/a.tsx')?.oid, newOid);
  });
});

describe('names do not depend on what the cache holds', () => {
  it('a module shell defines and uses nothing, with or without its syntax tree', () => {
    const text = '// lic\n\nimport { x } from "m";\nfoo(x);\n';
    const file = segmentFile('a.ts', text);
    const names = namesOf(file.root, file, { parent: 'module', shell: { head: '// lic\n\n', tail: '' } });
    assert.deepEqual(names, { defines: [], uses: [] });
    assert.deepEqual(namesOf(lighten(file).root, lighten(file), { parent: 'module', shell: { head: '// lic\n\n', tail: '' } }), names);
  });

  it('top-level await reads the same in a whole module and in a fragment', () => {
    const text = 'import { x } from "m";\nconst a = await(x);\nclass C { static [await(x)] = 1; }\n';
    const file = segmentFile('a.ts', text);
    const light = lighten(file);
    file.root.layout!.children.forEach((child, i) => {
      const full = namesOf(child, file, { parent: 'module', shell: null });
      assert.deepEqual(namesOf(light.root.layout!.children[i]!, light, { parent: 'module', shell: null }), full, child.key);
      assert.ok(!full.uses.includes('await'));
    });
  });

  it('lower-case JSX tags are not names in scope', () => {
    const file = segmentFile('v.tsx', 'export const V = () => <div><Item/></div>;\n');
    assert.deepEqual(namesOf(file.root.layout!.children[0]!, file, { parent: 'module', shell: null }).uses, ['Item']);
  });
});

describe('whole-file edge cases', () => {
  it('a symlink whose target is not UTF-8 travels as binary and applies back exactly', async () => {
    const target = new Uint8Array([0x63, 0x61, 0x66, 0xe9]);
    const oid = blobOid(target);
    const change: FileChange = { status: 'A', oldPath: null, newPath: 'link', oldMode: null, newMode: '120000', oldOid: null, newOid: oid };
    const acus = extractChanges([change], new Map([[oid, target]]), new ParseCache());
    const first = acus[0]!;
    assert.equal(first.level === 'file' ? first.content : '', 'binary');
    const edits = await applyAcus({ entry: () => Promise.resolve(null), read: () => Promise.reject(new Error('no reads')) }, acus);
    assert.equal(edits.get('link')?.oid, oid);
    assert.equal(edits.get('link')?.mode, '120000');
  });
});

describe('format-only', () => {
  const flagsOf = (path: string, before: string, after: string): string[] => {
    const acus: DeclAcu[] = diffDeclarations(path, segmentFile(path, before), segmentFile(path, after));
    return acus.flatMap((a) => a.flags);
  };

  it('is never claimed where a regular expression, a template or JSX text could hold the change', () => {
    assert.deepEqual(flagsOf('a.ts', 'const r = /a b/;\n', 'const r = /a  b/;\n'), []);
    assert.deepEqual(flagsOf('a.ts', 'const r = /[ ]/;\n', 'const r = /[  ]/;\n'), []);
    assert.deepEqual(flagsOf('a.ts', 'const t = `${x} a b`;\n', 'const t = `${x} a  b`;\n'), []);
    assert.deepEqual(flagsOf('a.tsx', 'const p = <pre>a b</pre>;\n', 'const p = <pre>a  b</pre>;\n'), []);
    assert.deepEqual(flagsOf('a.ts', 'const s = f(a,b);\n', 'const s = f(a, b);\n'), ['format-only']);
  });

  it('judges a shell by its own head and tail', () => {
    assert.deepEqual(flagsOf('a.ts', 'class C { // note\n  a = 1;\n}\n', 'class C {\n  // note\n  a = 1;\n}\n'), []);
  });
});

describe('canonical encoding and the ACU decoder', () => {
  it('keeps an own __proto__ key as a field and refuses array holes', () => {
    assert.equal(canonicalString(JSON.parse('{"__proto__":{"x":1},"a":1}')), '{"__proto__":{"x":1},"a":1}');
    // eslint-disable-next-line no-sparse-arrays
    assert.throws(() => canonicalString([1, , 2]), /hole/);
  });

  it('refuses ACUs whose fields contradict their operation, and unsafe paths', () => {
    const base: DeclAcu = {
      v: 1, level: 'decl', file: 'src/a.ts', symbol: 'function:f', kind: 'function', op: 'modify',
      before: 'function f() {}\n', after: 'function f() { g(); }\n', beforeTail: null, afterTail: null,
      anchor: null, defines: ['f'], uses: ['g'], flags: [],
    };
    assert.ok(decodeAcu(base).ok);
    const bad: Partial<DeclAcu>[] = [
      { defines: ['g', 'f'] }, { uses: ['g', 'g'] }, { op: 'add' }, { op: 'remove' }, { anchor: 'function:e' },
      { kind: 'module' }, { beforeTail: '}\n' }, { op: 'add', before: null, flags: ['format-only'] },
      { file: '../x.ts' }, { file: '/etc/passwd' }, { file: '.git/config' }, { file: 'a//b.ts' },
    ];
    for (const change of bad) assert.ok(!decodeAcu({ ...base, ...change }).ok, JSON.stringify(change));
    const file = {
      v: 1, level: 'file', file: 'a.txt', fromFile: null, op: 'modify', content: 'text', modeBefore: '100644', modeAfter: '100644',
      beforeOid: 'a'.repeat(40), afterOid: 'b'.repeat(40), data: null, hunks: [{ beforeStart: 0, beforeLines: ['x\n'], afterLines: ['y\n'] }], reason: null,
    };
    assert.ok(decodeAcu(file).ok);
    for (const change of [
      { hunks: [{ beforeStart: 0, beforeLines: ['x\ny\n'], afterLines: [] }] },
      { hunks: [{ beforeStart: 0, beforeLines: [], afterLines: [], extra: 1 }] },
      { modeAfter: '100600' }, { afterOid: 'zz' }, { fromFile: 'b.txt' }, { op: 'move' }, { op: 'add' }, { data: 'x' },
    ]) {
      assert.ok(!decodeAcu({ ...file, ...change }).ok, JSON.stringify(change));
    }
  });
});
