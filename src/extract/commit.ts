/**
 * Extraction of one commit: its tree changes against the first parent -> ACUs.
 *
 * Source files (TypeScript and JavaScript) that parse on both sides split into declaration ACUs;
 * everything else changes as whole files: added and removed files, other text (line hunks), binary
 * content, symlinks, gitlinks, mode changes, and source files with syntax errors.
 */
import { createHash } from 'node:crypto';
import { assert } from '../core/errors.js';
import type { Acu, DeclAcu, FileAcu, FileContentKind, FileLevelReason, IdentifiedAcu } from '../core/acu/model.js';
import { canonicalString } from '../core/acu/canonical.js';
import type { ParseCache } from './cache.js';
import { diffDeclarations } from './diff.js';
import { isSourcePath } from './segment.js';
import { computeHunks, decodeText, toBase64 } from './text.js';

/** One changed path between two trees (the shape `git diff-tree -r -M` reports). */
export interface FileChange {
  readonly status: 'A' | 'D' | 'M' | 'R' | 'T';
  readonly oldPath: string | null;
  readonly newPath: string | null;
  readonly oldMode: string | null;
  readonly newMode: string | null;
  readonly oldOid: string | null;
  readonly newOid: string | null;
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
    if (!(value === null || typeof value === 'string' || (Array.isArray(value) && key !== 'hunks') || typeof value === 'number')) {
      // Hunks and anything unexpected go through the general encoder, which sorts nested keys.
      parts.push(`"${key}":${canonicalString(value)}`);
    } else {
      parts.push(`"${key}":${JSON.stringify(value)}`);
    }
  }
  return `{${parts.join(',')}}`;
}

const declKeysSorted = ['after', 'afterTail', 'anchor', 'before', 'beforeTail', 'defines', 'file', 'flags', 'kind', 'level', 'op', 'symbol', 'uses', 'v'];
const fileKeysSorted = ['afterOid', 'beforeOid', 'content', 'data', 'file', 'fromFile', 'hunks', 'level', 'modeAfter', 'modeBefore', 'op', 'reason', 'v'];

/** Pair ACUs with their ids. */
export function identifyAll(acus: readonly Acu[]): IdentifiedAcu[] {
  return acus.map((acu) => ({ id: fastAcuId(acu), acu }));
}

/** Blob ids extraction needs to read for these changes. */
export function blobsNeeded(changes: readonly FileChange[]): string[] {
  const oids = new Set<string>();
  for (const change of changes) {
    if (change.newMode === fileMode.gitlink || change.oldMode === fileMode.gitlink) continue;
    if (change.status !== 'D' && change.newOid !== null) oids.add(change.newOid);
    const contentChanged = change.oldOid !== change.newOid;
    if ((change.status === 'M' || change.status === 'R' || change.status === 'T') && contentChanged && change.oldOid !== null) {
      oids.add(change.oldOid);
    }
  }
  return [...oids];
}

/** Extract the ACUs of a set of changes, given the blobs they need. */
export function extractChanges(
  changes: readonly FileChange[],
  blobs: ReadonlyMap<string, Uint8Array>,
  cache: ParseCache,
): Acu[] {
  const out: Acu[] = [];
  for (const change of changes) extractChange(change, blobs, cache, out);
  return out;
}

/** Read the needed blobs, then extract. */
export async function extractChangesFrom(changes: readonly FileChange[], reader: BlobReader, cache: ParseCache): Promise<Acu[]> {
  const oids = blobsNeeded(changes);
  const contents = await reader.readBlobs(oids);
  const blobs = new Map(oids.map((oid, i) => [oid, contents[i]!]));
  return extractChanges(changes, blobs, cache);
}

function extractChange(change: FileChange, blobs: ReadonlyMap<string, Uint8Array>, cache: ParseCache, out: Acu[]): void {
  switch (change.status) {
    case 'A':
      out.push(wholeFile(change, 'add', blobs, 'added'));
      return;
    case 'D':
      out.push(removedFile(change));
      return;
    case 'T':
      out.push(wholeFile(change, 'modify', blobs, null));
      return;
    case 'M':
    case 'R':
      extractModified(change, blobs, cache, out);
      return;
  }
}

