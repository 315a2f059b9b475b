/**
 * The shortcuts extraction takes for speed give the same ACUs as the plain way: texts kept from
 * one commit for the next, ACUs of repeated changes from the change memo, hunk lines packed between
 * threads, the hunk encoding written directly, whitespace compared in place, and routing plans
 * weighed by bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalString } from '../../src/core/acu/canonical.js';
import type { FileAcu, Hunk, IdentifiedAcu } from '../../src/core/acu/model.js';
import { blobOid } from '../../src/extract/apply.js';
import { ChangeMemo, ParseCache, changeKey } from '../../src/extract/cache.js';
import { acuCanonicalString, blobsMissing, blobsNeeded, extractChanges, extractEach, extractIdentified, identifyAll, memoized } from '../../src/extract/commit.js';
import type { FileChange } from '../../src/extract/commit.js';
import { sameOutsideWhitespace } from '../../src/extract/diff.js';
import { planRouting } from '../../src/extract/pool.js';
import type { TreeChange } from '../../src/git/index.js';
import { isSourcePath } from '../../src/extract/segment.js';
import { packAcu, unpackAcu } from '../../src/extract/transfer.js';
import { baseSeed, rng } from '../support/random.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A modification of `path` from `before` to `after`, with the blobs it needs. */
function modification(path: string, before: string, after: string): { change: FileChange; blobs: Map<string, Uint8Array> } {
  const oldOid = blobOid(encode(before));
  const newOid = blobOid(encode(after));
  const change: FileChange = { status: 'M', oldPath: path, newPath: path, oldMode: '100644', newMode: '100644', oldOid, newOid };
  return { change, blobs: new Map([[oldOid, encode(before)], [newOid, encode(after)]]) };
}

const lockText = (n: number, bump: number): string => Array.from({ length: n }, (_, i) => `  "dep-${i}": "^${i % 7 === 0 ? i + bump : i}.0.0",\n`).join('');

describe('texts kept for the next commit', () => {
  it('a change whose old side was not read gives the ACUs of one that was read', () => {
    const v1 = lockText(400, 0);
    const v2 = lockText(400, 1);
    const v3 = lockText(401, 2);
    for (const path of ['package-lock.json', 'src/a.ts']) {
      const texts = path.endsWith('.ts') ? ['export const a = 1;\nexport function f() {}\n', 'export const a = 2;\nexport function f() {}\n', 'export const a = 2;\nexport function f() { g(); }\n'] : [v1, v2, v3];
      const first = modification(path, texts[0]!, texts[1]!);
      const second = modification(path, texts[1]!, texts[2]!);
      const cache = new ParseCache();
      extractChanges([first.change], first.blobs, cache);
      // The second change's old side is the first one's new side: held, so not read.
      assert.deepEqual(blobsNeeded([second.change], (oid) => cache.hasText(oid)), [second.change.newOid]);
      const newOnly = new Map([[second.change.newOid!, second.blobs.get(second.change.newOid!)!]]);
      assert.deepEqual(blobsMissing([second.change], newOnly, cache), []);
      const shortcut = identifyAll(extractChanges([second.change], newOnly, cache));
      const plain = identifyAll(extractChanges([second.change], second.blobs, new ParseCache()));
      assert.deepEqual(shortcut, plain, path);
    }
  });

  it('a text the cache let go is reported missing, and binary content is never kept', () => {
    const first = modification('notes.txt', 'a\n'.repeat(50), 'b\n'.repeat(50));
    const second = modification('notes.txt', 'b\n'.repeat(50), 'c\n'.repeat(50));
    const cache = new ParseCache(1000, 150);
    extractChanges([first.change], first.blobs, cache);
    // The new side (100 characters) is held; keeping the next text evicts it.
    assert.equal(cache.hasText(second.change.oldOid!), true);
    cache.keepText('f'.repeat(40), 'x'.repeat(100), 100);
    assert.equal(cache.hasText(second.change.oldOid!), false);
    const newOnly = new Map([[second.change.newOid!, second.blobs.get(second.change.newOid!)!]]);
    assert.deepEqual(blobsMissing([second.change], newOnly, cache), [second.change.oldOid]);
    const binary = modification('logo.png', 'x\u0000y', 'x\u0000z');
    extractChanges([binary.change], binary.blobs, cache);
    assert.equal(cache.hasText(binary.change.newOid!), false);
  });

  it('extractEach gives extractChanges per change', () => {
    const a = modification('a.txt', 'one\ntwo\n', 'one\n2\n');
    const b = modification('src/b.ts', 'export const x = 1;\n', 'export const x = 2;\n');
    const blobs = new Map([...a.blobs, ...b.blobs]);
    const each = extractEach([a.change, b.change], blobs, new ParseCache());
    assert.equal(each.length, 2);
    assert.deepEqual(each.flat(), extractChanges([a.change, b.change], blobs, new ParseCache()));
  });
});

