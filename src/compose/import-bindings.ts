/**
 * What an import declaration binds: each local name, the name it imports and from which module.
 * The structured merge uses it where both sides re-pointed imports at one module, one side as
 * separate declarations and the other as one declaration holding them all (redux-toolkit moved
 * its deep `dist/query/...` imports to `@reduxjs/toolkit/query` on two branches): the smaller
 * declarations add nothing the larger one does not, and keeping both would import each name
 * twice.
 */
import { ts } from 'ts-morph';
import type { Version } from './syntax.js';

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
