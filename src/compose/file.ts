/**
 * `composeFile`: the three-way merge of one text file, the pure core that the merge driver,
 * `acu compose` and `acu replay-merges` share. Texts in, text out; the same inputs give the same
 * bytes.
 *
 * Order of attempts, and why:
 * 1. The line merge of the whole file (git merge-file's semantics). When it is clean, parses, and
 *    declares no name twice that neither side declared twice, it is what git users expect and what
 *    a careful person writes: it is kept.
 * 2. For a source file that parses on all three sides: the structured merge (structured.ts), which
 *    resolves what lines could not — edits of different declarations that touch neighbouring
 *    lines, both sides adding to one import, one class, one object literal, one JSX element.
 * 3. Otherwise the line merge, with its markers. A result that does not parse is never clean.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import { defaultMarkers, mergeLines } from './diff3.js';
import type { MarkerStyle } from './diff3.js';
import { mergeSourceFiles } from './structured.js';
import type { Conflict } from './structured.js';
import { elementKey, isStructuredPath, parseVersion } from './syntax.js';
import type { Version } from './syntax.js';

export type { Conflict, ConflictKind } from './structured.js';

/** The three versions of one file. */
export interface ComposeFileInput {
  /** Repository path: decides whether the file is TypeScript/JavaScript and how it parses. */
  readonly path: string;
  readonly base: string;
  readonly ours: string;
  readonly theirs: string;
  /** Conflict marker style (git's `%L` and labels); default seven characters, `ours`/`theirs`. */
  readonly markers?: MarkerStyle;
}

/** How a file's result was reached. */
export type ComposeMethod = 'trivial' | 'lines' | 'structured' | 'lines-fallback';

/** The merged text (with conflict markers when `conflicts` is not empty) and its conflicts. */
export interface ComposeFileResult {
  readonly text: string;
  readonly conflicts: Conflict[];
  readonly method: ComposeMethod;
}

/** The largest file (UTF-16 code units) merged structurally. */
export const structuredCharsMax = 256 * 1024;

/** Merge three versions of one file. Pure and deterministic. */
export function composeFile(input: ComposeFileInput): ComposeFileResult {
  const { path, base, ours, theirs } = input;
  const markers = input.markers ?? defaultMarkers;
  if (ours === theirs || theirs === base) return { text: ours, conflicts: [], method: 'trivial' };
  if (ours === base) return { text: theirs, conflicts: [], method: 'trivial' };
  const lines = mergeLines(base, ours, theirs, markers);
  const lineConflict = (kind: Conflict['kind']): Conflict => ({ path: '', kind, base, ours, theirs });
  if (!isStructuredPath(path)) {
    if (lines.conflicts > 0 && isChangelogPath(path)) {
      // Both branches adding entries at the top of a changelog is the usual case: keep both.
      const union = mergeLines(base, ours, theirs, markers, undefined, 'both');
      if (union.conflicts === 0) return { text: union.text, conflicts: [], method: 'lines' };
    }
    return { text: lines.text, conflicts: lines.conflicts === 0 ? [] : [lineConflict('lines')], method: 'lines' };
  }
  const result = lines.conflicts === 0 ? parseVersion(path, lines.text) : null;
  if (result !== null && !declaresNewDuplicates(path, result, ours, theirs)) return { text: lines.text, conflicts: [], method: 'lines' };
  // Beyond this size a file is generated (lock files, schemas): merged by lines, as git would.
  if (Math.max(base.length, ours.length, theirs.length) > structuredCharsMax) {
    return { text: lines.text, conflicts: lines.conflicts === 0 ? [] : [lineConflict('lines')], method: 'lines' };
  }
  const versions = [parseVersion(path, base), parseVersion(path, ours), parseVersion(path, theirs)] as const;
  const [b, o, t] = versions;
  // Inputs that do not parse themselves (Flow, syntax the parser does not know) cannot be judged
  // by parsing the result: a clean line merge of them stands.
  if (lines.conflicts === 0 && (b === null || o === null || t === null)) return { text: lines.text, conflicts: [], method: 'lines' };
  const fallback = (): ComposeFileResult => ({
    text: lines.text,
    conflicts: [lineConflict(lines.conflicts === 0 ? 'unparseable' : 'lines')],
    method: 'lines-fallback',
  });
  if (b === null || o === null || t === null) return fallback();
  const merged = mergeSourceFiles({ base: b, ours: o, theirs: t, markers });
  if (!merged.ok) return fallback();
  if (merged.conflicts.length === 0) {
    if (parseVersion(path, merged.text) === null) return fallback();
    return { text: merged.text, conflicts: [], method: 'structured' };
  }
  // Markers that do not stand on lines of their own would break git's tools: use the line merge's.
  if (!markersOnOwnLines(merged.text, markers)) return { ...fallback(), conflicts: merged.conflicts };
  assert(merged.conflicts.length > 0, 'composeFile: a marked result has conflicts');
  return { text: merged.text, conflicts: merged.conflicts, method: 'structured' };
}