describe('ACUs of repeated changes from the change memo', () => {
  it('a change seen before gives the ACUs of a fresh extraction, and needs no blob read', () => {
    const lock = modification('package-lock.json', lockText(300, 0), lockText(300, 1));
    const source = modification('src/a.ts', 'export const a = 1;\nexport function f() {}\n', 'export const a = 2;\nexport function f() { g(); }\n');
    const changes = [lock.change, source.change];
    const blobs = new Map([...lock.blobs, ...source.blobs]);
    const cache = new ParseCache();
    const first = extractIdentified(changes, blobs, cache);
    assert.equal(cache.stats.changeHits, 0);
    // A merge commit repeats the same changes: nothing to read, and the same ACUs.
    assert.deepEqual(blobsNeeded(changes, () => false, memoized(cache)), []);
    assert.deepEqual(blobsMissing(changes, new Map(), cache), []);
    const again = extractIdentified(changes, new Map(), cache);
    assert.equal(cache.stats.changeHits, 2);
    const fresh = extractIdentified(changes, blobs, new ParseCache());
    assert.deepEqual(again, fresh);
    assert.deepEqual(first, fresh);
  });

  it('counts a text a change was cut from even when the text cache let it go during the call', () => {
    const a0 = `${'a'.repeat(600)}\n`;
    const a1 = `${'b'.repeat(600)}\n`;
    const cache = new ParseCache(1000, 1000);
    // The old side is held as text (as the new side of an earlier change would be), not memoized.
    cache.keepText(blobOid(encode(a0)), a0, a0.length);
    const second = modification('a.txt', a0, a1);
    const bText = `${'c'.repeat(900)}\n`;
    const added: FileChange = { status: 'A', oldPath: null, newPath: 'b.txt', oldMode: null, newMode: '100644', oldOid: null, newOid: blobOid(encode(bText)) };
    // a0 comes from the text cache (not read), and keeping a1 and b.txt pushes it out.
    const blobs = new Map([[second.change.newOid!, encode(a1)], [added.newOid!, encode(bText)]]);
    const result = extractIdentified([second.change, added], blobs, cache);
    assert.equal(cache.hasText(second.change.oldOid!), false, 'the old side left the text cache');
    // What the ACUs hold themselves, and then each of the three texts once.
    const ownOnly = new ChangeMemo();
    result.forEach((acus, i) => ownOnly.set(String(i), acus));
    assert.equal(cache.changes.heldChars, ownOnly.heldChars + a0.length + a1.length + bText.length);
  });

  it('the key covers every field extraction reads', () => {
    const base: FileChange = { status: 'R', oldPath: 'a.ts', newPath: 'b.ts', oldMode: '100644', newMode: '100755', oldOid: 'a'.repeat(40), newOid: 'b'.repeat(40) };
    const keys = new Set([changeKey(base)]);
    const variants: Partial<FileChange>[] = [
      { status: 'M' }, { oldPath: 'c.ts' }, { newPath: 'c.ts' }, { oldMode: '100755' }, { newMode: '100644' },
      { oldOid: 'c'.repeat(40) }, { newOid: 'c'.repeat(40) }, { oldPath: null }, { newOid: null },
    ];
    for (const variant of variants) keys.add(changeKey({ ...base, ...variant }));
    assert.equal(keys.size, variants.length + 1);
    // Fields git reports but extraction does not read (rename similarity) are not part of it.
    assert.equal(changeKey({ ...base, similarity: 90 } as FileChange), changeKey(base));
  });

  it('holds at most its bounds, least recently used first out', () => {
    const acu = (text: string): IdentifiedAcu[] => identifyAll(extractChanges([modification('n.txt', 'x\n', text).change], modification('n.txt', 'x\n', text).blobs, new ParseCache()));
    const byEntries = new ChangeMemo(2, 1_000_000);
    byEntries.set('a', acu('a\n'));
    byEntries.set('b', acu('b\n'));
    byEntries.get('a');
    byEntries.set('c', acu('c\n'));
    assert.deepEqual(['a', 'b', 'c'].map((key) => byEntries.has(key)), [true, false, true]);
    const byChars = new ChangeMemo(100, 400);
    byChars.set('big', acu(`${'y'.repeat(200)}\n`));
    assert.equal(byChars.has('big'), false, 'a set of more than a quarter of the bound is not held');
    for (const key of ['p', 'q', 'r', 's', 't', 'u', 'v', 'w']) byChars.set(key, acu(`${key.repeat(60)}\n`));
    const held = ['p', 'q', 'r', 's', 't', 'u', 'v', 'w'].filter((key) => byChars.has(key));
    assert.ok(held.length >= 1 && held.length < 8, `held ${held.join(',')}`);
    assert.equal(byChars.has('w'), true);
  });

  it('counts each text the ACUs were cut from once, until the last change cut from it goes', () => {
    const acus = identifyAll(extractChanges([modification('n.txt', 'x\n', 'y\n').change], modification('n.txt', 'x\n', 'y\n').blobs, new ParseCache()));
    const own = new ChangeMemo(10, 1_000_000);
    own.set('alone', acus);
    const ownChars = own.heldChars;
    const memo = new ChangeMemo(2, 1_000_000);
    memo.set('a', acus, [{ oid: 'v1', length: 1000 }, { oid: 'v2', length: 2000 }]);
    memo.set('b', acus, [{ oid: 'v2', length: 2000 }, { oid: 'v3', length: 4000 }]);
    assert.equal(memo.heldChars, 2 * ownChars + 7000, 'v2 counts once');
    memo.set('c', acus, [{ oid: 'v3', length: 4000 }]);
    // 'a' went: v1 is free, v2 is still held through 'b'.
    assert.deepEqual(['a', 'b', 'c'].map((key) => memo.has(key)), [false, true, true]);
    assert.equal(memo.heldChars, 2 * ownChars + 6000);
    const small = new ChangeMemo(10, 4000);
    small.set('huge', acus, [{ oid: 'lock', length: 1500 }]);
    assert.equal(small.has('huge'), false, 'a change cut from a text over a quarter of the bound is not held');
  });
});

