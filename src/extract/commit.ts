/**
 * Extraction of one commit: its tree changes against the first parent -> ACUs.
 *
 * Source files (TypeScript and JavaScript) that parse on both sides split into declaration ACUs;
 * everything else changes as whole files: added and removed files, other text (line hunks), binary
 * content, symlinks, gitlinks, mode changes, and source files with syntax errors.
 */
import { createHash } from 'node:crypto';
import { assert } from '../core/errors.js';
import type { Acu, DeclAcu, FileAcu, FileContentKind, FileLevelReason, Hunk, IdentifiedAcu } from '../core/acu/model.js';
import { canonicalString } from '../core/acu/canonical.js';
import type { BlobText, ChangeFields, ParseCache, RetainedText } from './cache.js';
import { changeKey } from './cache.js';
import { diffDeclarations } from './diff.js';
import { isSourcePath } from './segment.js';
import { computeLineHunks, decodeText, splitLines, toBase64 } from './text.js';

/**
 * One changed path between two trees (the shape `git diff-tree -r -M` reports): the fields the
 * change memo keys on, with the statuses extraction handles.
 */
export interface FileChange extends ChangeFields {
  readonly status: 'A' | 'D' | 'M' | 'R' | 'T';
}

/** Reads blob contents by id (a long-lived `git cat-file --batch` in production). */
export interface BlobReader {
  readBlobs(oids: readonly string[]): Promise<Uint8Array[]>;
}

/** Git file modes acu distinguishes. */
export const fileMode = { regular: '100644', executable: '100755', symlink: '120000', gitlink: '160000' } as const;

/**
 * SHA-256 of canonical bytes with node:crypto: ids are computed for every ACU of every commit, and
 * node's native hash is several times faster than a JavaScript one on texts of this size.
 */
export function fastAcuId(acu: Acu): string {
  return createHash('sha256').update(acuCanonicalString(acu), 'utf8').digest('hex');
}

/**
 * The canonical encoding of an ACU, written field by field in sorted key order: the same bytes as
 * `canonicalString` (a test compares them on random ACUs) without building a sorted copy first.
 * Falls back to the general encoder for anything but the exact shapes of the model.
 */
export function acuCanonicalString(acu: Acu): string {
  const keys = Object.keys(acu);
  const expected = acu.level === 'decl' ? declKeysSorted : fileKeysSorted;
  if (keys.length !== expected.length || !expected.every((key) => key in acu)) return canonicalString(acu);
  const record = acu as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of expected) {
    const value = record[key];
    if (key === 'hunks' && value !== null) {
      // Whole-file hunks of lock files hold megabytes of lines: a copy of them with sorted keys
      // (the general encoder) cost as much as hashing them.
      parts.push(`"hunks":${hunksCanonicalString(value)}`);
    } else if (!(value === null || typeof value === 'string' || Array.isArray(value) || typeof value === 'number')) {
      // Anything unexpected goes through the general encoder, which sorts nested keys.
      parts.push(`"${key}":${canonicalString(value)}`);
    } else {
      parts.push(`"${key}":${JSON.stringify(value)}`);
    }
  }
  return `{${parts.join(',')}}`;
}

/**
 * The canonical encoding of a hunk list: the general encoder's bytes, written directly when every
 * hunk has exactly the model's fields and its lines are strings (no holes), which is what the
 * general encoder would accept; anything else goes through the general encoder.
 */
function hunksCanonicalString(value: unknown): string {
  if (!Array.isArray(value)) return canonicalString(value);
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 1) {
    const hunk: unknown = value[i];
    if (!isPlainHunk(hunk)) return canonicalString(value);
    parts.push(`{"afterLines":${JSON.stringify(hunk.afterLines)},"beforeLines":${JSON.stringify(hunk.beforeLines)},"beforeStart":${hunk.beforeStart}}`);
  }
  return `[${parts.join(',')}]`;
}

function isPlainHunk(value: unknown): value is Hunk {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  if (Object.keys(value).length !== 3 || !hunkKeys.every((key) => Object.hasOwn(value, key))) return false;
  const hunk = value as Record<string, unknown>;
  return Number.isSafeInteger(hunk.beforeStart) && isStringList(hunk.beforeLines) && isStringList(hunk.afterLines);
}

const hunkKeys = ['afterLines', 'beforeLines', 'beforeStart'];

