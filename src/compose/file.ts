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
 * Every clean result of a source file then passes the safeguard (check.ts): checked on its own, it
 * may not have a problem that no input had (two declarations of one name, a name that no longer
 * resolves); if it has, a rename is carried into the other side's new code, or the result is a
 * conflict.
 * 4. A side that converted every line ending is merged with base's endings, and its endings kept.
 * 5. A source file still in conflict is merged once more with each side's sweeps (a name one side
 *    replaced everywhere in the file) carried into base and the other side: sweep.ts.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import { defaultMarkers, mergeLines } from './diff3.js';
import type { MarkerStyle } from './diff3.js';
import { carryRenames, describeFindings, findingsOf, introducedFindings, isCheckedPath, newFindings, ownedGlobals } from './check.js';
import type { Finding } from './check.js';
import { mergeSourceFiles } from './structured.js';
import type { Conflict } from './outcome.js';
import { applySweeps, describeSweeps, sweepsOf } from './sweep.js';
import type { Sweeps } from './sweep.js';
import { elementKey, isStructuredPath, parseVersion } from './syntax.js';
import type { Version } from './syntax.js';

export type { Conflict, ConflictKind } from './outcome.js';

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
  /**
   * What a clean structured merge decided that a reader should know (one line each): a removal
   * taken over the other side's change of types only. Absent when there is nothing to say.
   */
  readonly notes?: readonly string[];
}

/** The largest file (UTF-16 code units) merged structurally. */
export const structuredCharsMax = 256 * 1024;

/** Merge three versions of one file. Pure and deterministic. */
export function composeFile(input: ComposeFileInput): ComposeFileResult {
  const converted = composeConverted(input);
  if (converted !== null) return converted;
  const first = composeOnce(input);
  if (first.conflicts.length === 0 || !isCheckedPath(input.path)) return first;
  return composeSwept(input) ?? first;
}

/** A text's line ending: every line break `\r\n`, every one `\n`, none at all, or both kinds. */
function lineEndingOf(text: string): 'lf' | 'crlf' | 'none' | 'mixed' {
  const breaks = text.split('\n').length - 1;
  if (breaks === 0) return 'none';
  const crlf = text.split('\r\n').length - 1;
  return crlf === 0 ? 'lf' : crlf === breaks ? 'crlf' : 'mixed';
}

function withLineEnding(text: string, ending: 'lf' | 'crlf'): string {
  const lf = text.replaceAll('\r\n', '\n');
  return ending === 'lf' ? lf : lf.replaceAll('\n', '\r\n');
}

/**
 * One side converted every line ending of the file (`\n` to `\r\n` or back) and the other kept
 * base's: that is one change of every line, which would collide with any edit of the other side.
 * The merge is made with the converting side's line endings set back to base's, and its result
 * written with the converted ones: both changes kept. Null when no side converted, or both did.
 */
function composeConverted(input: ComposeFileInput): ComposeFileResult | null {
  const [b, o, t] = [lineEndingOf(input.base), lineEndingOf(input.ours), lineEndingOf(input.theirs)];
  if (b !== 'lf' && b !== 'crlf') return null;
  const converter = o !== b && t === b ? 'ours' : t !== b && o === b ? 'theirs' : null;
  if (converter === null) return null;
  const ending = converter === 'ours' ? o : t;
  if (ending !== 'lf' && ending !== 'crlf') return null;
  const result = composeFile({ ...input, [converter]: withLineEnding(input[converter], b) });
  const said = `${converter} converted every line ending to ${ending === 'crlf' ? 'CRLF' : 'LF'}: kept`;
  return { ...result, text: withLineEnding(result.text, ending), notes: [...(result.notes ?? []), said] };
}

/**
 * The merge again with each side's sweeps (sweep.ts: a name one side replaced by another
 * everywhere in the file) carried into base and the other side; null unless that merge is clean
 * and, checked against the original inputs, introduces no diagnostic. Both sides sweeping one name
 * to two different names, or one side's new name being the other's old one, is left as it was.
 */
function composeSwept(input: ComposeFileInput): ComposeFileResult | null {
  const { path } = input;
  if (Math.max(input.base.length, input.ours.length, input.theirs.length) > structuredCharsMax) return null;
  const [b, o, t] = [input.base, input.ours, input.theirs].map((text) => parseVersion(path, text));
  if (b === null || o === null || t === null || b === undefined || o === undefined || t === undefined) return null;
  const byOurs = sweepsOf(b, o);
  const byTheirs = sweepsOf(b, t);
  if (byOurs.size === 0 && byTheirs.size === 0) return null;
  for (const [from, to] of byOurs) {
    const other = byTheirs.get(from);
    if (other !== undefined && other.key !== to.key) return null;
  }
  const targets = (sweeps: Sweeps): string[] => [...sweeps.values()].map((to) => to.key);
  if (targets(byOurs).some((key) => byTheirs.has(key)) || targets(byTheirs).some((key) => byOurs.has(key))) return null;
  const both: Sweeps = new Map([...byTheirs, ...byOurs]);
  const swept = {
    base: applySweeps(b, both) ?? input.base,
    ours: applySweeps(o, byTheirs) ?? input.ours,
    theirs: applySweeps(t, byOurs) ?? input.theirs,
  };
  const second = composeOnce({ ...input, ...swept });
  if (second.conflicts.length > 0) return null;
  const introduced = introducedFindings(path, { base: input.base, ours: input.ours, theirs: input.theirs, result: second.text });
  if (introduced !== null && introduced.length > 0) return null;
  const said = [
    ...(byOurs.size > 0 ? [`ours renamed ${describeSweeps(byOurs).join(', ')} throughout the file: carried into theirs`] : []),
    ...(byTheirs.size > 0 ? [`theirs renamed ${describeSweeps(byTheirs).join(', ')} throughout the file: carried into ours`] : []),
  ];
  return { ...second, method: 'structured', notes: [...(second.notes ?? []), ...said] };
}

