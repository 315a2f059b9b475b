/**
 * Whole-file text: decoding, line splitting and line hunks, for files that change as files (not
 * TypeScript, or not parseable). Hunks keep line terminators, so applying them is byte-exact for
 * `\n`, `\r\n`, mixed endings and a missing final newline.
 */
import { diffArrays } from 'diff';
import { assert } from '../core/errors.js';
import type { Hunk } from '../core/acu/model.js';

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

/**
 * Edit-script length beyond which the line diff gives up on the middle part and emits it as one
 * hunk (still byte-exact). Myers' diff costs O((N + M) * D): on a regenerated lock file D is in the
 * thousands and the search would dominate extraction (measured: 21 s of a 35 s run on 500 mobx
 * commits before this bound and the prefix/suffix trim below).
 */
const diffEditLengthMax = 1_000;

/**
 * Work bound for one line diff, in (lines x edit length) steps: a 20,000-line lock file gets an
 * edit length of 100 before it falls back to one hunk (about 10 ms rather than 100 ms).
 */
const diffStepsMax = 2_000_000;

/** Line hunks (no context lines) that turn `before` into `after`. */
export function computeHunks(before: string, after: string): Hunk[] {
  return computeLineHunks(splitLines(before), splitLines(after));
}

/** {@link computeHunks} on texts already split by {@link splitLines} (neither is modified). */
export function computeLineHunks(a: readonly string[], b: readonly string[]): Hunk[] {
  // Trim the common prefix and suffix first: most edits touch a few lines of a long file.
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix += 1;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix += 1;
  const midA = a.slice(prefix, a.length - suffix);
  const midB = b.slice(prefix, b.length - suffix);
  if (midA.length === 0 && midB.length === 0) return [];
  if (midA.length === 0 || midB.length === 0) return [{ beforeStart: prefix, beforeLines: midA, afterLines: midB }];
  const editLengthMax = Math.max(16, Math.min(diffEditLengthMax, Math.floor(diffStepsMax / (midA.length + midB.length))));
  const changes = diffArrays(midA, midB, { maxEditLength: editLengthMax });
  if (changes === undefined) return [{ beforeStart: prefix, beforeLines: midA, afterLines: midB }];
  const hunks: Hunk[] = [];
  let line = prefix;
  let current: { beforeStart: number; beforeLines: string[]; afterLines: string[] } | null = null;
  for (const change of changes) {
    const values = change.value;
    if (!change.added && !change.removed) {
      if (current !== null) hunks.push(current);
      current = null;
      line += values.length;
      continue;
    }
    current ??= { beforeStart: line, beforeLines: [], afterLines: [] };
    if (change.removed) {
      current.beforeLines.push(...values);
      line += values.length;
    } else {
      current.afterLines.push(...values);
    }
  }
  if (current !== null) hunks.push(current);
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
