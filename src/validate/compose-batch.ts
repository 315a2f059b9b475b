/**
 * Composing a batch: each proposal's ACUs are applied to the base on their own (they were extracted
 * against it), then the proposals are merged file by file, in proposal order, with the composition
 * engine's `composeFile`. A proposal whose ACUs do not apply, or whose change of a file conflicts
 * with what earlier proposals did to it, is left out of that file, and the conflict is recorded
 * against the ACUs involved.
 */
import { isSafePath } from '../core/acu/decode.js';
import { AcuError, assert } from '../core/errors.js';
import type { Acu } from '../core/acu/model.js';
import { composeFile } from '../compose/file.js';
import { applyAcus, blobOid } from '../extract/apply.js';
import type { FileState, ParentFiles } from '../extract/apply.js';
import { fileMode } from '../extract/commit.js';
import { decodeText, encodeText } from '../extract/text.js';
import type { BatchAcu } from './attribute.js';
import { isRegularMode, treeFaults } from './tree-model.js';
import type { EntryChange } from './tree-model.js';

/** The base tree validation runs on. */
export interface BaseTree {
  /** The tree's id (its git tree oid). */
  readonly id: string;
  /** Every file of the tree: mode and blob id. */
  readonly entries: ReadonlyMap<string, FileState>;
  readBlobs(oids: readonly string[]): Promise<Uint8Array[]>;
}

/** A file after composition as the checkers see it: text, or `null` when deleted or not text. */
export type ComposedText = string | null;

/** A conflict found while composing: the ACUs on each side, by batch index. */
export interface ComposeProblem {
  readonly kind: 'apply' | 'compose';
  readonly file: string;
  readonly message: string;
  /** For `compose`: the earlier side's ACUs and the later one's. For `apply`: the ACUs at fault (later). */
  readonly earlier: number[];
  readonly later: number[];
}

/**
 * Composition of a batch. `entries` is the tree (tree-model.ts): every path whose entry differs
 * from the base, with its new mode and object id or null, and `blobs` the content of every new
 * blob they name, so the agreed commit is written from this alone. `changes` is what the checkers
 * read: the text of each regular file whose content changed, null for one deleted, or no longer a
 * regular text file (a symlink's target and a binary file are never parsed).
 */
export interface BatchComposition {
  readonly changes: Map<string, ComposedText>;
  readonly entries: Map<string, EntryChange>;
  readonly blobs: Map<string, Uint8Array>;
  readonly problems: ComposeProblem[];
}

/** One path's version: mode, object id, and a regular file's bytes when they are at hand. */
type Version = { readonly mode: string; readonly oid: string; readonly bytes: Uint8Array | null } | null;

function parentFiles(base: BaseTree): ParentFiles {
  return {
    entry: (path) => Promise.resolve(base.entries.get(path) ?? null),
    read: async (oid) => (await base.readBlobs([oid]))[0]!,
  };
}

/**
 * Why a proposal cannot apply before anything is read: a path git would refuse, or a declaration
 * ACU on a path that is not a regular file (a symlink's target is never parsed as TypeScript).
 */
function refusal(base: BaseTree, mine: readonly Acu[]): string | null {
  const modes = new Map<string, string | null>();
  for (const acu of mine) {
    const paths = acu.level === 'file' && acu.fromFile !== null ? [acu.file, acu.fromFile] : [acu.file];
    const unsafe = paths.find((path) => !isSafePath(path));
    if (unsafe !== undefined) return `${JSON.stringify(unsafe)} is not a path acu writes (empty, '.', '..', NUL or backslash, or an alias of .git)`;
    if (acu.level === 'file') modes.set(acu.file, acu.modeAfter);
  }
  for (const acu of mine) {
    if (acu.level !== 'decl') continue;
    const mode = modes.has(acu.file) ? modes.get(acu.file) : base.entries.get(acu.file)?.mode;
    if (mode !== undefined && mode !== null && !isRegularMode(mode)) return `cannot apply the ${acu.op} of ${acu.file}#${acu.symbol}: '${acu.file}' is not a regular file (mode ${mode})`;
  }
  return null;
}