/** One merge of the three versions as given (see the module comment for the steps). */
function composeOnce(input: ComposeFileInput): ComposeFileResult {
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
      // Entries added at one point, and edits of neighbouring lines elsewhere (a changelog is a line list).
      const split = mergeLines(base, ours, theirs, markers, undefined, 'both', splitOutsideCode);
      if (split.conflicts === 0) return { text: split.text, conflicts: [], method: 'lines' };
    }
    if (lines.conflicts > 0 && isLineListPath(path)) {
      // Prose and line lists: edits of neighbouring lines are two edits, not one.
      const split = mergeLines(base, ours, theirs, markers, undefined, 'conflict', splitOutsideCode);
      if (split.conflicts === 0) return { text: split.text, conflicts: [], method: 'lines' };
    }
    return { text: lines.text, conflicts: lines.conflicts === 0 ? [] : [lineConflict('lines')], method: 'lines' };
  }
  const inputs = new InputVersions(path, base, ours, theirs);
  const result = lines.conflicts === 0 ? parseVersion(path, lines.text) : null;
  // A clean line merge that the safeguard rejects goes on to the structured merge, which may do
  // better (one copy of a duplicate); if it does not, the line merge is reported as a conflict.
  let rejected: Finding[] | null = null;
  if (result !== null && !declaresNewDuplicates(result, inputs)) {
    const guarded = safeguard(path, result, inputs);
    if (guarded.ok) return { text: guarded.text, conflicts: [], method: 'lines' };
    rejected = guarded.findings;
  }
  // Beyond this size a file is generated (lock files, schemas): merged by lines, as git would.
  if (Math.max(base.length, ours.length, theirs.length) > structuredCharsMax) {
    return { text: lines.text, conflicts: lines.conflicts === 0 ? [] : [lineConflict('lines')], method: 'lines' };
  }
  const [b, o, t] = [inputs.base, inputs.ours, inputs.theirs];
  // Inputs that do not parse themselves (Flow, syntax the parser does not know) cannot be judged
  // by parsing the result: a clean line merge of them stands.
  if (lines.conflicts === 0 && (b === null || o === null || t === null)) return { text: lines.text, conflicts: [], method: 'lines' };
  const fallback = (): ComposeFileResult => ({
    text: lines.text,
    conflicts: [lineConflict(lines.conflicts === 0 ? 'unparseable' : 'lines')],
    method: 'lines-fallback',
  });
  // A clean result with a diagnostic no input had: the line merge's output (with git's markers
  // where the lines conflicted), reported as a conflict that names the diagnostics.
  const broken = (findings: readonly Finding[]): ComposeFileResult => ({
    text: lines.text,
    conflicts: [{ ...lineConflict('diagnostic'), detail: describeFindings(findings) }],
    method: 'lines-fallback',
  });
  if (b === null || o === null || t === null) return fallback();
  const notes: string[] = [];
  const merged = mergeSourceFiles({ base: b, ours: o, theirs: t, markers, notes });
  if (!merged.ok) return rejected === null ? fallback() : broken(rejected);
  if (merged.conflicts.length === 0) {
    const parsed = parseVersion(path, merged.text);
    if (parsed === null) return rejected === null ? fallback() : broken(rejected);
    const guarded = safeguard(path, parsed, inputs);
    if (!guarded.ok) return broken(guarded.findings);
    return { text: guarded.text, conflicts: [], method: 'structured', ...(notes.length > 0 ? { notes } : {}) };
  }
  // Markers that do not stand on lines of their own would break git's tools: use the line merge's.
  if (!markersOnOwnLines(merged.text, markers)) return { ...fallback(), conflicts: merged.conflicts };
  assert(merged.conflicts.length > 0, 'composeFile: a marked result has conflicts');
  return { text: merged.text, conflicts: merged.conflicts, method: 'structured' };
}

/**
 * The inputs of one merge, parsed when first needed and checked when first needed: the line merge
 * that is clean and sound needs the sides parsed only to look for duplicates, and checked never.
 */
class InputVersions {
  private readonly parsed = new Map<'base' | 'ours' | 'theirs', Version | null>();
  private readonly checked = new Map<'base' | 'ours' | 'theirs', readonly Finding[]>();
  private owned: ReadonlySet<string> | null = null;

