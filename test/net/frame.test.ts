/**
 * The frame decoder is where a peer's bytes enter a node: it must never throw, whatever it gets.
 * Fuzzed with 100,000 random and mutated frames per run (seeded; replay with ACU_SEED).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeFrame, encodeFrame, frameBytesMax } from '../../src/net/frame.js';
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
