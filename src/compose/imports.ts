/**
 * The list merge's rules for import and export declarations (list.ts applies them to a module's
 * statements), where a declaration is more than its key says:
 * - both sides added a declaration for one module: one declaration with the names of both
 *   (unionOfSpecifiers);
 * - one side removed a declaration the other only made smaller: removed (onlyDropsNames);
 * - one side made an import `import type`, the other added names to it (mergeTypeOnlyImports);
 * - both sides re-pointed imports at one module, one side as separate declarations and the other
 *   as one declaration holding them all (redux-toolkit moved its deep `dist/query/...` imports to
 *   `@reduxjs/toolkit/query` on two branches): the smaller declarations add nothing the larger one
 *   does not, and keeping both would import each name twice (absorbedImport, which reads what an
 *   import declaration binds: each local name, the name it imports and from which module).
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import type { Version } from './syntax.js';
import { usedOnlyAsType } from './typeonly.js';
import type { MergeContext } from './outcome.js';
import type { Side } from './matching.js';
import type { ListState, Piece } from './list-state.js';
import { compareKeys } from './sorted.js';

/** One name an import brings into scope. `imported` is `default` or `*` for those forms. */
interface Binding {
  readonly local: string;
  readonly imported: string;
  readonly module: string;
  readonly typeOnly: boolean;
}

/** The names `decl` binds; null for a bare `import 'm'`, and for import attributes (`with {...}`), which this does not compare. */
function bindingsOf(decl: ts.ImportDeclaration): Binding[] | null {
  const clause = decl.importClause;
  if (clause === undefined || !ts.isStringLiteral(decl.moduleSpecifier) || decl.attributes !== undefined) return null;
  const module = decl.moduleSpecifier.text;
  const out: Binding[] = [];
  if (clause.name !== undefined) out.push({ local: clause.name.text, imported: 'default', module, typeOnly: clause.isTypeOnly });
  const named = clause.namedBindings;
  if (named !== undefined && ts.isNamespaceImport(named)) out.push({ local: named.name.text, imported: '*', module, typeOnly: clause.isTypeOnly });
  if (named !== undefined && ts.isNamedImports(named)) {
    for (const element of named.elements) {
      out.push({ local: element.name.text, imported: (element.propertyName ?? element.name).text, module, typeOnly: clause.isTypeOnly || element.isTypeOnly });
    }
  }
  return out;
}

function sameBinding(wanted: Binding, held: Binding): boolean {
  return held.local === wanted.local && held.imported === wanted.imported && held.module === wanted.module && (wanted.typeOnly || !held.typeOnly);
}

function topLevelImports(version: Version): ts.ImportDeclaration[] {
  return version.sf.statements.filter((statement) => ts.isImportDeclaration(statement));
}

/**
 * True when `node`, an import declaration one side added, is absorbed by the other side: every
 * name it binds is new (base binds none of them so, name for name and module for module), and one
 * import declaration of `other` binds all of them and more. Strictly more, so two declarations
 * can never absorb each other and both be dropped; equal ones are left to the merge (and its
 * check for names declared twice).
 */
export function absorbedImport(node: ts.Node, base: Version, other: Version): boolean {
  if (!ts.isImportDeclaration(node)) return false;
  const wanted = bindingsOf(node);
  if (wanted === null || wanted.length === 0) return false;
  const inBase = topLevelImports(base).flatMap((decl) => bindingsOf(decl) ?? []);
  if (wanted.some((b) => inBase.some((h) => h.local === b.local && h.imported === b.imported && h.module === b.module))) return false;
  return topLevelImports(other).some((decl) => {
    const held = bindingsOf(decl);
    return held !== null && held.length > wanted.length && wanted.every((b) => held.some((h) => sameBinding(b, h)));
  });
}

/**
 * One side turned `import { a, b } from 'm'` into `import type { a, b } from 'm'` (a new key: the
 * base import looks removed), the other side added names to the base import: one `import type`
 * with the added names, when each added name is used only as a type on both sides. The merged
 * file's uses of a name all come from one side or the other, so none of them needs its value.
 * Otherwise the usual remove/modify conflict stands.
 */
export function mergeTypeOnlyImports(st: ListState, converter: Side, dropped: Map<string, Piece | null>): void {
  const adder: Side = converter === 'ours' ? 'theirs' : 'ours';
  const [convMatch, addMatch] = converter === 'ours' ? [st.matchOurs, st.matchTheirs] : [st.matchTheirs, st.matchOurs];
  st.base.forEach((baseElement, b) => {
    if (baseElement.key === null || !baseElement.key.startsWith('import:') || baseElement.key.endsWith(':type')) return;
    if (convMatch.baseToSide[b] !== -1 || addMatch.baseToSide[b] === -1) return;
    const added = st[adder][addMatch.baseToSide[b]!]!;
    const typed = st[converter].find((e) => e.key === `${baseElement.key}:type` && convMatch.sideToBase[e.index] === -1);
    if (typed === undefined || dropped.has(`${converter}:${typed.index}`)) return;
    const baseSpecs = specifierList(st.cx.base, baseElement.node);
    const typedSpecs = specifierList(st.cx[converter], typed.node);
    const addedSpecs = specifierList(st.cx[adder], added.node);
    if (baseSpecs === null || typedSpecs === null || addedSpecs === null || addedSpecs.shape !== baseSpecs.shape) return;
    const names = (version: Version, list: typeof baseSpecs.list): string[] => list.map((spec) => version.text.slice(spec.getStart(version.sf), spec.end));
    const [baseNames, typedNames, addedNames] = [names(st.cx.base, baseSpecs.list), names(st.cx[converter], typedSpecs.list), names(st.cx[adder], addedSpecs.list)];
    // The converter only added `type`; the adder only added names.
    if (typedNames.length !== baseNames.length || !baseNames.every((n) => typedNames.includes(n))) return;
    if (!baseNames.every((n) => addedNames.includes(n))) return;
    const fresh = addedNames.filter((n) => !baseNames.includes(n));
    if (fresh.length === 0 || fresh.some((n) => !/^[A-Za-z_$][\w$]*$/.test(n))) return;
    if (!fresh.every((n) => usedOnlyAsType(st.cx.ours, n) && usedOnlyAsType(st.cx.theirs, n))) return;
    assert(fresh.every((n) => !typedNames.includes(n)), 'mergeTypeOnlyImports: the added names are new to the type-only import');
    const version = st.cx[converter];
    const last = typedSpecs.list[typedSpecs.list.length - 1]!;
    const second = typedSpecs.list[1];
    const separator = second === undefined ? ', ' : version.text.slice(typedSpecs.list[0]!.end, second.getStart(version.sf));
    const start = typed.node.getStart(version.sf);
    const text = typed.unit.slice(0, start - typed.node.pos) + version.text.slice(start, last.end) + fresh.map((n) => separator + n).join('') + version.text.slice(last.end, typed.node.end);
    dropped.set(`${converter}:${typed.index}`, { kind: 'text', text, ident: typed.ident, key: typed.key, side: 'base', index: -1 });
    st.absorbed.add(`${adder}:${added.index}`);
  });
}