describe('hunk lines packed between threads', () => {
  it('unpack gives back the ACU as extraction made it, key order included', () => {
    const before = lockText(300, 0);
    const after = `${lockText(300, 5)}"last": true`;
    const { change, blobs } = modification('package-lock.json', before, after);
    const [identified] = identifyAll(extractChanges([change], blobs, new ParseCache()));
    assert.ok(identified !== undefined && identified.acu.level === 'file' && identified.acu.hunks !== null);
    const packed = packAcu(identified);
    assert.ok(packed.packed !== undefined, 'a large hunk is packed');
    const back = unpackAcu(structuredClone(packed));
    assert.deepEqual(back, identified);
    assert.equal(JSON.stringify(back), JSON.stringify(identified));
  });

  it('small hunks and lines of another shape travel as they are', () => {
    const acu: FileAcu = {
      v: 1, level: 'file', file: 'a.txt', fromFile: null, op: 'modify', content: 'text', modeBefore: '100644', modeAfter: '100644',
      beforeOid: null, afterOid: null, data: null, hunks: [{ beforeStart: 0, beforeLines: ['a\n'], afterLines: ['b\n'] }], reason: null,
    };
    const small: IdentifiedAcu = { id: 'x', acu };
    assert.equal(packAcu(small), small);
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
    const odd: IdentifiedAcu = { id: 'y', acu: { ...acu, hunks: [{ beforeStart: 0, beforeLines: lines, afterLines: [] }] } };
    assert.equal(packAcu(odd), odd);
  });
});