function blob(blobs: ReadonlyMap<string, Uint8Array>, oid: string | null): Uint8Array {
  assert(oid !== null, 'extract: a change without an object id');
  const bytes = blobs.get(oid);
  assert(bytes !== undefined, `extract: blob ${oid} was not read`);
  return bytes;
}

function contentKind(mode: string | null, bytes: Uint8Array | null): FileContentKind {
  if (mode === fileMode.gitlink) return 'gitlink';
  // A symlink's target is text, unless it is not valid UTF-8: then it travels as binary (base64).
  if (mode === fileMode.symlink) return bytes !== null && decodeText(bytes) === null ? 'binary' : 'symlink';
  if (bytes !== null && decodeText(bytes) === null) return 'binary';
  return 'text';
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
function wholeData(kind: FileContentKind, bytes: Uint8Array | null): string {
  if (kind === 'gitlink' || bytes === null) return '';
  if (kind === 'binary') return toBase64(bytes);
  const text = decodeText(bytes);
  assert(text !== null, 'extract: text content does not decode');
  return text;
}

function wholeFile(change: FileChange, op: 'add' | 'modify' | 'move', blobs: ReadonlyMap<string, Uint8Array>, reason: FileLevelReason | null): FileAcu {
  const bytes = change.newMode === fileMode.gitlink ? null : blob(blobs, change.newOid);
  const content = contentKind(change.newMode, bytes);
  const sourceReason = change.newPath !== null && isSourcePath(change.newPath) ? reason : null;
  return fileAcu(change, { op, content, data: wholeData(content, bytes), reason: sourceReason });
}

function removedFile(change: FileChange): FileAcu {
  const content = contentKind(change.oldMode, null);
  const reason = change.oldPath !== null && isSourcePath(change.oldPath) ? 'removed' : null;
  return fileAcu(change, { op: 'remove', content, reason });
}

/** A modified or renamed file: declarations when both sides parse, else hunks or whole content. */
function extractModified(change: FileChange, blobs: ReadonlyMap<string, Uint8Array>, cache: ParseCache, out: Acu[]): void {
  const op = change.status === 'R' ? 'move' : 'modify';
  const isLink = [change.oldMode, change.newMode].some((mode) => mode === fileMode.gitlink || mode === fileMode.symlink);
  if (change.oldOid !== change.newOid && isLink) {
    // A symlink or gitlink carries its new target whole.
    out.push(wholeFile(change, op, blobs, null));
    return;
  }
  if (change.oldOid === change.newOid) {
    // A pure rename or mode change carries no content.
    out.push(fileAcu(change, { op, content: contentKind(change.newMode, null) }));
    return;
  }
  const beforeBytes = blob(blobs, change.oldOid);
  const afterBytes = blob(blobs, change.newOid);
  const beforeText = decodeText(beforeBytes);
  const afterText = decodeText(afterBytes);
  const path = change.newPath;
  assert(path !== null, 'extract: a modified file without a path');
  if (beforeText === null || afterText === null) {
    const reason = isSourcePath(path) ? 'binary' : null;
    out.push(fileAcu(change, { op, content: 'binary', data: toBase64(afterBytes), reason }));
    return;
  }
  if (isSourcePath(path) && (change.oldPath === null || isSourcePath(change.oldPath))) {
    // The old content is read as a file at the new path: that is where the declaration ACUs apply
    // (after a rename from .ts to .tsx, say), so extraction and apply must agree on how it parses.
    const before = cache.get(change.oldOid!, path, beforeText, beforeBytes.length);
    const after = cache.get(change.newOid!, path, afterText, afterBytes.length);
    if (before.parsed && after.parsed) {
      if (op === 'move' || change.oldMode !== change.newMode) out.push(fileAcu(change, { op, content: 'text' }));
      out.push(...diffDeclarations(path, before, after));
      return;
    }
    out.push(fileAcu(change, { op, content: 'text', hunks: computeHunks(beforeText, afterText), reason: 'unparsed' }));
    return;
  }
  const reason = isSourcePath(path) ? 'not-source' : null;
  out.push(fileAcu(change, { op, content: 'text', hunks: computeHunks(beforeText, afterText), reason }));
}

/** True for declaration ACUs. */
export function isDecl(acu: Acu): acu is DeclAcu {
  return acu.level === 'decl';
}