/** Each proposal's edits (path -> new version) or null when its ACUs do not apply. */
async function proposalEdits(base: BaseTree, acus: readonly BatchAcu[], proposal: number): Promise<{ edits: Map<string, Version> | null; message: string }> {
  const mine = acus.filter((entry) => entry.proposal === proposal).map((entry) => entry.item.acu);
  const refused = refusal(base, mine);
  if (refused !== null) return { edits: null, message: refused };
  try {
    const edits = await applyAcus(parentFiles(base), mine);
    return { edits: new Map([...edits].map(([path, file]) => [path, file === null ? null : { mode: file.mode, oid: file.oid, bytes: file.bytes }])), message: '' };
  } catch (error) {
    if (error instanceof AcuError && error.code === 'ERR_APPLY_FAILED') return { edits: null, message: error.message };
    throw error;
  }
}

function touches(acu: Acu, path: string, conflictPath: string): boolean {
  if (acu.level === 'file') return acu.file === path || acu.fromFile === path;
  if (acu.file !== path) return false;
  if (conflictPath === '') return true;
  return acu.symbol === conflictPath || acu.symbol.startsWith(`${conflictPath}/`) || conflictPath.startsWith(`${acu.symbol}/`);
}

function acusOn(acus: readonly BatchAcu[], proposals: ReadonlySet<number>, path: string, conflictPath: string): number[] {
  const onFile = acus.filter((entry) => proposals.has(entry.proposal) && touches(entry.item.acu, path, ''));
  const precise = onFile.filter((entry) => touches(entry.item.acu, path, conflictPath));
  return (precise.length > 0 ? precise : onFile).map((entry) => entry.index);
}

/** Compose the batch's proposals onto the base. */
export async function composeBatch(base: BaseTree, acus: readonly BatchAcu[], proposalCount: number): Promise<BatchComposition> {
  const problems: ComposeProblem[] = [];
  const sides: Array<Map<string, Version>> = [];
  for (let p = 0; p < proposalCount; p += 1) {
    const { edits, message } = await proposalEdits(base, acus, p);
    if (edits === null) {
      problems.push({ kind: 'apply', file: '', message, earlier: [], later: acus.filter((entry) => entry.proposal === p).map((entry) => entry.index) });
      sides.push(new Map());
    } else {
      sides.push(edits);
    }
  }
  const paths = [...new Set(sides.flatMap((side) => [...side.keys()]))].sort();
  const versions = new Map<string, Version>();
  const last = new Map<string, number>();
  for (const path of paths) {
    const entry = base.entries.get(path);
    const baseVersion: Version = entry === undefined ? null : { mode: entry.mode, oid: entry.oid, bytes: null };
    const result = await composePath(path, baseVersion, sides, acus, problems, base);
    if (!sameVersion(result.version, baseVersion)) {
      versions.set(path, result.version);
      last.set(path, result.last);
    }
  }
  const entries = new Map([...versions].map(([path, v]) => [path, v === null ? null : { mode: v.mode, oid: v.oid }]));
  for (const fault of treeFaults(base.entries, entries, (path) => last.get(path) ?? -1)) {
    const proposal = last.get(fault.path) ?? -1;
    problems.push({ kind: 'apply', file: fault.path, message: fault.message, earlier: [], later: acusOn(acus, new Set([proposal]), fault.path, '') });
    versions.delete(fault.path);
    entries.delete(fault.path);
  }
  return { ...checkerView(base, versions), entries, problems };
}

/** The checkers' texts of the changed paths, and the new blobs of the tree. */
function checkerView(base: BaseTree, versions: ReadonlyMap<string, Version>): { changes: Map<string, ComposedText>; blobs: Map<string, Uint8Array> } {
  const changes = new Map<string, ComposedText>();
  const blobs = new Map<string, Uint8Array>();
  for (const [path, version] of versions) {
    const before = base.entries.get(path);
    const wasText = before !== undefined && isRegularMode(before.mode);
    if (version === null || !isRegularMode(version.mode)) {
      if (wasText) changes.set(path, null);
    } else if (!wasText || before.oid !== version.oid) {
      assert(version.bytes !== null, 'a changed regular file has its bytes');
      changes.set(path, decodeText(version.bytes));
    }
    if (version !== null && version.mode !== fileMode.gitlink && version.oid !== before?.oid) {
      assert(version.bytes !== null, 'a new blob has its bytes');
      blobs.set(version.oid, version.bytes);
    }
  }
  return { changes, blobs };
}

