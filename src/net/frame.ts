/**
 * Wire frames: one msgpackr-encoded value per WebSocket message. This is the edge where a peer's
 * bytes enter the node, so decoding never throws: bytes too large, malformed, or holding anything
 * but plain data (maps with string keys, arrays, strings, safe integers, booleans, null, binary)
 * become a returned reason, counted by the caller. Typed messages come from the consensus
 * decoder, which reads what this returns.
 */
import { Packr, Unpackr } from 'msgpackr';

/** Largest frame a node accepts (a batch proposal with its certificate is well under this). */
export const frameBytesMax = 4 * 1024 * 1024;

/** Deepest nesting accepted in a frame. */
export const frameDepthMax = 32;

/** Most entries in one array or map of a frame. */
export const frameEntriesMax = 100_000;

/** Why a frame was refused. */
export type FrameRefusal = 'oversized' | 'malformed' | 'not-plain' | 'too-deep' | 'too-many-entries';

/** A decoded frame, or why it was refused. */
export type DecodedFrame = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: FrameRefusal };

// Records (msgpackr's shared structures) are off: every frame decodes on its own, so a peer
// cannot poison the structure table for later frames.
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** Encode a plain value as one frame. */
export function encodeFrame(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decode one frame from a peer. Never throws. */
export function decodeFrame(bytes: Uint8Array): DecodedFrame {
  if (bytes.length > frameBytesMax) return { ok: false, reason: 'oversized' };
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const problem = plainProblem(value, 0);
  return problem === null ? { ok: true, value } : { ok: false, reason: problem };
}

function plainProblem(value: unknown, depth: number): FrameRefusal | null {
  if (depth > frameDepthMax) return 'too-deep';
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? null : 'not-plain';
  if (value instanceof Uint8Array) return null;
  if (Array.isArray(value)) {
    if (value.length > frameEntriesMax) return 'too-many-entries';
    for (const item of value) {
      const problem = plainProblem(item, depth + 1);
      if (problem !== null) return problem;
    }
    return null;
  }
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return 'not-plain';
  const keys = Object.keys(value);
  if (keys.length > frameEntriesMax) return 'too-many-entries';
  // A `__proto__` key would be a prototype change waiting for a careless spread; refuse it.
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) return 'not-plain';
  for (const key of keys) {
    const problem = plainProblem((value as Record<string, unknown>)[key], depth + 1);
    if (problem !== null) return problem;
  }
  return null;
}