/**
 * Changelogs and release notes (`CHANGELOG.md`, `changes.md`, `HISTORY.md`, `releases.md`, any
 * directory): lists of entries where two branches' insertions at one point are both kept.
 */
export function isChangelogPath(path: string): boolean {
  return /(^|\/)(change(s|log)|history|releases?|release-notes)([-_.][^/]*)?\.(md|markdown|txt|rst)$/i.test(path);
}

/** True when every conflict marker in `text` is a whole line. */
export function markersOnOwnLines(text: string, markers: MarkerStyle): boolean {
  const starts = [`${'<'.repeat(markers.size)} `, `${'='.repeat(markers.size)}`, `${'>'.repeat(markers.size)} `];
  for (const marker of starts) {
    let from = 0;
    for (;;) {
      const at = text.indexOf(marker, from);
      if (at === -1) break;
      from = at + marker.length;
      const lineStart = at === 0 || text[at - 1] === '\n';
      const lineEnd = text.indexOf('\n', at);
      const line = text.slice(at, lineEnd === -1 ? text.length : lineEnd);
      if (marker.startsWith('=') && (line !== marker || !lineStart)) continue;
      if (!lineStart) return false;
      if (lineEnd === -1) return false;
    }
  }
  return true;
}

/** Top-level declaration keys, counted. */
function topLevelKeys(version: Version): Map<string, number> {
  const counts = new Map<string, number>();
  for (const statement of version.sf.statements) {
    // Overload signatures and declaration merging (interfaces, namespaces) repeat names legitimately.
    if (ts.isFunctionDeclaration(statement) && statement.body === undefined) continue;
    const key = elementKey(version, statement);
    if (key === null || !/^(import|function|class|variable|type|enum|call):/.test(key)) continue;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * True when the line merge declared a top-level name (or imported a module, or registered a
 * call known by its name: `test('x', ...)`) more often than either side: both sides added the
 * same import, function or test at different places, which git merges cleanly into a duplicate.
 */
function declaresNewDuplicates(path: string, result: Version, ours: string, theirs: string): boolean {
  const counts = topLevelKeys(result);
  const duplicated = [...counts].filter(([, n]) => n > 1);
  if (duplicated.length === 0) return false;
  const o = parseVersion(path, ours);
  const t = parseVersion(path, theirs);
  if (o === null || t === null) return false;
  const [oc, tc] = [topLevelKeys(o), topLevelKeys(t)];
  return duplicated.some(([key, n]) => n > Math.max(oc.get(key) ?? 0, tc.get(key) ?? 0));
}

/** The versions of one file on several sides, all descended from one base. */
export interface ComposeSidesInput {
  readonly path: string;
  readonly base: string;
  /** Two or more sides, in order: earlier sides come first where additions meet ("ours" first). */
  readonly sides: readonly string[];
  readonly markers?: MarkerStyle;
}

/**
 * Merge any number of sides onto their base by folding: the first two merge three-way, then each
 * further side merges with that result over the same base (the result holds every earlier side's
 * changes relative to base, so the fold is itself a three-way merge). Stops at the first merge
 * with conflicts and returns it: folding a marked text further would nest markers.
 */
export function composeSides(input: ComposeSidesInput): ComposeFileResult & { readonly sidesMerged: number } {
  assert(input.sides.length >= 2, 'composeSides: at least two sides');
  const [first, ...rest] = input.sides;
  assert(first !== undefined, 'composeSides: a first side');
  let result: ComposeFileResult = { text: first, conflicts: [], method: 'trivial' };
  let merged = 1;
  for (const side of rest) {
    result = composeFile({ path: input.path, base: input.base, ours: result.text, theirs: side, markers: input.markers ?? defaultMarkers });
    merged += 1;
    if (result.conflicts.length > 0) break;
  }
  return { ...result, sidesMerged: merged };
}
