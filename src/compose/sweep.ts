/**
 * Sweeps: a name (or a string) that one side replaced by one other name everywhere in a file, the
 * usual shape of a rename done by an editor or a search-and-replace (`connection` became
 * `dataSource` in every method of a class, `jest.fn` became `vi.fn` in every test). Such a change
 * touches every declaration that used the name, so it collides with any edit the other side made
 * to one of them: two changes of one statement, where the person merging sees one rename and one
 * edit. When the structured merge leaves conflicts, composeFile carries the sweep into base and
 * the other side (its old name becomes the new one there too) and merges again; the sweeping side
 * then made no change of its own to those declarations, and the other side's edits go through.
 *
 * What counts as a sweep, for side S and the pair A -> B (both names, or both string literals):
 * - S has no A left at all: the old name is gone from its file, so every A the other side has is
 *   one S would have replaced;
 * - at least {@link sweepPlacesMin} places where base has A, S has B, and the words just before
 *   and after (or the start or end of the file) are the same on both: a replacement in place, not a
 *   statement rewritten around it; A dropped from the import of a module and B added to it counts
 *   as one such place (an import list kept sorted moves the name);
 * - A never became anything but B, and B is not itself replaced by S (no swaps or chains).
 * Words are identifiers and string literals in source order; keywords and punctuation are not
 * words, so `this.connection.driver` -> `this.dataSource.driver` is one replaced word between two
 * equal ones.
 */
import { ts } from 'ts-morph';
import { matchSequences } from './diff3.js';
import type { Version } from './syntax.js';

/** How many in-place replacements of A by B make a sweep: one is an edit, two or more a rename. */
export const sweepPlacesMin = 2;

/** The word sequences compared are bounded: beyond this, a file is too changed to read renames in. */
const sweepEditLengthMax = 2_000;

/** One word of a version: an identifier or a string literal, where it is, and its text. */
interface Word {
  /** `i:name` for identifiers, `s:value` for string literals: what the comparison sees. */
  readonly key: string;
  readonly start: number;
  readonly end: number;
  /** The word as written (a string keeps its quotes). */
  readonly raw: string;
}

function wordsOf(version: Version): Word[] {
  const words: Word[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isStringLiteral(node)) {
      const start = node.getStart(version.sf);
      const key = ts.isIdentifier(node) ? `i:${node.text}` : `s:${node.text}`;
      words.push({ key, start, end: node.end, raw: version.text.slice(start, node.end) });
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(version.sf);
  return words;
}

/** The names each module is imported under (`import { a, b as c } from 'm'`: m -> {a, c}). */
function importedNames(version: Version): Map<string, Set<string>> {
  const imports = new Map<string, Set<string>>();
  for (const statement of version.sf.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings === undefined || !ts.isNamedImports(bindings)) continue;
    const names = imports.get(statement.moduleSpecifier.text) ?? new Set<string>();
    for (const element of bindings.elements) names.add(element.name.text);
    imports.set(statement.moduleSpecifier.text, names);
  }
  return imports;
}

/** The sweeps one side made, old word key -> the new word as that side writes it. */
export type Sweeps = ReadonlyMap<string, { readonly key: string; readonly raw: string }>;

/** The sweeps `side` made from `base` (see the module comment); empty when there are none. */
export function sweepsOf(base: Version, side: Version): Sweeps {
  const b = wordsOf(base);
  const s = wordsOf(side);
  const bKeys = b.map((w) => w.key);
  const sKeys = s.map((w) => w.key);
  const match = matchSequences(bKeys, sKeys, sweepEditLengthMax);
  const left = new Set(sKeys);
  const places = new Map<string, { key: string; raw: string; count: number; mixed: boolean }>();
  let prevB = -1;
  let prevS = -1;
  for (let i = 0; i <= b.length; i += 1) {
    const j = i < b.length ? match[i]! : s.length;
    if (j === -1) continue;
    // A run between two matched words: base [prevB + 1, i), side [prevS + 1, j).
    const [bn, sn] = [i - prevB - 1, j - prevS - 1];
    if (bn === 1 && sn === 1) {
      const from = b[prevB + 1]!;
      const to = s[prevS + 1]!;
      if (from.key[0] === to.key[0]) {
        const known = places.get(from.key);
        if (known === undefined) places.set(from.key, { key: to.key, raw: to.raw, count: 1, mixed: false });
        else if (known.key === to.key) known.count += 1;
        else known.mixed = true;
      }
    }
    [prevB, prevS] = [i, j];
  }
  // A rename's import usually moves in its list (`{ AnyAction, ThunkDispatch }` became
  // `{ ThunkDispatch, UnknownAction }`): the old name dropped from an import of one module and
  // the new one added to it counts as one more place.
  const [baseImports, sideImports] = [importedNames(base), importedNames(side)];
  for (const [from, to] of places) {
    if (to.mixed || !from.startsWith('i:')) continue;
    for (const [module, names] of baseImports) {
      const after = sideImports.get(module);
      if (after !== undefined && names.has(from.slice(2)) && !after.has(from.slice(2)) && after.has(to.key.slice(2)) && !names.has(to.key.slice(2))) to.count += 1;
    }
  }
  const sweeps = new Map<string, { key: string; raw: string }>();
  for (const [from, to] of places) {
    if (to.mixed || to.count < sweepPlacesMin || left.has(from)) continue;
    sweeps.set(from, { key: to.key, raw: to.raw });
  }
  // No chains or swaps: a target that is itself swept away is not a plain rename.
  for (const [from, to] of [...sweeps]) if (sweeps.has(to.key)) sweeps.delete(from);
  return sweeps;
}

/** `version`'s text with every word that `sweeps` replaces written as its new word; null when none is there. */
export function applySweeps(version: Version, sweeps: Sweeps): string | null {
  if (sweeps.size === 0) return null;
  let text = version.text;
  let changed = false;
  const words = wordsOf(version);
  for (let k = words.length - 1; k >= 0; k -= 1) {
    const word = words[k]!;
    const to = sweeps.get(word.key);
    if (to === undefined) continue;
    text = text.slice(0, word.start) + to.raw + text.slice(word.end);
    changed = true;
  }
  return changed ? text : null;
}

/** A sweep for the reader of a merge's notes: `connection -> dataSource`. */
export function describeSweeps(sweeps: Sweeps): string[] {
  return [...sweeps].map(([from, to]) => `${from.slice(2)} -> ${to.key.slice(2)}`);
}
