/**
 * The names a declaration defines and the names it uses. Validation and scoring read them: an ACU
 * that changes a name another ACU uses interferes with it.
 *
 * `uses` is syntactic, not a type-checker's resolution: every identifier in a reference position,
 * less the names declared anywhere inside the declaration itself (parameters, locals, type
 * parameters) and less its own defined names. It over-approximates a little (a local shadowing an
 * outer name hides the outer use), which suits interference scoring: it errs towards "may touch".
 */
import { ts } from 'ts-morph';
import type { Segment } from './segment.js';
import { variableNames } from './segment.js';

/** Sorted, unique names. */
export interface Names {
  readonly defines: string[];
  readonly uses: string[];
}

/** Names of a segment. For a shell (container head and tail only), members are not visited. */
export function namesOf(segment: Segment, sf: ts.SourceFile, shellOnly: boolean): Names {
  const defines = new Set<string>();
  for (const node of segment.nodes) collectDefines(node, defines);
  const declared = new Set<string>(defines);
  const referenced = new Set<string>();
  const skip = shellOnly ? new Set<ts.Node>(segment.layout?.children.flatMap((c) => c.nodes) ?? []) : null;
  for (const node of segment.nodes) visitReferences(node, sf, referenced, declared, skip);
  const uses = [...referenced].filter((name) => !declared.has(name));
  return { defines: [...defines].sort(), uses: uses.sort() };
}

function collectDefines(node: ts.Node, out: Set<string>): void {
  if (ts.isSourceFile(node)) return;
  if (ts.isVariableStatement(node)) {
    for (const name of variableNames(node)) out.add(name);
    return;
  }
  if (ts.isImportDeclaration(node)) {
    collectImportNames(node, out);
    return;
  }
  if (ts.isImportEqualsDeclaration(node)) {
    out.add(node.name.text);
    return;
  }
  if (ts.isExportDeclaration(node)) {
    if (node.exportClause !== undefined && ts.isNamedExports(node.exportClause)) {
      for (const element of node.exportClause.elements) out.add(element.name.text);
    } else if (node.exportClause !== undefined) {
      out.add(node.exportClause.name.text);
    }
    return;
  }
  if (ts.isExportAssignment(node)) {
    out.add('default');
    return;
  }
  const name = (node as { name?: ts.Node }).name;
  if (name !== undefined && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name))) {
    out.add(name.text);
  } else if (ts.isConstructorDeclaration(node)) {
    out.add('constructor');
  } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name === undefined) {
    out.add('default');
  }
}

function collectImportNames(node: ts.ImportDeclaration, out: Set<string>): void {
  const clause = node.importClause;
  if (clause === undefined) return;
  if (clause.name !== undefined) out.add(clause.name.text);
  const bindings = clause.namedBindings;
  if (bindings === undefined) return;
  if (ts.isNamespaceImport(bindings)) out.add(bindings.name.text);
  else for (const element of bindings.elements) out.add(element.name.text);
}

/** An identifier in a declaration-name or property-name position is not a reference. */
function isNamePosition(id: ts.Identifier): boolean {
  const parent = id.parent;
  if (parent === undefined) return false;
  if (ts.isPropertyAccessExpression(parent) && parent.name === id) return true;
  if (ts.isQualifiedName(parent) && parent.right === id) return true;
  if ((ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertySignature(parent) ||
    ts.isMethodDeclaration(parent) || ts.isMethodSignature(parent) || ts.isGetAccessorDeclaration(parent) ||
    ts.isSetAccessorDeclaration(parent) || ts.isEnumMember(parent) || ts.isPropertyAccessExpression(parent) ||
    ts.isJsxAttribute(parent)) && (parent as { name?: ts.Node }).name === id) return true;
  if (ts.isImportSpecifier(parent)) return true;
  if (ts.isExportSpecifier(parent)) {
    // `export { a as b } from './m'` refers to nothing local; `export { a as b }` uses `a`.
    if (parent.parent.parent.moduleSpecifier !== undefined) return true;
    return parent.propertyName !== undefined && parent.name === id;
  }
  if (ts.isLabeledStatement(parent) || ts.isBreakOrContinueStatement(parent)) return true;
  if (ts.isBindingElement(parent) && parent.propertyName === id) return true;
  return false;
}

/** True when `id` declares a name (parameter, local variable, type parameter, function, class...). */
function isDeclarationName(id: ts.Identifier): boolean {
  const parent = id.parent;
  if (parent === undefined) return false;
  const named = (parent as { name?: ts.Node }).name === id;
  if (!named) return false;
  return (
    ts.isParameter(parent) || ts.isVariableDeclaration(parent) || ts.isTypeParameterDeclaration(parent) ||
    ts.isFunctionDeclaration(parent) || ts.isFunctionExpression(parent) || ts.isClassDeclaration(parent) ||
    ts.isClassExpression(parent) || ts.isBindingElement(parent) || ts.isInterfaceDeclaration(parent) ||
    ts.isTypeAliasDeclaration(parent) || ts.isEnumDeclaration(parent) || ts.isModuleDeclaration(parent) ||
    ts.isImportClause(parent) || ts.isNamespaceImport(parent) || ts.isImportSpecifier(parent) ||
    ts.isImportEqualsDeclaration(parent)
  );
}

function visitReferences(
  root: ts.Node,
  _sf: ts.SourceFile,
  referenced: Set<string>,
  declared: Set<string>,
  skip: Set<ts.Node> | null,
): void {
  // The parser was asked not to set parent pointers (it is faster); the position tests above need
  // them, so they are set during this one walk, only on the declarations being named.
  const visit = (node: ts.Node): void => {
    if (skip?.has(node) === true) return;
    if (ts.isIdentifier(node)) {
      if (isDeclarationName(node)) declared.add(node.text);
      else if (!isNamePosition(node)) referenced.add(node.text);
      return;
    }
    ts.forEachChild(node, (child) => {
      (child as { parent: ts.Node }).parent = node;
      visit(child);
    });
  };
  visit(root);
}
