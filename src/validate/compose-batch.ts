/**
 * Composing a batch: each proposal's ACUs are applied to the base on their own (they were extracted
 * against it), then the proposals are merged file by file, in proposal order, with the composition
 * engine's `composeFile`. A proposal whose ACUs do not apply, or whose change of a file conflicts
 * with what earlier proposals did to it, is left out of that file, and the conflict is recorded
 * against the ACUs involved.
 */
import { AcuError } from '../core/errors.js';
import type { Acu } from '../core/acu/model.js';
import { composeFile } from '../compose/file.js';
import { applyAcus } from '../extract/apply.js';
import type { FileState, ParentFiles } from '../extract/apply.js';
import { decodeText } from '../extract/text.js';
import type { BatchAcu } from './attribute.js';

/** The base tree validation runs on. */
export interface BaseTree {
  /** The tree's id (its git tree oid). */
  readonly id: string;
  /** Every file of the tree: mode and blob id. */
  readonly entries: ReadonlyMap<string, FileState>;
  readBlobs(oids: readonly string[]): Promise<Uint8Array[]>;
}

/** A file after composition: text, `null` when deleted, or an opaque marker for non-text content. */
export type ComposedText = string | null;

/** A conflict found while composing: the ACUs on each side, by batch index. */
export interface ComposeProblem {
  readonly kind: 'apply' | 'compose';
  readonly file: string;
  readonly message: string;
  /** For `compose`: the earlier side's ACUs and the later one's. For `apply`: the proposal's ACUs (later). */
  readonly earlier: number[];
  readonly later: number[];
}

/** Composition of a batch: changed paths' texts and the problems met. */
export interface BatchComposition {
  readonly changes: Map<string, ComposedText>;
  readonly problems: ComposeProblem[];
}

function parentFiles(base: BaseTree): ParentFiles {
  return {
    entry: (path) => Promise.resolve(base.entries.get(path) ?? null),
    read: async (oid) => (await base.readBlobs([oid]))[0]!,
  };
}

function textOf(bytes: Uint8Array | null, oid: string): string {
  const text = bytes === null ? null : decodeText(bytes);
  return text ?? `\u0000acu-opaque:${oid}`;
}

/** Each proposal's edits (path -> composed text) or null when its ACUs do not apply. */
async function proposalEdits(base: BaseTree, acus: readonly BatchAcu[], proposal: number): Promise<{ edits: Map<string, ComposedText> | null; message: string }> {
  const mine = acus.filter((entry) => entry.proposal === proposal).map((entry) => entry.item.acu);
  try {
    const edits = await applyAcus(parentFiles(base), mine);
    return { edits: new Map([...edits].map(([path, file]) => [path, file === null ? null : textOf(file.bytes, file.oid)])), message: '' };
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
  const sides: Array<Map<string, ComposedText>> = [];
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
  const changes = new Map<string, ComposedText>();
  for (const path of paths) {
    const entry = base.entries.get(path);
    const baseText = entry === undefined ? null : textOf((await base.readBlobs([entry.oid]))[0] ?? null, entry.oid);
    const result = composePath(path, baseText, sides, acus, problems);
    if (result !== baseText) changes.set(path, result);
  }
  return { changes, problems };
}

function composePath(path: string, baseText: ComposedText, sides: ReadonlyArray<Map<string, ComposedText>>, acus: readonly BatchAcu[], problems: ComposeProblem[]): ComposedText {
  let current = baseText;
  const merged = new Set<number>();
  for (let p = 0; p < sides.length; p += 1) {
    const side = sides[p]!;
    if (!side.has(path)) continue;
    const theirs = side.get(path) ?? null;
    const outcome = mergeOne(path, baseText, current, theirs);
    if (outcome.ok) {
      current = outcome.text;
      merged.add(p);
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
  return current;
}

type MergeOutcome = { readonly ok: true; readonly text: ComposedText } | { readonly ok: false; readonly message: string; readonly symbol: string };

function mergeOne(path: string, base: ComposedText, ours: ComposedText, theirs: ComposedText): MergeOutcome {
  if (ours === base || ours === theirs) return { ok: true, text: theirs };
  if (theirs === base) return { ok: true, text: ours };
  if (ours === null || theirs === null) return { ok: false, message: `${path} is removed on one side and changed on the other`, symbol: '' };
  if (ours.startsWith('\u0000acu-opaque:') || theirs.startsWith('\u0000acu-opaque:')) {
    return { ok: false, message: `${path} is not text and both sides change it`, symbol: '' };
  }
  const result = composeFile({ path, base: base ?? '', ours, theirs });
  if (result.conflicts.length === 0) return { ok: true, text: result.text };
  const first = result.conflicts[0]!;
  return { ok: false, message: `${first.kind} conflict at ${first.path === '' ? path : `${path}#${first.path}`}`, symbol: first.path };
}