function isStringList(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  // A hole reads as undefined here, and the general encoder refuses it: so does this check.
  for (let i = 0; i < value.length; i += 1) if (typeof value[i] !== 'string') return false;
  return true;
}

const declKeysSorted = ['after', 'afterTail', 'anchor', 'before', 'beforeTail', 'defines', 'file', 'flags', 'kind', 'level', 'op', 'symbol', 'uses', 'v'];
const fileKeysSorted = ['afterOid', 'beforeOid', 'content', 'data', 'file', 'fromFile', 'hunks', 'level', 'modeAfter', 'modeBefore', 'op', 'reason', 'v'];

/** Pair ACUs with their ids. */
export function identifyAll(acus: readonly Acu[]): IdentifiedAcu[] {
  return acus.map((acu) => ({ id: fastAcuId(acu), acu }));
}

/**
 * Blob ids extraction needs to read for these changes. The old side of a modification is only
 * read as text, so it is left out when `held` says its text is at hand (a parse cache's
 * `hasText`); the new side is always read. A change `known` says the change memo answers reads
 * nothing.
 */
export function blobsNeeded(
  changes: readonly FileChange[],
  held: (oid: string) => boolean = () => false,
  known: (change: FileChange) => boolean = () => false,
): string[] {
  const oids = new Set<string>();
  for (const change of changes) {
    if (change.newMode === fileMode.gitlink || change.oldMode === fileMode.gitlink) continue;
    if (known(change)) continue;
    if (change.status !== 'D' && change.newOid !== null) oids.add(change.newOid);
    const contentChanged = change.oldOid !== change.newOid;
    if ((change.status === 'M' || change.status === 'R' || change.status === 'T') && contentChanged && change.oldOid !== null && !held(change.oldOid)) {
      oids.add(change.oldOid);
    }
  }
  return [...oids];
}

/**
 * Blob ids that {@link extractChanges} still needs: neither in `blobs` nor held as text by the
 * cache (blobs read ahead of time may have been left out for a text the cache has since let go).
 */
export function blobsMissing(changes: readonly FileChange[], blobs: ReadonlyMap<string, Uint8Array>, cache: ParseCache): string[] {
  return blobsNeeded(changes, (oid) => cache.hasText(oid), memoized(cache)).filter((oid) => !blobs.has(oid));
}

/** Whether the change memo of `cache` holds a change's ACUs (so its blobs need not be read). */
export function memoized(cache: ParseCache): (change: FileChange) => boolean {
  return (change) => cache.changes.has(changeKey(change));
}

/**
 * The identified ACUs of each change, in the order of the changes: from the change memo for a
 * change extracted earlier in the run, else extracted (from the blobs {@link blobsMissing} leaves
 * nothing missing of) and remembered.
 */
export function extractIdentified(
  changes: readonly FileChange[],
  blobs: ReadonlyMap<string, Uint8Array>,
  cache: ParseCache,
): (readonly IdentifiedAcu[])[] {
  const keys = changes.map(changeKey);
  const out: (readonly IdentifiedAcu[] | undefined)[] = keys.map((key) => cache.changes.get(key));
  const todo: number[] = [];
  out.forEach((acus, i) => {
    if (acus === undefined) todo.push(i);
    else cache.stats.changeHits += 1;
  });
  if (todo.length > 0) {
    // The texts extraction used, whether the cache still holds them or not.
    const texts = new Map<string, BlobText>();
    const extracted = extractEach(todo.map((i) => changes[i]!), blobs, cache, texts);
    // The texts a change's ACUs may be cut from: its two sides, as decoded (or as read).
    const retained = (oid: string | null): RetainedText[] => {
      if (oid === null) return [];
      const length = texts.get(oid)?.text.length ?? blobs.get(oid)?.length;
      return length === undefined ? [] : [{ oid, length }];
    };
    todo.forEach((i, k) => {
      const acus = identifyAll(extracted[k]!);
      out[i] = acus;
      const change = changes[i]!;
      cache.changes.set(keys[i]!, acus, [...retained(change.oldOid), ...(change.newOid === change.oldOid ? [] : retained(change.newOid))]);
    });
  }
  return out.map((acus) => acus!);
}