function sameVersion(a: Version, b: Version): boolean {
  return a === null || b === null ? a === b : a.mode === b.mode && a.oid === b.oid;
}

async function composePath(
  path: string,
  baseVersion: Version,
  sides: ReadonlyArray<Map<string, Version>>,
  acus: readonly BatchAcu[],
  problems: ComposeProblem[],
  base: BaseTree,
): Promise<{ version: Version; last: number }> {
  let current = baseVersion;
  let last = -1;
  const merged = new Set<number>();
  for (let p = 0; p < sides.length; p += 1) {
    const side = sides[p]!;
    if (!side.has(path)) continue;
    const outcome = await mergeOne(path, baseVersion, current, side.get(path) ?? null, base);
    if (outcome.ok) {
      current = outcome.version;
      merged.add(p);
      last = p;
      continue;
    }
    problems.push({
      kind: 'compose',
      file: path,
      message: outcome.message,
      earlier: acusOn(acus, merged, path, outcome.symbol),
      later: acusOn(acus, new Set([p]), path, outcome.symbol),
    });
  }
  return { version: current, last };
}

type MergeOutcome = { readonly ok: true; readonly version: Version } | { readonly ok: false; readonly message: string; readonly symbol: string };

/** Three-way merge of a mode: the side that changed it wins; null when both changed it differently. */
function mergeMode(base: string | null, ours: string, theirs: string): string | null {
  if (ours === base || ours === theirs) return theirs;
  if (theirs === base) return ours;
  return null;
}

/** Merge one path's version: mode and content each three ways; only regular text is merged by content. */
async function mergeOne(path: string, base: Version, ours: Version, theirs: Version, tree: BaseTree): Promise<MergeOutcome> {
  if (sameVersion(ours, base) || sameVersion(ours, theirs)) return { ok: true, version: theirs };
  if (sameVersion(theirs, base)) return { ok: true, version: ours };
  if (ours === null || theirs === null) return { ok: false, message: `${path} is removed on one side and changed on the other`, symbol: '' };
  const mode = mergeMode(base?.mode ?? null, ours.mode, theirs.mode);
  if (mode === null) return { ok: false, message: `${path} has its mode changed differently on both sides`, symbol: '' };
  const content = ours.oid === theirs.oid || ours.oid === base?.oid ? theirs : theirs.oid === base?.oid ? ours : null;
  if (content !== null) {
    // A gitlink's id names a commit, anything else's a blob: one side's mode cannot take the other's content.
    if ((mode === fileMode.gitlink) !== (content.mode === fileMode.gitlink)) return { ok: false, message: `${path} is a submodule on one side only`, symbol: '' };
    return { ok: true, version: { ...content, mode } };
  }
  if (![base?.mode ?? fileMode.regular, ours.mode, theirs.mode].every(isRegularMode)) {
    return { ok: false, message: `${path} is not a regular file and both sides change it`, symbol: '' };
  }
  assert(ours.bytes !== null && theirs.bytes !== null, 'a changed regular file has its bytes');
  const baseText = base === null ? '' : decodeText((await tree.readBlobs([base.oid]))[0]!);
  const oursText = decodeText(ours.bytes);
  const theirsText = decodeText(theirs.bytes);
  if (baseText === null || oursText === null || theirsText === null) return { ok: false, message: `${path} is not text and both sides change it`, symbol: '' };
  const result = composeFile({ path, base: baseText, ours: oursText, theirs: theirsText });
  if (result.conflicts.length === 0) {
    const bytes = encodeText(result.text);
    return { ok: true, version: { mode, oid: blobOid(bytes), bytes } };
  }
  const first = result.conflicts[0]!;
  return { ok: false, message: `${first.kind} conflict at ${first.path === '' ? path : `${path}#${first.path}`}`, symbol: first.path };
}
