/**
 * The frame decoder is where a peer's bytes enter a node: it must never throw, whatever it gets.
 * Fuzzed with 100,000 random and mutated frames per run (seeded; replay with ACU_SEED).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Packr } from 'msgpackr';
import { decodeFrame, encodeFrame, encodedBytesOf, frameBytesMax, frameLimits, groupByBytes, handshakeFrameLimits } from '../../src/net/frame.js';
import { baseSeed, rng } from '../support/random.js';

const sample = {
  v: 1,
  type: 'validate',
  from: 2,
  height: 41,
  round: 3,
  body: { digest: 'ab'.repeat(32), conflicts: [{ a: 'x', b: 'y' }], ok: true, bytes: new Uint8Array([1, 2, 3]) },
  sig: 'cd'.repeat(64),
};

it('round-trips plain values, binary as bytes', () => {
  const decoded = decodeFrame(encodeFrame(sample));
  assert.ok(decoded.ok);
  const value = decoded.value as typeof sample;
  assert.ok(value.body.bytes instanceof Uint8Array);
  assert.deepEqual([...value.body.bytes], [1, 2, 3]);
  assert.deepEqual({ ...value, body: { ...value.body, bytes: null } }, { ...sample, body: { ...sample.body, bytes: null } });
});

it('refuses oversized, malformed and non-plain frames with a reason', () => {
  assert.deepEqual(decodeFrame(new Uint8Array(frameBytesMax + 1)), { ok: false, reason: 'oversized' });
  assert.deepEqual(decodeFrame(new Uint8Array([0x92, 0x01])), { ok: false, reason: 'malformed' });
  assert.deepEqual(decodeFrame(new Uint8Array([0xc1])), { ok: false, reason: 'not-plain' });
  assert.deepEqual(decodeFrame(encodeFrame({ x: 1.5 })), { ok: false, reason: 'not-plain' });
  let deep: unknown = 1;
  for (let i = 0; i < 40; i += 1) deep = [deep];
  assert.deepEqual(decodeFrame(encodeFrame(deep)), { ok: false, reason: 'too-deep' });
  const proto = Uint8Array.from([0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x01]);
  const polluted = decodeFrame(proto);
  assert.ok(!polluted.ok || Object.getPrototypeOf(polluted.value) === Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

it('never throws on 100,000 random and mutated frames', () => {
  const seed = baseSeed(7_777);
  const r = rng(seed);
  const valid = encodeFrame(sample);
  let refused = 0;
  for (let i = 0; i < 100_000; i += 1) {
    let frame: Uint8Array;
    if (i % 2 === 0) {
      frame = new Uint8Array(r.int(64));
      for (let j = 0; j < frame.length; j += 1) frame[j] = r.int(256);
    } else {
      frame = Uint8Array.from(valid);
      const edits = 1 + r.int(4);
      for (let e = 0; e < edits; e += 1) frame[r.int(frame.length)] = r.int(256);
      if (r.chance(0.2)) frame = frame.subarray(0, r.int(frame.length));
    }
    let result;
    try {
      result = decodeFrame(frame);
    } catch (error) {
      assert.fail(`decodeFrame threw on frame ${i} (replay: ACU_SEED=${seed}): ${String(error)}`);
    }
    if (!result.ok) refused += 1;
  }
  assert.ok(refused > 0, 'some fuzzed frames are refused');
});

/** Values in `value` counted as a tree (shared references once per path), stopping past `cap`. */
function treeSize(value: unknown, cap: number): number {
  let seen = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && seen <= cap) {
    const next = stack.pop();
    seen += 1;
    if (next instanceof Uint8Array || next === null || typeof next !== 'object') continue;
    const children: unknown[] = Array.isArray(next) ? (next as unknown[]) : Object.values(next);
    stack.push(...children);
  }
  return seen;
}

/**
 * A frame of msgpackr's structured-clone references: each level names an array holding the level
 * below and a pointer back to it, so n levels of 13 bytes decode to a DAG of 2^n paths.
 */
function sharedReferenceBomb(levels: number): Uint8Array {
  const u32 = (n: number): number[] => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  let bytes = [0xd6, 0x69, ...u32(0), 0xa1, 0x78];
  for (let level = 1; level <= levels; level += 1) bytes = [0xd6, 0x69, ...u32(level), 0x92, ...bytes, 0xd6, 0x70, ...u32(level - 1)];
  return Uint8Array.from(bytes);
}

it('refuses a shared-reference bomb: no accepted frame holds more values than it has bytes', () => {
  const bomb = sharedReferenceBomb(20);
  assert.ok(bomb.length < 300);
  const decoded = decodeFrame(bomb);
  // Whatever a node accepts, walking it (plain-data checks, canonical bytes for signatures) costs
  // at most one step per byte of the frame.
  if (decoded.ok) assert.ok(treeSize(decoded.value, 4 * bomb.length) <= bomb.length, `a ${bomb.length}-byte frame decoded to a tree of over ${4 * bomb.length} values`);
  assert.deepEqual(decoded, { ok: false, reason: 'not-plain' });
});