/** What extraction reads from: the blobs read for these changes, the cache, and texts pinned. */
interface Inputs {
  readonly blobs: ReadonlyMap<string, Uint8Array>;
  readonly cache: ParseCache;
  /** Texts of this call's blobs: the cache may let one go while a later change still needs it. */
  readonly texts: Map<string, BlobText>;
}

/**
 * Extract the ACUs of a set of changes, given the blobs they need: every blob of
 * {@link blobsNeeded}, less those whose text the cache holds (see {@link blobsMissing}).
 */
export function extractChanges(
  changes: readonly FileChange[],
  blobs: ReadonlyMap<string, Uint8Array>,
  cache: ParseCache,
): Acu[] {
  return extractEach(changes, blobs, cache).flat();
}

/**
 * {@link extractChanges}, with the ACUs of each change apart, in the order of the changes. `texts`
 * receives every decoded text the changes used (from the cache or decoded here), by blob id.
 */
export function extractEach(
  changes: readonly FileChange[],
  blobs: ReadonlyMap<string, Uint8Array>,
  cache: ParseCache,
  texts: Map<string, BlobText> = new Map<string, BlobText>(),
): Acu[][] {
  for (const change of changes) {
    for (const oid of [change.oldOid, change.newOid]) {
      const held = oid === null || texts.has(oid) ? undefined : cache.text(oid);
      if (held !== undefined) texts.set(oid!, held);
    }
  }
  const inputs: Inputs = { blobs, cache, texts };
  return changes.map((change) => {
    const out: Acu[] = [];
    extractChange(change, inputs, out);
    return out;
  });
}

/** Read the needed blobs, then extract. */
export async function extractChangesFrom(changes: readonly FileChange[], reader: BlobReader, cache: ParseCache): Promise<Acu[]> {
  const oids = blobsNeeded(changes);
  const contents = await reader.readBlobs(oids);
  const blobs = new Map(oids.map((oid, i) => [oid, contents[i]!]));
  return extractChanges(changes, blobs, cache);
}

function extractChange(change: FileChange, inputs: Inputs, out: Acu[]): void {
  switch (change.status) {
    case 'A':
      out.push(wholeFile(change, 'add', inputs, 'added'));
      return;
    case 'D':
      out.push(removedFile(change));
      return;
    case 'T':
      out.push(wholeFile(change, 'modify', inputs, null));
      return;
    case 'M':
    case 'R':
      extractModified(change, inputs, out);
      return;
  }
}

function blob(blobs: ReadonlyMap<string, Uint8Array>, oid: string | null): Uint8Array {
  assert(oid !== null, 'extract: a change without an object id');
  const bytes = blobs.get(oid);
  assert(bytes !== undefined, `extract: blob ${oid} was not read`);
  return bytes;
}

/** The kind of content; `text` is the decoded content (null: binary), for a side that was read. */
function contentKind(mode: string | null, side: { text: BlobText | null } | null): FileContentKind {
  if (mode === fileMode.gitlink) return 'gitlink';
  // A symlink's target is text, unless it is not valid UTF-8: then it travels as binary (base64).
  if (mode === fileMode.symlink) return side !== null && side.text === null ? 'binary' : 'symlink';
  if (side !== null && side.text === null) return 'binary';
  return 'text';
}

/**
 * The decoded text of a blob (null when it is binary): from the cache when an earlier change held
 * it, else decoded from the bytes read and kept for the next commit.
 */
function textOf(oid: string | null, inputs: Inputs): BlobText | null {
  assert(oid !== null, 'extract: a change without an object id');
  const held = inputs.texts.get(oid);
  if (held !== undefined) return held;
  const bytes = blob(inputs.blobs, oid);
  const text = decodeText(bytes);
  if (text === null) return null;
  const kept = inputs.cache.keepText(oid, text, bytes.length);
  inputs.texts.set(oid, kept);
  return kept;
}

/**
 * Line hunks between two texts. The lines are split for this diff only: kept with the cached text,
 * the tens of thousands of line strings of each lock-file version outlived a young-generation
 * collection and were copied into the old one, which cost more than splitting again.
 */
function hunksBetween(before: BlobText, after: BlobText): Hunk[] {
  return computeLineHunks(splitLines(before.text), splitLines(after.text), before.text, after.text);
}

