/**
 * Wire frames: one msgpack-encoded value per WebSocket message. This is the edge where a peer's
 * bytes enter the node, so decoding never throws: bytes too large, malformed, or holding anything
 * but plain data (maps with string keys, arrays, strings, safe integers, booleans, null, binary)
 * become a returned reason, counted by the caller. Typed messages come from the consensus
 * decoder, which reads what this returns.
 *
 * Encoding uses msgpackr; decoding does not. msgpackr's Unpackr consults a process-wide table of
 * extension types whatever its options say: record definitions (0x72), structured-clone ids and
 * pointers (0x69, 0x70: n levels of 13 bytes decode to a DAG of 2^n paths, which the old plain-data
 * walk then followed one by one), bundled
 * strings (0x62), undefined (0), Date (-1), Set, Error, RegExp, typed arrays and bigints, and it
 * coerces non-string map keys. A peer needs none of that, so frames are read by the small
 * decoder below, which knows only the plain types, builds a tree (never a shared reference), and
 * counts its work: at most one value per byte, under a budget of values and string bytes.
 */
import { Packr } from 'msgpackr';
import { assert } from '../core/errors.js';

/** Largest frame (one WebSocket message) a node sends or accepts; larger messages go as fragments. */
export const frameBytesMax = 4 * 1024 * 1024;

/** Largest message (one value, once reassembled from fragments) a node sends or accepts. */
export const messageBytesMax = 64 * 1024 * 1024;

/** Deepest nesting accepted in a frame. */
export const frameDepthMax = 32;

/** Most entries in one array or map of a frame. */
export const frameEntriesMax = 100_000;

/** Bounds on decoding one frame or message; every one is checked before the work it bounds. */
export interface FrameLimits {
  /** Largest encoded size. */
  readonly bytesMax: number;
  /** Deepest nesting (the top value is depth 0). */
  readonly depthMax: number;
  /** Most entries in one array or map. */
  readonly entriesMax: number;
  /** Most values decoded in all (each container, key and scalar counts one). */
  readonly valuesMax: number;
  /** Most string and binary bytes decoded in all. */
  readonly stringBytesMax: number;
}

/** Limits for one frame from an authenticated peer. */
export const frameLimits: FrameLimits = {
  bytesMax: frameBytesMax,
  depthMax: frameDepthMax,
  entriesMax: frameEntriesMax,
  valuesMax: 1024 * 1024,
  stringBytesMax: frameBytesMax,
};

/** Limits for one message reassembled from fragments. */
export const messageLimits: FrameLimits = {
  bytesMax: messageBytesMax,
  depthMax: frameDepthMax,
  entriesMax: frameEntriesMax,
  valuesMax: 16 * 1024 * 1024,
  stringBytesMax: messageBytesMax,
};

/**
 * Limits for a frame from a socket that has not finished authentication: the handshake messages
 * are flat maps of a few short strings (ids, nonces, signatures), so anything bigger is refused
 * before it costs more than a glance.
 */
export const handshakeFrameLimits: FrameLimits = {
  bytesMax: 1024,
  depthMax: 1,
  entriesMax: 8,
  valuesMax: 24,
  stringBytesMax: 1024,
};

/** Why a frame was refused. */
export type FrameRefusal = 'oversized' | 'malformed' | 'not-plain' | 'too-deep' | 'too-many-entries' | 'over-budget';

/** A decoded frame, or why it was refused. */
export type DecodedFrame = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: FrameRefusal };

// Records (msgpackr's shared structures) and every other extension are off: frames carry plain
// data only, and the decoder below would refuse anything else.
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, structuredClone: false });

/** Encode a plain value as one frame (or, when larger than a frame, as one message to fragment). */
export function encodeFrame(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Encoded size of a value in bytes (what it would cost on the wire, fragment headers aside). */
export function encodedBytesOf(value: unknown): number {
  return packr.pack(value).length;
}

/**
 * Split `items` into consecutive groups whose summed `bytesOf` stays within `groupBytesMax`, in
 * order. An item larger than the budget goes alone in its own group (the transport fragments it;
 * dropping it here would lose it silently). Leave room in the budget for the envelope around a group.
 */
export function groupByBytes<T>(items: readonly T[], bytesOf: (item: T) => number, groupBytesMax: number): T[][] {
  assert(Number.isSafeInteger(groupBytesMax) && groupBytesMax > 0, 'groupByBytes: a positive budget');
  const groups: T[][] = [];
  let group: T[] = [];
  let groupBytes = 0;
  for (const item of items) {
    const bytes = bytesOf(item);
    assert(Number.isFinite(bytes) && bytes >= 0, 'groupByBytes: sizes are non-negative');
    if (group.length > 0 && groupBytes + bytes > groupBytesMax) {
      groups.push(group);
      group = [];
      groupBytes = 0;
    }
    group.push(item);
    groupBytes += bytes;
  }
  if (group.length > 0) groups.push(group);
  assert(groups.reduce((n, g) => n + g.length, 0) === items.length, 'groupByBytes: every item in one group');
  return groups;
}

/** Decode one frame (or reassembled message) from a peer. Never throws. */
export function decodeFrame(bytes: Uint8Array, limits: FrameLimits = frameLimits): DecodedFrame {
  if (bytes.length > limits.bytesMax) return { ok: false, reason: 'oversized' };
  const reader: Reader = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at: 0, values: 0, stringBytes: 0, limits };
  try {
    const value = readValue(reader, 0);
    if (reader.at !== bytes.length) return { ok: false, reason: 'malformed' };
    // One value per byte at least: the tree handed on is never larger than the frame.
    assert(reader.values <= bytes.length, 'decodeFrame: at most one value per byte');
    return { ok: true, value };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, reason: error.reason };
    throw error;
  }
}