it('refuses every msgpackr extension: records, references, bundled strings, dates, sets, maps, errors, regexps, typed arrays, bigints, undefined', () => {
  const withRecords = new Packr({ useRecords: true, structuredClone: true, moreTypes: true, bundleStrings: true });
  const shared = { s: 'x' };
  const values: [string, Uint8Array][] = [
    ['records', withRecords.pack([{ a: 1, b: 2 }, { a: 3, b: 4 }])],
    ['references', new Packr({ structuredClone: true, useRecords: false }).pack([shared, shared])],
    ['bundled strings', new Packr({ bundleStrings: true, useRecords: false }).pack({ long: 'y'.repeat(100), other: 'z'.repeat(100) })],
    ['date', new Packr({ useRecords: false }).pack(new Date(0))],
    ['set', new Packr({ useRecords: false, moreTypes: true }).pack(new Set([1]))],
    ['error', new Packr({ useRecords: false, moreTypes: true }).pack(new Error('e'))],
    ['regexp', new Packr({ useRecords: false, moreTypes: true }).pack(/a/)],
    ['typed array', new Packr({ useRecords: false, moreTypes: true }).pack(new Uint16Array([1, 2]))],
    ['bigint', new Packr({ useRecords: false, useBigIntExtension: true }).pack(2n ** 100n)],
    ['undefined', new Packr({ useRecords: false }).pack([undefined])],
  ];
  for (const [what, frame] of values) {
    const decoded = decodeFrame(frame);
    assert.equal(decoded.ok, false, `${what} is refused`);
  }
  const map = new Packr({ useRecords: false, mapsAsObjects: false }).pack(new Map([[1, 2]]));
  assert.equal(decodeFrame(map).ok, false, 'a map with a non-string key is refused');
});

it('decodes what the encoder writes, for every plain type and width', () => {
  const values: unknown[] = [
    0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -32, -33, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, Number.MIN_SAFE_INTEGER,
    '', 'a', 'é', '日本語', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(255), 'y'.repeat(256), 'z'.repeat(70_000), true, false, null,
    new Uint8Array(0), new Uint8Array(300), new Uint8Array(70_000),
    Array.from({ length: 20 }, (_, i) => i), Array.from({ length: 70_000 }, () => 1),
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { v: [i] }])),
    { constructor: 1, toString: 'x', hasOwnProperty: [] },
  ];
  for (const [i, value] of values.entries()) {
    const decoded = decodeFrame(encodeFrame(value));
    assert.ok(decoded.ok, `decodes value ${i}`);
    if (value instanceof Uint8Array) assert.deepEqual([...(decoded.value as Uint8Array)], [...value]);
    else assert.deepEqual(decoded.value, value);
  }
  const binary = decodeFrame(Buffer.from(encodeFrame({ b: new Uint8Array([1, 2]) })));
  assert.ok(binary.ok);
  const copy = (binary.value as { b: Uint8Array }).b;
  assert.equal(copy.buffer.byteLength, 2, 'binary is copied out of the frame, not a view into it');
});

it('refuses frames over a work budget, and handshake frames that are not tiny', () => {
  const limits = { ...frameLimits, valuesMax: 100, stringBytesMax: 1000 };
  assert.ok(decodeFrame(encodeFrame(Array.from({ length: 99 }, () => 0)), limits).ok);
  assert.deepEqual(decodeFrame(encodeFrame(Array.from({ length: 100 }, () => 0)), limits), { ok: false, reason: 'over-budget' });
  assert.deepEqual(decodeFrame(encodeFrame(['a'.repeat(600), 'b'.repeat(600)]), limits), { ok: false, reason: 'over-budget' });
  // A count the frame cannot hold is refused before anything is allocated for it.
  assert.deepEqual(decodeFrame(Uint8Array.from([0xdd, 0x00, 0x01, 0x00, 0x00, 0x01])), { ok: false, reason: 'malformed' });
  assert.deepEqual(decodeFrame(Uint8Array.from([0x92, 0x01, 0x02, 0x03])), { ok: false, reason: 'malformed' }, 'trailing bytes');
  assert.deepEqual(decodeFrame(Uint8Array.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02])), { ok: false, reason: 'malformed' }, 'a duplicate key');
  assert.deepEqual(decodeFrame(Uint8Array.from([0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0])), { ok: false, reason: 'not-plain' }, '2^53 is not a safe integer');
  const hello = { t: 'hello', dialer: 'ab'.repeat(32), nonce: 'cd'.repeat(32), sig: 'ef'.repeat(64) };
  assert.ok(decodeFrame(encodeFrame(hello), handshakeFrameLimits).ok);
  assert.deepEqual(decodeFrame(encodeFrame({ ...hello, sig: 'x'.repeat(2000) }), handshakeFrameLimits), { ok: false, reason: 'oversized' });
  assert.deepEqual(decodeFrame(encodeFrame({ ...hello, extra: { nested: 1 } }), handshakeFrameLimits), { ok: false, reason: 'too-deep' });
});

it('accepts no fuzzed frame whose tree has more values than the frame has bytes', () => {
  const seed = baseSeed(4_242);
  const r = rng(seed);
  const valid = encodeFrame({ a: [1, 2, { b: 'c', d: [null, true] }], e: new Uint8Array(3), f: 'g'.repeat(40) });
  for (let i = 0; i < 20_000; i += 1) {
    const frame = Uint8Array.from(valid);
    for (let e = 1 + r.int(3); e > 0; e -= 1) frame[r.int(frame.length)] = r.int(256);
    const decoded = decodeFrame(frame);
    if (decoded.ok) assert.ok(treeSize(decoded.value, frame.length) <= frame.length, `frame ${i} (replay: ACU_SEED=${seed})`);
  }
});

it('groups items by encoded bytes, in order, a too-large item alone', () => {
  const sizes = [10, 20, 30, 5, 100, 1, 1];
  const groups = groupByBytes(sizes, (n) => n, 40);
  assert.deepEqual(groups, [[10, 20], [30, 5], [100], [1, 1]]);
  assert.deepEqual(groupByBytes([], (n: number) => n, 40), []);
  const records = Array.from({ length: 50 }, (_, i) => ({ id: i, body: 'x'.repeat(1000 + i * 100) }));
  for (const group of groupByBytes(records, encodedBytesOf, 20_000)) assert.ok(encodedBytesOf(group) <= 20_000 + 16, 'a group plus its array header stays in budget');
});
