/**
 * Whole-file text: decoding, line splitting and line hunks, for files that change as files (not
 * TypeScript, or not parseable). Hunks keep line terminators, so applying them is byte-exact for
 * `\n`, `\r\n`, mixed endings and a missing final newline.
 */
import { assert } from '../core/errors.js';
import type { Hunk } from '../core/acu/model.js';
import { lineEdits } from './line-diff.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** How many leading bytes git looks at to call content binary (a NUL byte there). */
const binarySniffBytes = 8000;

/**
 * Decode content as UTF-8 text, keeping a BOM. Null when it is binary: a NUL byte in the first
 * 8,000 bytes (git's own test) or bytes that are not valid UTF-8.
 */
export function decodeText(bytes: Uint8Array): string | null {
  const sniff = Math.min(bytes.length, binarySniffBytes);
  for (let i = 0; i < sniff; i += 1) if (bytes[i] === 0) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** UTF-8 bytes of text (the inverse of {@link decodeText} for text it accepted). */
export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Split text into lines that keep their terminators; the concatenation is the text. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) break;
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** Line hunks (no context lines) that turn `before` into `after`. */
export function computeHunks(before: string, after: string): Hunk[] {
  return computeLineHunks(splitLines(before), splitLines(after), before, after);
}

/**
 * {@link computeHunks} on texts already split by {@link splitLines} (neither is modified): the
 * regions {@link lineEdits} finds. `textA` and `textB`, when given, are
 * the texts the lines were split from (a faster read for the line diff).
 */
export function computeLineHunks(a: readonly string[], b: readonly string[], textA?: string, textB?: string): Hunk[] {
  const edits = lineEdits(a, b, textA, textB);
  const hunks: Hunk[] = [];
  for (let k = 0; k < edits.length; k += 4) {
    const aStart = edits[k]!;
    const bStart = edits[k + 2]!;
    hunks.push({ beforeStart: aStart, beforeLines: a.slice(aStart, edits[k + 1]), afterLines: b.slice(bStart, edits[k + 3]) });
  }
  return hunks;
}

/** Apply hunks to text; null when a hunk's expected lines are not there. */
export function applyHunks(text: string, hunks: readonly Hunk[]): string | null {
  const lines = splitLines(text);
  const out: string[] = [];
  let line = 0;
  for (const hunk of hunks) {
    if (hunk.beforeStart < line || hunk.beforeStart > lines.length) return null;
    for (; line < hunk.beforeStart; line += 1) out.push(lines[line]!);
    for (const expected of hunk.beforeLines) {
      if (lines[line] !== expected) return null;
      line += 1;
    }
    out.push(...hunk.afterLines);
  }
  for (; line < lines.length; line += 1) out.push(lines[line]!);
  const result = out.join('');
  assert(typeof result === 'string', 'applyHunks: result is text');
  return result;
}

/** Base64 of bytes (binary content in file ACUs). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Bytes of base64 text. */
export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