/** A refusal on its way out of the recursive reader (at most one per frame, caught in decodeFrame). */
class Refusal extends Error {
  constructor(readonly reason: FrameRefusal) {
    super(reason);
  }
}

interface Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  at: number;
  values: number;
  stringBytes: number;
  readonly limits: FrameLimits;
}

function take(r: Reader, length: number): number {
  if (length > r.bytes.length - r.at) throw new Refusal('malformed');
  const start = r.at;
  r.at += length;
  return start;
}

function readValue(r: Reader, depth: number): unknown {
  if (depth > r.limits.depthMax) throw new Refusal('too-deep');
  r.values += 1;
  if (r.values > r.limits.valuesMax) throw new Refusal('over-budget');
  const tag = r.bytes[take(r, 1)]!;
  if (tag <= 0x7f) return tag;
  if (tag >= 0xe0) return tag - 0x100;
  if (tag <= 0x8f) return readMap(r, tag & 0x0f, depth);
  if (tag <= 0x9f) return readArray(r, tag & 0x0f, depth);
  if (tag <= 0xbf) return readString(r, tag & 0x1f);
  const v = r.view;
  switch (tag) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return readBinary(r, v.getUint8(take(r, 1)));
    case 0xc5: return readBinary(r, v.getUint16(take(r, 2)));
    case 0xc6: return readBinary(r, v.getUint32(take(r, 4)));
    case 0xca: return safeInteger(v.getFloat32(take(r, 4)));
    case 0xcb: return safeInteger(v.getFloat64(take(r, 8)));
    case 0xcc: return v.getUint8(take(r, 1));
    case 0xcd: return v.getUint16(take(r, 2));
    case 0xce: return v.getUint32(take(r, 4));
    case 0xcf: return safeInteger(v.getBigUint64(take(r, 8)));
    case 0xd0: return v.getInt8(take(r, 1));
    case 0xd1: return v.getInt16(take(r, 2));
    case 0xd2: return v.getInt32(take(r, 4));
    case 0xd3: return safeInteger(v.getBigInt64(take(r, 8)));
    case 0xd9: return readString(r, v.getUint8(take(r, 1)));
    case 0xda: return readString(r, v.getUint16(take(r, 2)));
    case 0xdb: return readString(r, v.getUint32(take(r, 4)));
    case 0xdc: return readArray(r, v.getUint16(take(r, 2)), depth);
    case 0xdd: return readArray(r, v.getUint32(take(r, 4)), depth);
    case 0xde: return readMap(r, v.getUint16(take(r, 2)), depth);
    case 0xdf: return readMap(r, v.getUint32(take(r, 4)), depth);
    // 0xc1 (never used), ext 8/16/32 (0xc7-0xc9) and fixext (0xd4-0xd8): records, references,
    // bundled strings, dates and the rest are not plain data.
    default: throw new Refusal('not-plain');
  }
}

function safeInteger(n: number | bigint): number {
  const value = Number(n);
  // A bigint past 2^53 converts inexactly; compare back so it cannot round into range.
  if (!Number.isSafeInteger(value) || (typeof n === 'bigint' && BigInt(value) !== n)) throw new Refusal('not-plain');
  return value;
}

function entriesAllowed(r: Reader, count: number, bytesPerEntry: number): void {
  if (count > r.limits.entriesMax) throw new Refusal('too-many-entries');
  // Each entry takes at least a byte per value: a count the rest of the frame cannot hold is a
  // lie, refused before anything is allocated for it.
  if (count * bytesPerEntry > r.bytes.length - r.at) throw new Refusal('malformed');
}

function readArray(r: Reader, count: number, depth: number): unknown[] {
  entriesAllowed(r, count, 1);
  const items = new Array<unknown>(count);
  for (let i = 0; i < count; i += 1) items[i] = readValue(r, depth + 1);
  return items;
}

function readMap(r: Reader, count: number, depth: number): Record<string, unknown> {
  entriesAllowed(r, count, 2);
  const map: Record<string, unknown> = {};
  for (let i = 0; i < count; i += 1) {
    const key = readValue(r, depth + 1);
    if (typeof key !== 'string') throw new Refusal('not-plain');
    // A `__proto__` key would be a prototype change waiting for a careless spread; refuse it.
    if (key === '__proto__') throw new Refusal('not-plain');
    if (Object.prototype.hasOwnProperty.call(map, key)) throw new Refusal('malformed');
    map[key] = readValue(r, depth + 1);
  }
  return map;
}

const utf8 = new TextDecoder('utf-8');

function spend(r: Reader, length: number): number {
  r.stringBytes += length;
  if (r.stringBytes > r.limits.stringBytesMax) throw new Refusal('over-budget');
  return take(r, length);
}

function readString(r: Reader, length: number): string {
  const start = spend(r, length);
  if (length <= 16) {
    // Keys and short strings are mostly ASCII: skip the decoder's call overhead for them.
    let text = '';
    for (let i = start; i < start + length; i += 1) {
      const byte = r.bytes[i]!;
      if (byte >= 0x80) return utf8.decode(r.bytes.subarray(start, start + length));
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return utf8.decode(r.bytes.subarray(start, start + length));
}

function readBinary(r: Reader, length: number): Uint8Array {
  const start = spend(r, length);
  // A copy, so a value kept by the node does not pin the whole frame (or reassembled message).
  // (Uint8Array's slice copies; a Buffer's own slice would be a view.)
  return Uint8Array.prototype.slice.call(r.bytes, start, start + length);
}
