/**
 * `applyAcus(parent, acus) -> edits`: the inverse of extraction, byte-exact. Whole-file ACUs go
 * first (removals, renames, additions, hunks, modes), then declaration ACUs per file on the text
 * the file has by then. Every ACU is checked against what it expects to find (object ids, lines,
 * declaration texts); a mismatch is an error that names the ACU, never a silent best effort.
 */
import { createHash } from 'node:crypto';
import { AcuError, assert } from '../core/errors.js';
import type { Acu, DeclAcu, FileAcu } from '../core/acu/model.js';
import { applyDeclAcus } from './apply-text.js';
import type { ApplyProblem } from './apply-text.js';
import { ParseCache } from './cache.js';
import { fileMode } from './commit.js';
import { applyHunks, decodeText, encodeText, fromBase64 } from './text.js';

/** A file as a tree holds it. `oid` is git's blob id (a commit id for a gitlink). */
export interface FileState {
  readonly mode: string;
  readonly oid: string;
}

/** Read access to the parent tree. */
export interface ParentFiles {
  /** The entry at `path` in the parent tree, or null. */
  entry(path: string): Promise<FileState | null>;
  /** The content of blob `oid`. */
  read(oid: string): Promise<Uint8Array>;
}

/** A file after applying: its mode, blob id, and content (null for a gitlink). */
export interface AppliedFile extends FileState {
  readonly bytes: Uint8Array | null;
}

/** Per path: the file after the ACUs, or null when they delete it. Untouched paths are absent. */
export type TreeEdits = Map<string, AppliedFile | null>;

/** git's blob id of content: SHA-1 of `blob <size>\0<content>`. */
export function blobOid(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

interface Working {
  mode: string;
  oid: string;
  /** Loaded or produced content; null until needed (and always for a gitlink). */
  bytes: Uint8Array | null;
}

/** Apply ACUs to a parent tree; throws ERR_APPLY_FAILED naming the first ACUs that do not fit. */
export async function applyAcus(parent: ParentFiles, acus: readonly Acu[], cache: ParseCache = new ParseCache()): Promise<TreeEdits> {
  const state = new Map<string, Working | null>();
  const current = async (path: string): Promise<Working | null> => {
    if (state.has(path)) return state.get(path) ?? null;
    const entry = await parent.entry(path);
    const working = entry === null ? null : { mode: entry.mode, oid: entry.oid, bytes: null };
    state.set(path, working);
    return working;
  };
  const load = async (file: Working): Promise<Uint8Array> => {
    file.bytes ??= await parent.read(file.oid);
    return file.bytes;
  };
  const decls = new Map<string, DeclAcu[]>();
  for (const acu of acus) {
    if (acu.level === 'file') await applyFileAcu(acu, current, load, state);
    else decls.set(acu.file, [...(decls.get(acu.file) ?? []), acu]);
  }
  for (const [path, list] of decls) {
    const file = await current(path);
    if (file === null) fail(list[0]!, `'${path}' does not exist`);
    await applyDecls(path, file, list, load, cache);
  }
  const edits: TreeEdits = new Map();
  for (const [path, file] of state) {
    if (file === null) {
      if ((await parent.entry(path)) !== null) edits.set(path, null);
      continue;
    }
    const original = await parent.entry(path);
    if (original !== null && original.oid === file.oid && original.mode === file.mode) continue;
    edits.set(path, { mode: file.mode, oid: file.oid, bytes: file.mode === fileMode.gitlink ? null : await load(file) });
  }
  return edits;
}

function fail(acu: Acu, detail: string): never {
  const where = acu.level === 'decl' ? `${acu.file}#${acu.symbol}` : acu.file;
  throw new AcuError('ERR_APPLY_FAILED', `cannot apply the ${acu.op} of ${where}: ${detail}`, {
    hint: 'the ACUs were extracted against another parent; extract them again against this one',
    data: { file: acu.file, op: acu.op },
  });
}

async function applyFileAcu(
  acu: FileAcu,
  current: (path: string) => Promise<Working | null>,
  load: (file: Working) => Promise<Uint8Array>,
  state: Map<string, Working | null>,
): Promise<void> {
  if (acu.op === 'add') {
    if ((await current(acu.file)) !== null) fail(acu, 'the file already exists');
    state.set(acu.file, produce(acu, null));
    return;
  }
  const sourcePath = acu.op === 'move' ? acu.fromFile : acu.file;
  assert(sourcePath !== null, 'applyFileAcu: a move without a source path');
  const file = await current(sourcePath);
  if (file === null) fail(acu, `'${sourcePath}' does not exist`);
  if (file.oid !== acu.beforeOid) fail(acu, `'${sourcePath}' is not the expected version (${acu.beforeOid ?? ''})`);
  if (acu.op === 'remove') {
    state.set(acu.file, null);
    return;
  }
  if (acu.op === 'move') {
    state.set(sourcePath, null);
    if ((await current(acu.file)) !== null) fail(acu, `'${acu.file}' already exists`);
  }
  const before = acu.hunks !== null ? await load(file) : null;
  state.set(acu.file, produce(acu, { ...file, bytes: before ?? file.bytes }));
}

/** The file an add, modify or move ACU produces from `file` (null for an add). */
function produce(acu: FileAcu, file: Working | null): Working {
  const mode = acu.modeAfter;
  assert(mode !== null, 'produce: no mode after');
  if (acu.content === 'gitlink' && mode === fileMode.gitlink) {
    assert(acu.afterOid !== null, 'produce: a gitlink without an id');
    return { mode, oid: acu.afterOid, bytes: null };
  }
  if (acu.hunks !== null) {
    assert(file?.bytes != null, 'produce: hunks without the file');
    const text = decodeText(file.bytes);
    const result = text === null ? null : applyHunks(text, acu.hunks);
    if (result === null) fail(acu, 'its lines are not in the file');
    const bytes = encodeText(result);
    return { mode, oid: blobOid(bytes), bytes };
  }
  if (acu.data !== null) {
    const bytes = acu.content === 'binary' ? fromBase64(acu.data) : encodeText(acu.data);
    return { mode, oid: blobOid(bytes), bytes };
  }
  assert(file !== null, 'produce: no content and no file');
  return { mode, oid: file.oid, bytes: file.bytes };
}

async function applyDecls(
  path: string,
  file: Working,
  acus: readonly DeclAcu[],
  load: (file: Working) => Promise<Uint8Array>,
  cache: ParseCache,
): Promise<void> {
  const bytes = await load(file);
  const text = decodeText(bytes);
  if (text === null) fail(acus[0]!, `'${path}' is not text`);
  // The oid always names these bytes (read by it, or computed from them), so the cache is keyed right.
  const segmented = cache.get(file.oid, path, text, bytes.length);
  if (!segmented.parsed) fail(acus[0]!, `'${path}' does not parse`);
  const result = applyDeclAcus(segmented, acus);
  if (!result.ok) {
    const first = result.problems[0]!;
    const culprit = acus.find((acu) => acu.symbol === first.symbol) ?? acus[0]!;
    fail(culprit, describeProblem(first));
  }
  const out = encodeText(result.text);
  file.bytes = out;
  file.oid = blobOid(out);
}

/** A one-line reading of an apply problem. */
export function describeProblem(problem: ApplyProblem): string {
  return `${problem.reason.replace(/-/g, ' ')} at '${problem.symbol}' (${problem.detail})`;
}