/** The named-specifier list of an import or export declaration, with the rest of it as a shape. */
function specifierList(version: Version, node: ts.Node): { list: ts.NodeArray<ts.ImportSpecifier | ts.ExportSpecifier>; open: number; close: number; shape: string } | null {
  let named: ts.NamedImports | ts.NamedExports | undefined;
  if (ts.isImportDeclaration(node) && node.importClause?.namedBindings !== undefined && ts.isNamedImports(node.importClause.namedBindings)) named = node.importClause.namedBindings;
  else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && node.exportClause !== undefined && ts.isNamedExports(node.exportClause)) named = node.exportClause;
  if (named === undefined || named.elements.length === 0) return null;
  const start = node.getStart(version.sf);
  const open = named.getStart(version.sf);
  // Everything but the names between the braces must agree: the default import, `type`, the module.
  const shape = (version.text.slice(start, open) + version.text.slice(named.end, node.end)).replace(/\s+/g, ' ');
  return { list: named.elements, open, close: named.end, shape };
}

/**
 * The shape of an import with its default name dropped (`import A, { b } from 'm'` read as
 * `import { b } from 'm'`): dropping the default import is dropping a name too. The shape itself
 * when there is no default name.
 */
function withoutDefaultImport(version: Version, node: ts.Node, shape: string): string {
  if (!ts.isImportDeclaration(node) || node.importClause?.name === undefined || node.importClause.namedBindings === undefined) return shape;
  const start = node.getStart(version.sf);
  const before = version.text.slice(start, node.importClause.name.getStart(version.sf));
  return (before + version.text.slice(node.importClause.namedBindings.end, node.end)).replace(/\s+/g, ' ');
}

/** True when `after` is the import (export) declaration `before` with some of its names removed. */
export function onlyDropsNames(beforeVersion: Version, before: ts.Node, afterVersion: Version, after: ts.Node): boolean {
  const b = specifierList(beforeVersion, before);
  const a = specifierList(afterVersion, after);
  if (b === null || a === null) return false;
  if (a.shape !== b.shape && a.shape !== withoutDefaultImport(beforeVersion, before, b.shape)) return false;
  const names = new Set(b.list.map((spec) => beforeVersion.text.slice(spec.getStart(beforeVersion.sf), spec.end)));
  return a.list.every((spec) => names.has(afterVersion.text.slice(spec.getStart(afterVersion.sf), spec.end)));
}

/**
 * One import (export) declaration holding the names of two that both sides added for the same
 * module: ours' text with theirs' further names, kept in order when both lists are sorted. Null
 * when they differ in more than their names.
 */
export function unionOfSpecifiers(cx: MergeContext, ours: ts.Node, theirs: ts.Node): string | null {
  const o = specifierList(cx.ours, ours);
  const t = specifierList(cx.theirs, theirs);
  if (o === null || t === null || o.shape !== t.shape) return null;
  const body = (version: Version, node: ts.Node): string => version.text.slice(node.getStart(version.sf), node.end);
  const names = o.list.map((spec) => body(cx.ours, spec));
  const added = t.list.map((spec) => body(cx.theirs, spec)).filter((name) => !names.includes(name));
  const first = o.list[0]!;
  const last = o.list[o.list.length - 1]!;
  const lead = cx.ours.text.slice(o.open, first.getStart(cx.ours.sf));
  const trail = cx.ours.text.slice(last.end, o.close);
  const second = o.list[1];
  const separator = second === undefined ? (lead.includes('\n') ? `,${lead.slice(1)}` : ', ') : cx.ours.text.slice(first.end, second.getStart(cx.ours.sf));
  const sortedBy = (list: readonly string[]): boolean => list.every((name, i) => i === 0 || compareKeys(list[i - 1]!, name) <= 0);
  const theirNames = t.list.map((spec) => body(cx.theirs, spec));
  const merged = sortedBy(names) && sortedBy(theirNames) ? [...names, ...added].sort(compareKeys) : [...names, ...added];
  const start = ours.getStart(cx.ours.sf);
  return cx.ours.text.slice(start, first.getStart(cx.ours.sf)) + merged.join(separator) + trail + cx.ours.text.slice(o.close, ours.end);
}
