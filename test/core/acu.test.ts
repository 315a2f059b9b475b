import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalString } from '../../src/core/acu/canonical.js';
import { decodeAcu } from '../../src/core/acu/decode.js';
import { acuId } from '../../src/core/acu/id.js';
import type { DeclAcu, FileAcu } from '../../src/core/acu/model.js';
import { leafSegment, parentSymbol, qualifiedSymbol } from '../../src/core/acu/model.js';
import { acuCanonicalString, fastAcuId } from '../../src/extract/commit.js';
import { baseSeed, rng } from '../support/random.js';

const sample: DeclAcu = {
  v: 1,
  level: 'decl',
  file: 'src/a.ts',
  symbol: 'class:Repo/method:open',
  kind: 'method',
  op: 'modify',
  before: '  open() {}\n',
  after: '  open() { return "é\\u0000"; }\n',
  beforeTail: null,
  afterTail: null,
  anchor: null,
  defines: ['open'],
  uses: [],
  flags: [],
};

describe('canonical encoding', () => {
  it('sorts keys, has no whitespace and is independent of insertion order', () => {
    assert.equal(canonicalString({ b: 1, a: [true, null, 'x'] }), '{"a":[true,null,"x"],"b":1}');
    assert.equal(canonicalString({ a: 1, b: 2 }), canonicalString({ b: 2, a: 1 }));
  });

  it('rejects values two sites could encode differently', () => {
    assert.throws(() => canonicalString({ x: 1.5 }), /safe integer/);
    assert.throws(() => canonicalString({ x: undefined }), /undefined/);
    assert.throws(() => canonicalString(new Date(0)), /plain objects/);
  });
});

describe('ACU ids', () => {
  it('is the SHA-256 of the canonical bytes, the same with node:crypto and @noble/hashes', () => {
    const id = acuId(sample);
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(fastAcuId(sample), id);
  });

  it('changes when any field changes', () => {
    assert.notEqual(acuId({ ...sample, anchor: 'class:Repo/method:close' }), acuId(sample));
  });
});

describe('symbol paths', () => {
  it('splits on slashes outside quotes', () => {
    assert.equal(parentSymbol("namespace:'a/b'/function:f"), "namespace:'a/b'");
    assert.equal(leafSegment("import:'./x/y'"), "import:'./x/y'");
    assert.equal(parentSymbol('class:A'), '');
    assert.equal(qualifiedSymbol('src/a.ts', 'class:A/method:m'), 'src/a.ts#class:A/method:m');
  });
});

describe('decodeAcu', () => {
  it('accepts what extraction produces', () => {
    const decoded = decodeAcu(JSON.parse(JSON.stringify(sample)));
    assert.ok(decoded.ok);
    assert.equal(acuId(decoded.acu), acuId(sample));
  });

  it('names every problem with its path and refuses unknown versions', () => {
    const bad = decodeAcu({ ...sample, op: 'explode', defines: 'x', extra: 1 });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.issues.map((i) => i.path).sort(), ['defines', 'extra', 'op']);
    const future = decodeAcu({ ...sample, v: 2 });
    assert.ok(!future.ok);
    assert.equal(future.issues[0]!.code, 'version');
    assert.ok(!decodeAcu('garbage').ok);
    assert.ok(!decodeAcu({ v: 1, level: 'file', hunks: [{ beforeStart: -1 }] }).ok);
  });
});

describe('the fast ACU encoding', () => {
  it('writes exactly the bytes of the general canonical encoding, on every ACU of a random history', () => {
    const seed = baseSeed(99);
    const r = rng(seed);
    const text = (): string => ['', 'a', '"q"', '\\u2028', 'é🦤', '\n\r\t', 'x'.repeat(r.int(50))][r.int(7)]!;
    const maybe = (): string | null => (r.chance(0.3) ? null : text());
    for (let i = 0; i < 2000; i += 1) {
      const decl: DeclAcu = {
        ...sample,
        before: maybe(), after: maybe(), beforeTail: maybe(), afterTail: maybe(), anchor: maybe(),
        symbol: text(), file: text(), defines: [text(), text()], uses: r.chance(0.5) ? [] : [text()],
      };
      assert.equal(acuCanonicalString(decl), canonicalString(decl), `seed ${seed}, case ${i}`);
      const file: FileAcu = {
        v: 1, level: 'file', file: text(), fromFile: maybe(), op: r.pick(['add', 'modify', 'remove', 'move'] as const),
        content: r.pick(['text', 'binary', 'symlink', 'gitlink'] as const), modeBefore: maybe(), modeAfter: maybe(),
        beforeOid: maybe(), afterOid: maybe(), data: maybe(),
        hunks: r.chance(0.5) ? null : [{ beforeStart: r.int(100), beforeLines: [text()], afterLines: [text(), text()] }],
        reason: r.pick([null, 'added', 'unparsed'] as const),
      };
      assert.equal(acuCanonicalString(file), canonicalString(file), `seed ${seed}, case ${i}`);
    }
  });
});