  constructor(
    private readonly path: string,
    private readonly baseText: string,
    private readonly oursText: string,
    private readonly theirsText: string,
  ) {}

  get base(): Version | null {
    return this.version('base');
  }

  get ours(): Version | null {
    return this.version('ours');
  }

  get theirs(): Version | null {
    return this.version('theirs');
  }

  /** The guarded diagnostics of one input (which must parse). */
  findings(which: 'base' | 'ours' | 'theirs'): readonly Finding[] {
    const known = this.checked.get(which);
    if (known !== undefined) return known;
    const version = this.version(which);
    assert(version !== null, 'InputVersions.findings: the input parses');
    const found = findingsOf(version, this.ownedGlobals());
    this.checked.set(which, found);
    return found;
  }

  /** The well-known global names an input declares itself (check.ts, ownedGlobals); all three parse. */
  ownedGlobals(): ReadonlySet<string> {
    if (this.owned === null) {
      const versions = [this.base, this.ours, this.theirs];
      assert(versions.every((v) => v !== null), 'InputVersions.ownedGlobals: the inputs parse');
      this.owned = ownedGlobals(versions);
    }
    return this.owned;
  }

  private version(which: 'base' | 'ours' | 'theirs'): Version | null {
    if (this.parsed.has(which)) return this.parsed.get(which)!;
    const text = which === 'base' ? this.baseText : which === 'ours' ? this.oursText : this.theirsText;
    const version = parseVersion(this.path, text);
    this.parsed.set(which, version);
    return version;
  }
}

/** A clean result that passed the safeguard (its text, renames carried), or what it found. */
type Guarded = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly findings: Finding[] };

/**
 * Check a clean result on its own against its inputs (check.ts): a diagnostic no input had makes it
 * a conflict, unless carrying a rename into the other side's new code (carryRenames) removes every
 * such diagnostic. Files the safeguard cannot judge pass: JSON, inputs that do not parse, files over
 * the structured size bound (generated: checking them would cost more than merging them).
 */
function safeguard(path: string, result: Version, inputs: InputVersions): Guarded {
  if (!isCheckedPath(path) || result.text.length > structuredCharsMax) return { ok: true, text: result.text };
  const [b, o, t] = [inputs.base, inputs.ours, inputs.theirs];
  if (b === null || o === null || t === null) return { ok: true, text: result.text };
  if (Math.max(b.text.length, o.text.length, t.text.length) > structuredCharsMax) return { ok: true, text: result.text };
  const checks = [(): readonly Finding[] => inputs.findings('ours'), (): readonly Finding[] => inputs.findings('theirs'), (): readonly Finding[] => inputs.findings('base')];
  const owned = inputs.ownedGlobals();
  const fresh = newFindings(findingsOf(result, owned), checks);
  if (fresh.length === 0) return { ok: true, text: result.text };
  const carried = carryRenames(result, fresh, { base: b, ours: o, theirs: t });
  const repaired = carried === null ? null : parseVersion(path, carried);
  if (repaired !== null && newFindings(findingsOf(repaired, owned), checks).length === 0) return { ok: true, text: repaired.text };
  return { ok: false, findings: fresh };
}

/**
 * Files whose lines stand each on its own, where two sides' edits of neighbouring lines are
 * merged as two edits (diff3.ts, separateEdits) instead of git's conflict: Markdown and other
 * prose, YAML, ignore and attribute files. Not lock files (regenerated, never merged by hand), not
 * source files (merged by syntax, where a statement's lines belong together), not snapshots.
 */
export function isLineListPath(path: string): boolean {
  const lower = path.toLowerCase();
  if (/(^|\/)(pnpm-lock|yarn)\.ya?ml$/.test(lower)) return false;
  if (/\.(md|mdx|markdown|txt|rst|adoc|ya?ml)$/.test(lower)) return true;
  return /(^|\/)\.(git|npm|prettier|eslint|docker)ignore$|(^|\/)\.gitattributes$/.test(lower);
}

/** A Markdown code fence line: three backticks or tildes. */
const fenceLine = /^\s{0,3}(```|~~~)/;

/**
 * The split rule of line lists: not inside a fenced code block of Markdown (code there is merged
 * as git would, whole), and not where a side adds, moves or removes a fence.
 */
function splitOutsideCode(base: readonly string[], at: number, region: { readonly base: readonly string[]; readonly ours: readonly string[]; readonly theirs: readonly string[] }): boolean {
  let fences = 0;
  for (let k = 0; k < at; k += 1) if (fenceLine.test(base[k]!)) fences += 1;
  if (fences % 2 === 1) return false;
  return ![region.base, region.ours, region.theirs].some((lines) => lines.some((line) => fenceLine.test(line)));
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
function declaresNewDuplicates(result: Version, inputs: InputVersions): boolean {
  const counts = topLevelKeys(result);
  const duplicated = [...counts].filter(([, n]) => n > 1);
  if (duplicated.length === 0) return false;
  const [o, t] = [inputs.ours, inputs.theirs];
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