describe('the direct hunk encoding', () => {
  it('writes the bytes of the general encoder, and leaves odd shapes to it', () => {
    const seed = baseSeed(7);
    const r = rng(seed);
    const line = (): string => r.pick(['a\n', '"q"\n', '\\u2028\n', 'é🦤\r\n', '\t\n', '\ud800\n', 'x'.repeat(r.int(30))]);
    for (let i = 0; i < 300; i += 1) {
      const hunks: Hunk[] = Array.from({ length: r.int(4) }, () => ({
        beforeStart: r.int(1000),
        beforeLines: Array.from({ length: r.int(20) }, line),
        afterLines: Array.from({ length: r.int(20) }, line),
      }));
      const acu: FileAcu = {
        v: 1, level: 'file', file: 'a.txt', fromFile: null, op: 'modify', content: 'text', modeBefore: '100644', modeAfter: '100644',
        beforeOid: null, afterOid: null, data: null, hunks, reason: null,
      };
      assert.equal(acuCanonicalString(acu), canonicalString(acu), `seed ${seed}, case ${i}`);
    }
    const extra = { beforeStart: 1, beforeLines: [], afterLines: [], note: 'x' } as unknown as Hunk;
    const acu: FileAcu = {
      v: 1, level: 'file', file: 'a.txt', fromFile: null, op: 'modify', content: 'text', modeBefore: null, modeAfter: null,
      beforeOid: null, afterOid: null, data: null, hunks: [extra], reason: null,
    };
    assert.equal(acuCanonicalString(acu), canonicalString(acu));
  });
});

describe('whitespace compared in place', () => {
  it('agrees with removing \\s+ from both texts', () => {
    const seed = baseSeed(11);
    const r = rng(seed);
    const units = [' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u1680', '\u2000', '\u200a', '\u200b', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u0085', '\u180e', 'a', 'b', '/', '\ud83e', '\udd64'];
    const text = (): string => Array.from({ length: r.int(8) }, () => r.pick(units)).join('');
    for (let i = 0; i < 20_000; i += 1) {
      const a = text();
      const b = r.chance(0.5) ? a.replace(/\s/g, () => r.pick(units.slice(0, 6))) : text();
      assert.equal(sameOutsideWhitespace(a, b), a.replace(/\s+/g, '') === b.replace(/\s+/g, ''), `seed ${seed}, case ${i}: ${JSON.stringify([a, b])}`);
    }
  });
});

describe('routing plans weighed by bytes', () => {
  const oid = (n: number): string => n.toString(16).padStart(40, '0');
  const modify = (path: string, from: number, to: number): TreeChange => ({ status: 'M', oldPath: path, newPath: path, oldMode: '100644', newMode: '100644', oldOid: oid(from), newOid: oid(to), similarity: null });

  it('keeps a family on one worker and spreads heavy families and paths apart', () => {
    const changes = [modify('src/a.ts', 1, 2), modify('src/a.ts', 2, 3), modify('src/b.ts', 10, 11), modify('yarn.lock', 20, 21), modify('yarn.lock', 21, 22), modify('src/c.ts', 30, 31)];
    const sizes = new Map([[1, 50_000], [2, 50_000], [3, 50_000], [10, 60_000], [11, 60_000], [20, 1_000_000], [21, 1_000_000], [22, 1_000_000], [30, 10], [31, 10]].map(([n, size]) => [oid(n!), size!]));
    const plan = planRouting(changes, 2, isSourcePath, (id) => sizes.get(id) ?? 0);
    const workers = changes.map((change) => plan.workerOf(change));
    assert.equal(workers[0], workers[1], 'one family, one worker');
    assert.equal(workers[3], workers[4], 'one path, one worker');
    assert.notEqual(workers[0], workers[2], 'the two heavy source families apart');
    // A join through a rename keeps both sides with the family they meet in.
    const renamed: TreeChange = { status: 'R', oldPath: 'src/a.ts', newPath: 'src/d.ts', oldMode: '100644', newMode: '100644', oldOid: oid(3), newOid: oid(4), similarity: 90 };
    const joined = planRouting([...changes, renamed], 2, isSourcePath, (id) => sizes.get(id) ?? 0);
    assert.equal(joined.workerOf(renamed), joined.workerOf(changes[0]!));
  });
});
