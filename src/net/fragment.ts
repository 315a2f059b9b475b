/**
 * Fragments: a message larger than one frame crosses the wire as numbered frames of at most
 * `frameBytesMax` bytes each, and the receiver puts it back together under per-peer bounds.
 *
 * A fragment frame starts with 0xc1, a byte msgpack never uses, so it can never be mistaken for a
 * whole-message frame (which `decodeFrame` refuses at that byte). The header is fixed:
 *
 *     0xc1 | message id u32 | index u32 | count u32 | total bytes u32 | chunk
 *
 * Every fragment but the last carries exactly `fragmentChunkBytes`; the geometry (count, chunk
 * sizes) follows from the total, so any inconsistency is garbage. A sender writes a message's
 * fragments in order and never interleaves two messages on one connection, so a receiver takes
 * fragments in order only: a duplicate, a gap or an orphan is refused and counted.
 */
import { assert } from '../core/errors.js';
import { frameBytesMax, messageBytesMax } from './frame.js';

/** First byte of every fragment frame (msgpack's never-used byte). */
export const fragmentMarker = 0xc1;

/** Bytes of a fragment's header. */
export const fragmentHeaderBytes = 17;

/** Message bytes carried by every fragment but the last. */
export const fragmentChunkBytes = frameBytesMax - fragmentHeaderBytes;

/** Whether a frame is a fragment (as opposed to a whole message). */
export function isFragment(frame: Uint8Array): boolean {
  return frame.length > 0 && frame[0] === fragmentMarker;
}

/** Split an encoded message larger than a frame into fragment frames, each at most `frameBytesMax`. */
export function fragmentsOf(messageId: number, encoded: Uint8Array): Uint8Array[] {
  assert(encoded.length > frameBytesMax, 'fragmentsOf: only messages larger than a frame are fragmented');
  assert(encoded.length <= messageBytesMax, 'fragmentsOf: the message is within messageBytesMax');
  assert(Number.isInteger(messageId) && messageId >= 0 && messageId <= 0xffff_ffff, 'fragmentsOf: a u32 message id');
  const count = Math.ceil(encoded.length / fragmentChunkBytes);
  const frames: Uint8Array[] = [];
  for (let index = 0; index < count; index += 1) {
    const chunk = encoded.subarray(index * fragmentChunkBytes, Math.min(encoded.length, (index + 1) * fragmentChunkBytes));
    const frame = new Uint8Array(fragmentHeaderBytes + chunk.length);
    const view = new DataView(frame.buffer);
    frame[0] = fragmentMarker;
    view.setUint32(1, messageId);
    view.setUint32(5, index);
    view.setUint32(9, count);
    view.setUint32(13, encoded.length);
    frame.set(chunk, fragmentHeaderBytes);
    assert(frame.length <= frameBytesMax, 'fragmentsOf: a fragment fits a frame');
    frames.push(frame);
  }
  return frames;
}

/** Bounds on what one peer's partial messages may hold. */
export interface ReassemblyLimits {
  /** Most bytes reserved by a peer's unfinished messages (each reserves its declared total). */
  readonly reassemblyBytesMax: number;
  /** Most unfinished messages from one peer. */
  readonly partialMessagesMax: number;
}

/** Why a fragment was refused. */
export type FragmentRefusal = 'malformed' | 'too-large' | 'duplicate' | 'out-of-order' | 'mismatch';

/** What one fragment did: nothing yet, completed a message, or was refused. */
export type FragmentOutcome =
  | { readonly kind: 'partial' }
  | { readonly kind: 'complete'; readonly message: Uint8Array }
  | { readonly kind: 'refused'; readonly reason: FragmentRefusal };

interface Partial {
  readonly count: number;
  readonly totalBytes: number;
  readonly chunks: Uint8Array[];
}

/**
 * One connection's unfinished messages. Each reserves its declared total against
 * `reassemblyBytesMax` when its first fragment arrives (so the chunks it holds never exceed it);
 * a new message that would not fit evicts the oldest unfinished ones (a sender that gave up on a
 * message never blocks the next), counted in `evictions`.
 */
export class Reassembler {
  /** Unfinished messages evicted to make room. */
  evictions = 0;
  private readonly partials = new Map<number, Partial>();
  private reservedBytes = 0;

  constructor(private readonly limits: ReassemblyLimits) {
    assert(limits.reassemblyBytesMax >= messageBytesMax, 'Reassembler: room for one message of messageBytesMax');
    assert(limits.partialMessagesMax >= 1, 'Reassembler: room for one unfinished message');
  }

  /** Bytes reserved by unfinished messages (an upper bound on the chunks held). */
  heldBytes(): number {
    return this.reservedBytes;
  }

  /** Take one fragment frame (one that `isFragment` says is one). Never throws on a peer's bytes. */
  accept(frame: Uint8Array): FragmentOutcome {
    assert(isFragment(frame), 'Reassembler.accept: a fragment frame');
    if (frame.length < fragmentHeaderBytes || frame.length > frameBytesMax) return refused('malformed');
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const id = view.getUint32(1);
    const index = view.getUint32(5);
    const count = view.getUint32(9);
    const totalBytes = view.getUint32(13);
    if (totalBytes > messageBytesMax) return refused('too-large');
    // Only a message that does not fit a frame is fragmented, and its geometry follows from its size.
    if (totalBytes <= frameBytesMax || count !== Math.ceil(totalBytes / fragmentChunkBytes) || index >= count) return refused('malformed');
    const chunkBytes = index < count - 1 ? fragmentChunkBytes : totalBytes - (count - 1) * fragmentChunkBytes;
    if (frame.length !== fragmentHeaderBytes + chunkBytes) return refused('malformed');
    const partial = this.partials.get(id);
    if (index === 0) {
      if (partial !== undefined) return refused('duplicate');
      this.admit(id, { count, totalBytes, chunks: [frame.slice(fragmentHeaderBytes)] });
      return { kind: 'partial' };
    }
    if (partial === undefined) return refused('out-of-order');
    if (partial.count !== count || partial.totalBytes !== totalBytes) return refused('mismatch');
    if (index < partial.chunks.length) return refused('duplicate');
    if (index > partial.chunks.length) return refused('out-of-order');
    partial.chunks.push(frame.slice(fragmentHeaderBytes));
    if (partial.chunks.length < count) return { kind: 'partial' };
    this.forget(id, partial);
    const message = Buffer.concat(partial.chunks, totalBytes);
    assert(message.length === totalBytes, 'Reassembler: chunks add up to the declared total');
    return { kind: 'complete', message };
  }

  private admit(id: number, partial: Partial): void {
    for (const [oldId, old] of this.partials) {
      if (this.partials.size < this.limits.partialMessagesMax && this.reservedBytes + partial.totalBytes <= this.limits.reassemblyBytesMax) break;
      this.forget(oldId, old);
      this.evictions += 1;
    }
    this.partials.set(id, partial);
    this.reservedBytes += partial.totalBytes;
    assert(this.reservedBytes <= this.limits.reassemblyBytesMax, 'Reassembler: reservations within the bound');
    assert(this.partials.size <= this.limits.partialMessagesMax, 'Reassembler: unfinished messages within the bound');
  }

  private forget(id: number, partial: Partial): void {
    this.partials.delete(id);
    this.reservedBytes -= partial.totalBytes;
    assert(this.reservedBytes >= 0, 'Reassembler: reservations never negative');
  }
}

function refused(reason: FragmentRefusal): FragmentOutcome {
  return { kind: 'refused', reason };
}