function fileAcu(change: FileChange, fields: Partial<FileAcu> & Pick<FileAcu, 'op' | 'content'>): FileAcu {
  const removing = fields.op === 'remove';
  const path = removing ? change.oldPath : change.newPath;
  assert(path !== null, 'extract: a change without a path');
  return {
    v: 1,
    level: 'file',
    file: path,
    fromFile: fields.op === 'move' ? change.oldPath : null,
    op: fields.op,
    content: fields.content,
    modeBefore: fields.op === 'add' ? null : change.oldMode,
    modeAfter: removing ? null : change.newMode,
    beforeOid: fields.op === 'add' ? null : change.oldOid,
    afterOid: removing ? null : change.newOid,
    data: fields.data ?? null,
    hunks: fields.hunks ?? null,
    reason: fields.reason ?? null,
  };
}

/** Content of a whole file as a file ACU's `data`: text, base64, or empty for a gitlink. */
function wholeData(kind: FileContentKind, bytes: Uint8Array | null, text: BlobText | null): string {
  if (kind === 'gitlink' || bytes === null) return '';
  if (kind === 'binary') return toBase64(bytes);
  assert(text !== null, 'extract: text content does not decode');
  return text.text;
}

function wholeFile(change: FileChange, op: 'add' | 'modify' | 'move', inputs: Inputs, reason: FileLevelReason | null): FileAcu {
  const bytes = change.newMode === fileMode.gitlink ? null : blob(inputs.blobs, change.newOid);
  const text = bytes === null ? null : textOf(change.newOid, inputs);
  const content = contentKind(change.newMode, bytes === null ? null : { text });
  const sourceReason = change.newPath !== null && isSourcePath(change.newPath) ? reason : null;
  return fileAcu(change, { op, content, data: wholeData(content, bytes, text), reason: sourceReason });
}

function removedFile(change: FileChange): FileAcu {
  const content = contentKind(change.oldMode, null);
  const reason = change.oldPath !== null && isSourcePath(change.oldPath) ? 'removed' : null;
  return fileAcu(change, { op: 'remove', content, reason });
}

/** A modified or renamed file: declarations when both sides parse, else hunks or whole content. */
function extractModified(change: FileChange, inputs: Inputs, out: Acu[]): void {
  const op = change.status === 'R' ? 'move' : 'modify';
  const isLink = [change.oldMode, change.newMode].some((mode) => mode === fileMode.gitlink || mode === fileMode.symlink);
  if (change.oldOid !== change.newOid && isLink) {
    // A symlink or gitlink carries its new target whole.
    out.push(wholeFile(change, op, inputs, null));
    return;
  }
  if (change.oldOid === change.newOid) {
    // A pure rename or mode change carries no content.
    out.push(fileAcu(change, { op, content: contentKind(change.newMode, null) }));
    return;
  }
  const beforeText = textOf(change.oldOid, inputs);
  const afterText = textOf(change.newOid, inputs);
  const path = change.newPath;
  assert(path !== null, 'extract: a modified file without a path');
  if (beforeText === null || afterText === null) {
    const reason = isSourcePath(path) ? 'binary' : null;
    out.push(fileAcu(change, { op, content: 'binary', data: toBase64(blob(inputs.blobs, change.newOid)), reason }));
    return;
  }
  if (isSourcePath(path) && (change.oldPath === null || isSourcePath(change.oldPath))) {
    // The old content is read as a file at the new path: that is where the declaration ACUs apply
    // (after a rename from .ts to .tsx, say), so extraction and apply must agree on how it parses.
    const before = inputs.cache.get(change.oldOid!, path, beforeText.text, beforeText.byteLength);
    const after = inputs.cache.get(change.newOid!, path, afterText.text, afterText.byteLength);
    if (before.parsed && after.parsed) {
      if (op === 'move' || change.oldMode !== change.newMode) out.push(fileAcu(change, { op, content: 'text' }));
      out.push(...diffDeclarations(path, before, after));
      return;
    }
    out.push(fileAcu(change, { op, content: 'text', hunks: hunksBetween(beforeText, afterText), reason: 'unparsed' }));
    return;
  }
  const reason = isSourcePath(path) ? 'not-source' : null;
  out.push(fileAcu(change, { op, content: 'text', hunks: hunksBetween(beforeText, afterText), reason }));
}

/** True for declaration ACUs. */
export function isDecl(acu: Acu): acu is DeclAcu {
  return acu.level === 'decl';
}
