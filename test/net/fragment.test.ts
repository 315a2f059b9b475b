/**
 * Fragments and their reassembly, without sockets: a large message splits into frames under the
 * frame limit and comes back intact; malformed, oversized, duplicate, out-of-order and orphan
 * fragments are refused with a reason; what a peer can make a receiver hold stays bounded.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { frameBytesMax, messageBytesMax } from '../../src/net/frame.js';
import { Reassembler, fragmentChunkBytes, fragmentHeaderBytes, fragmentsOf, isFragment } from '../../src/net/fragment.js';
import { baseSeed, rng } from '../support/random.js';

const limits = { reassemblyBytesMax: messageBytesMax, partialMessagesMax: 2 };

function message(bytes: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) out[i] = r.int(256);
  return out;
}

it('splits a message into frames of at most frameBytesMax, and puts it back together', () => {
  const seed = baseSeed(11);
  const original = message(2 * fragmentChunkBytes + 12_345, seed);
  const frames = fragmentsOf(7, original);
  assert.equal(frames.length, 3);
  for (const frame of frames) {
    assert.ok(isFragment(frame));
    assert.ok(frame.length <= frameBytesMax);
  }
  const receiver = new Reassembler(limits);
  assert.deepEqual(receiver.accept(frames[0]!), { kind: 'partial' });
  assert.deepEqual(receiver.accept(frames[1]!), { kind: 'partial' });
  assert.equal(receiver.heldBytes(), original.length);
  const done = receiver.accept(frames[2]!);
  assert.equal(done.kind, 'complete');
  assert.ok(done.kind === 'complete' && Buffer.from(done.message).equals(Buffer.from(original)), `intact (replay: ACU_SEED=${seed})`);
  assert.equal(receiver.heldBytes(), 0);
});

it('refuses malformed, oversized, duplicate, out-of-order, orphan and mismatched fragments', () => {
  const original = message(frameBytesMax + 100, 3);
  const [first, last] = fragmentsOf(1, original) as [Uint8Array, Uint8Array];
  const receiver = new Reassembler(limits);
  const reason = (frame: Uint8Array): string => {
    const outcome = receiver.accept(frame);
    return outcome.kind === 'refused' ? outcome.reason : outcome.kind;
  };
  const edit = (frame: Uint8Array, offset: number, value: number): Uint8Array => {
    const copy = Uint8Array.from(frame);
    new DataView(copy.buffer).setUint32(offset, value);
    return copy;
  };
  assert.equal(reason(Uint8Array.from([0xc1, 1, 2])), 'malformed', 'a short header');
  assert.equal(reason(edit(first, 13, messageBytesMax + 1)), 'too-large');
  assert.equal(reason(edit(first, 13, 100)), 'malformed', 'a total that fits one frame');
  assert.equal(reason(edit(first, 9, 3)), 'malformed', 'a count that does not follow from the total');
  assert.equal(reason(edit(first, 5, 2)), 'malformed', 'an index past the count');
  assert.equal(reason(first.subarray(0, first.length - 1)), 'malformed', 'a short chunk');
  assert.equal(reason(last), 'out-of-order', 'an orphan');
  assert.equal(reason(first), 'partial');
  assert.equal(reason(first), 'duplicate');
  assert.equal(reason(edit(last, 13, frameBytesMax + 200)), 'malformed', 'a last chunk of the wrong length');
  assert.equal(reason(edit(edit(last, 13, 2 * fragmentChunkBytes + 1), 9, 3)), 'malformed');
  assert.equal(reason(last), 'complete');
  assert.equal(reason(last), 'out-of-order', 'a fragment of a finished message');
  assert.equal(receiver.heldBytes(), 0);
});

it('never holds more than its bounds, whatever a peer sends', () => {
  const seed = baseSeed(99);
  const r = rng(seed);
  const small = { reassemblyBytesMax: messageBytesMax, partialMessagesMax: 3 };
  const receiver = new Reassembler(small);
  // First fragments of many large messages: each reserves its total; old ones are evicted.
  const big = fragmentsOf(0, message(messageBytesMax, seed))[0]!;
  for (let id = 0; id < 50; id += 1) {
    const frame = Uint8Array.from(big);
    new DataView(frame.buffer).setUint32(1, id);
    if (r.chance(0.5)) new DataView(frame.buffer).setUint32(13, frameBytesMax + 1 + r.int(messageBytesMax - frameBytesMax));
    const count = Math.ceil(new DataView(frame.buffer).getUint32(13) / fragmentChunkBytes);
    new DataView(frame.buffer).setUint32(9, count);
    receiver.accept(frame);
    assert.ok(receiver.heldBytes() <= small.reassemblyBytesMax, `held ${receiver.heldBytes()} (replay: ACU_SEED=${seed})`);
  }
  assert.ok(receiver.evictions > 0);
  assert.equal(fragmentHeaderBytes + fragmentChunkBytes, frameBytesMax);
});
